package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
)

// TestConsole_WatchAtThreeInTheMorning: bravo's duty officer, on a
// 1366×768 laptop, has a dozen messages to answer. The watch page shows
// at least ten of them at once, what bravo owes apart from what it waits
// for, strategic first; the deadline beside each countdown in UTC, a UTC
// clock, the count in the tab title, a standard phrase in Chinese, and,
// when turned on, an alert for a new one; and a banner when the link to
// alpha goes down.
func TestConsole_WatchAtThreeInTheMorning(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	ac := client.New(alpha.Server.APIURL(), alpha.Token)
	hour := "1h"
	for i := range 10 {
		if _, err := ac.Send(ctx, "alpha-bravo-frontline", api.SendRequest{Text: fmt.Sprintf("Contact %d: confirm your course", i), Lang: "en", AckWithin: &hour}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ac.Send(ctx, "alpha-bravo-policy", api.SendRequest{Phrase: &api.PhraseRequest{Code: "COMMS-CHECK"}, Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	if _, err := ac.Send(ctx, "alpha-bravo-strategic", api.SendRequest{Text: "The minister asks for a call tonight", Lang: "en", AckWithin: &hour}); err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	login(t, b, bravo, password)
	var page struct {
		Owed, Waiting, Visible int
		First, Title, Clock    string
		Texts                  []string
	}
	run(t, b, "bravo's watch on a laptop", chromedp.EmulateViewport(1366, 768), chromedp.Navigate(bravo.Server.ConsoleURL()),
		waitJS(`document.querySelectorAll("#owe tr[data-item]").length === 12`),
		chromedp.Evaluate(`({
			Owed: document.querySelectorAll("#owe tr[data-item]").length,
			Waiting: document.querySelectorAll("#wait tr[data-item]").length,
			Visible: Array.from(document.querySelectorAll("#owe tr[data-item]")).filter(r => r.getBoundingClientRect().bottom <= window.innerHeight).length,
			First: document.querySelector("#owe tr[data-item]").className,
			Title: document.title,
			Clock: document.getElementById("utc-clock").textContent,
			Texts: Array.from(document.querySelectorAll("#owe td.text")).map(e => e.textContent)})`, &page))
	screenshot(t, b, "watch-bravo-zh")
	if page.Visible < 10 {
		t.Errorf("%d of %d owed items visible at 1366×768, want at least 10", page.Visible, page.Owed)
	}
	if page.Waiting != 0 {
		t.Errorf("bravo waits for %d answers, want none", page.Waiting)
	}
	if !strings.Contains(page.First, "lvl-strategic") {
		t.Errorf("the first owed item is %q, want the strategic one", page.First)
	}
	if !strings.Contains(page.Title, "待答复12") {
		t.Errorf("the tab title %q does not count the 12 owed", page.Title)
	}
	if len(page.Clock) != len("15:04:05") {
		t.Errorf("the UTC clock reads %q", page.Clock)
	}
	var chinese bool
	for _, s := range page.Texts {
		if strings.Contains(s, "Communications check") {
			t.Errorf("the standard phrase is shown in English on the Chinese watch: %q", s)
		}
		chinese = chinese || strings.Contains(s, "通信检查")
	}
	if !chinese {
		t.Errorf("no standard phrase in Chinese among %q", page.Texts)
	}

	// The language selector changes nothing until its button is pressed
	// (WCAG 3.2.2): an arrow key on it must not reload the console.
	var still struct {
		Same bool
		Lang string
	}
	run(t, b, "an arrow key on the language selector", chromedp.Evaluate(`window.sameWatch = true`, nil),
		chromedp.Focus("#lang-switch", chromedp.ByID), chromedp.KeyEvent("\ue015"), chromedp.Sleep(500*time.Millisecond),
		chromedp.Evaluate(`({Same: window.sameWatch === true, Lang: document.documentElement.lang})`, &still))
	if !still.Same || still.Lang != "zh-Hans" {
		t.Fatalf("an arrow key on the language selector: %+v", still)
	}

	// Alerts on: a new message that needs an answer is announced.
	run(t, b, "bravo turns alerts on", chromedp.Click("#alerts", chromedp.ByID))
	if _, err := ac.Send(ctx, "alpha-bravo-theatre", api.SendRequest{Text: "Unplanned launch window", Lang: "en", AckWithin: &hour}); err != nil {
		t.Fatal(err)
	}
	run(t, b, "the new one is announced", waitJS(`(window.hotlineAlerts || []).some(s => s.includes("新事项") && s.includes("Unplanned launch window"))`),
		waitJS(`document.title.includes("待答复13")`))

	// Alpha goes down: a banner says so at the top of the watch.
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	var banner string
	run(t, b, "the banner says the link is down", waitJS(`(document.querySelector("#banner [role=alert]") || {textContent: ""}).textContent.includes("alpha")`),
		textOf("#banner [role=alert]", &banner))
	screenshot(t, b, "watch-bravo-zh-link-down")
	if !strings.Contains(banner, "中断") {
		t.Errorf("the banner reads %q", banner)
	}
}
