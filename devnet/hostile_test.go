package devnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/peer"
)

// attacker speaks the peer protocol to bravo with alpha's real TLS key and
// signing key (as a compromised or buggy alpha node would), while alpha's
// own node is stopped so it does not interfere.
type attacker struct {
	t       *testing.T
	net     *Network
	alpha   *config.Dir
	charlie *config.Dir
	bravo   *Party
	client  *peer.Client
	channel entry.ChannelID
}

func newAttacker(t *testing.T) *attacker {
	net := MustStart(t, 3)
	a := &attacker{t: t, net: net, bravo: net.Party("bravo")}
	var err error
	if a.alpha, err = config.Open(net.Party("alpha").Dir); err != nil {
		t.Fatal(err)
	}
	if a.charlie, err = config.Open(net.Party("charlie").Dir); err != nil {
		t.Fatal(err)
	}
	// Alpha's node sends one real message so its feed has history, then stops.
	ref := a.send("before the attack")
	eventually(t, "bravo holds alpha's message", func() bool {
		return findEntry(t, clientOf(a.bravo), "alpha-bravo-policy", ref) != nil
	})
	if err := net.StopParty(context.Background(), net.Party("alpha")); err != nil {
		t.Fatal(err)
	}
	ch, err := clientOf(a.bravo).Channel(context.Background(), "alpha-bravo-policy")
	if err != nil {
		t.Fatal(err)
	}
	if a.channel, err = entry.ParseChannelID(ch.ID); err != nil {
		t.Fatal(err)
	}
	a.client = a.peerClient(a.alpha.TLS)
	t.Cleanup(a.client.Close)
	return a
}

func (a *attacker) send(text string) string {
	ref, err := clientOf(a.net.Party("alpha")).Send(context.Background(), "alpha-bravo-policy", api.SendRequest{Text: text, Lang: "en"})
	if err != nil {
		a.t.Fatal(err)
	}
	return ref.ID
}

func (a *attacker) peerClient(key *identity.TLSKey) *peer.Client {
	bravoDir, err := config.Open(a.bravo.Dir)
	if err != nil {
		a.t.Fatal(err)
	}
	return peer.NewClient("bravo", []string{a.bravo.Server.PeerAddr()}, key, identity.Pin(bravoDir.TLS.Fingerprint()), peer.ClientOptions{})
}

// bravoLog is bravo's view of the attacked channel.
func (a *attacker) bravoLog() []node.EntryView {
	log, err := clientOf(a.bravo).Log(context.Background(), a.channel.String())
	if err != nil {
		a.t.Fatal(err)
	}
	return log
}

// alphaHead is the newest entry of alpha's feed that bravo holds.
func (a *attacker) alphaHead() (uint64, entry.ID) {
	var seq uint64
	var id entry.ID
	for _, v := range a.bravoLog() {
		if v.Author == "alpha" && v.Seq > seq {
			seq = v.Seq
			id, _ = entry.ParseID(v.ID)
		}
	}
	return seq, id
}

// message signs a message entry; adjust changes the header before signing.
func (a *attacker) message(key ed25519.PrivateKey, text string, adjust func(*entry.Header)) *entry.Entry {
	return a.signed(key, &entry.Message{Text: text, Lang: "en"}, adjust)
}

// signed signs a message entry with body as alpha's next entry.
func (a *attacker) signed(key ed25519.PrivateKey, msg *entry.Message, adjust func(*entry.Header)) *entry.Entry {
	seq, prev := a.alphaHead()
	h := entry.Header{
		Channel: a.channel, Author: "alpha", Seq: seq + 1, Prev: prev,
		Time: time.Now().UnixMilli(), Kind: entry.KindMessage, Operator: Operator,
	}
	if adjust != nil {
		adjust(&h)
	}
	body, err := entry.EncodeBody(msg)
	if err != nil {
		a.t.Fatal(err)
	}
	e, err := entry.Sign(h, body, key)
	if err != nil {
		a.t.Fatal(err)
	}
	return e
}

