package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
)

// TestConsole_TranslateAMessage: bravo's translator opens "add a
// translation" on alpha's message and starts typing; a new message
// arrives and the timeline refreshes live without losing what was typed.
// A blank translation is refused with the error on the message; a real
// one is signed, shown beside the original with its stage and
// translator, and reaches alpha's node.
func TestConsole_TranslateAMessage(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	const ch = "alpha-bravo-policy"
	ac := client.New(alpha.Server.APIURL(), alpha.Token)
	none := "0s"
	first, err := ac.Send(ctx, ch, api.SendRequest{Text: "We propose to extend the notification area.", Lang: "en", AckWithin: &none})
	if err != nil {
		t.Fatal(err)
	}
	b := browser(t)
	login(t, b, bravo, password)
	sel := "#e-" + first.ID
	run(t, b, "bravo opens the form and starts typing",
		chromedp.Navigate(channelURL(t, bravo, ch)),
		present(sel),
		chromedp.Click("#tr-"+first.ID+" summary", chromedp.ByQuery),
		chromedp.WaitVisible("#tr-text-"+first.ID, chromedp.ByID),
		chromedp.SetValue("#tr-stage-"+first.ID, "rough", chromedp.ByID),
		chromedp.SendKeys("#tr-text-"+first.ID, "我方提议扩大", chromedp.ByID),
		chromedp.Evaluate(`window.notReloaded = true`, nil),
	)
	second, err := ac.Send(ctx, ch, api.SendRequest{Text: "Please reply by Friday.", Lang: "en", AckWithin: &none})
	if err != nil {
		t.Fatal(err)
	}
	// Read in one step: another refresh may replace the form at any time.
	var form struct {
		Typed, Stage  string
		Open, Focused bool
	}
	run(t, b, "the timeline refreshes with the new message",
		waitJS(fmt.Sprintf(`document.querySelector(%q) !== null`, "#e-"+second.ID)),
		waitJS(`window.notReloaded === true`),
		chromedp.Evaluate(fmt.Sprintf(`(() => { const id = %q; return {
			Typed: document.getElementById("tr-text-" + id).value,
			Stage: document.getElementById("tr-stage-" + id).value,
			Open: document.getElementById("tr-" + id).open,
			Focused: document.activeElement === document.getElementById("tr-text-" + id)}; })()`, first.ID), &form),
	)
	if form.Typed != "我方提议扩大" || form.Stage != "rough" || !form.Open || !form.Focused {
		t.Fatalf("after the live refresh: %+v", form)
	}

	// Blank: refused, the error on the message, nothing signed.
	var msg string
	run(t, b, "a blank translation",
		chromedp.SetValue("#tr-text-"+first.ID, "   ", chromedp.ByID),
		submit(sel+" form.translate-form button"),
		present("#tr-error-"+first.ID),
		textOf("#tr-error-"+first.ID, &msg))
	if !strings.Contains(msg, "the translation is empty") {
		t.Fatalf("blank translation: %q", msg)
	}
	if n := countKind(t, bravo, ch, entry.KindTranslation); n != 0 {
		t.Fatalf("%d translation entries after a refusal", n)
	}
	screenshot(t, b, "translate-error-bravo-zh")

	run(t, b, "a real one",
		chromedp.SetValue("#tr-text-"+first.ID, "我方提议扩大通报区域。", chromedp.ByID),
		chromedp.SetValue("#tr-who-"+first.ID, "Li Wei", chromedp.ByID),
		submit(sel+" form.translate-form button"),
		present(sel+" p.translation"),
		textOf(sel+" p.translation", &msg))
	if !strings.Contains(msg, "草译译文（zh-Hans，bravo的译者Li Wei，") || !strings.Contains(msg, "我方提议扩大通报区域。") {
		t.Fatalf("the translation line: %q", msg)
	}
	waitFor(t, "alpha holds the translation", func() bool { return countKind(t, alpha, ch, entry.KindTranslation) == 1 })
}

// countKind counts p's entries of kind in ch.
func countKind(t testing.TB, p *devnet.Party, ch string, kind entry.Kind) int {
	t.Helper()
	views, err := client.New(p.Server.APIURL(), p.Token).Log(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, v := range views {
		if v.Kind == kind {
			n++
		}
	}
	return n
}
