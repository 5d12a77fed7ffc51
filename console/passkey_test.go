package console_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
)

// The duty director registers a passkey in the console, in Chromium with
// a virtual authenticator (the WebAuthn domain of the DevTools protocol),
// and releases a FLASH message the duty officer drafted in a channel
// whose policy requires a release: it reaches bravo with the director's
// personal signature, which bravo and the archive check offline. The
// assertion, replayed for another draft or altered, is refused.
func TestConsole_APasskeyReleasesAStrategicMessage(t *testing.T) {
	net := network(t)
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	if err := alpha.Server.Store.PutOperator(ctx, hotline.Operator{Name: "chief", Role: "duty director"}); err != nil {
		t.Fatal(err)
	}
	const chiefToken = "chief-token-0123456789abcdef"
	if err := alpha.Server.Store.AddOperatorToken(ctx, "chief", api.HashToken(chiefToken)); err != nil {
		t.Fatal(err)
	}
	ac, bc := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	const name = "alpha-bravo-minister"
	c, err := ac.Propose(ctx, api.ProposeRequest{Name: name, Level: "strategic", Members: []string{"bravo"},
		Policy: &api.PolicyRequest{Release: &api.ReleaseRule{Precedence: "routine", Releasers: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bravo holds the proposal", func() bool { _, err := bc.Channel(ctx, c.ID); return err == nil })
	if _, err := bc.Accept(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the channel is active", func() bool { v, err := ac.Channel(ctx, c.ID); return err == nil && v.State == "active" })

	// Passkeys are bound to a host name: the console is reached as
	// localhost, not 127.0.0.1.
	host := strings.Replace(alpha.Server.APIURL(), "127.0.0.1", "localhost", 1)
	b := browser(t)
	run(t, b, "a virtual authenticator that verifies its user",
		webauthn.Enable(),
		chromedp.ActionFunc(func(ctx context.Context) error {
			_, err := webauthn.AddVirtualAuthenticator(&webauthn.VirtualAuthenticatorOptions{
				Protocol: webauthn.AuthenticatorProtocolCtap2, Transport: webauthn.AuthenticatorTransportInternal,
				HasResidentKey: true, HasUserVerification: true, IsUserVerified: true, AutomaticPresenceSimulation: true,
			}).Do(ctx)
			return err
		}))
	run(t, b, "the duty director logs in and registers a passkey",
		chromedp.Navigate(host+alpha.Server.Console.LoginLink("chief")),
		present("[data-passkey-register]"),
		chromedp.Evaluate(`document.querySelector("[data-passkey-register]").click()`, nil),
		waitJS(`(document.querySelector("#passkeys") || {textContent: ""}).textContent.includes("Passkeys registered: 1")`))
	op, err := alpha.Server.Store.Operator(ctx, "chief")
	if err != nil || len(op.Keys) != 1 || op.Keys[0].Key.Type != entry.KeyWebAuthn || op.Keys[0].Key.RPID != "localhost" {
		t.Fatalf("chief's keys after the registration: %+v, %v", op.Keys, err)
	}

	held, err := ac.Send(ctx, name, api.SendRequest{Text: "The minister proposes talks in Geneva on Thursday.", Precedence: "flash"})
	if err != nil || held.Draft == nil {
		t.Fatalf("the duty officer's draft: %+v, %v", held, err)
	}
	other, err := ac.Send(ctx, name, api.SendRequest{Text: "A second draft, for the replayed assertion."})
	if err != nil || other.Draft == nil {
		t.Fatal(err)
	}
	draft := "#draft-" + held.Draft.ID
	var age string
	run(t, b, "the draft appears on the director's open watch page, live, with its age",
		present(draft+" button.release"),
		textOf(draft+" .age", &age))
	screenshot(t, b, "watch-alpha-draft")
	if !strings.HasPrefix(age, "waiting ") {
		t.Errorf("the draft's age reads %q", age)
	}
	run(t, b, "the director releases it with the passkey",
		chromedp.Evaluate(fmt.Sprintf(`document.querySelector(%q).click()`, draft+" button.release"), nil),
		waitJS(fmt.Sprintf(`document.readyState === "complete" && document.querySelector(%q) === null`, draft)))

	sent, err := ac.Draft(ctx, held.Draft.ID)
	if err != nil || sent.State != hotline.DraftReleased || sent.Entry == "" {
		t.Fatalf("the draft after the release: %+v, %v", sent, err)
	}
	waitFor(t, "bravo holds the message, released by chief", func() bool {
		log, err := bc.Log(ctx, name)
		if err != nil {
			return false
		}
		for _, e := range log {
			if e.ID == sent.Entry {
				return len(e.Releases) == 1 && e.Releases[0].Operator == "chief" && strings.HasPrefix(e.Releases[0].Key, "webauthn:")
			}
		}
		return false
	})
	bb := browser(t)
	login(t, bb, bravo, password)
	var released string
	run(t, bb, "bravo's console says who released it",
		chromedp.Navigate(channelURL(t, bravo, name)),
		textOf("#e-"+sent.Entry+" .released", &released))
	screenshot(t, bb, "channel-bravo-zh-released")
	if !strings.Contains(released, "chief（duty director）") {
		t.Errorf("bravo's timeline says %q of who released the message", released)
	}
	r, err := devnet.VerifyExport(ctx, bravo, name)
	if err != nil || !r.OK {
		t.Fatalf("bravo's archive: %v, %+v", err, r)
	}
	checked := false
	for _, m := range r.Messages {
		if m.ID == sent.Entry {
			checked = len(m.Releases) == 1 && m.Releases[0].Operator == "chief" && m.Releases[0].Role == "duty director" && m.Releases[0].KeyType == entry.KeyWebAuthn
		}
	}
	if !checked {
		t.Fatalf("bravo's archive does not show the director's checked release: %+v", r.Messages)
	}

	// The assertion, taken from the sent message, does not release the
	// other draft, and altered it does not verify.
	st, err := alpha.Server.Store.Entry(ctx, mustID(t, sent.Entry))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := entry.DecodeBody(st.Entry)
	rel := body.(*entry.Message).Releases[0]
	chief := client.New(alpha.Server.APIURL(), chiefToken)
	replay := api.ReleaseRequest{Key: rel.Key, Sig: rel.Sig, AuthData: rel.AuthData, ClientData: rel.ClientData}
	if _, err := chief.ReleaseDraft(ctx, other.Draft.ID, replay); hotline.ErrorCode(err) != hotline.EINVALID || !strings.Contains(err.Error(), "challenge") {
		t.Fatalf("an assertion replayed for another draft: %v", err)
	}
	altered := replay
	altered.AuthData = append([]byte{}, rel.AuthData...)
	altered.AuthData[len(altered.AuthData)-1] ^= 1 // the signature counter
	if _, err := chief.ReleaseDraft(ctx, other.Draft.ID, altered); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("an altered assertion: %v", err)
	}
	if d, _ := ac.Draft(ctx, other.Draft.ID); d.State != hotline.DraftAwaiting || len(d.Releasers) != 0 {
		t.Fatalf("refused assertions changed the other draft: %+v", d)
	}
}

func mustID(t *testing.T, s string) entry.ID {
	t.Helper()
	id, err := entry.ParseID(s)
	if err != nil {
		t.Fatal(err)
	}
	return id
}