// push sends entries and expects each to be rejected with reason.
func (a *attacker) pushRejected(reason string, entries ...*entry.Entry) {
	a.t.Helper()
	res, err := a.client.Push(context.Background(), entries)
	if err != nil {
		a.t.Fatalf("%s: push: %v", reason, err)
	}
	if res.Stored != 0 || len(res.Rejected) != len(entries) {
		a.t.Fatalf("%s: stored %d, rejected %+v", reason, res.Stored, res.Rejected)
	}
	for _, r := range res.Rejected {
		if !strings.Contains(r.Error, reason) {
			a.t.Fatalf("rejection %q does not say %q", r.Error, reason)
		}
	}
}

func TestHostilePeer_NothingBadIsStored(t *testing.T) {
	a := newAttacker(t)
	ctx := context.Background()
	before := a.bravoLog()
	alphaKey := a.alpha.Key.Priv
	_, strangerKey, _ := ed25519.GenerateKey(rand.Reader)

	t.Run("forged signature", func(t *testing.T) {
		a.pushRejected("signature", a.message(strangerKey, "forged", nil))
	})
	t.Run("tampered body", func(t *testing.T) {
		e := a.message(alphaKey, "original", nil)
		body, _ := entry.EncodeBody(&entry.Message{Text: "tampered", Lang: "en"})
		forged, err := entry.FromParts(e.HeaderBytes, e.Sig, body)
		if err != nil {
			t.Fatal(err)
		}
		a.pushRejected("body", forged)
	})
	t.Run("unknown author", func(t *testing.T) {
		a.pushRejected("not pinned", a.message(strangerKey, "who am I", func(h *entry.Header) { h.Author = "mallory" }))
	})
	t.Run("non-member author", func(t *testing.T) {
		// Charlie is a pinned party, but not a member of alpha-bravo-policy.
		a.pushRejected("not a member", a.message(a.charlie.Key.Priv, "let me in", func(h *entry.Header) {
			h.Author, h.Seq, h.Prev = "charlie", 1, entry.ID{}
		}))
	})
	t.Run("non-member forwarder", func(t *testing.T) {
		// A valid entry by alpha, forwarded by charlie, who is not a member.
		c := a.peerClient(a.charlie.TLS)
		defer c.Close()
		res, err := c.Push(ctx, []*entry.Entry{a.message(alphaKey, "relayed", nil)})
		if err != nil {
			t.Fatal(err)
		}
		if res.Stored != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Error, "may not forward") {
			t.Fatalf("%+v", res)
		}
	})
	t.Run("seq gap", func(t *testing.T) {
		a.pushRejected("seq gap", a.message(alphaKey, "skipped ahead", func(h *entry.Header) { h.Seq += 5 }))
	})
	t.Run("broken chain", func(t *testing.T) {
		a.pushRejected("does not chain", a.message(alphaKey, "wrong prev", func(h *entry.Header) { h.Prev = entry.ID{1} }))
	})
	t.Run("unknown channel", func(t *testing.T) {
		a.pushRejected("unknown channel", a.message(alphaKey, "elsewhere", func(h *entry.Header) {
			h.Channel, h.Seq, h.Prev = entry.ChannelID{7}, 1, entry.ID{}
		}))
	})
	t.Run("reference to an entry bravo does not hold", func(t *testing.T) {
		a.pushRejected("does not hold", a.message(alphaKey, "dangling", func(h *entry.Header) {
			h.Refs = []entry.Ref{{Party: "bravo", Seq: 999, ID: entry.ID{2}}}
		}))
	})
	t.Run("equivocation", func(t *testing.T) {
		seq, _ := a.alphaHead()
		twin := a.message(alphaKey, "a different story", func(h *entry.Header) {
			h.Seq = seq
			for _, v := range before {
				if v.Author == "alpha" && v.Seq == seq-1 {
					h.Prev, _ = entry.ParseID(v.ID)
				}
			}
		})
		a.pushRejected("equivocation", twin)
		if got := counter(t, a.bravo, "hotline_equivocations_total"); got != 1 {
			t.Fatalf("hotline_equivocations_total = %v", got)
		}
		found := false
		for _, doc := range evidenceFiles(t, a.bravo) {
			if doc.Party == "alpha" {
				// Both signed entries are kept as an evidence file that a
				// third party can check offline.
				explain, err := doc.Check()
				if err != nil || doc.Kind != audit.EntryEquivocation || doc.Key != a.alpha.Key.VerifierKey() || !strings.Contains(explain, "PROVEN") {
					t.Fatalf("evidence %s does not prove the equivocation: %v\n%s", doc.Kind, err, explain)
				}
				found = true
			}
		}
		if !found {
			t.Fatal("no equivocation evidence of alpha's")
		}
	})
	t.Run("oversized entry", func(t *testing.T) {
		// A well-formed wire entry whose body alone is over the entry limit.
		e := a.message(alphaKey, "x", nil)
		big, err := cbor.Marshal([3][]byte{e.HeaderBytes, e.Sig, bytes.Repeat([]byte{'x'}, entry.MaxEntrySize)})
		if err != nil {
			t.Fatal(err)
		}
		res, err := a.client.PushRaw(ctx, big)
		if err != nil || res.Stored != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Error, "limit") {
			t.Fatalf("oversized entry: %+v, %v", res, err)
		}
	})
	t.Run("malformed encoding", func(t *testing.T) {
		for _, body := range [][]byte{{0xff, 0x00, 0x13}, []byte("not cbor at all"), {0x83, 0x41}, {0x83, 0x40, 0x40, 0x40}} {
			res, err := a.client.PushRaw(ctx, body)
			switch {
			case err != nil:
				if !strings.Contains(err.Error(), "400") || !strings.Contains(err.Error(), "malformed") {
					t.Fatalf("%x: unclear error %v", body, err)
				}
			case res.Stored != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Error, "malformed"):
				t.Fatalf("%x: %+v", body, res)
			}
		}
	})
	t.Run("reordered", func(t *testing.T) {
		// Seq N+2 before N+1 in one batch: N+2 does not follow what bravo
		// holds, so both are refused or only N+1 could be stored; here N+1
		// carries a bad prev, so neither may be stored.
		e1 := a.message(alphaKey, "first", func(h *entry.Header) { h.Prev = entry.ID{3} })
		e2 := a.message(alphaKey, "second", func(h *entry.Header) { h.Seq++; h.Prev = e1.ID() })
		res, err := a.client.Push(ctx, []*entry.Entry{e2, e1})
		if err != nil || res.Stored != 0 || len(res.Rejected) != 2 {
			t.Fatalf("%+v, %v", res, err)
		}
	})
	t.Run("truncated", func(t *testing.T) {
		raw := a.message(alphaKey, "cut short", nil).Encode()
		if _, err := a.client.PushRaw(ctx, raw[:len(raw)/2]); err == nil || !strings.Contains(err.Error(), "malformed") {
			t.Fatalf("truncated entry: %v", err)
		}
	})
	t.Run("flood", func(t *testing.T) {
		// Many concurrent pushes of forged entries: every one refused, the
		// evidence kept is rate-limited, and the node stays up.
		var wg sync.WaitGroup
		var refused atomic.Int64
		for range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range 40 {
					res, err := a.client.Push(ctx, []*entry.Entry{a.message(strangerKey, "flood", nil)})
					var se *peer.StatusError
					if (err == nil && res.Stored == 0 && len(res.Rejected) == 1) || (errors.As(err, &se) && se.Code == http.StatusTooManyRequests) {
						refused.Add(1) // refused one by one, or whole, past the bound on requests in progress
					}
				}
			}()
		}
		wg.Wait()
		if refused.Load() != 16*40 {
			t.Fatalf("%d of %d flood entries refused", refused.Load(), 16*40)
		}
		ev, err := clientOf(a.bravo).Evidence(ctx, client.EvidenceQuery{Kind: "rejected"})
		if err != nil {
			t.Fatalf("bravo's API after the flood: %v", err)
		}
		if n := ev.Counts["rejected"]; n > 3*60 { // node keeps at most 60 per peer per minute
			t.Fatalf("%d evidence records kept after a flood: not rate-limited", n)
		}
	})
	t.Run("wrong TLS key", func(t *testing.T) {
		certPEM, keyPEM, err := identity.GenerateTLSKey("alpha")
		if err != nil {
			t.Fatal(err)
		}
		impostor, err := identity.LoadTLSKey(certPEM, keyPEM)
		if err != nil {
			t.Fatal(err)
		}
		c := a.peerClient(impostor)
		defer c.Close()
		if _, err := c.Push(ctx, []*entry.Entry{a.message(alphaKey, "through the back door", nil)}); err == nil {
			t.Fatal("a push with an unpinned TLS key succeeded")
		}
		// And alpha's real key pinning the wrong server key refuses to talk.
		wrongPin := peer.NewClient("bravo", []string{a.bravo.Server.PeerAddr()}, a.alpha.TLS, identity.Pin(impostor.Fingerprint()), peer.ClientOptions{})
		defer wrongPin.Close()
		if _, err := wrongPin.Heads(ctx); err == nil {
			t.Fatal("connected to a server whose key does not match the pin")
		}
	})

	after := a.bravoLog()
	if len(after) != len(before) {
		t.Fatalf("bravo's log changed under attack: %d entries before, %d after", len(before), len(after))
	}
	if got := counter(t, a.bravo, "hotline_entries_rejected_total"); got < 10 {
		t.Fatalf("hotline_entries_rejected_total = %v", got)
	}

	// Positive control: the same attacker, with a correct entry, gets through.
	good := a.message(alphaKey, "a valid entry", nil)
	res, err := a.client.Push(ctx, []*entry.Entry{good})
	if err != nil || res.Stored != 1 || len(res.Rejected) != 0 {
		t.Fatalf("valid entry: %+v, %v", res, err)
	}
	if findEntry(t, clientOf(a.bravo), "alpha-bravo-policy", good.ID().String()) == nil {
		t.Fatal("the valid entry is not in bravo's log")
	}
	// Replayed: the same entry again is a duplicate, stored once.
	res, err = a.client.Push(ctx, []*entry.Entry{good, good})
	if err != nil || res.Stored != 0 || res.Duplicates != 2 || len(res.Rejected) != 0 {
		t.Fatalf("replay: %+v, %v", res, err)
	}
	alphas := func(log []node.EntryView) (n int) {
		for _, v := range log {
			if v.Author == "alpha" {
				n++
			}
		}
		return n
	}
	if got, want := alphas(a.bravoLog()), alphas(before)+1; got != want {
		t.Fatalf("after replay bravo holds %d of alpha's entries, want %d", got, want)
	}
}

// counter sums every series of a counter in a party's metrics.
func counter(tb testing.TB, p *Party, name string) float64 {
	tb.Helper()
	return sumMetric(tb, p.Server.Node.Metrics(), name)
}

func sumMetric(tb testing.TB, reg *prometheus.Registry, name string) float64 {
	tb.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		tb.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if c := m.GetCounter(); c != nil {
				sum += c.GetValue()
			}
		}
	}
	return sum
}

// channelAttacker speaks the peer protocol to bravo as alpha, with the
// keys of node directory alpha (alpha's own, or a thief's copy), about
// channel ch; alpha's node must be stopped.
func channelAttacker(t *testing.T, net *Network, ch string, alpha *config.Dir) *attacker {
	t.Helper()
	a := &attacker{t: t, net: net, alpha: alpha, bravo: net.Party("bravo")}
	info, err := clientOf(a.bravo).Channel(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	if a.channel, err = entry.ParseChannelID(info.ID); err != nil {
		t.Fatal(err)
	}
	a.client = a.peerClient(alpha.TLS)
	t.Cleanup(a.client.Close)
	return a
}
