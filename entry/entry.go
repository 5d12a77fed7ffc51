// Package entry defines hotline's signed log entry: its canonical encoding,
// its signature and its identifier.
//
// An entry is a header, a signature and a body. The header is deterministic
// CBOR (RFC 8949 §4.2.1, "core deterministic encoding") with small integer
// keys; it names the channel, the author party, the entry's sequence number
// in the author's feed, the id of the previous entry of that feed, the
// author's clock, the kind, the operator, the causal references and the
// SHA-256 of the body. The author signs, with Ed25519, the header bytes
// prefixed by a domain-separation string, so the signature commits to the
// body only through its hash: a body removed later under an agreed retention
// rule leaves every signature and id verifiable.
//
// The entry id is the SHA-256 of the CBOR array [header, signature]; it is
// the same with or without the body.
//
// Deterministic CBOR was chosen over RFC 8785 JSON because hashes,
// signatures and keys are byte strings in CBOR (no base64 ambiguity), because
// the encoding is compact on slow bearers, and because
// github.com/fxamacker/cbor both produces the deterministic form and decodes
// with hard limits on nesting, lengths and duplicate keys. Decode re-encodes
// every header and refuses any input that is not already in canonical form,
// so one entry has exactly one byte representation.
package entry

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// Version is the entry format version written in every header.
const Version = 1

// Limits on entries. Every field is bounded, and so is the whole entry as it
// travels between nodes.
const (
	MaxEntrySize   = 64 << 10 // encoded entry (header, signature and body)
	MaxTextBytes   = 16 << 10 // message text and replies, UTF-8 bytes
	MaxNameBytes   = 64       // party, operator and channel names
	MaxLangBytes   = 35       // BCP 47 language tag
	MaxMembers     = 32       // parties in one channel
	MaxRefs        = MaxMembers - 1
	MaxAckWithin   = 30 * 24 * time.Hour // longest acknowledgement deadline
	signatureBytes = ed25519.SignatureSize
)

// Times in entries (the author's clock, call times, deadlines, a channel's
// creation) are Unix milliseconds from MinTime up to, not including,
// MaxTime. Anything else is refused at decode: no clock is that wrong, and
// a time every reader can represent (RFC 3339 stops at year 9999) keeps a
// hostile author from making a channel unreadable.
const (
	MinTime int64 = 0                 // 1970-01-01T00:00:00Z
	MaxTime int64 = 7_258_118_400_000 // 2200-01-01T00:00:00Z
)

// CheckTime checks that a time field, in Unix milliseconds, is in the range
// entries may carry.
func CheckTime(what string, ms int64) error {
	if ms < MinTime || ms >= MaxTime {
		return fmt.Errorf("%w: %s %d ms is outside the times an entry may carry (1970 to 2200)", ErrMalformed, what, ms)
	}
	return nil
}

// Kind is the kind of an entry.
type Kind string

// The kinds of entry.
const (
	KindConfig  Kind = "config"  // channel proposal or acceptance
	KindMessage Kind = "message" // free-text message or catalog phrase
	KindReceipt Kind = "receipt" // signed statement of durably held feeds
	KindRead    Kind = "read"    // an operator opened a message
	KindAck     Kind = "ack"     // an operator acknowledged a message
	// KindCall is a call request, its answer, its lapse, or a readout.
	KindCall Kind = "call"
	// KindEscalation reports, in a higher-level channel, an entry left
	// unanswered past its deadline in a lower one.
	KindEscalation Kind = "escalation"
	// KindDirectory publishes the author party's counterparts by level.
	KindDirectory Kind = "directory"
	// KindTranslation is a translation of a message, by either side's
	// translators, stored beside the original and never replacing it.
	KindTranslation Kind = "translation"
)

// Valid reports whether k is one of the kinds this version knows.
func (k Kind) Valid() bool {
	switch k {
	case KindConfig, KindMessage, KindReceipt, KindRead, KindAck, KindCall, KindEscalation, KindDirectory, KindTranslation, KindKey, KindRoster:
		return true
	}
	return false
}

// ID identifies an entry: the SHA-256 of its signed form.
type ID [32]byte

// String returns the id in lower-case hex.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether id is the zero id (no entry).
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses a 64-character hex id.
func ParseID(s string) (ID, error) {
	var id ID
	if len(s) != 2*len(id) {
		return id, fmt.Errorf("entry id must be %d hex characters, got %d", 2*len(id), len(s))
	}
	if _, err := hex.Decode(id[:], []byte(s)); err != nil {
		return id, fmt.Errorf("entry id is not hex: %v", err)
	}
	return id, nil
}

// ChannelID identifies a channel: the hash of its proposal's definition.
type ChannelID [32]byte

// String returns the channel id in lower-case hex.
func (c ChannelID) String() string { return hex.EncodeToString(c[:]) }

// ParseChannelID parses a 64-character hex channel id.
func ParseChannelID(s string) (ChannelID, error) {
	id, err := ParseID(s)
	return ChannelID(id), err
}

