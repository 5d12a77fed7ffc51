package devnet

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/release"
)

// releaser is an operator of a party with an API token and a personal
// Ed25519 key registered with the party.
type releaser struct {
	name string
	key  ed25519.PrivateKey
	c    *client.Client
}

func newReleaser(t *testing.T, p *Party, name, role string) *releaser {
	t.Helper()
	ctx := context.Background()
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	token := name + "-token-" + strings.Repeat("x", 20)
	if err := p.Server.Store.AddOperatorToken(ctx, name, api.HashToken(token)); err != nil {
		t.Fatal(err)
	}
	op := hotline.Operator{Name: name, Role: role, Keys: []hotline.OperatorKey{{Key: entry.PersonalKey{Type: entry.KeyEd25519, Public: pub}, Added: time.Now().Add(-time.Minute)}}}
	if err := p.Server.Store.PutOperator(ctx, op); err != nil {
		t.Fatal(err)
	}
	return &releaser{name: name, key: priv, c: client.New(p.Server.APIURL(), token)}
}

// sign signs draft d's message as the CLI does: from the message and the
// channel, not from bytes the node hands over.
func (r *releaser) sign(t *testing.T, d *api.EntryRef) api.ReleaseRequest {
	t.Helper()
	var m entry.Message
	if err := entry.Unmarshal(d.Draft.Message, &m); err != nil {
		t.Fatal(err)
	}
	ch, _ := entry.ParseChannelID(d.Draft.Channel)
	rel, err := release.SignEd25519(r.key, r.name, ch, &m)
	if err != nil {
		t.Fatal(err)
	}
	return api.ReleaseRequest{Key: rel.Key, Sig: rel.Sig}
}

