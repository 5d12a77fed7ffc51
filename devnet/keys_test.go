package devnet

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/postgres/pgtest"
	"github.com/hotline-project/hotline/server"
	"github.com/hotline-project/hotline/sshagent/agenttest"
)

// Alpha rotates its keys while both parties send: nothing is lost, bravo
// takes the new key from the key entries and checks alpha's later entries
// against it, the peer link moves to alpha's new TLS key without anyone
// pinning it by hand, every archive verifies across the rotation, and an
// entry signed with the old key after the switch point is refused.
func TestKeys_RotationWhileTrafficFlows(t *testing.T) {
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	before, err := config.Open(alpha.Dir)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, oldTLS := before.Key, before.TLS.Fingerprint()
	m := net.Manifest()

	// Traffic both ways in every channel, until stopped.
	var (
		mu       sync.Mutex
		accepted = map[string][]string{} // sender → ids
		failures atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for _, p := range []*Party{alpha, bravo} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientOf(p)
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ch := m.Channels[i%len(m.Channels)].Name
				ref, err := c.Send(ctx, ch, api.SendRequest{Text: "traffic " + p.Name})
				if err != nil {
					failures.Add(1)
					continue
				}
				mu.Lock()
				accepted[p.Name] = append(accepted[p.Name], ch+" "+ref.ID)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	res, err := clientOf(alpha).RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Old != oldKey.VerifierKey() || res.New == res.Old || res.OldTLS != string(oldTLS) || res.NewTLS == res.OldTLS {
		t.Fatalf("rotation %+v; alpha's key was %s, TLS %s", res, oldKey.VerifierKey(), oldTLS)
	}
	if res.Feeds != len(m.Channels) {
		t.Errorf("the key change is in %d feeds, want one per channel (%d)", res.Feeds, len(m.Channels))
	}
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	if failures.Load() != 0 {
		t.Errorf("%d sends failed across the rotation", failures.Load())
	}

	// Everything sent is delivered, both ways, in every channel.
	for sender, refs := range accepted {
		for _, r := range refs {
			ch, id, _ := strings.Cut(r, " ")
			eventually(t, "delivery of "+sender+"'s "+id, func() bool {
				e := findEntry(t, clientOf(net.Party(sender)), ch, id)
				return e != nil && e.Delivered != nil
			})
		}
	}
	t.Logf("%d messages from alpha and %d from bravo delivered across the rotation", len(accepted["alpha"]), len(accepted["bravo"]))

	// Bravo holds alpha's chain; alpha presents its new TLS key once
	// bravo holds the change, and the link still works both ways.
	eventually(t, "alpha's peer link presents its new TLS key", func() bool {
		s, err := clientOf(alpha).KeyStatus(ctx)
		return err == nil && s.PendingTLS == "" && s.TLS == res.NewTLS
	})
	ks, err := clientOf(bravo).KeyStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if i := slices.IndexFunc(ks.Peers, func(p node.PeerKeys) bool { return p.Party == "alpha" }); i < 0 ||
		ks.Peers[i].Key != res.New || !slices.Equal(ks.Peers[i].Keys, []string{res.Old, res.New}) || ks.Peers[i].TLS != res.NewTLS {
		t.Fatalf("bravo's view of alpha's keys: %+v", ks.Peers)
	}
	doc, err := clientOf(alpha).Identity(ctx)
	if err != nil || doc.Key != res.New || string(doc.TLS) != res.NewTLS {
		t.Fatalf("alpha's identity after the rotation: %+v, %v", doc, err)
	}
	for _, p := range []*Party{alpha, bravo} {
		ref, err := clientOf(p).Send(ctx, m.Channels[0].Name, api.SendRequest{Text: "after the TLS switch"})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, p.Name+"'s message after the TLS switch delivered", func() bool {
			e := findEntry(t, clientOf(p), m.Channels[0].Name, ref.ID)
			return e != nil && e.Delivered != nil
		})
	}

	// The node directory holds the new keys and nothing of the old ones.
	after, err := config.Open(alpha.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.Key.VerifierKey() != res.New || string(after.TLS.Fingerprint()) != res.NewTLS {
		t.Errorf("alpha's directory holds key %s, TLS %s after the rotation", after.Key.VerifierKey(), after.TLS.Fingerprint())
	}
	if left, _ := filepath.Glob(filepath.Join(alpha.Dir, "keys", "*.next*")); len(left) != 0 {
		t.Errorf("prepared keys left behind: %v", left)
	}

	// Every archive verifies across the rotation, from both sides, and
	// names alpha's key change and both its keys with their periods.
	for _, c := range m.Channels {
		for _, p := range []*Party{alpha, bravo} {
			r, err := VerifyExport(ctx, p, c.Name)
			if err != nil || !r.OK {
				t.Fatalf("%s's archive of %s: %v, %+v", p.Name, c.Name, err, r)
			}
			if len(r.KeyChanges) != 1 || r.KeyChanges[0].Party != "alpha" || r.KeyChanges[0].New != res.New || r.KeyChanges[0].Old != res.Old {
				t.Fatalf("%s's archive of %s: key changes %+v", p.Name, c.Name, r.KeyChanges)
			}
			var periods []string
			for _, k := range r.Keys {
				if k.Party == "alpha" && k.Until != nil {
					periods = append(periods, k.Key)
				}
			}
			if !slices.Equal(periods, []string{res.Old}) {
				t.Errorf("%s's archive of %s: alpha's keys %+v, want the old one with an end", p.Name, c.Name, r.Keys)
			}
		}
	}

	// Bravo restarted still holds alpha's new key, from its store.
	if err := net.StopParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	if err := net.StartParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	ks, err = clientOf(bravo).KeyStatus(ctx)
	if err != nil || ks.Peers[0].Key != res.New {
		t.Fatalf("bravo after a restart holds alpha's key %+v, %v", ks.Peers, err)
	}

	// With alpha's node stopped, its old key signs its next entry: bravo
	// refuses it, as alpha's feed moved on to the new key. So does a key
	// change to a key of the old key holder's choosing.
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	a := channelAttacker(t, net, "alpha-bravo-policy", after)
	a.pushRejected("signature", a.message(oldKey.Priv, "signed with the retired key", nil))
	mallory, err := identity.GenerateSigningKey("alpha")
	if err != nil {
		t.Fatal(err)
	}
	seq, prev := a.alphaHead()
	msg := entry.KeyChangeMessage(a.channel, seq+1, res.Old, mallory.VerifierKey(), res.NewTLS)
	sig, err := entry.SignBytes(mallory.Signer, msg)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := entry.EncodeBody(&entry.KeyChange{Key: mallory.VerifierKey(), TLS: res.NewTLS, Sig: sig})
	hijack, err := entry.Sign(entry.Header{Channel: a.channel, Author: "alpha", Seq: seq + 1, Prev: prev, Time: time.Now().UnixMilli(), Kind: entry.KindKey}, body, oldKey.Priv)
	if err != nil {
		t.Fatal(err)
	}
	a.pushRejected("signature", hijack)
}

// A rotation while bravo is down: alpha signs with its new key at once,
// but its peer link keeps the old TLS key, which bravo still pins, until
// bravo holds the key change; a second rotation waits until then. Bravo
// comes back, takes the change, and alpha moves to its new TLS key; then
// alpha rotates again, and the archives verify across both rotations.
func TestKeys_TheTLSKeyMovesOnceEveryPeerHoldsTheChange(t *testing.T) {
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	const ch = "alpha-bravo-policy"
	if err := net.StopParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	first, err := clientOf(alpha).RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	s, err := clientOf(alpha).KeyStatus(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if s.Key != first.New || s.TLS != first.OldTLS || s.PendingTLS != first.NewTLS || !slices.Equal(s.WaitingFor, []string{"bravo"}) {
		t.Fatalf("alpha's keys with bravo down: %+v", s)
	}
	_, err = clientOf(alpha).RotateKey(ctx)
	if hotline.ErrorCode(err) != hotline.ECONFLICT || !strings.Contains(err.Error(), "bravo") {
		t.Fatalf("a second rotation before bravo holds the first: %v; want a conflict naming bravo", err)
	}
	sent, err := clientOf(alpha).Send(ctx, ch, api.SendRequest{Text: "signed by the new key while bravo is down"})
	if err != nil {
		t.Fatal(err)
	}

	if err := net.StartParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha's message delivered to bravo", func() bool {
		e := findEntry(t, clientOf(alpha), ch, sent.ID)
		return e != nil && e.Delivered != nil
	})
	eventually(t, "alpha's peer link presents its new TLS key", func() bool {
		s, err := clientOf(alpha).KeyStatus(ctx)
		return err == nil && s.PendingTLS == "" && s.TLS == first.NewTLS
	})
	second, err := clientOf(alpha).RotateKey(ctx)
	if err != nil {
		t.Fatalf("a second rotation once bravo holds the first: %v", err)
	}
	if second.Old != first.New {
		t.Fatalf("the second rotation is from %s, want %s", second.Old, first.New)
	}
	reply, err := clientOf(bravo).Send(ctx, ch, api.SendRequest{Text: "after two rotations"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo's message delivered to alpha after two rotations", func() bool {
		e := findEntry(t, clientOf(bravo), ch, reply.ID)
		return e != nil && e.Delivered != nil
	})
	eventually(t, "alpha's peer link presents its second TLS key", func() bool {
		s, err := clientOf(alpha).KeyStatus(ctx)
		return err == nil && s.PendingTLS == "" && s.TLS == second.NewTLS
	})
	for _, p := range []*Party{alpha, bravo} {
		r, err := VerifyExport(ctx, p, ch)
		if err != nil || !r.OK {
			t.Fatalf("%s's archive: %v, %+v", p.Name, err, r)
		}
		if len(r.KeyChanges) != 2 || r.KeyChanges[1].Old != first.New || r.KeyChanges[1].New != second.New {
			t.Fatalf("%s's archive: key changes %+v", p.Name, r.KeyChanges)
		}
	}
	// Alpha restarted comes back with its current keys, and so does its link.
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	if err := net.StartParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	s, err = clientOf(alpha).KeyStatus(ctx)
	if err != nil || s.Key != second.New || s.TLS != second.NewTLS || len(s.History) != 3 {
		t.Fatalf("alpha's keys after a restart: %+v, %v", s, err)
	}
	last, err := clientOf(alpha).Send(ctx, ch, api.SendRequest{Text: "after a restart"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha's message after a restart delivered", func() bool {
		e := findEntry(t, clientOf(alpha), ch, last.ID)
		return e != nil && e.Delivered != nil
	})
}

