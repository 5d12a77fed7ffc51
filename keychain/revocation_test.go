package keychain

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

func testRevocation(t testing.TB) (*Revocation, *identity.SigningKey) {
	old, err := identity.GenerateSigningKey("alpha")
	if err != nil {
		t.Fatal(err)
	}
	next, err := identity.GenerateSigningKey("alpha")
	if err != nil {
		t.Fatal(err)
	}
	return &Revocation{
		Identity: identity.Document{Party: "alpha", Key: next.VerifierKey(), TLS: identity.Fingerprint("sha256:" + strings.Repeat("ab", 32)), Endpoints: []string{"alpha.example:7443"}},
		Revoked:  old.VerifierKey(),
		Time:     time.UnixMilli(1764670000000).UTC(),
		Feeds:    []RevokedFeed{{Channel: entry.ChannelID{1}, From: 12}, {Channel: entry.ChannelID{2}, From: 3}},
	}, next
}

func TestRevocation_SignedByTheNewKeyAlone(t *testing.T) {
	r, next := testRevocation(t)
	signed, err := r.Sign(next.Signer)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseRevocation(signed)
	if err != nil {
		t.Fatal(err)
	}
	if got.Identity.Key != r.Identity.Key || got.Revoked != r.Revoked || !got.Time.Equal(r.Time) || len(got.Feeds) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	if got.From(entry.ChannelID{1}) != 12 || got.From(entry.ChannelID{2}) != 3 || got.From(entry.ChannelID{3}) != 1 {
		t.Fatal("From: a listed feed's point, or 1 for a feed the party did not list")
	}
	// Any change to the statement breaks the new key's signature.
	for name, change := range map[string][2]string{
		"point":    {"feed " + entry.ChannelID{1}.String() + " 12", "feed " + entry.ChannelID{1}.String() + " 99"},
		"revoked":  {"revoked " + r.Revoked, "revoked " + next.VerifierKey()},
		"endpoint": {"endpoint alpha.example:7443", "endpoint mallory.example:7443"},
	} {
		tampered := bytes.Replace(signed, []byte(change[0]), []byte(change[1]), 1)
		if bytes.Equal(tampered, signed) {
			t.Fatalf("%s: nothing to change", name)
		}
		if _, err := ParseRevocation(tampered); err == nil {
			t.Errorf("a revocation with its %s changed was accepted", name)
		}
	}
	// Signed by the revoked key (a thief's), it is not a revocation.
	thief, _ := identity.GenerateSigningKey("alpha")
	if _, err := r.Sign(thief.Signer); err == nil {
		t.Error("a revocation was signed by a key other than the new one it names")
	}
}

// FuzzParseRevocation: the decoder refuses or returns a revocation that
// signs back to the same note, and never panics.
func FuzzParseRevocation(f *testing.F) {
	r, next := testRevocation(f)
	signed, err := r.Sign(next.Signer)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte(revocationHeader + "\nparty alpha\n\n— alpha AAAA\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := ParseRevocation(b)
		if err != nil {
			return
		}
		if got.text() == "" || got.Identity.Check() != nil {
			t.Fatal("a parsed revocation does not hold its own checks")
		}
	})
}
