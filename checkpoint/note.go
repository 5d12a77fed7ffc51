package checkpoint

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-project/hotline/entry"
	"golang.org/x/mod/sumdb/note"
)

// Signed-note algorithm bytes: a plain Ed25519 note signature (the log's
// own), and an Ed25519 cosignature/v1 (C2SP tlog-cosignature).
const (
	algEd25519     = 0x01
	algCosignature = 0x04
)

func keyID(name string, alg byte, pub ed25519.PublicKey) uint32 {
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{'\n', alg})
	h.Write(pub)
	return binary.BigEndian.Uint32(h.Sum(nil))
}

// Sign returns the checkpoint as a signed note, signed by the feed's
// author with its party key.
func Sign(c Checkpoint, party string, key crypto.Signer) ([]byte, error) {
	return note.Sign(&note.Note{Text: c.Body()}, noteSigner{party, key})
}

type noteSigner struct {
	name string
	key  crypto.Signer
}

func (s noteSigner) Name() string { return s.name }
func (s noteSigner) KeyHash() uint32 {
	pub, _ := s.key.Public().(ed25519.PublicKey)
	return keyID(s.name, algEd25519, pub)
}
func (s noteSigner) Sign(msg []byte) ([]byte, error) { return entry.SignBytes(s.key, msg) }

// Cosign returns a cosignature/v1 signature line ("— party base64\n") by
// party over the checkpoint body, timestamped now.
func Cosign(body string, party string, key crypto.Signer, now time.Time) (string, error) {
	signed, err := note.Sign(&note.Note{Text: body}, cosigner{party, key, now})
	if err != nil {
		return "", err
	}
	return strings.TrimPrefix(string(signed), body+"\n"), nil
}

type cosigner struct {
	name string
	key  crypto.Signer
	now  time.Time
}

func (s cosigner) Name() string { return s.name }
func (s cosigner) KeyHash() uint32 {
	pub, _ := s.key.Public().(ed25519.PublicKey)
	return keyID(s.name, algCosignature, pub)
}
func (s cosigner) Sign(msg []byte) ([]byte, error) {
	ts := uint64(s.now.Unix())
	sig, err := entry.SignBytes(s.key, cosignedMessage(ts, msg))
	if err != nil {
		return nil, err
	}
	return append(binary.BigEndian.AppendUint64(nil, ts), sig...), nil
}

func cosignedMessage(ts uint64, body []byte) []byte {
	return append([]byte("cosignature/v1\ntime "+strconv.FormatUint(ts, 10)+"\n"), body...)
}

// CosignerKey returns party's cosigner verifier key (name+keyid+base64 of
// 0x04 and the public key), the form a standard witness client is
// configured with.
func CosignerKey(party string, pub ed25519.PublicKey) string {
	return fmt.Sprintf("%s+%08x+%s", party, keyID(party, algCosignature, pub),
		base64.StdEncoding.EncodeToString(append([]byte{algCosignature}, pub...)))
}

type verifier struct {
	name string
	alg  byte
	pub  ed25519.PublicKey
}

func (v verifier) Name() string    { return v.name }
func (v verifier) KeyHash() uint32 { return keyID(v.name, v.alg, v.pub) }
func (v verifier) Verify(msg, sig []byte) bool {
	switch v.alg {
	case algEd25519:
		return ed25519.Verify(v.pub, msg, sig)
	case algCosignature:
		if len(sig) != 8+ed25519.SignatureSize {
			return false
		}
		ts := binary.BigEndian.Uint64(sig)
		return ts < 1<<63 && ed25519.Verify(v.pub, cosignedMessage(ts, msg), sig[8:])
	}
	return false
}

// Verifiers returns signed-note verifiers for the feed author's checkpoint
// signature and every other party's cosignature.
func Verifiers(author string, keys Keys) note.Verifiers {
	var vs []note.Verifier
	for party, pubs := range keys {
		for _, pub := range pubs {
			if party == author {
				vs = append(vs, verifier{party, algEd25519, pub})
			} else {
				vs = append(vs, verifier{party, algCosignature, pub})
			}
		}
	}
	return note.VerifierList(vs...)
}

