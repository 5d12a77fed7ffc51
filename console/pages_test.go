package console_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"regexp"
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

// TestConsole_TimelineShowsTheNewestAndEveryUnread: a long channel's page
// shows the newest TimelineWindow rows with a link to earlier ones, but
// never hides a message nobody here has read, and a link to an old entry
// shows it.
func TestConsole_TimelineShowsTheNewestAndEveryUnread(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	const ch = "alpha-bravo-frontline"
	ac, bc := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	none := "0s"
	const sent = console.TimelineWindow + 5
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

	// Alpha has read its own: the newest rows, and a link to the rest
	// (the channel's proposal and acceptance, and the oldest messages).
	page := fetch(t, ah, url)
	if got := timelineIDs(page); len(got) != console.TimelineWindow || got[len(got)-1] != ids[sent-1] {
		t.Fatalf("alpha's page shows %d rows ending %v", len(got), got[len(got)-1:])
	}
	if !strings.Contains(page, "Show earlier entries (7 not shown)") {
		t.Fatal("alpha's page has no link to the 7 earlier rows")
	}
	if got := timelineIDs(fetch(t, ah, url+"?show=400")); len(got) != sent {
		t.Fatalf("show=400 shows %d messages, want all %d", len(got), sent)
	}
	if got := timelineIDs(fetch(t, ah, url+"?entry="+ids[1])); len(got) != sent-1 || got[0] != ids[1] {
		t.Fatalf("a link to the second message shows %d rows from %v", len(got), got[:1])
	}

	// Bravo has read nothing: every message is shown until it is read.
	burl := channelURL(t, bravo, ch)
	if got := timelineIDs(fetch(t, bh, burl)); len(got) != sent || got[0] != ids[0] {
		t.Fatalf("bravo's page shows %d rows from %v; want every unread message", len(got), got[:1])
	}
	// Once the oldest three are read, the page starts at the fourth, the
	// oldest unread, which is older than the newest TimelineWindow.
	for _, id := range ids[:3] {
		if _, err := bc.Mark(ctx, ch, id, "read", ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := timelineIDs(fetch(t, bh, burl)); len(got) != sent-3 || got[0] != ids[3] {
		t.Fatalf("after reading 3, bravo's page shows %d rows from %v", len(got), got[:1])
	}
	// Once all but the newest are read, the newest TimelineWindow.
	for _, id := range ids[3 : sent-1] {
		if _, err := bc.Mark(ctx, ch, id, "read", ""); err != nil {
			t.Fatal(err)
		}
	}
	if got := timelineIDs(fetch(t, bh, burl)); len(got) != console.TimelineWindow || got[0] != ids[sent-console.TimelineWindow] {
		t.Fatalf("after reading all but one, bravo's page shows %d rows from %v", len(got), got[:1])
	}
}

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
