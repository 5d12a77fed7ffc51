package console_test

import (
	"context"
	"flag"
	"fmt"
	"html"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

var unreadBacklog = flag.Int("console.unread", 5000, "messages waiting unread in TestConsole_ThousandsUnread")

// maxPageBytes bounds the HTML of any console page, whatever the history.
const maxPageBytes = 300 << 10

// TestConsole_ThousandsUnread: bravo comes back to thousands of unread
// messages. Its channel page stays small and opens at the newest; what
// is on screen is marked read in a request per screenful, never one per
// message; the first unread is one link away; and new messages arrive
// live, in order, while what bravo is typing keeps its focus.
func TestConsole_ThousandsUnread(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	const ch = "alpha-bravo-frontline"
	n := *unreadBacklog
	if err := devnet.Fill(ctx, alpha, ch, n, devnet.FillOptions{Text: func(i int) string {
		return fmt.Sprintf("Position report %d: patrol vessel at 12°%02d'N 114°%02d'E, course 270, speed 12 knots.", i, i%60, (i/60)%60)
	}}); err != nil {
		t.Fatal(err)
	}
	unread := func() int {
		u, err := client.New(bravo.Server.APIURL(), bravo.Token).Unread(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		return u.Count
	}
	for deadline := time.Now().Add(2 * time.Minute); unread() < n; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("bravo holds %d of %d messages unread after 2 minutes", unread(), n)
		}
	}

	// Every page of the channel, however reached, is small.
	bh := session(t, bravo)
	url := channelURL(t, bravo, ch)
	page := fetch(t, bh, url)
	m := unreadBar.FindStringSubmatch(page)
	if m == nil || m[1] != fmt.Sprint(n) {
		t.Fatalf("bravo's page does not count %d unread", n)
	}
	for what, u := range map[string]string{"newest": url, "first unread": bravo.Server.APIURL() + html.UnescapeString(m[2])} {
		if p := fetch(t, bh, u); len(p) > maxPageBytes {
			t.Errorf("the %s page is %d KB, more than %d KB", what, len(p)>>10, maxPageBytes>>10)
		} else {
			t.Logf("the %s page with %d unread: %d KB", what, n, len(p)>>10)
		}
	}

	// In a browser: the page opens at the newest; what is on screen is
	// marked read, a few requests in all.
	b := browser(t)
	login(t, b, bravo, password)
	var atNewest bool
	run(t, b, "bravo opens the channel", chromedp.Navigate(url), present("#rows"),
		waitJS(`document.querySelector("#rows ol.timeline > li:last-child").getBoundingClientRect().bottom <= window.innerHeight + 1`),
		chromedp.Evaluate(`window.notReloaded = true`, nil),
		chromedp.Evaluate(`document.querySelector("#rows ol.timeline > li:last-child").getBoundingClientRect().bottom > 0`, &atNewest))
	if !atNewest {
		t.Fatal("the channel page did not open at its newest entry")
	}
	screenshot(t, b, "channel-thousands-unread-bravo-zh")
	waitFor(t, "bravo's screenful is marked read", func() bool { return unread() < n })
	time.Sleep(time.Second) // any stray requests land
	onScreen := n - unread()
	reads := countAuthored(t, bravo, ch, entry.KindRead, "bravo")
	t.Logf("one screen: %d messages marked read by %d read entries", onScreen, reads)
	if onScreen > 40 || reads > 2 {
		t.Fatalf("one screen marked %d messages read with %d entries: want what was on screen, in one or two", onScreen, reads)
	}
	// Scrolled to the top of the page, the rest of the page is marked too.
	run(t, b, "bravo scrolls up", chromedp.Evaluate(`window.scrollTo(0, 0)`, nil))
	waitFor(t, "the top of the page is marked read", func() bool { return n-unread() > onScreen })
	time.Sleep(time.Second)
	if r := countAuthored(t, bravo, ch, entry.KindRead, "bravo"); r > reads+2 {
		t.Fatalf("scrolling up wrote %d more read entries", r-reads)
	}

	// The first unread is one link away.
	var first string
	run(t, b, "bravo jumps to the first unread", chromedp.Click("#unread-bar a", chromedp.ByQuery),
		waitJS(`location.search.includes("from=")`), present("#rows"),
		textOf("#rows ol.timeline > li.msg .text", &first))
	// Fill writes many at once, so the oldest message is whichever the
	// writer took first: ask the node which it is.
	oldest, err := client.New(bravo.Server.APIURL(), bravo.Token).Page(ctx, ch, client.PageRequest{After: "0", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var want string
	for _, e := range oldest.Entries {
		if e.Kind == entry.KindMessage {
			want = e.Text
			break
		}
	}
	if first != want {
		t.Fatalf("the first unread page starts with %q, want the oldest message %q", first, want)
	}

	// Back at the newest, bravo types; alpha sends 20 messages at 20 a
	// second. They appear in order, and the typing keeps its focus.
	run(t, b, "bravo goes back to the newest", chromedp.Navigate(url), present("#text"),
		chromedp.Evaluate(`window.notReloaded = true`, nil),
		chromedp.Focus("#text", chromedp.ByID), chromedp.SendKeys("#text", "Draft reply", chromedp.ByID))
	ac := client.New(alpha.Server.APIURL(), alpha.Token)
	none := "0s"
	for i := range 20 {
		if _, err := ac.Send(ctx, ch, api.SendRequest{Text: fmt.Sprintf("Live %02d", i), Lang: "en", AckWithin: &none}); err != nil {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	run(t, b, "the live messages arrive", waitJS(`Array.from(document.querySelectorAll("#rows li.msg .text")).filter(e => e.textContent.startsWith("Live ")).length === 20`))
	var state struct {
		Order   []string
		Focused bool
		Typed   string
		Same    bool
	}
	run(t, b, "the page kept its order and focus", chromedp.Evaluate(`({
		Order: Array.from(document.querySelectorAll("#rows li.msg .text")).map(e => e.textContent).filter(s => s.startsWith("Live ")),
		Focused: document.activeElement === document.getElementById("text"),
		Typed: document.getElementById("text").value,
		Same: window.notReloaded === true})`, &state))
	for i, s := range state.Order {
		if s != fmt.Sprintf("Live %02d", i) {
			t.Fatalf("live messages out of order: %v", state.Order)
		}
	}
	if !state.Focused || state.Typed != "Draft reply" || !state.Same {
		t.Fatalf("after live updates: focus kept %v, typed %q, same page %v", state.Focused, state.Typed, state.Same)
	}
	var rows int
	run(t, b, "the page stays bounded", chromedp.Evaluate(`document.querySelectorAll("#rows ol.timeline > li").length`, &rows))
	if rows > 300 {
		t.Fatalf("the page holds %d rows", rows)
	}
}

// countAuthored counts the entries of kind that author wrote in a
// channel, reading the log a page at a time.
func countAuthored(t testing.TB, p *devnet.Party, ch string, kind entry.Kind, author string) int {
	t.Helper()
	n := 0
	if _, err := client.New(p.Server.APIURL(), p.Token).EachEntry(context.Background(), ch, "0", 1000, "", func(v node.EntryView) error {
		if v.Kind == kind && v.Author == author {
			n++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return n
}