// Ref points at one entry of one feed: the author's party, the sequence
// number and the entry id.
type Ref struct {
	Party string `cbor:"1,keyasint"`
	Seq   uint64 `cbor:"2,keyasint"`
	ID    ID     `cbor:"3,keyasint"`
}

// String formats the reference as party/seq.
func (r Ref) String() string { return fmt.Sprintf("%s/%d", r.Party, r.Seq) }

// Header is the signed part of an entry.
type Header struct {
	Version  uint64    `cbor:"0,keyasint"`
	Channel  ChannelID `cbor:"1,keyasint"`
	Author   string    `cbor:"2,keyasint"`
	Seq      uint64    `cbor:"3,keyasint"`
	Prev     ID        `cbor:"4,keyasint"` // id of entry Seq-1 of this feed; zero for Seq 1
	Time     int64     `cbor:"5,keyasint"` // author's clock, Unix milliseconds
	Kind     Kind      `cbor:"6,keyasint"`
	Operator string    `cbor:"7,keyasint,omitempty"`
	Refs     []Ref     `cbor:"8,keyasint,omitempty"` // newest entry seen of each other member feed, by party name
	BodyHash [32]byte  `cbor:"9,keyasint"`
}

// Entry is a signed entry. Body is nil when it has been redacted.
type Entry struct {
	Header
	HeaderBytes []byte // canonical encoding of Header, as signed
	Sig         []byte
	Body        []byte

	id ID
}

// ID returns the entry's id.
func (e *Entry) ID() ID { return e.id }

// Ref returns a reference to this entry.
func (e *Entry) Ref() Ref { return Ref{Party: e.Author, Seq: e.Seq, ID: e.id} }

// AuthorTime returns the author's claimed time of writing.
func (e *Entry) AuthorTime() time.Time { return time.UnixMilli(e.Time).UTC() }

// signedDomain prefixes the header bytes in the signed message so that an
// entry signature can never be mistaken for a signature of another protocol
// that uses the same key (signed notes, checkpoints, TLS).
const signedDomain = "hotline entry v1\n"

func signedMessage(header []byte) []byte {
	msg := make([]byte, 0, len(signedDomain)+len(header))
	msg = append(msg, signedDomain...)
	return append(msg, header...)
}

// ErrSigner wraps a failure of the signer itself (an ssh-agent that does
// not answer), as opposed to an entry that breaks a rule.
var ErrSigner = errors.New("entry: the party key's signer failed")

// Sign builds an entry from h and body and signs it with key (an Ed25519
// private key, or a signer holding one, such as an ssh-agent). It sets
// the header's version and body hash, checks every limit, and returns the
// entry with its id.
func Sign(h Header, body []byte, key crypto.Signer) (*Entry, error) {
	h.Version = Version
	h.BodyHash = sha256.Sum256(body)
	if err := h.check(); err != nil {
		return nil, err
	}
	hb, err := encMode.Marshal(h)
	if err != nil {
		return nil, fmt.Errorf("entry: encode header: %w", err)
	}
	sig, err := SignBytes(key, signedMessage(hb))
	if err != nil {
		return nil, err
	}
	e := &Entry{Header: h, HeaderBytes: hb, Sig: sig, Body: body}
	e.id = computeID(hb, e.Sig)
	if n := e.size(); n > MaxEntrySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, MaxEntrySize)
	}
	return e, nil
}

// Verify checks the entry's signature against the author's public key and
// its body, when present, against the body hash.
func (e *Entry) Verify(pub ed25519.PublicKey) error {
	if len(pub) != ed25519.PublicKeySize || !ed25519.Verify(pub, signedMessage(e.HeaderBytes), e.Sig) {
		return ErrBadSignature
	}
	return e.CheckBody()
}

// CheckBody checks the body, when present, against the body hash.
func (e *Entry) CheckBody() error {
	if e.Body != nil && sha256.Sum256(e.Body) != e.BodyHash {
		return ErrBodyMismatch
	}
	return nil
}

func computeID(header, sig []byte) ID {
	b, err := encMode.Marshal([2][]byte{header, sig})
	if err != nil {
		panic("entry: encoding two byte strings cannot fail: " + err.Error())
	}
	return sha256.Sum256(b)
}

// SignedBytes returns the entry's signed form, CBOR [header, signature]: the
// bytes whose SHA-256 is the id, and the record of the feed's Merkle tree.
func (e *Entry) SignedBytes() []byte {
	b, _ := encMode.Marshal([2][]byte{e.HeaderBytes, e.Sig})
	return b
}

// wire is the encoded form of an entry: [header, signature, body or null].
type wire struct {
	_      struct{} `cbor:",toarray"`
	Header []byte
	Sig    []byte
	Body   []byte
}

// Encode returns the entry's wire encoding.
func (e *Entry) Encode() []byte {
	b, err := encMode.Marshal(wire{Header: e.HeaderBytes, Sig: e.Sig, Body: e.Body})
	if err != nil {
		panic("entry: encoding byte strings cannot fail: " + err.Error())
	}
	return b
}

func (e *Entry) size() int { return len(e.HeaderBytes) + len(e.Sig) + len(e.Body) + 16 }

