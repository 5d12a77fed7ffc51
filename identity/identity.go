// Package identity holds a party's keys and the identity document that
// another party pins.
//
// A party has two Ed25519 keys. The signing key signs entries and, as a
// C2SP signed-note key (name+keyhash+key), checkpoints; its public half,
// written as a note verifier key, is the party's identity. The TLS key
// authenticates the party's node on the peer link; the other side pins the
// SHA-256 of its SubjectPublicKeyInfo, so no certificate authority is ever
// trusted and certificates can be reissued without re-pinning.
package identity

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-project/hotline/entry"
)

// algEd25519 is the signed-note algorithm byte for Ed25519.
const algEd25519 = 1

// SigningKey is a party's entry and checkpoint signing key.
type SigningKey struct {
	Party string
	// Priv is the private key, when the node holds it (a key file); nil
	// when the key is held elsewhere, in an ssh-agent or a token.
	Priv ed25519.PrivateKey
	// Signer signs with the key: Priv itself, or the agent's signer.
	Signer crypto.Signer
}

// NewSigningKey returns party's key held by signer, such as an
// ssh-agent's (package sshagent).
func NewSigningKey(party string, signer crypto.Signer) (*SigningKey, error) {
	if _, ok := signer.Public().(ed25519.PublicKey); !ok {
		return nil, fmt.Errorf("identity: the party key must be Ed25519, not %T", signer.Public())
	}
	return &SigningKey{Party: party, Signer: signer}, nil
}

// GenerateSigningKey creates a new signing key for party.
func GenerateSigningKey(party string) (*SigningKey, error) {
	if err := entry.CheckName("party", party); err != nil {
		return nil, err
	}
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return &SigningKey{Party: party, Priv: priv, Signer: priv}, nil
}

// Public returns the public half of the key.
func (k *SigningKey) Public() ed25519.PublicKey { return k.Signer.Public().(ed25519.PublicKey) }

// VerifierKey returns the party's identity as a signed-note verifier key.
func (k *SigningKey) VerifierKey() string {
	v, err := note.NewEd25519VerifierKey(k.Party, k.Public())
	if err != nil {
		panic("identity: party name was checked: " + err.Error())
	}
	return v
}

// NoteSigner signs C2SP signed notes with the key, under the party's name
// (signature type 0x01): the form checkpoints and revocations take.
func (k *SigningKey) NoteSigner() note.Signer { return noteSigner{k} }

type noteSigner struct{ k *SigningKey }

func (s noteSigner) Name() string    { return s.k.Party }
func (s noteSigner) KeyHash() uint32 { return keyHash(s.k.Party, s.k.Public()) }
func (s noteSigner) Sign(msg []byte) ([]byte, error) {
	return entry.SignBytes(s.k.Signer, msg)
}

// SignerKey returns the private key in signed-note signer-key form
// (PRIVATE+KEY+name+hash+key), the form it is stored in; "" when the node
// does not hold the private key.
func (k *SigningKey) SignerKey() string {
	if k.Priv == nil {
		return ""
	}
	pub := k.Public()
	return fmt.Sprintf("PRIVATE+KEY+%s+%08x+%s", k.Party, keyHash(k.Party, pub),
		base64.StdEncoding.EncodeToString(append([]byte{algEd25519}, k.Priv.Seed()...)))
}

// ParseSignerKey parses a signed-note signer key written by SignerKey.
func ParseSignerKey(s string) (*SigningKey, error) {
	s = strings.TrimSpace(s)
	parts := strings.SplitN(s, "+", 5)
	if len(parts) != 5 || parts[0] != "PRIVATE" || parts[1] != "KEY" {
		return nil, errors.New("identity: signing key is not in PRIVATE+KEY+name+hash+key form")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[4])
	if err != nil || len(raw) != 1+ed25519.SeedSize || raw[0] != algEd25519 {
		return nil, errors.New("identity: signing key is not an Ed25519 key")
	}
	priv := ed25519.NewKeyFromSeed(raw[1:])
	k := &SigningKey{Party: parts[2], Priv: priv, Signer: priv}
	if fmt.Sprintf("%08x", keyHash(k.Party, k.Public())) != parts[3] {
		return nil, errors.New("identity: signing key hash does not match its key")
	}
	if _, err := note.NewSigner(s); err != nil {
		return nil, fmt.Errorf("identity: signing key: %w", err)
	}
	return k, nil
}

