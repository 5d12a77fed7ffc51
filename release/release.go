// Package release checks operators' personal signatures on messages: an
// operator's own key (an Ed25519 key in a file or an ssh-agent, or a
// WebAuthn passkey in the console) signs a message's content, so that
// the other party and any auditor can see, and check offline, which
// officer released it. The party lists its operators' keys and roles in
// a roster entry in each channel (entry.Roster); a channel's policy may
// require messages at or above a precedence to be released by operators
// other than their drafter (entry.ReleaseRule).
//
// What a personal key signs is entry.ReleaseStatement: the channel and
// the message's content. A WebAuthn assertion's challenge is the
// SHA-256 of that statement, and the release carries the authenticator
// data and client data the signature covers.
package release

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/url"
	"slices"
	"time"

	"github.com/go-webauthn/webauthn/protocol/webauthncose"

	"github.com/hotline-project/hotline/entry"
)

// ErrInvalid is wrapped by every refusal of a personal signature.
var ErrInvalid = errors.New("release: personal signature does not hold")

// Challenge is the WebAuthn challenge of message m in channel ch: the
// SHA-256 of its release statement.
func Challenge(ch entry.ChannelID, m *entry.Message) ([]byte, error) {
	st, err := entry.ReleaseStatement(ch, m)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(st)
	return sum[:], nil
}

// SignEd25519 makes operator's release of m with signer, an Ed25519 key
// (a file's, or an ssh-agent's).
func SignEd25519(signer crypto.Signer, operator string, ch entry.ChannelID, m *entry.Message) (entry.Release, error) {
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok {
		return entry.Release{}, fmt.Errorf("release: the personal key must be Ed25519, not %T", signer.Public())
	}
	st, err := entry.ReleaseStatement(ch, m)
	if err != nil {
		return entry.Release{}, err
	}
	sig, err := entry.SignBytes(signer, st)
	if err != nil {
		return entry.Release{}, err
	}
	return entry.Release{Operator: operator, Key: entry.PersonalKey{Type: entry.KeyEd25519, Public: pub}, Sig: sig}, nil
}

// CheckKey checks that a personal key parses as its type says.
func CheckKey(k *entry.PersonalKey) error {
	if err := k.Check(); err != nil {
		return err
	}
	if k.Type == entry.KeyWebAuthn {
		if _, err := webauthncose.ParsePublicKey(k.Public); err != nil {
			return fmt.Errorf("%w: the passkey's COSE key does not parse: %v", ErrInvalid, err)
		}
	}
	return nil
}

// Verify checks release r's signature over message m in channel ch.
func Verify(ch entry.ChannelID, m *entry.Message, r *entry.Release) error {
	if err := r.Check(); err != nil {
		return err
	}
	st, err := entry.ReleaseStatement(ch, m)
	if err != nil {
		return err
	}
	switch r.Key.Type {
	case entry.KeyEd25519:
		if !ed25519.Verify(r.Key.Public, st, r.Sig) {
			return fmt.Errorf("%w: %s's signature does not verify over the message", ErrInvalid, r.Operator)
		}
		return nil
	case entry.KeyWebAuthn:
		sum := sha256.Sum256(st)
		if err := verifyAssertion(&r.Key, sum[:], r.AuthData, r.ClientData, r.Sig); err != nil {
			return fmt.Errorf("%w: %s's passkey assertion: %v", ErrInvalid, r.Operator, err)
		}
		return nil
	}
	return fmt.Errorf("%w: key type %q", ErrInvalid, r.Key.Type)
}