// In a channel whose policy requires two operators other than the
// drafter to release every message, a send is held as a draft: nothing
// reaches the other party until it is released. The drafter cannot
// release it, an unregistered key or a signature over other content is
// refused, a draft sent back or withdrawn is never sent, and once two
// releasers signed, the message goes out with their personal signatures,
// after a roster naming their keys and roles; bravo and the archive check
// them. A message in that channel without its releases is refused.
func TestRelease_TwoPersonReleaseWithPersonalKeys(t *testing.T) {
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	chief := newReleaser(t, alpha, "chief", "duty director")
	deputy := newReleaser(t, alpha, "deputy", "deputy director")
	outsider := &releaser{name: "chief", key: ed25519.NewKeyFromSeed(make([]byte, 32)), c: chief.c}

	const name = "alpha-bravo-released"
	c, err := clientOf(alpha).Propose(ctx, api.ProposeRequest{Name: name, Level: "strategic", Members: []string{"bravo"},
		Policy: &api.PolicyRequest{Release: &api.ReleaseRule{Precedence: "routine", Releasers: 2}}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo holds the proposal", func() bool { _, err := clientOf(bravo).Channel(ctx, c.ID); return err == nil })
	if _, err := clientOf(bravo).Accept(ctx, c.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the channel is active at alpha", func() bool {
		v, err := clientOf(alpha).Channel(ctx, c.ID)
		return err == nil && v.State == "active"
	})

	held, err := clientOf(alpha).Send(ctx, name, api.SendRequest{Text: "We propose an immediate ceasefire along the line of contact.", Precedence: "flash"})
	if err != nil {
		t.Fatal(err)
	}
	if held.Draft == nil || held.ID != "" || held.Draft.Required != 2 || held.Draft.Drafter != Operator {
		t.Fatalf("a send in a channel requiring release: %+v", held)
	}
	d := held.Draft
	if ds, err := chief.c.Drafts(ctx, ""); err != nil || len(ds) != 1 || ds[0].ID != d.ID {
		t.Fatalf("drafts awaiting release: %+v, %v", ds, err)
	}

	// The drafter cannot release it; an unregistered key and a signature
	// over other content are refused.
	drafter := &releaser{name: Operator, key: chief.key, c: clientOf(alpha)}
	if _, err := drafter.c.ReleaseDraft(ctx, d.ID, drafter.sign(t, held)); hotline.ErrorCode(err) != hotline.EINVALID || !strings.Contains(err.Error(), "cannot release") {
		t.Fatalf("the drafter releasing its own draft: %v", err)
	}
	if _, err := outsider.c.ReleaseDraft(ctx, d.ID, outsider.sign(t, held)); err == nil || !strings.Contains(err.Error(), "not one of chief's registered") {
		t.Fatalf("a release with an unregistered key: %v", err)
	}
	other := *held.Draft
	var m entry.Message
	entry.Unmarshal(d.Message, &m)
	m.Text = "We reject any ceasefire."
	other.Message, _ = entry.EncodeBody(&m)
	if _, err := chief.c.ReleaseDraft(ctx, d.ID, chief.sign(t, &api.EntryRef{Draft: &other})); err == nil || !strings.Contains(err.Error(), "does not verify") {
		t.Fatalf("a release signed over other content: %v", err)
	}

	// One release is not enough: nothing reaches bravo.
	after, err := chief.c.ReleaseDraft(ctx, d.ID, chief.sign(t, held))
	if err != nil || after.Entry != "" || len(after.Releasers) != 1 {
		t.Fatalf("the first release: %+v, %v", after, err)
	}
	if _, err := chief.c.ReleaseDraft(ctx, d.ID, chief.sign(t, held)); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Fatalf("releasing twice: %v", err)
	}
	time.Sleep(time.Second) // five sync intervals
	log, err := clientOf(bravo).Log(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		if e.Kind == entry.KindMessage {
			t.Fatalf("bravo holds a message of the channel before it was released: %+v", e)
		}
	}

	// A second draft is sent back, a third withdrawn: neither is ever sent.
	back, err := clientOf(alpha).Send(ctx, name, api.SendRequest{Text: "Draft to be returned."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := deputy.c.ReturnDraft(ctx, back.Draft.ID, ""); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("a return without a comment: %v", err)
	}
	if r, err := deputy.c.ReturnDraft(ctx, back.Draft.ID, "Too strong; soften the second sentence."); err != nil || r.State != hotline.DraftReturned {
		t.Fatalf("returning a draft: %+v, %v", r, err)
	}
	if _, err := chief.c.ReleaseDraft(ctx, back.Draft.ID, chief.sign(t, back)); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Fatalf("releasing a returned draft: %v", err)
	}
	gone, err := clientOf(alpha).Send(ctx, name, api.SendRequest{Text: "Draft to be withdrawn."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := chief.c.WithdrawDraft(ctx, gone.Draft.ID); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("withdrawing another's draft: %v", err)
	}
	if r, err := clientOf(alpha).WithdrawDraft(ctx, gone.Draft.ID); err != nil || r.State != hotline.DraftWithdrawn {
		t.Fatalf("withdrawing one's own draft: %+v, %v", r, err)
	}
	returned, err := clientOf(alpha).Drafts(ctx, hotline.DraftReturned)
	if err != nil || len(returned) != 1 || returned[0].History[len(returned[0].History)-1].Comment != "Too strong; soften the second sentence." {
		t.Fatalf("returned drafts: %+v, %v", returned, err)
	}

	// The second release sends it, with both personal signatures.
	sent, err := deputy.c.ReleaseDraft(ctx, d.ID, deputy.sign(t, held))
	if err != nil || sent.Entry == "" || sent.State != hotline.DraftReleased {
		t.Fatalf("the second release: %+v, %v", sent, err)
	}
	eventually(t, "bravo holds the released message", func() bool {
		e := findEntry(t, clientOf(bravo), name, sent.Entry)
		return e != nil && len(e.Releases) == 2 && e.Releases[0].Operator == "chief" && e.Releases[1].Operator == "deputy" &&
			e.Releases[0].Role == "duty director" && e.Releases[1].Role == "deputy director"
	})
	for _, p := range []*Party{alpha, bravo} {
		r, err := VerifyExport(ctx, p, name)
		if err != nil || !r.OK {
			t.Fatalf("%s's archive: %v, %+v", p.Name, err, r)
		}
		var found bool
		for _, mi := range r.Messages {
			if mi.ID == sent.Entry {
				found = len(mi.Releases) == 2 && mi.Releases[0].Role == "duty director" && mi.Releases[1].Role == "deputy director"
			}
		}
		if !found {
			t.Fatalf("%s's archive does not show who released the message: %+v", p.Name, r.Messages)
		}
	}

	// Bravo refuses a message in the channel without its releases, signed
	// by alpha's key itself (a compromised node, or a buggy one).
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	aDir, err := config.Open(alpha.Dir)
	if err != nil {
		t.Fatal(err)
	}
	a := channelAttacker(t, net, name, aDir)

	a.pushRejected("release", a.message(a.alpha.Key.Priv, "sent without release", func(h *entry.Header) { h.Operator = Operator }))
}