// keyHash is the signed-note key hash: the first four bytes of
// SHA-256(name || "\n" || alg || key).
func keyHash(name string, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', algEd25519})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// ParseVerifierKey parses a signed-note Ed25519 verifier key and returns
// the party name and public key. The key hash is checked.
func ParseVerifierKey(vkey string) (party string, pub ed25519.PublicKey, err error) {
	if _, err := note.NewVerifier(vkey); err != nil {
		return "", nil, fmt.Errorf("identity: verifier key: %w", err)
	}
	parts := strings.SplitN(vkey, "+", 3)
	if len(parts) != 3 {
		return "", nil, errors.New("identity: verifier key is not name+hash+key")
	}
	raw, err := base64.StdEncoding.DecodeString(parts[2])
	if err != nil || len(raw) != 1+ed25519.PublicKeySize || raw[0] != algEd25519 {
		return "", nil, errors.New("identity: verifier key is not an Ed25519 key")
	}
	if err := entry.CheckName("party", parts[0]); err != nil {
		return "", nil, err
	}
	return parts[0], ed25519.PublicKey(raw[1:]), nil
}

// Fingerprint is the SHA-256 of a TLS key's SubjectPublicKeyInfo, written
// "sha256:" followed by lower-case hex.
type Fingerprint string

// SPKIFingerprint returns the fingerprint of a certificate's public key.
func SPKIFingerprint(cert *x509.Certificate) Fingerprint {
	sum := sha256.Sum256(cert.RawSubjectPublicKeyInfo)
	return Fingerprint("sha256:" + hex.EncodeToString(sum[:]))
}

// Check reports whether f is well formed.
func (f Fingerprint) Check() error {
	s, ok := strings.CutPrefix(string(f), "sha256:")
	if b, err := hex.DecodeString(s); !ok || err != nil || len(b) != sha256.Size {
		return fmt.Errorf("identity: TLS fingerprint %q is not sha256:<64 hex digits>", string(f))
	}
	return nil
}

// Document is what a party gives another party to pin: its name, its
// signed-note verifier key, its TLS key fingerprint and the peer endpoints
// where its node listens, in order of preference. It is exchanged as JSON
// over a trusted channel (in person, or read back over a voice line).
type Document struct {
	Party     string      `json:"party"`
	Key       string      `json:"key"`
	TLS       Fingerprint `json:"tls"`
	Endpoints []string    `json:"endpoints"`
}

// MaxEndpoints bounds the endpoints one document may list.
const MaxEndpoints = 8

// Check validates the document: the key parses and names the party, the
// fingerprint is well formed, every endpoint is host:port.
func (d *Document) Check() error {
	if err := entry.CheckName("party", d.Party); err != nil {
		return fmt.Errorf("identity: %w", err)
	}
	name, _, err := ParseVerifierKey(d.Key)
	if err != nil {
		return err
	}
	if name != d.Party {
		return fmt.Errorf("identity: key is for party %q, document is for %q", name, d.Party)
	}
	if err := d.TLS.Check(); err != nil {
		return err
	}
	if len(d.Endpoints) == 0 || len(d.Endpoints) > MaxEndpoints {
		return fmt.Errorf("identity: a document lists 1 to %d endpoints, got %d", MaxEndpoints, len(d.Endpoints))
	}
	for _, ep := range d.Endpoints {
		if _, port, err := net.SplitHostPort(ep); err != nil || port == "" {
			return fmt.Errorf("identity: endpoint %q is not host:port", ep)
		}
	}
	return nil
}

// ParseDocument decodes and checks an identity document.
func ParseDocument(b []byte) (*Document, error) {
	var d Document
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&d); err != nil {
		return nil, fmt.Errorf("identity: document is not valid JSON: %w", err)
	}
	if err := d.Check(); err != nil {
		return nil, err
	}
	return &d, nil
}