// Signed is a checkpoint whose author signature verified, with the
// cosignatures that verified.
type Signed struct {
	Checkpoint
	Channel   [32]byte
	Author    string
	Cosigners map[string]time.Time // party → cosignature time
	Note      []byte               // the note with every verified signature
}

// Open checks a signed checkpoint note: its body is a hotline checkpoint,
// the author named by its origin signed it with the key in keys, and every
// signature by a known key verifies (a cosignature that does not is an
// error, not ignored). Signatures by keys not in keys are dropped.
func Open(msg []byte, keys Keys) (*Signed, error) {
	if len(msg) > maxNote {
		return nil, fmt.Errorf("checkpoint: note is %d bytes, limit %d", len(msg), maxNote)
	}
	text, _, _ := strings.Cut(string(msg), "\n\n")
	c, err := ParseBody(text + "\n")
	if err != nil {
		return nil, err
	}
	ch, author, _ := ParseOrigin(c.Origin)
	pubs := keys[author]
	if len(pubs) == 0 {
		return nil, fmt.Errorf("checkpoint: no key for %s, the author of %s", author, c.Origin)
	}
	n, err := note.Open(msg, Verifiers(author, keys))
	if err != nil {
		var inv *note.InvalidSignatureError
		if errors.As(err, &inv) {
			return nil, fmt.Errorf("checkpoint %s size %d: signature by %s does not verify (forged or altered)", c.Origin, c.Size, inv.Name)
		}
		return nil, fmt.Errorf("checkpoint %s size %d: %v", c.Origin, c.Size, err)
	}
	s := &Signed{Checkpoint: c, Channel: ch, Author: author, Cosigners: map[string]time.Time{}}
	authorHashes := make(map[uint32]bool, len(pubs))
	for _, pub := range pubs {
		authorHashes[keyID(author, algEd25519, pub)] = true
	}
	signedByAuthor := false
	var sigs []note.Signature
	for _, sig := range n.Sigs {
		if sig.Name == author && authorHashes[sig.Hash] && !signedByAuthor {
			signedByAuthor = true
			sigs = append(sigs, sig)
			continue
		}
		if sig.Name == author {
			continue // the author cosigning itself means nothing
		}
		raw, _ := base64.StdEncoding.DecodeString(sig.Base64)
		s.Cosigners[sig.Name] = time.Unix(int64(binary.BigEndian.Uint64(raw[4:12])), 0).UTC()
		sigs = append(sigs, sig)
	}
	if !signedByAuthor {
		return nil, fmt.Errorf("checkpoint %s size %d: not signed by its author %s", c.Origin, c.Size, author)
	}
	s.Note = formatNote(n.Text, sigs)
	return s, nil
}

// formatNote writes a note with the given signatures, the author's first.
func formatNote(text string, sigs []note.Signature) []byte {
	var b strings.Builder
	b.WriteString(text)
	b.WriteString("\n")
	for _, s := range sigs {
		fmt.Fprintf(&b, "— %s %s\n", s.Name, s.Base64)
	}
	return []byte(b.String())
}

// Merge returns the first note's text with the signature lines of all the
// notes, one per signer: a later note's line replaces an earlier one's.
// Give it only notes whose signatures were verified (see Open).
func Merge(notes ...[]byte) []byte {
	if len(notes) == 0 {
		return nil
	}
	text, _, _ := strings.Cut(string(notes[0]), "\n\n")
	seen := map[string]string{}
	var order []string
	for _, n := range notes {
		_, sigs, _ := strings.Cut(string(n), "\n\n")
		for _, line := range strings.SplitAfter(sigs, "\n") {
			if line == "" {
				continue
			}
			name, _, _ := strings.Cut(strings.TrimPrefix(line, "— "), " ")
			if _, ok := seen[name]; !ok {
				order = append(order, name)
			}
			seen[name] = line
		}
	}
	var b strings.Builder
	b.WriteString(text)
	b.WriteString("\n\n")
	for _, name := range order {
		b.WriteString(seen[name])
	}
	return []byte(b.String())
}
