package console_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/console"
	"github.com/hotline-project/hotline/devnet"
)

// TestConsole_WatchPageCountsUnread: the watch page counts, per channel,
// the other parties' messages nobody at this party has read or
// acknowledged; a read or an acknowledgement by anyone here takes one
// off, and a party's own messages never count.
func TestConsole_WatchPageCountsUnread(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	ac, bc := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	none := "0s"
	send := func(c *client.Client, ch, text string) string {
		ref, err := c.Send(ctx, ch, api.SendRequest{Text: text, Lang: "en", AckWithin: &none})
		if err != nil {
			t.Fatal(err)
		}
		return ref.ID
	}
	first := send(ac, "alpha-bravo-policy", "one")
	second := send(ac, "alpha-bravo-policy", "two")
	send(ac, "alpha-bravo-policy", "three")
	send(ac, "alpha-bravo-theatre", "four")
	send(bc, "alpha-bravo-policy", "bravo's own")
	waitFor(t, "bravo holds alpha's messages", func() bool {
		return countKind(t, bravo, "alpha-bravo-policy", "message") == 4 && countKind(t, bravo, "alpha-bravo-theatre", "message") == 1
	})
	bh, ah := session(t, bravo), session(t, alpha)
	want := map[string]int{"alpha-bravo-policy": 3, "alpha-bravo-theatre": 1, "alpha-bravo-frontline": 0, "alpha-bravo-strategic": 0}
	if got := unreadCounts(t, bh, bravo); !equalCounts(got, want) {
		t.Fatalf("bravo's unread counts %v, want %v", got, want)
	}
	if _, err := bc.Mark(ctx, "alpha-bravo-policy", first, "read", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Mark(ctx, "alpha-bravo-policy", second, "ack", "noted"); err != nil {
		t.Fatal(err)
	}
	want["alpha-bravo-policy"] = 1
	if got := unreadCounts(t, bh, bravo); !equalCounts(got, want) {
		t.Fatalf("bravo's unread counts after a read and an ack: %v, want %v", got, want)
	}
	waitFor(t, "alpha holds bravo's message", func() bool { return countKind(t, alpha, "alpha-bravo-policy", "message") == 4 })
	if got := unreadCounts(t, ah, alpha); !equalCounts(got, map[string]int{"alpha-bravo-policy": 1, "alpha-bravo-theatre": 0, "alpha-bravo-frontline": 0, "alpha-bravo-strategic": 0}) {
		t.Fatalf("alpha's unread counts %v: only bravo's message is unread there", got)
	}
}

var unreadRow = regexp.MustCompile(`(?s)<a href="/console/channels/[0-9a-f]+">([a-z0-9-]+)</a></th>.*?data-unread-count="(\d+)"`)

// unreadCounts reads the unread count of each channel from p's watch page.
func unreadCounts(t *testing.T, hc *http.Client, p *devnet.Party) map[string]int {
	t.Helper()
	out := make(map[string]int)
	for _, m := range unreadRow.FindAllStringSubmatch(fetch(t, hc, p.Server.ConsoleURL()), -1) {
		n, _ := strconv.Atoi(m[2])
		out[m[1]] = n
	}
	return out
}

func equalCounts(got, want map[string]int) bool {
	for k, v := range want {
		if n, ok := got[k]; !ok || n != v {
			return false
		}
	}
	return true
}

// TestConsole_TimelineIsPaged: a long channel's page opens at its
// newest entries, with links to earlier ones that walk back through the
// whole log without a gap or a repeat; the unread are a count and a link
// to the first of them, which moves as messages are read; a link to an
// old entry shows it; and messages that asked for no acknowledgement
// have no Acknowledge button.
func TestConsole_TimelineIsPaged(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	const ch = "alpha-bravo-frontline"
	ac, bc := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	none := "0s"
	const sent = console.PageEntries + 50
	var ids []string
	for i := range sent {
		ref, err := ac.Send(ctx, ch, api.SendRequest{Text: fmt.Sprintf("position report %d", i), Lang: "en", AckWithin: &none})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ref.ID)
	}
	waitFor(t, "bravo holds every message", func() bool { return countKind(t, bravo, ch, "message") == sent })
	ah, bh := session(t, alpha), session(t, bravo)
	url := channelURL(t, alpha, ch)

	// Alpha's page ends with the newest message; walking back through
	// "earlier" pages finds every message once, in order.
	page := fetch(t, ah, url)
	got := timelineIDs(page)
	if len(got) == 0 || got[len(got)-1] != ids[sent-1] {
		t.Fatalf("alpha's page does not end with the newest message: %d rows", len(got))
	}
	var all []string
	for pages := 1; ; pages++ {
		all = append(timelineIDs(page), all...)
		m := earlierLink.FindStringSubmatch(page)
		if m == nil {
			break
		}
		if pages > sent {
			t.Fatal("the earlier links never end")
		}
		page = fetch(t, ah, alpha.Server.APIURL()+html.UnescapeString(m[1]))
	}
	if !slices.Equal(all, ids) {
		t.Fatalf("the pages show %d messages; want the %d sent, in order, once each", len(all), sent)
	}
	if strings.Contains(fetch(t, bh, channelURL(t, bravo, ch)), `class="ack"`) {
		t.Error("bravo's page offers to acknowledge messages that asked for no acknowledgement")
	}

	// Bravo has read nothing: a count, and a link to the first unread.
	burl := channelURL(t, bravo, ch)
	firstUnread := func(wantCount int, wantFirst string) {
		t.Helper()
		page := fetch(t, bh, burl)
		m := unreadBar.FindStringSubmatch(page)
		if m == nil {
			t.Fatal("bravo's page has no count of unread messages with a link to the first")
		}
		if m[1] != strconv.Itoa(wantCount) {
			t.Fatalf("bravo's page counts %s unread, want %d", m[1], wantCount)
		}
		if got := timelineIDs(fetch(t, bh, bravo.Server.APIURL()+html.UnescapeString(m[2]))); len(got) == 0 || got[0] != wantFirst {
			t.Fatalf("the first-unread link shows a page from %v, want %s", got[:min(1, len(got))], wantFirst)
		}
	}
	firstUnread(sent, ids[0])
	// One cumulative read of the oldest three moves it to the fourth.
	if refs, err := bc.ReadUpTo(ctx, ch, ids[:3]); err != nil || len(refs) != 1 {
		t.Fatalf("read up to the third: %v, %d entries", err, len(refs))
	}
	firstUnread(sent-3, ids[3])
	// A link to an old entry shows it.
	if got := timelineIDs(fetch(t, ah, url+"?entry="+ids[1])); len(got) == 0 || got[0] != ids[1] {
		t.Fatalf("a link to the second message shows a page from %v", got[:min(1, len(got))])
	}
}

var (
	earlierLink = regexp.MustCompile(`<p class="earlier"><a href="([^"]+)"`)
	unreadBar   = regexp.MustCompile(`id="unread-bar"[^>]*>(\d+)[^<]*<a href="([^"]+)"`)
)

var timelineRow = regexp.MustCompile(`<li id="e-([0-9a-f]+)" class="msg`)

// timelineIDs lists the message ids a channel page shows, in order.
func timelineIDs(page string) []string {
	var ids []string
	for _, m := range timelineRow.FindAllStringSubmatch(page, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// fetch returns a console page's HTML, and fails unless it is served.
func fetch(t testing.TB, hc *http.Client, url string) string {
	t.Helper()
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	page, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", url, resp.Status, err)
	}
	return string(page)
}
