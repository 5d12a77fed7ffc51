package release

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/hotline-project/hotline/entry"
)

// passkey is a software WebAuthn authenticator (ES256), for the
// verifier's unit tests; the console's test uses Chromium's.
type passkey struct {
	priv *ecdsa.PrivateKey
	key  entry.PersonalKey
}

func newPasskey(t testing.TB, rpID string) *passkey {
	priv, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	point, err := priv.PublicKey.Bytes() // 0x04 || x || y
	if err != nil {
		t.Fatal(err)
	}
	cose, err := cbor.Marshal(map[int]any{1: 2, 3: -7, -1: 1, -2: point[1:33], -3: point[33:]})
	if err != nil {
		t.Fatal(err)
	}
	return &passkey{priv: priv, key: entry.PersonalKey{Type: entry.KeyWebAuthn, Public: cose, ID: []byte("credential-1"), RPID: rpID}}
}

// assert makes an assertion over challenge from origin, with flags.
func (p *passkey) assert(t testing.TB, operator string, challenge []byte, origin string, flags byte) entry.Release {
	rp := sha256.Sum256([]byte(p.key.RPID))
	authData := append(rp[:], flags, 0, 0, 0, 1)
	clientData := []byte(fmt.Sprintf(`{"type":"webauthn.get","challenge":%q,"origin":%q,"crossOrigin":false}`, base64.RawURLEncoding.EncodeToString(challenge), origin))
	cd := sha256.Sum256(clientData)
	digest := sha256.Sum256(append(append([]byte{}, authData...), cd[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, p.priv, digest[:])
	if err != nil {
		t.Fatal(err)
	}
	return entry.Release{Operator: operator, Key: p.key, Sig: sig, AuthData: authData, ClientData: clientData}
}

func TestVerify_Ed25519AndPasskeys(t *testing.T) {
	ch := entry.ChannelID{7}
	m := &entry.Message{Text: "We propose an immediate ceasefire.", Lang: "en", Precedence: entry.Flash}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ed, err := SignEd25519(priv, "chief", ch, m)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(ch, m, &ed); err != nil {
		t.Fatal(err)
	}
	pk := newPasskey(t, "localhost")
	challenge, _ := Challenge(ch, m)
	wa := pk.assert(t, "deputy", challenge, "http://localhost:8080", 0x05)
	if err := Verify(ch, m, &wa); err != nil {
		t.Fatal(err)
	}
	other := *m
	other.Text = "We reject any ceasefire."
	otherChallenge, _ := Challenge(ch, &other)
	for name, r := range map[string]entry.Release{
		"ed25519 over other content":          func() entry.Release { r, _ := SignEd25519(priv, "chief", ch, &other); return r }(),
		"ed25519 in another channel":          func() entry.Release { r, _ := SignEd25519(priv, "chief", entry.ChannelID{8}, m); return r }(),
		"assertion of another message":        pk.assert(t, "deputy", otherChallenge, "http://localhost:8080", 0x05),
		"assertion without user verification": pk.assert(t, "deputy", challenge, "http://localhost:8080", 0x01),
		"assertion from another origin":       pk.assert(t, "deputy", challenge, "https://evil.example", 0x05),
		"assertion over plain http": func() entry.Release {
			q := newPasskey(t, "hotline.example")
			return q.assert(t, "deputy", challenge, "http://hotline.example", 0x05)
		}(),
		"assertion with its signature altered": func() entry.Release { r := wa; r.Sig = append([]byte{}, wa.Sig...); r.Sig[len(r.Sig)-1] ^= 1; return r }(),
		"assertion with its client data altered": func() entry.Release {
			r := wa
			r.ClientData = []byte(string(wa.ClientData[:len(wa.ClientData)-1]) + ` }`)
			return r
		}(),
		"a registration, not an assertion": func() entry.Release {
			r := wa
			r.ClientData = []byte(fmt.Sprintf(`{"type":"webauthn.create","challenge":%q,"origin":"http://localhost:8080"}`, base64.RawURLEncoding.EncodeToString(challenge)))
			return r
		}(),
	} {
		if err := Verify(ch, m, &r); err == nil {
			t.Errorf("%s: verified", name)
		}
	}
}

func TestCheck_TheRosterAndTheRule(t *testing.T) {
	ch := entry.ChannelID{7}
	m := &entry.Message{Text: "Released by two.", Lang: "en"}
	now := time.Now()
	sign := func(op string) (entry.Release, entry.RosterKey) {
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		r, _ := SignEd25519(priv, op, ch, m)
		return r, entry.RosterKey{Operator: op, Role: op + " role", Key: r.Key, From: now.Add(-time.Hour).UnixMilli()}
	}
	chief, chiefKey := sign("chief")
	deputy, deputyKey := sign("deputy")
	duty, dutyKey := sign("duty")
	roster := &entry.Roster{Keys: []entry.RosterKey{chiefKey, deputyKey, dutyKey}}
	entry.SortRoster(roster.Keys)
	m.Releases = []entry.Release{chief, deputy, duty}
	got, err := Check(ch, m, "duty", roster, now, 2)
	if err != nil || len(got) != 2 {
		t.Fatalf("two releasers and the drafter's own signature: %v, %v", got, err)
	}
	m.Releases = []entry.Release{chief, duty}
	if _, err := Check(ch, m, "duty", roster, now, 2); !errors.Is(err, ErrInvalid) {
		t.Fatalf("one releaser where two are required: %v", err)
	}
	if _, err := Check(ch, m, "duty", nil, now, 0); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a release with no roster: %v", err)
	}
	m.Releases = []entry.Release{chief}
	ended := &entry.Roster{Keys: []entry.RosterKey{chiefKey}}
	ended.Keys[0].Until = now.Add(-time.Minute).UnixMilli()
	if _, err := Check(ch, m, "duty", ended, now, 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a key its roster says ended: %v", err)
	}
	if _, err := Check(ch, m, "duty", &entry.Roster{Keys: []entry.RosterKey{deputyKey}}, now, 1); !errors.Is(err, ErrInvalid) {
		t.Fatalf("a key its roster does not list: %v", err)
	}
}

// FuzzVerifyAssertion feeds arbitrary WebAuthn fields to the verifier: it
// never panics, and what it accepts is an assertion of this message's
// challenge, for the key's relying party, by a verified user.
func FuzzVerifyAssertion(f *testing.F) {
	pk := newPasskey(f, "localhost")
	ch := entry.ChannelID{1}
	m := &entry.Message{Text: "x"}
	challenge, _ := Challenge(ch, m)
	good := pk.assert(f, "chief", challenge, "http://localhost", 0x05)
	f.Add(good.Key.Public, good.AuthData, good.ClientData, good.Sig)
	f.Add([]byte{0xa0}, make([]byte, 37), []byte(`{"type":"webauthn.get"}`), []byte{1})
	rp := sha256.Sum256([]byte("localhost"))
	f.Fuzz(func(t *testing.T, cose, authData, clientData, sig []byte) {
		r := entry.Release{Operator: "chief", Key: entry.PersonalKey{Type: entry.KeyWebAuthn, Public: cose, ID: []byte{1}, RPID: "localhost"},
			Sig: sig, AuthData: authData, ClientData: clientData}
		if Verify(ch, m, &r) != nil {
			return
		}
		want := base64.RawURLEncoding.EncodeToString(challenge)
		if !strings.Contains(string(clientData), want) || string(authData[:32]) != string(rp[:]) || authData[32]&0x05 != 0x05 {
			t.Fatalf("accepted an assertion that is not this message's, for this relying party, by a verified user")
		}
	})
}

// BenchmarkVerify: a personal signature's cost to the node that stores a
// message and to an auditor, Ed25519 against a passkey's ES256 assertion.
func BenchmarkVerify(b *testing.B) {
	ch := entry.ChannelID{7}
	m := &entry.Message{Text: "We propose an immediate ceasefire along the line of contact.", Lang: "en", Precedence: entry.Flash}
	_, priv, _ := ed25519.GenerateKey(rand.Reader)
	ed, _ := SignEd25519(priv, "chief", ch, m)
	challenge, _ := Challenge(ch, m)
	wa := newPasskey(b, "localhost").assert(b, "deputy", challenge, "http://localhost:8080", 0x05)
	for _, c := range []struct {
		name string
		r    entry.Release
	}{{"ed25519", ed}, {"webauthn-es256", wa}} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if err := Verify(ch, m, &c.r); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