// A thief copies alpha's keys and sends bravo a message as alpha. Alpha
// revokes its key (its node stopped): new keys, and a revocation signed
// by the new key saying where each feed stops being trusted. Bravo
// confirms the new key by voice and re-pins alpha from the revocation
// (peer update). From then on bravo refuses what the stolen key signs
// (a message, or a key change to the thief's own key), marks the thief's
// message disputed in its views and archives, and alpha and bravo talk
// again in a new channel, alpha's old feeds being closed.
func TestKeys_AStolenKeyIsRevoked(t *testing.T) {
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	const ch = "alpha-bravo-policy"
	genuine, err := clientOf(alpha).Send(ctx, ch, api.SendRequest{Text: "genuine, before the theft"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha's genuine message delivered", func() bool {
		e := findEntry(t, clientOf(alpha), ch, genuine.ID)
		return e != nil && e.Delivered != nil
	})
	stolen, err := config.Open(alpha.Dir) // the thief's copy of alpha's keys
	if err != nil {
		t.Fatal(err)
	}
	// Next keys prepared for a rotation are on the disk too: the thief has
	// them, so the revocation must not use them.
	preparedKey, preparedTLS, err := stolen.NewKeys("", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	thief := channelAttacker(t, net, ch, stolen)
	forged := thief.message(stolen.Key.Priv, "forged by the thief", nil)
	if res, err := thief.client.Push(ctx, []*entry.Entry{forged}); err != nil || res.Stored != 1 {
		t.Fatalf("before the revocation, the stolen key's message: %+v, %v (it is indistinguishable, and must be stored)", res, err)
	}
	thief.client.Close()

	// Alpha revokes; bravo re-pins from the revocation.
	aDir, err := config.Open(alpha.Dir)
	if err != nil {
		t.Fatal(err)
	}
	oldTLS := map[string][]byte{}
	for _, f := range []string{"tls.crt", "tls.key"} {
		if oldTLS[f], err = os.ReadFile(filepath.Join(alpha.Dir, "keys", f)); err != nil {
			t.Fatal(err)
		}
	}
	r, err := server.RevokeKey(ctx, aDir, nil, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// As if the revocation had been cut short before its new TLS key was
	// put in place: the node finishes it when it starts.
	for _, f := range []string{"crt", "key"} {
		keys := filepath.Join(alpha.Dir, "keys")
		if err := os.Rename(filepath.Join(keys, "tls."+f), filepath.Join(keys, "tls.next."+f)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(keys, "tls."+f), oldTLS["tls."+f], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if r.Revoked != stolen.Key.VerifierKey() || r.Identity.Key == r.Revoked || r.Identity.TLS == stolen.TLS.Fingerprint() {
		t.Fatalf("revocation %+v", r)
	}
	if r.Identity.Key == preparedKey.VerifierKey() || r.Identity.TLS == preparedTLS.Fingerprint() {
		t.Fatal("the revocation took the next keys prepared on the disk the thief copied")
	}
	if b, _ := os.ReadFile(filepath.Join(alpha.Dir, "keys", "signing.key")); strings.Contains(string(b), stolen.Key.SignerKey()) {
		t.Fatal("the revoked private key is still in alpha's directory")
	}
	if err := net.StopParty(ctx, bravo); err != nil {
		t.Fatal(err)
	}
	bDir, err := config.Open(bravo.Dir)
	if err != nil {
		t.Fatal(err)
	}
	note, err := os.ReadFile(filepath.Join(alpha.Dir, "keys", "revocation.note"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := bDir.UpdatePeer(note); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Party{alpha, bravo} {
		if err := net.StartParty(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	eventually(t, "alpha presents the TLS key its revocation names", func() bool {
		s, err := clientOf(alpha).KeyStatus(ctx)
		return err == nil && s.TLS == string(r.Identity.TLS) && s.PendingTLS == ""
	})

	// Bravo marks the thief's message disputed, not the genuine one.
	log, err := clientOf(bravo).Log(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range log {
		switch v.ID {
		case forged.ID().String():
			if !strings.Contains(v.Disputed, "revoked its key") {
				t.Errorf("the thief's message is not marked disputed at bravo: %+v", v)
			}
		case genuine.ID:
			if v.Disputed != "" {
				t.Errorf("alpha's genuine message is marked disputed: %s", v.Disputed)
			}
		}
	}

	// What the stolen key signs is refused now, even over a link the
	// thief could open (here: alpha's new TLS key, as if it had that too).
	thief.client = thief.peerClient(aDir.TLS)
	defer thief.client.Close()
	thief.pushRejected("revoked", thief.message(stolen.Key.Priv, "forged after the revocation", nil))
	mallory, err := identity.GenerateSigningKey("alpha")
	if err != nil {
		t.Fatal(err)
	}
	seq, prev := thief.alphaHead()
	sig, err := entry.SignBytes(mallory.Signer, entry.KeyChangeMessage(thief.channel, seq+1, stolen.Key.VerifierKey(), mallory.VerifierKey(), string(stolen.TLS.Fingerprint())))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := entry.EncodeBody(&entry.KeyChange{Key: mallory.VerifierKey(), TLS: string(stolen.TLS.Fingerprint()), Sig: sig})
	hijack, err := entry.Sign(entry.Header{Channel: thief.channel, Author: "alpha", Seq: seq + 1, Prev: prev, Time: time.Now().UnixMilli(), Kind: entry.KindKey}, body, stolen.Key.Priv)
	if err != nil {
		t.Fatal(err)
	}
	thief.pushRejected("revoked", hijack)
	if _, err := clientOf(bravo).KeyStatus(ctx); err != nil {
		t.Fatal(err)
	}

	// Alpha's old feed is closed; a new channel carries its new key.
	if _, err := clientOf(alpha).Send(ctx, ch, api.SendRequest{Text: "in the old channel"}); err == nil || !strings.Contains(err.Error(), "revoked") {
		t.Fatalf("alpha sending in a channel whose feed it revoked: %v", err)
	}
	created, err := clientOf(alpha).Propose(ctx, api.ProposeRequest{Name: "alpha-bravo-policy-2", Level: "policy", Members: []string{"bravo"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo holds alpha's new proposal", func() bool {
		_, err := clientOf(bravo).Channel(ctx, created.ID)
		return err == nil
	})
	if _, err := clientOf(bravo).Accept(ctx, created.ID); err != nil {
		t.Fatal(err)
	}
	for _, p := range []*Party{alpha, bravo} {
		var ref *api.EntryRef
		eventually(t, p.Name+" sends in the new channel", func() bool {
			ref, err = clientOf(p).Send(ctx, "alpha-bravo-policy-2", api.SendRequest{Text: "after the recovery"})
			return err == nil
		})
		eventually(t, p.Name+"'s message after the recovery delivered", func() bool {
			e := findEntry(t, clientOf(p), "alpha-bravo-policy-2", ref.ID)
			return e != nil && e.Delivered != nil
		})
	}

	// Bravo's archive of the old channel verifies, with the revocation and
	// the thief's message disputed; alpha's has no disputed entry.
	rb, err := VerifyExport(ctx, bravo, ch)
	if err != nil || !rb.OK {
		t.Fatalf("bravo's archive: %v, %+v", err, rb)
	}
	if len(rb.Revocations) != 1 || len(rb.Disputed) != 1 || rb.Disputed[0].Seq != forged.Seq {
		t.Fatalf("bravo's archive: revocations %+v, disputed %+v", rb.Revocations, rb.Disputed)
	}
	ra, err := VerifyExport(ctx, alpha, ch)
	if err != nil || !ra.OK || len(ra.Revocations) != 1 || len(ra.Disputed) != 0 {
		t.Fatalf("alpha's archive: %v, %+v", err, ra)
	}
}

// alpha runs as two replicas on PostgreSQL. The next keys are prepared
// in one replica's directory and copied to the other's; the writer
// rotates; when it stops, the standby takes over, finds the rotation in
// the store, moves the prepared keys into place, and goes on signing
// with the new key, which bravo accepts.
func TestKeys_AStandbyTakesOverAfterARotation(t *testing.T) {
	dsn := pgtest.Database(t)
	net := mustStartWith(t, Options{Parties: 2, Replicas: 2, SyncInterval: 200 * time.Millisecond,
		Configure: func(party string, cfg *config.Config) {
			if party == "alpha" {
				cfg.Store.DSN = dsn
			}
		}})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	standby, err := server.Start(ctx, alpha.Replicas[1], server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Close(context.Background()) })

	// The administrator prepares the next keys once and copies them.
	d, err := config.Open(alpha.Dir)
	if err != nil {
		t.Fatal(err)
	}
	next, nextTLS, err := d.NewKeys("", "")
	if err != nil {
		t.Fatal(err)
	}
	prepared, _ := filepath.Glob(filepath.Join(alpha.Dir, "keys", "*.next*"))
	if len(prepared) != 3 {
		t.Fatalf("prepared key files: %v", prepared)
	}
	for _, f := range prepared {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(alpha.Replicas[1], "keys", filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	res, err := clientOf(alpha).RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.New != next.VerifierKey() || res.NewTLS != string(nextTLS.Fingerprint()) {
		t.Fatalf("the rotation went to %s, not to the prepared key %s", res.New, next.VerifierKey())
	}
	eventually(t, "the writer presents its new TLS key", func() bool {
		s, err := clientOf(alpha).KeyStatus(ctx)
		return err == nil && s.PendingTLS == ""
	})

	// The writer stops; the standby takes over with the new keys.
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the standby takes over", func() bool { return standby.ActiveNode() != nil })
	sc := client.New(standby.APIURL(), alpha.Token)
	eventually(t, "the new writer presents the new TLS key", func() bool {
		s, err := sc.KeyStatus(ctx)
		return err == nil && s.Key == res.New && s.TLS == res.NewTLS && s.PendingTLS == ""
	})
	ref, err := sc.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "from the replica that took over, signed by the new key"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo holds it and receipts it", func() bool {
		e := findEntry(t, sc, "alpha-bravo-policy", ref.ID)
		return e != nil && e.Delivered != nil
	})
	sd, err := config.Open(alpha.Replicas[1])
	if err != nil {
		t.Fatal(err)
	}
	if sd.Key.VerifierKey() != res.New || string(sd.TLS.Fingerprint()) != res.NewTLS {
		t.Fatalf("the standby's directory holds %s / %s after taking over", sd.Key.VerifierKey(), sd.TLS.Fingerprint())
	}
	if left, _ := filepath.Glob(filepath.Join(alpha.Replicas[1], "keys", "*.next*")); len(left) != 0 {
		t.Errorf("prepared keys left in the standby's directory: %v", left)
	}
	if r, err := VerifyExport(ctx, bravo, "alpha-bravo-policy"); err != nil || !r.OK {
		t.Fatalf("bravo's archive: %v, %+v", err, r)
	}
}

// Alpha's party key and TLS key are both in a real ssh-agent. The next
// two are added to the agent and prepared (hotline key new
// --signer-key --signer-tls-key); the node rotates to them; the
// configuration names them; no private key is ever on disk.
func TestKeys_RotationWithBothKeysInAnAgent(t *testing.T) {
	agent := agenttest.Start(t)
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond,
		Configure: func(party string, cfg *config.Config) {
			if party == "alpha" {
				cfg.Signer.Type, cfg.Signer.Key, cfg.Signer.Socket = config.SignerAgent, agent.Fingerprint, agent.Socket
				cfg.Signer.TLSKey = agent.TLSFingerprint
			}
		}})
	ctx := context.Background()
	alpha := net.Party("alpha")
	d, err := config.Open(alpha.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := d.PrepareKeys(); !errors.Is(err, config.ErrNotPrepared) {
		t.Fatalf("preparing agent keys without naming them: %v", err)
	}
	nextFP, nextTLSFP := agent.Add(), agent.Add()
	next, nextTLS, err := d.NewKeys(nextFP, nextTLSFP)
	if err != nil {
		t.Fatal(err)
	}
	res, err := clientOf(alpha).RotateKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.New != next.VerifierKey() || res.NewTLS != string(nextTLS.Fingerprint()) {
		t.Fatalf("rotated to %s / %s, prepared %s / %s", res.New, res.NewTLS, next.VerifierKey(), nextTLS.Fingerprint())
	}
	eventually(t, "alpha presents its new TLS key, from the agent", func() bool {
		s, err := clientOf(alpha).KeyStatus(ctx)
		return err == nil && s.PendingTLS == "" && s.TLS == res.NewTLS
	})
	// The node presents the new TLS key, then makes it its own on disk.
	eventually(t, "the configuration names the new agent keys", func() bool {
		d, err := config.Open(alpha.Dir)
		return err == nil && d.Config.Signer.TLSKey == nextTLSFP
	})
	after, err := config.Open(alpha.Dir)
	if err != nil {
		t.Fatal(err)
	}
	if after.Config.Signer.Key != nextFP || after.Config.Signer.TLSKey != nextTLSFP || after.Key.Priv != nil {
		t.Fatalf("alpha's configuration after the rotation: signer.key %s, signer.tls_key %s; want %s, %s", after.Config.Signer.Key, after.Config.Signer.TLSKey, nextFP, nextTLSFP)
	}
	for _, f := range []string{"signing.key", "tls.key", "signing.next.pub", "tls.next.crt"} {
		if _, err := os.Stat(filepath.Join(alpha.Dir, "keys", f)); !os.IsNotExist(err) {
			t.Errorf("keys/%s after the rotation: %v", f, err)
		}
	}
	ref, err := clientOf(alpha).Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "signed by the agent's new key"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the message signed by the agent's new key is delivered", func() bool {
		e := findEntry(t, clientOf(alpha), "alpha-bravo-policy", ref.ID)
		return e != nil && e.Delivered != nil
	})
}
