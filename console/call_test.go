package console_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/conference/audiotest"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

// fakeMicrophone is a browser whose microphone plays file, and which
// grants the page its use without asking.
func fakeMicrophone(t *testing.T, file string) context.Context {
	return browser(t,
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("use-file-for-fake-audio-capture", file),
		chromedp.Flag("autoplay-policy", "no-user-gesture-required"),
	)
}

// evalAsync evaluates an expression that may return a promise.
func evalAsync(expr string, out any) chromedp.Action {
	return chromedp.Evaluate(expr, out, func(p *runtime.EvaluateParams) *runtime.EvaluateParams { return p.WithAwaitPromise(true) })
}

// inboundAudio is what a page's call connection says of the audio it
// receives (WebRTC getStats, inbound-rtp).
const inboundAudio = `(async () => {
  if (!window.hotlineCall) return {packets: 0, level: 0};
  const stats = await window.hotlineCall.pc.getStats();
  let out = {packets: 0, level: 0};
  stats.forEach(s => { if (s.type === "inbound-rtp" && s.kind === "audio") { out.packets = s.packetsReceived || 0; out.level = s.audioLevel || 0; } });
  return out;
})()`

// TestConsole_TwoConsolesHoldACall: alpha's duty officer joins an accepted
// call from the console, with a microphone that speaks a sentence
// (Chromium's fake capture device playing an espeak-ng file); bravo's
// joins from its console; bravo's page receives alpha's audio (packets,
// and a level above zero), both see who is on the call, mute works, and
// once both leave the nodes write and co-sign the record.
func TestConsole_TwoConsolesHoldACall(t *testing.T) {
	browserPath(t)
	speechA, _ := audiotest.Speech(t, "This is alpha. The exercise is postponed by one week.", "en")
	speechB, _ := audiotest.Speech(t, "Bravo acknowledges.", "en-us")
	net := networkWith(t, devnet.Options{Parties: 2, SyncInterval: 200 * time.Millisecond, Directories: true})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ca, cb := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	const ch = "alpha-bravo-strategic"
	at := time.Now().Add(2 * time.Minute).UTC().Truncate(time.Second)
	ref, err := ca.RequestCall(ctx, ch, api.CallRequestBody{Purpose: "Exercise schedule", Times: []time.Time{at}, Minutes: 15,
		Participants: []entry.Participant{{Party: "alpha", Role: "minister"}, {Party: "bravo", Role: "minister"}}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bravo accepts", func() bool { _, err := cb.AcceptCall(ctx, ch, ref.ID, at); return err == nil })
	waitFor(t, "alpha sees the call accepted", func() bool {
		calls, err := ca.Calls(ctx, ch)
		return err == nil && len(calls) == 1 && calls[0].State == node.CallAccepted
	})

	ba, bb := fakeMicrophone(t, speechA), fakeMicrophone(t, speechB)
	login(t, ba, alpha, password)
	login(t, bb, bravo, password)
	join := fmt.Sprintf(`#call-%s [data-join]`, ref.ID)
	for _, x := range []struct {
		b context.Context
		p *devnet.Party
	}{{ba, alpha}, {bb, bravo}} {
		run(t, x.b, x.p.Name+" clicks Join on the channel page",
			chromedp.Navigate(channelURL(t, x.p, ch)),
			present(join),
			chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).click()`, join), nil),
			waitJS(fmt.Sprintf(`!!window.hotlineCall || document.querySelector("#call-%s .join-status").textContent !== ""`, ref.ID)))
		var status string
		run(t, x.b, "read the join status", chromedp.Evaluate(fmt.Sprintf(`document.querySelector("#call-%s .join-status").textContent`, ref.ID), &status))
		if status != "" {
			t.Fatalf("%s could not join: %s", x.p.Name, status)
		}
		run(t, x.b, x.p.Name+" is on the call",
			waitJS(`window.hotlineCall.pc.connectionState === "connected"`),
			waitJS(`!document.getElementById("on-call").hidden`),
		)
	}
	// Bravo's page receives alpha's voice.
	var in struct {
		Packets float64 `json:"packets"`
		Level   float64 `json:"level"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		run(t, bb, "read bravo's call statistics", evalAsync(inboundAudio, &in))
		if in.Packets > 100 && in.Level > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("bravo's page received %v packets at level %v", in.Packets, in.Level)
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("bravo's page: %v packets received, audio level %v", in.Packets, in.Level)
	// Both consoles list both ministers.
	for _, b := range []context.Context{ba, bb} {
		run(t, b, "the on-call panel lists both parties",
			waitJS(`document.querySelectorAll("#on-call .call-members li").length === 2 &&
				document.querySelector('#on-call .call-members li[data-party="bravo"]') !== null`))
	}
	run(t, ba, "alpha mutes",
		chromedp.Evaluate(`document.querySelector("[data-mute-toggle]").click()`, nil),
		waitJS(`document.querySelector("[data-mute-toggle]").getAttribute("aria-pressed") === "true" &&
			window.hotlineCall.stream.getAudioTracks().every(t => !t.enabled)`),
	)
	screenshot(t, ba, "call-alpha")
	for _, b := range []context.Context{ba, bb} {
		run(t, b, "leave the call",
			chromedp.Evaluate(`document.querySelector("[data-leave]").click()`, nil),
			waitJS(`document.getElementById("on-call").hidden && !window.hotlineCall`))
	}
	waitFor(t, "the record is written and co-signed", func() bool {
		calls, err := cb.Calls(ctx, ch)
		return err == nil && len(calls) == 1 && calls[0].Held != nil && len(calls[0].Held.Signed) == 2
	})
	run(t, ba, "alpha's page shows the call as held", chromedp.Navigate(channelURL(t, alpha, ch)), present(fmt.Sprintf(`#call-%s .held`, ref.ID)))
}
