package console_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
)

// A FLASH message, sent from alpha's console in a theatre channel, is
// unmistakable at bravo: named in the banner, first among what bravo
// owes above routine strategic items, and marked on its row and in the
// timeline with a word, not colour alone.
func TestConsole_FlashIsUnmistakable(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	hour := "1h"
	ac := client.New(alpha.Server.APIURL(), alpha.Token)
	if _, err := ac.Send(t.Context(), "alpha-bravo-strategic", api.SendRequest{Text: "The minister asks for a call tonight", Lang: "en", AckWithin: &hour}); err != nil {
		t.Fatal(err)
	}
	ba, bb := browser(t), browser(t)
	login(t, ba, alpha, password)
	login(t, bb, bravo, password)
	const theatre = "alpha-bravo-theatre"
	run(t, ba, "alpha sends a FLASH from the console",
		chromedp.Navigate(channelURL(t, alpha, theatre)),
		chromedp.WaitVisible("#text", chromedp.ByID),
		chromedp.SendKeys("#text", "Unidentified aircraft closing on the task group", chromedp.ByID),
		chromedp.SetValue("#precedence", "flash", chromedp.ByID),
		submit("form.text-form button"),
		chromedp.WaitVisible(`p.ok[role="status"]`, chromedp.ByQuery))
	id := latestMessage(t, alpha, theatre, "Unidentified aircraft closing on the task group")

	var banner, first, badge string
	run(t, bb, "bravo's watch names the FLASH",
		chromedp.Navigate(bravo.Server.ConsoleURL()),
		waitJS(`(document.querySelector("#banner .flash-alarm") || {textContent: ""}).textContent.includes("特急")`),
		textOf("#banner .flash-alarm", &banner),
		textOf("#owe tbody tr:first-child .text", &first),
		textOf("#owe tbody tr.prec-flash .prec", &badge))
	screenshot(t, bb, "watch-bravo-zh-flash")
	if !strings.Contains(banner, "1") {
		t.Errorf("the banner reads %q; want the count of FLASH messages owed", banner)
	}
	if !strings.Contains(first, "Unidentified aircraft") || badge != "特急" {
		t.Errorf("bravo's first owed row %q, badge %q: want the FLASH first, marked 特急", first, badge)
	}
	var mark string
	run(t, bb, "bravo's timeline marks it",
		chromedp.Navigate(channelURL(t, bravo, theatre)),
		present(fmt.Sprintf("#e-%s.prec-flash", id)),
		textOf(fmt.Sprintf("#e-%s p.prec", id), &mark))
	if mark != "特急" {
		t.Errorf("the timeline's mark: %q", mark)
	}
}
