package console_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

// TestConsole_AnswerCallRequests: alpha asks bravo for two calls; bravo's
// console (in Chinese) shows them with the time left to answer, accepts
// one at the second proposed time with one click and declines the other
// with a reason. Alpha's open page shows both answers live, and alpha's
// node holds the signed answers. Bravo's timeline says what happened in
// Chinese, down to the lines the nodes write themselves, and shows a
// translation beside the message it translates.
func TestConsole_AnswerCallRequests(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	const ch = "alpha-bravo-strategic"
	ac, bc := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	publishMinisters(t, ch, ac, bc)
	t1 := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	t2 := t1.Add(3 * time.Hour)
	ministers := []entry.Participant{{Party: "alpha", Role: "minister"}, {Party: "bravo", Role: "minister"}}
	request := func(purpose string) string {
		ref, err := ac.RequestCall(ctx, ch, api.CallRequestBody{Purpose: purpose, Times: []time.Time{t1, t2}, Minutes: 30, Participants: ministers})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "bravo holds the request", func() bool { return callOf(t, bravo, ch, ref.ID) != nil })
		return ref.ID
	}
	toAccept, toDecline := request("The incident at sea of 3 May"), request("Annual defence dialogue")

	ba, bb := browser(t), browser(t)
	login(t, ba, alpha, password)
	login(t, bb, bravo, password)
	// Bravo's watch page lists what it owes: two calls to answer.
	var owed string
	run(t, bb, "bravo's watch page", chromedp.Navigate(bravo.Server.ConsoleURL()), textOf("#unanswered", &owed))
	for _, want := range []string{"通话请求：The incident at sea of 3 May", "通话请求：Annual defence dialogue", "内答复"} {
		if !strings.Contains(owed, want) {
			t.Errorf("bravo's watch page lacks %q:\n%s", want, owed)
		}
	}
	run(t, ba, "alpha opens the channel", chromedp.Navigate(channelURL(t, alpha, ch)), present("#calls"),
		chromedp.Evaluate(`window.notReloaded = true`, nil))
	var state string
	run(t, ba, "alpha's own request has no answer buttons",
		textOf("#call-"+toAccept+" .call-state", &state))
	if !strings.Contains(state, "Waiting for an answer") || !strings.Contains(state, "answer due in") {
		t.Fatalf("alpha's call state %q", state)
	}
	var buttons int
	run(t, ba, "count alpha's answer buttons", chromedp.Evaluate(`document.querySelectorAll("#calls form.call-accept, #calls form.call-decline").length`, &buttons))
	if buttons != 0 {
		t.Fatalf("alpha can answer its own requests: %d forms", buttons)
	}

	sel := "#call-" + toAccept
	run(t, bb, "bravo opens the channel", chromedp.Navigate(channelURL(t, bravo, ch)), present(sel+" form.call-accept"),
		textOf(sel+" .call-state", &state))
	if !strings.Contains(state, "等待答复") || !strings.Contains(state, "须在") {
		t.Fatalf("bravo's call state %q", state)
	}
	screenshot(t, bb, "calls-bravo-zh")
	// One click: the button of the second proposed time.
	run(t, bb, "bravo accepts at the second time",
		submit(fmt.Sprintf(`%s form.call-accept button[value="%d"]`, sel, t2.UnixMilli())),
		present(sel+".state-accepted"))
	dsel := "#call-" + toDecline
	run(t, bb, "bravo declines the other with a reason",
		chromedp.SendKeys("#reason-"+toDecline, "The minister is travelling that week", chromedp.ByID),
		submit(dsel+" form.call-decline button"),
		present(dsel+".state-declined"))

	run(t, ba, "alpha's open page shows both answers",
		waitJS(fmt.Sprintf(`document.querySelector(%q) !== null && document.querySelector(%q) !== null`, sel+".state-accepted", dsel+".state-declined")),
		waitJS(`window.notReloaded === true`),
		textOf(sel+" .call-state", &state))
	if want := "Accepted for " + t2.Format("2 Jan 2006 15:04:05 UTC"); !strings.Contains(state, want) {
		t.Fatalf("alpha's accepted call says %q, want %q", state, want)
	}
	if !strings.Contains(state, "starts in ") {
		t.Fatalf("alpha's accepted call does not count down to its start: %q", state)
	}
	run(t, ba, "alpha reads the reason", textOf(dsel+" ul.state", &state))
	if !strings.Contains(state, "bravo declined: The minister is travelling that week") {
		t.Fatalf("alpha's declined call says %q", state)
	}
	if c := callOf(t, alpha, ch, toAccept); c.State != node.CallAccepted || !c.Time.Equal(t2) || c.Answers[0].Operator != devnet.Operator {
		t.Fatalf("alpha's node: %+v", c)
	}
	if c := callOf(t, alpha, ch, toDecline); c.State != node.CallDeclined {
		t.Fatalf("alpha's node: %+v", c)
	}

	// A message, and bravo's translator's sight translation of it.
	short := "0s"
	msg, err := ac.Send(ctx, ch, api.SendRequest{Text: "The minister thanks you for the call.", Lang: "en", AckWithin: &short})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bravo holds the message", func() bool {
		_, page, err := bravo.Server.Node.Log(ctx, ch, "", hotline.PageQuery{})
		return err == nil && slices.ContainsFunc(page.Entries, func(v node.EntryView) bool { return v.ID == msg.ID })
	})
	if _, err := bc.Translate(ctx, ch, msg.ID, api.TranslationRequest{Lang: "zh-Hans", Stage: "sight", Translator: "Li Wei", Text: "部长感谢您的通话。"}); err != nil {
		t.Fatal(err)
	}
	var timeline string
	run(t, bb, "bravo's timeline in Chinese",
		waitJS(fmt.Sprintf(`(document.querySelector(%q)||{}).textContent.includes("部长感谢您的通话")`, "#e-"+msg.ID)),
		textOf("#timeline", &timeline))
	for _, want := range []string{
		"提议建立战略级频道 alpha-bravo-strategic，成员：alpha, bravo",
		"接受alpha提议的频道",
		"发布其对口人员：部长（Minister of Defence of bravo，战略级）",
		"请求战略级通话（30分钟），时间：" + t1.Format("2006年1月2日 15:04:05 UTC") + "或",
		"接受通话“The incident at sea of 3 May”，时间：" + t2.Format("2006年1月2日 15:04:05 UTC"),
		"拒绝通话“Annual defence dialogue”：The minister is travelling that week",
		"视译译文（zh-Hans，bravo的译者Li Wei，",
	} {
		if !strings.Contains(timeline, want) {
			t.Errorf("bravo's timeline lacks %q:\n%s", want, timeline)
		}
	}
	for _, english := range []string{"proposes", "accepts", "requests a", "declines", "publishes", "translation (zh-Hans)"} {
		if strings.Contains(timeline, english) {
			t.Errorf("bravo's Chinese timeline says %q:\n%s", english, timeline)
		}
	}
	screenshot(t, bb, "timeline-bravo-zh")
}