// Decode parses one wire-encoded entry, checking the encoding is canonical
// and every limit holds. It does not verify the signature: see Verify.
func Decode(b []byte) (*Entry, error) {
	if len(b) > MaxEntrySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(b), MaxEntrySize)
	}
	var w wire
	if err := decMode.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if w.Header == nil || w.Sig == nil {
		return nil, fmt.Errorf("%w: missing header or signature", ErrMalformed)
	}
	return FromParts(w.Header, w.Sig, w.Body)
}

// FromParts rebuilds an entry from its stored header bytes, signature and
// body (nil if redacted), with the same checks as Decode.
func FromParts(header, sig, body []byte) (*Entry, error) {
	if len(sig) != signatureBytes {
		return nil, fmt.Errorf("%w: signature is %d bytes, want %d", ErrMalformed, len(sig), signatureBytes)
	}
	var h Header
	if err := decMode.Unmarshal(header, &h); err != nil {
		return nil, fmt.Errorf("%w: header: %v", ErrMalformed, err)
	}
	canon, err := encMode.Marshal(h)
	if err != nil || !bytes.Equal(canon, header) {
		return nil, fmt.Errorf("%w: header is not in canonical form", ErrMalformed)
	}
	if err := h.check(); err != nil {
		return nil, err
	}
	e := &Entry{Header: h, HeaderBytes: header, Sig: sig, Body: body}
	e.id = computeID(header, sig)
	if n := e.size(); n > MaxEntrySize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, n, MaxEntrySize)
	}
	return e, nil
}

// check validates the header fields against the format's rules and limits.
func (h *Header) check() error {
	if h.Version != Version {
		return fmt.Errorf("%w: version %d, this node reads version %d", ErrMalformed, h.Version, Version)
	}
	if err := CheckName("author", h.Author); err != nil {
		return err
	}
	if h.Operator != "" {
		if err := CheckName("operator", h.Operator); err != nil {
			return err
		}
	}
	if h.Seq == 0 {
		return fmt.Errorf("%w: seq must start at 1", ErrMalformed)
	}
	if err := CheckTime("time", h.Time); err != nil {
		return err
	}
	if (h.Seq == 1) != h.Prev.IsZero() {
		return fmt.Errorf("%w: prev must be empty exactly for seq 1", ErrMalformed)
	}
	if !h.Kind.Valid() {
		return fmt.Errorf("%w: unknown kind %q", ErrMalformed, h.Kind)
	}
	if len(h.Refs) > MaxRefs {
		return fmt.Errorf("%w: %d causal references, limit %d", ErrTooLarge, len(h.Refs), MaxRefs)
	}
	for i, r := range h.Refs {
		if err := CheckName("reference party", r.Party); err != nil {
			return err
		}
		if r.Party == h.Author {
			return fmt.Errorf("%w: causal reference to the author's own feed", ErrMalformed)
		}
		if r.Seq == 0 {
			return fmt.Errorf("%w: causal reference to seq 0", ErrMalformed)
		}
		if i > 0 && h.Refs[i-1].Party >= r.Party {
			return fmt.Errorf("%w: causal references must be sorted by party, without repeats", ErrMalformed)
		}
	}
	return nil
}

// CheckName checks a party, operator or channel name: 1 to MaxNameBytes of
// lower-case ASCII letters, digits, '-', '_' and '.', starting with a letter
// or digit. These names appear in signed-note key names and on screens, so
// nothing that could be confused or hidden is allowed.
func CheckName(what, s string) error {
	if s == "" {
		return fmt.Errorf("%w: %s name is empty", ErrMalformed, what)
	}
	if len(s) > MaxNameBytes {
		return fmt.Errorf("%w: %s name is %d bytes, limit %d", ErrTooLarge, what, len(s), MaxNameBytes)
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9':
		case (c == '-' || c == '_' || c == '.') && i > 0:
		default:
			return fmt.Errorf("%w: %s name %q: use lower-case letters, digits, '-', '_' or '.'", ErrMalformed, what, s)
		}
	}
	return nil
}

// Errors returned by this package. Wrapped errors carry the detail.
var (
	ErrMalformed    = errors.New("entry: malformed")
	ErrTooLarge     = errors.New("entry: too large")
	ErrBadSignature = errors.New("entry: signature does not verify")
	ErrBodyMismatch = errors.New("entry: body does not match its hash")
)

// SignBytes signs msg with an Ed25519 signer, and checks the signature it
// returns: a signer outside this process (an agent, a token) is trusted
// with the key, not with the answer. Its failures wrap ErrSigner.
func SignBytes(key crypto.Signer, msg []byte) ([]byte, error) {
	pub, ok := key.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: the key is a %T, not Ed25519", ErrSigner, key.Public())
	}
	sig, err := key.Sign(nil, msg, crypto.Hash(0))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrSigner, err)
	}
	if !ed25519.Verify(pub, msg, sig) {
		return nil, fmt.Errorf("%w: it returned a signature that does not verify", ErrSigner)
	}
	return sig, nil
}
