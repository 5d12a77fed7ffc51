package keychain

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

func mustKey(t *testing.T, tls string) (*identity.SigningKey, Key) {
	t.Helper()
	sk, err := identity.GenerateSigningKey("alpha")
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKey(sk.VerifierKey(), identity.Fingerprint("sha256:"+strings.Repeat(tls, 64)))
	if err != nil {
		t.Fatal(err)
	}
	return sk, k
}

// keyEntry is alpha's key entry at seq of channel ch, signed by old,
// naming next (which signs the statement, unless by says otherwise).
func keyEntry(t *testing.T, ch entry.ChannelID, seq uint64, old *identity.SigningKey, next Key, by *identity.SigningKey) (*entry.Entry, *entry.KeyChange) {
	t.Helper()
	kc := &entry.KeyChange{Key: next.Verifier, TLS: string(next.TLS)}
	var err error
	if kc.Sig, err = entry.SignBytes(by.Signer, entry.KeyChangeMessage(ch, seq, old.VerifierKey(), next.Verifier, kc.TLS)); err != nil {
		t.Fatal(err)
	}
	body, _ := entry.EncodeBody(kc)
	e, err := entry.Sign(entry.Header{Channel: ch, Author: "alpha", Seq: seq, Prev: entry.ID{1}, Time: time.Now().UnixMilli(), Kind: entry.KindKey}, body, old.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return e, kc
}

func TestBook_FollowsARotationFeedByFeed(t *testing.T) {
	k0s, k0 := mustKey(t, "0")
	k1s, k1 := mustKey(t, "1")
	k2s, k2 := mustKey(t, "2")
	k3s, k3 := mustKey(t, "3")
	b := New()
	b.Pin("alpha", k0)
	c1, c2 := entry.ChannelID{1}, entry.ChannelID{2}
	f1, f2 := hotline.Feed{Channel: c1, Party: "alpha"}, hotline.Feed{Channel: c2, Party: "alpha"}

	e, kc := keyEntry(t, c1, 5, k0s, k1, k1s)
	ch1, err := ParseChange(e, kc, k0.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(ch1); err != nil {
		t.Fatal(err)
	}
	// Before it is added, another feed rotating to another key in the
	// same batch is a conflict.
	e2, kc2 := keyEntry(t, c2, 3, k0s, k2, k0s) // k2's signature forged by k0
	if _, err := ParseChange(e2, kc2, k0.Verifier); err == nil {
		t.Fatal("a key change the new key did not sign was accepted")
	}
	b.Add(ch1)
	if got := b.KeyAt(f1, k0.Verifier, 5); got != k0.Verifier {
		t.Errorf("the key entry itself is signed by %s, want the old key", got)
	}
	if got := b.KeyAt(f1, k0.Verifier, 6); got != k1.Verifier {
		t.Errorf("the entry after the key entry is signed by %s, want the new key", got)
	}
	if got := b.KeyAt(f2, k0.Verifier, 9); got != k0.Verifier {
		t.Errorf("a feed not yet rotated is signed by %s, want the old key", got)
	}
	if cur, _ := b.Current("alpha"); cur.Verifier != k1.Verifier {
		t.Errorf("current key %s, want the new one", cur.Verifier)
	}

	// The other feed rotating to the same key is fine; to another
	// successor of the old key, a conflict; back to the old key, too.
	e, kc = keyEntry(t, c2, 3, k0s, k1, k1s)
	same, err := ParseChange(e, kc, k0.Verifier)
	if err != nil || b.Check(same) != nil {
		t.Fatalf("the same rotation in another feed: %v, %v", err, b.Check(same))
	}
	e, kc = keyEntry(t, c2, 3, k0s, k2, k2s)
	other, err := ParseChange(e, kc, k0.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(other); !errors.Is(err, ErrConflict) {
		t.Errorf("a second successor of the old key: %v, want a conflict", err)
	}
	e, kc = keyEntry(t, c1, 8, k1s, k0, k0s)
	back, err := ParseChange(e, kc, k1.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Check(back); !errors.Is(err, ErrConflict) {
		t.Errorf("a rotation back to the old key: %v, want a conflict", err)
	}
	// Pending changes count: two feeds naming different successors of
	// the current key in one batch conflict.
	e, kc = keyEntry(t, c1, 8, k1s, k2, k2s)
	next, _ := ParseChange(e, kc, k1.Verifier)
	e, kc = keyEntry(t, c2, 4, k1s, k3, k3s)
	rival, _ := ParseChange(e, kc, k1.Verifier)
	if err := b.Check(rival, next); !errors.Is(err, ErrConflict) {
		t.Errorf("two successors of one key in one batch: %v, want a conflict", err)
	}
}

func TestBook_TheTLSKeysOfTheTwoNewestKeys(t *testing.T) {
	k0s, k0 := mustKey(t, "a")
	k1s, k1 := mustKey(t, "b")
	b := New()
	b.Pin("alpha", k0)
	e, kc := keyEntry(t, entry.ChannelID{1}, 2, k0s, k1, k1s)
	c, err := ParseChange(e, kc, k0.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	b.Add(c)
	if p, ok := b.PartyForTLS(k0.TLS); !ok || p != "alpha" {
		t.Fatal("the TLS key before the newest is refused")
	}
	if !b.AcceptsTLS("alpha", k1.TLS) {
		t.Fatal("the new TLS key is refused")
	}
	if len(b.Recent("alpha")) != 2 {
		t.Fatal("heartbeats by the previous key are not accepted")
	}
	// A second rotation: the first TLS key is refused from then on.
	k2s, k2 := mustKey(t, "c")
	e, kc = keyEntry(t, entry.ChannelID{1}, 5, k1s, k2, k2s)
	c2, err := ParseChange(e, kc, k1.Verifier)
	if err != nil {
		t.Fatal(err)
	}
	b.Add(c2)
	if b.AcceptsTLS("alpha", k0.TLS) || !b.AcceptsTLS("alpha", k1.TLS) || !b.AcceptsTLS("alpha", k2.TLS) {
		t.Fatal("after two rotations, the link accepts other TLS keys than the two newest")
	}
}

// A party cannot rotate without end: past MaxKeys keys, its next key
// change is refused.
func TestBook_RotationsAreBounded(t *testing.T) {
	prevS, prev := mustKey(t, "0")
	b := New()
	b.Pin("alpha", prev)
	ch := entry.ChannelID{1}
	for i := 1; i < MaxKeys; i++ {
		nextS, next := mustKey(t, "1")
		e, kc := keyEntry(t, ch, uint64(i+1), prevS, next, nextS)
		c, err := ParseChange(e, kc, prev.Verifier)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Check(c); err != nil {
			t.Fatalf("rotation %d: %v", i, err)
		}
		b.Add(c)
		prevS, prev = nextS, next
	}
	nextS, next := mustKey(t, "1")
	e, kc := keyEntry(t, ch, MaxKeys+1, prevS, next, nextS)
	c, _ := ParseChange(e, kc, prev.Verifier)
	if err := b.Check(c); !errors.Is(err, ErrConflict) {
		t.Fatalf("rotation past %d keys: %v", MaxKeys, err)
	}
}