// publishMinisters has alpha (ac) and bravo (bc) each publish a minister
// in ch, and waits until alpha holds both.
func publishMinisters(t *testing.T, ch string, ac, bc *client.Client) {
	t.Helper()
	ctx := context.Background()
	for _, p := range []struct {
		c    *client.Client
		name string
	}{{ac, "alpha"}, {bc, "bravo"}} {
		if _, err := p.c.PublishDirectory(ctx, ch, api.DirectoryRequest{Counterparts: []api.CounterpartRequest{
			{Level: "strategic", Role: "minister", Name: "Minister of Defence of " + p.name}}}); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "both directories reach alpha", func() bool {
		d, err := ac.Directory(ctx, ch)
		return err == nil && len(d) == 2
	})
}

// TestConsole_RequestACall: alpha's duty officer requests a call from the
// console. A request naming nobody is refused, with the error beside the
// calls and what was typed kept; then, with both ministers ticked, the
// signed request reaches bravo with its times, length and participants.
func TestConsole_RequestACall(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	const ch = "alpha-bravo-strategic"
	ac, bc := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	publishMinisters(t, ch, ac, bc)
	first := time.Now().Add(30 * time.Hour).UTC().Truncate(time.Minute)
	second := first.Add(90 * time.Minute)
	local := func(t time.Time) string { return t.Format("2006-01-02 15:04") }

	b := browser(t)
	login(t, b, alpha, password)
	var msg string
	run(t, b, "a request naming nobody",
		chromedp.Navigate(channelURL(t, alpha, ch)),
		present("#call-request"),
		chromedp.Click("#call-request summary", chromedp.ByQuery),
		chromedp.WaitVisible("#call-purpose", chromedp.ByID),
		chromedp.SendKeys("#call-purpose", "Incident in the strait", chromedp.ByID),
		chromedp.SetValue("#call-at-0", local(first), chromedp.ByID),
		chromedp.SetValue("#call-at-1", local(second), chromedp.ByID),
		chromedp.SetValue("#call-minutes", "45", chromedp.ByID),
		submit("form.call-request button"),
		textOf("#call-error", &msg))
	if !strings.Contains(msg, "1 to") || !strings.Contains(msg, "participants") {
		t.Fatalf("a request naming nobody: %q", msg)
	}
	var kept struct {
		Purpose, At, Minutes string
		Open                 bool
	}
	run(t, b, "what was typed is kept", chromedp.Evaluate(`({Purpose: document.getElementById("call-purpose").value,
		At: document.getElementById("call-at-1").value, Minutes: document.getElementById("call-minutes").value,
		Open: document.getElementById("call-request").open})`, &kept))
	if kept.Purpose != "Incident in the strait" || kept.At != local(second) || kept.Minutes != "45" || !kept.Open {
		t.Fatalf("after the refusal the form holds %+v", kept)
	}
	if calls, _ := alpha.Server.Node.Calls(context.Background(), ch); len(calls) != 0 {
		t.Fatalf("a refused request wrote %d calls", len(calls))
	}

	// A time typed any other way than UTC YYYY-MM-DD HH:MM is refused,
	// never guessed at.
	run(t, b, "a time typed as digits",
		chromedp.Evaluate(`document.querySelectorAll("#call-request input[name=with]").forEach(c => c.checked = true)`, nil),
		chromedp.SetValue("#call-at-0", "12022026 0900", chromedp.ByID),
		submit("form.call-request button"),
		textOf("#call-error", &msg))
	if !strings.Contains(msg, "YYYY-MM-DD HH:MM") {
		t.Fatalf("a time typed as digits: %q", msg)
	}
	run(t, b, "tick both ministers and send",
		chromedp.SetValue("#call-at-0", local(first), chromedp.ByID),
		chromedp.Evaluate(`document.querySelectorAll("#call-request input[name=with]").forEach(c => c.checked = true)`, nil),
		submit("form.call-request button"),
		present("#calls li.call.state-requested"))
	var id string
	waitFor(t, "bravo holds the request", func() bool {
		calls, err := bravo.Server.Node.Calls(context.Background(), ch)
		if err != nil || len(calls) != 1 {
			return false
		}
		id = calls[0].Entry
		return true
	})
	c := callOf(t, bravo, ch, id)
	if c.Purpose != "Incident in the strait" || c.Minutes != 45 || len(c.Times) != 2 || !c.Times[0].Equal(first) || !c.Times[1].Equal(second) ||
		len(c.Participants) != 2 || c.Participants[1].Party != "bravo" || c.Participants[1].Role != "minister" || c.Operator != devnet.Operator {
		t.Fatalf("bravo's view of the request: %+v", c)
	}
	screenshot(t, b, "call-request-alpha")
}

// callOf returns p's view of call request id in ch, or nil.
func callOf(t *testing.T, p *devnet.Party, ch, id string) *node.CallView {
	t.Helper()
	calls, err := p.Server.Node.Calls(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		if calls[i].Entry == id {
			return &calls[i]
		}
	}
	return nil
}

// waitFor polls cond for up to 20 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not after 20s", what)
		}
	}
}
