package console_test

import (
	"context"
	"fmt"
	"html"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline/console"
	"github.com/hotline-project/hotline/devnet"
)

// TestConsole_WatchIsBoundedWithThousandsOwed: with 5,000 messages
// waiting for bravo's acknowledgement, alpha's watch page (where they are
// what alpha waits for) counts them all, shows console.WatchRows, and
// pages to the rest; it stays small.
func TestConsole_WatchIsBoundedWithThousandsOwed(t *testing.T) {
	net := network(t)
	alpha := net.Party("alpha")
	ctx := context.Background()
	hour := time.Hour
	n := *unreadBacklog
	if err := devnet.Fill(ctx, alpha, "alpha-bravo-frontline", n, devnet.FillOptions{AckWithin: &hour}); err != nil {
		t.Fatal(err)
	}
	ah := session(t, alpha)
	var page string
	want := fmt.Sprintf("We wait for an answer (%d)", n)
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(page, want); time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("alpha's watch does not say %q after 2 minutes", want)
		}
		page = fetch(t, ah, alpha.Server.ConsoleURL())
	}
	if len(page) > maxPageBytes {
		t.Fatalf("the watch page with %d owed is %d KB", n, len(page)>>10)
	}
	t.Logf("the watch page with %d owed: %d KB", n, len(page)>>10)
	rows := regexp.MustCompile(`<tr class="lvl-[a-z0-9]+[^"]*" data-item="([0-9a-f]+)"`)
	seen := map[string]bool{}
	for pages := 0; ; pages++ {
		got := rows.FindAllStringSubmatch(page, -1)
		if len(got) != min(console.WatchRows, n-len(seen)) {
			t.Fatalf("page %d of the watch shows %d rows", pages, len(got))
		}
		for _, m := range got {
			if seen[m[1]] {
				t.Fatalf("item %s shown twice", m[1])
			}
			seen[m[1]] = true
		}
		next := regexp.MustCompile(`<a href="([^"]+)">More</a>`).FindStringSubmatch(page)
		if next == nil || pages > 3 {
			break
		}
		page = fetch(t, ah, alpha.Server.APIURL()+html.UnescapeString(next[1]))
	}
	if len(seen) < 4*console.WatchRows {
		t.Fatalf("four pages of the watch showed %d items", len(seen))
	}
}
