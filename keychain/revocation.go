package keychain

import (
	"bytes"
	"crypto"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// A Revocation is a party's statement that its key Revoked was stolen or
// lost: in each of its feeds, nothing from seq From on is to be trusted.
// It names the party's new identity and is signed by its new key alone
// (the revoked key proves nothing any more). What makes it trusted is the
// other parties confirming the new key with the party out of band, by
// voice, as at first set-up, before they apply it (hotline peer update):
// a thief holding the revoked key cannot make one.
//
// It is a C2SP signed note, so it is text an administrator can read:
//
//	hotline key revocation v1
//	party alpha
//	key alpha+9c01d2e4+AQx7…
//	tls sha256:5e1f…
//	endpoint alpha.example:7443
//	revoked alpha+23af5940+AWwP…
//	time 1764670000000
//	feed <channel id, 64 hex> <first seq not trusted>
//	…
//
// with the feeds sorted by channel id. A feed of the party signed by the
// revoked key that the statement does not list is not trusted from seq 1:
// the party did not write it.
type Revocation struct {
	Identity identity.Document // the party's new identity
	Revoked  string            // the revoked verifier key
	Time     time.Time
	Feeds    []RevokedFeed // sorted by channel
	// Note is the signed note, as parsed or signed.
	Note []byte
}

// RevokedFeed is where one feed stops being trusted.
type RevokedFeed struct {
	Channel entry.ChannelID
	From    uint64 // the first seq not trusted
}

const (
	revocationHeader = "hotline key revocation v1"
	// MaxRevocationBytes bounds a revocation note.
	MaxRevocationBytes = 1 << 20
)

// From returns the first seq of channel ch's feed that r no longer trusts.
func (r *Revocation) From(ch entry.ChannelID) uint64 {
	if i, ok := slices.BinarySearchFunc(r.Feeds, ch, func(f RevokedFeed, c entry.ChannelID) int { return bytes.Compare(f.Channel[:], c[:]) }); ok {
		return r.Feeds[i].From
	}
	return 1
}

// Sign returns r as a signed note, signed by key, the party's new key.
func (r *Revocation) Sign(key crypto.Signer) ([]byte, error) {
	if err := r.check(); err != nil {
		return nil, err
	}
	k, err := identity.NewSigningKey(r.Identity.Party, key)
	if err != nil {
		return nil, err
	}
	if k.VerifierKey() != r.Identity.Key {
		return nil, errors.New("keychain: a revocation is signed by the new key it names")
	}
	signed, err := note.Sign(&note.Note{Text: r.text()}, k.NoteSigner())
	if err != nil {
		return nil, err
	}
	r.Note = signed
	return signed, nil
}

func (r *Revocation) text() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\nparty %s\nkey %s\ntls %s\n", revocationHeader, r.Identity.Party, r.Identity.Key, r.Identity.TLS)
	for _, ep := range r.Identity.Endpoints {
		fmt.Fprintf(&b, "endpoint %s\n", ep)
	}
	fmt.Fprintf(&b, "revoked %s\ntime %d\n", r.Revoked, r.Time.UnixMilli())
	for _, f := range r.Feeds {
		fmt.Fprintf(&b, "feed %s %d\n", f.Channel, f.From)
	}
	return b.String()
}

func (r *Revocation) check() error {
	if err := r.Identity.Check(); err != nil {
		return fmt.Errorf("keychain: revocation: %w", err)
	}
	party, _, err := identity.ParseVerifierKey(r.Revoked)
	if err != nil {
		return fmt.Errorf("keychain: revocation: the revoked key: %w", err)
	}
	if party != r.Identity.Party {
		return fmt.Errorf("keychain: revocation: the revoked key is %s's, not %s's", party, r.Identity.Party)
	}
	if r.Revoked == r.Identity.Key {
		return errors.New("keychain: revocation: the new key is the revoked one")
	}
	if err := entry.CheckTime("revocation time", r.Time.UnixMilli()); err != nil {
		return err
	}
	for i, f := range r.Feeds {
		if f.From == 0 {
			return fmt.Errorf("keychain: revocation: feed %s from seq 0: seqs start at 1", f.Channel)
		}
		if i > 0 && bytes.Compare(r.Feeds[i-1].Channel[:], f.Channel[:]) >= 0 {
			return errors.New("keychain: revocation: feeds not sorted by channel, or listed twice")
		}
	}
	return nil
}