// verifyAssertion checks a WebAuthn assertion as a relying party would,
// offline: the client data is of a "webauthn.get" ceremony for this
// challenge from an origin of the key's relying party; the authenticator
// data is for that relying party, with the user present and verified;
// and the signature over the authenticator data and the client data's
// hash verifies under the credential's key.
func verifyAssertion(k *entry.PersonalKey, challenge, authData, clientData, sig []byte) error {
	var cd struct {
		Type      string `json:"type"`
		Challenge string `json:"challenge"`
		Origin    string `json:"origin"`
	}
	if err := json.Unmarshal(clientData, &cd); err != nil {
		return fmt.Errorf("client data is not JSON: %v", err)
	}
	if cd.Type != "webauthn.get" {
		return fmt.Errorf("client data is of a %q ceremony, not webauthn.get", cd.Type)
	}
	got, err := base64.RawURLEncoding.DecodeString(cd.Challenge)
	if err != nil || !bytes.Equal(got, challenge) {
		return errors.New("the assertion's challenge is not this message's")
	}
	if err := checkOrigin(cd.Origin, k.RPID); err != nil {
		return err
	}
	if len(authData) < 37 {
		return errors.New("authenticator data is too short")
	}
	rp := sha256.Sum256([]byte(k.RPID))
	if !bytes.Equal(authData[:32], rp[:]) {
		return fmt.Errorf("authenticator data is for another relying party than %s", k.RPID)
	}
	const userPresent, userVerified = 0x01, 0x04
	if flags := authData[32]; flags&userPresent == 0 || flags&userVerified == 0 {
		return errors.New("the authenticator did not verify the user (a PIN or biometric is required to release)")
	}
	key, err := webauthncose.ParsePublicKey(k.Public)
	if err != nil {
		return fmt.Errorf("the passkey's COSE key: %v", err)
	}
	cdHash := sha256.Sum256(clientData)
	ok, err := webauthncose.VerifySignature(key, append(slices.Clip(authData), cdHash[:]...), sig)
	if err != nil || !ok {
		return errors.New("the assertion's signature does not verify under the passkey")
	}
	return nil
}

// checkOrigin accepts an origin of relying party rpID: https on it or a
// subdomain of it, or http on localhost (a secure context to browsers).
func checkOrigin(origin, rpID string) error {
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return fmt.Errorf("client data origin %q is not an origin", origin)
	}
	host := u.Hostname()
	if host != rpID && !bytes.HasSuffix([]byte(host), []byte("."+rpID)) {
		return fmt.Errorf("client data origin %s is not of relying party %s", origin, rpID)
	}
	if u.Scheme == "https" || (u.Scheme == "http" && (host == "localhost" || net.ParseIP(host).IsLoopback())) {
		return nil
	}
	return fmt.Errorf("client data origin %s is not a secure context", origin)
}

// Check checks the personal signatures of message m, in channel ch, by
// operator drafter, against roster (the author party's newest roster in
// the channel; nil if it published none), at time at: each verifies, and
// its key is listed for its operator and valid at that time. It returns
// the operators other than the drafter who released it; fewer than
// required is an error.
func Check(ch entry.ChannelID, m *entry.Message, drafter string, roster *entry.Roster, at time.Time, required int) ([]string, error) {
	var releasers []string
	for i := range m.Releases {
		r := &m.Releases[i]
		if roster == nil {
			return nil, fmt.Errorf("%w: %s's personal signature, but its party published no roster in the channel", ErrInvalid, r.Operator)
		}
		rk, ok := roster.Lookup(r.Operator, &r.Key)
		if !ok {
			return nil, fmt.Errorf("%w: %s's key is not in its party's roster for the channel", ErrInvalid, r.Operator)
		}
		ms := at.UnixMilli()
		if ms < rk.From || (rk.Until != 0 && ms >= rk.Until) {
			return nil, fmt.Errorf("%w: %s's key is not valid at %s by its party's roster", ErrInvalid, r.Operator, at.UTC().Format(time.RFC3339))
		}
		if err := Verify(ch, m, r); err != nil {
			return nil, err
		}
		if r.Operator != drafter {
			releasers = append(releasers, r.Operator)
		}
	}
	if len(releasers) < required {
		return releasers, fmt.Errorf("%w: the channel's policy requires the message to be released by %d operators other than its drafter (%s); it carries %d", ErrInvalid, required, drafter, len(releasers))
	}
	return releasers, nil
}

// KeyID names a personal key in reports: its type and the first 8 bytes
// of the SHA-256 of its public key, in hex.
func KeyID(k *entry.PersonalKey) string {
	sum := sha256.Sum256(k.Public)
	return fmt.Sprintf("%s:%x", k.Type, sum[:8])
}