// ParseRevocation reads a revocation note and checks it is signed by the
// new key it names. Whether that key is the party's is for its reader to
// confirm with the party, out of band.
func ParseRevocation(msg []byte) (*Revocation, error) {
	if len(msg) > MaxRevocationBytes {
		return nil, fmt.Errorf("keychain: revocation is %d bytes, limit %d", len(msg), MaxRevocationBytes)
	}
	text, _, ok := strings.Cut(string(msg), "\n\n")
	if !ok {
		return nil, errors.New("keychain: revocation: not a signed note")
	}
	r, err := parseRevocationText(text + "\n")
	if err != nil {
		return nil, err
	}
	v, err := note.NewVerifier(r.Identity.Key)
	if err != nil {
		return nil, fmt.Errorf("keychain: revocation: %w", err)
	}
	n, err := note.Open(msg, note.VerifierList(v))
	if err != nil {
		return nil, fmt.Errorf("keychain: revocation: not signed by the new key it names: %w", err)
	}
	if n.Text != r.text() {
		return nil, errors.New("keychain: revocation: not in canonical form")
	}
	r.Note = msg
	return r, nil
}

func parseRevocationText(text string) (*Revocation, error) {
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	bad := func(i int, why string) error {
		return fmt.Errorf("keychain: revocation line %d: %s", i+1, why)
	}
	if len(lines) < 7 || lines[0] != revocationHeader {
		return nil, errors.New("keychain: revocation: not a hotline key revocation (v1)")
	}
	r := &Revocation{}
	field := func(i int, name string) (string, error) {
		v, ok := strings.CutPrefix(lines[i], name+" ")
		if !ok || v == "" {
			return "", bad(i, "want "+name)
		}
		return v, nil
	}
	var err error
	if r.Identity.Party, err = field(1, "party"); err != nil {
		return nil, err
	}
	if r.Identity.Key, err = field(2, "key"); err != nil {
		return nil, err
	}
	tls, err := field(3, "tls")
	if err != nil {
		return nil, err
	}
	r.Identity.TLS = identity.Fingerprint(tls)
	i := 4
	for ; i < len(lines) && strings.HasPrefix(lines[i], "endpoint "); i++ {
		r.Identity.Endpoints = append(r.Identity.Endpoints, strings.TrimPrefix(lines[i], "endpoint "))
	}
	if i+1 >= len(lines) {
		return nil, errors.New("keychain: revocation: cut short")
	}
	if r.Revoked, err = field(i, "revoked"); err != nil {
		return nil, err
	}
	ts, err := field(i+1, "time")
	if err != nil {
		return nil, err
	}
	ms, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return nil, bad(i+1, "time is not Unix milliseconds")
	}
	r.Time = time.UnixMilli(ms).UTC()
	for i += 2; i < len(lines); i++ {
		v, err := field(i, "feed")
		if err != nil {
			return nil, err
		}
		chHex, seq, ok := strings.Cut(v, " ")
		b, herr := hex.DecodeString(chHex)
		from, serr := strconv.ParseUint(seq, 10, 64)
		if !ok || herr != nil || len(b) != len(entry.ChannelID{}) || serr != nil {
			return nil, bad(i, "want feed <channel id> <seq>")
		}
		r.Feeds = append(r.Feeds, RevokedFeed{Channel: entry.ChannelID(b), From: from})
	}
	if err := r.check(); err != nil {
		return nil, err
	}
	return r, nil
}

// AppliesTo reports whether r covers feed f, whose keys (the definition's,
// then each its key changes moved it on to) are keys: a feed the revoked
// key never signed is not the revocation's business (channels proposed
// with the new key, say).
func (r *Revocation) AppliesTo(f hotline.Feed, keys []string) bool {
	return f.Party == r.Identity.Party && slices.Contains(keys, r.Revoked)
}
