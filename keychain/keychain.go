// Package keychain follows each party's keys through their rotations.
//
// A party's feed in a channel starts signed by the key the channel's
// definition names for it. A key entry (entry.KindKey) in the feed, signed
// by that key, names its successor, which signs the statement too; every
// later entry of the feed is signed by the successor. A party rotates all
// its feeds to the same successor, so its keys form one chain: the key
// pinned from its identity document, then each successor in turn. The
// chain says which key a party signs new channels, heartbeats and
// checkpoints with, and which TLS keys its peer link may present.
//
// A Book holds the chains of every party and the key changes of every
// feed; a node keeps one, and so does an auditor reading an archive.
package keychain

import (
	"crypto/ed25519"
	"fmt"
	"slices"
	"sync"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// Key is one of a party's keys.
type Key struct {
	Verifier string // signed-note verifier key
	Pub      ed25519.PublicKey
	TLS      identity.Fingerprint // the TLS key that came with it
}

// ParseKey parses a verifier key and the TLS fingerprint that comes with it.
func ParseKey(verifier string, tls identity.Fingerprint) (Key, error) {
	_, pub, err := identity.ParseVerifierKey(verifier)
	if err != nil {
		return Key{}, err
	}
	return Key{Verifier: verifier, Pub: pub, TLS: tls}, nil
}

// Change is one key entry: from the entry after Seq on, Feed is signed by
// New instead of Old.
type Change struct {
	Feed  hotline.Feed
	Seq   uint64
	Old   string // verifier key
	New   Key
	Entry entry.ID
}

// ParseChange checks key entry e, whose body is kc, given old, the key
// that signs its feed at its position: the new key is a key of the author,
// differs from old, and signed the statement. It does not check e's own
// signature, nor the author's chain (see Book.Check).
func ParseChange(e *entry.Entry, kc *entry.KeyChange, old string) (Change, error) {
	party, pub, err := identity.ParseVerifierKey(kc.Key)
	if err != nil {
		return Change{}, fmt.Errorf("key change: %w", err)
	}
	if party != e.Author {
		return Change{}, fmt.Errorf("key change: the new key is named %s, not %s", party, e.Author)
	}
	if kc.Key == old {
		return Change{}, fmt.Errorf("key change: the new key is the key it replaces")
	}
	if !ed25519.Verify(pub, entry.KeyChangeMessage(e.Channel, e.Seq, old, kc.Key, kc.TLS), kc.Sig) {
		return Change{}, fmt.Errorf("key change: the new key's signature over the statement does not verify")
	}
	return Change{
		Feed: hotline.Feed{Channel: e.Channel, Party: e.Author}, Seq: e.Seq, Old: old,
		New: Key{Verifier: kc.Key, Pub: pub, TLS: identity.Fingerprint(kc.TLS)}, Entry: e.ID(),
	}, nil
}

// chain is one party's keys, oldest first.
type chain struct {
	keys []Key
}

// Book holds every party's chain and every feed's key changes. It is
// safe for concurrent use.
type Book struct {
	mu      sync.RWMutex
	parties map[string]*chain
	feeds   map[hotline.Feed][]Change // in seq order
}

// New returns an empty book.
func New() *Book {
	return &Book{parties: make(map[string]*chain), feeds: make(map[hotline.Feed][]Change)}
}

// Pin starts party's chain with keys, oldest first: the key its
// identity document names (or, for the book's own party, every key it has
// had); it replaces any chain the party had.
func (b *Book) Pin(party string, keys ...Key) {
	if len(keys) == 0 {
		panic("keychain: Pin without a key")
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.parties[party] = &chain{keys: slices.Clone(keys)}
}

// Load adds key changes read back from a store, which checked them when
// they were written. A change whose new key the party's chain already
// holds, or whose old key it does not (the party was pinned again, at a
// later key), leaves the chain as it is; every change is kept for its
// feed.
func (b *Book) Load(changes []Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, c := range changes {
		b.add(c)
	}
}

// Add records a change that Check accepted.
func (b *Book) Add(c Change) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.add(c)
}

func (b *Book) add(c Change) {
	f := b.feeds[c.Feed]
	i, found := slices.BinarySearchFunc(f, c.Seq, func(x Change, seq uint64) int { return cmpSeq(x.Seq, seq) })
	if !found {
		b.feeds[c.Feed] = slices.Insert(f, i, c)
	}
	ch := b.parties[c.Feed.Party]
	if ch == nil || slices.ContainsFunc(ch.keys, func(k Key) bool { return k.Verifier == c.New.Verifier }) {
		return
	}
	if ch.keys[len(ch.keys)-1].Verifier == c.Old {
		ch.keys = append(ch.keys, c.New)
	}
}

func cmpSeq(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// MaxKeys bounds a party's chain: rotations are rare (yearly, or when an
// officer leaves), and a peer that rotates without end would make every
// node keep, and read at each start, a change per feed per rotation. A
// party past it re-keys by revocation and re-pinning.
const MaxKeys = 256

// ErrConflict is wrapped by Check's refusals: the change does not follow
// the party's chain.
var ErrConflict = fmt.Errorf("keychain: key change conflicts with the party's keys")

// Check reports whether c follows its author's chain, as it stands with
// pending (changes not yet added) applied: its old key is the newest, and
// its new key is not already one of the party's keys; or its old key was
// already succeeded, by the same new key (the party rotating its other
// feeds). A party that names two successors of one key, or a successor
// of a key that is not its own, is refused.
func (b *Book) Check(c Change, pending ...Change) error {
	b.mu.RLock()
	var keys []string
	if ch := b.parties[c.Feed.Party]; ch != nil {
		for _, k := range ch.keys {
			keys = append(keys, k.Verifier)
		}
	}
	b.mu.RUnlock()
	if len(keys) == 0 {
		return fmt.Errorf("%w: %s has no pinned key", ErrConflict, c.Feed.Party)
	}
	for _, p := range pending {
		if p.Feed.Party == c.Feed.Party && keys[len(keys)-1] == p.Old && !slices.Contains(keys, p.New.Verifier) {
			keys = append(keys, p.New.Verifier)
		}
	}
	i := slices.Index(keys, c.Old)
	switch {
	case i < 0:
		return fmt.Errorf("%w: %s names a successor to %s, which is not one of its keys here", ErrConflict, c.Feed.Party, c.Old)
	case i == len(keys)-1:
		if slices.Contains(keys, c.New.Verifier) {
			return fmt.Errorf("%w: %s would go back to its earlier key %s", ErrConflict, c.Feed.Party, c.New.Verifier)
		}
		if len(keys) >= MaxKeys {
			return fmt.Errorf("%w: %s has had %d keys here, the most a party may rotate through; re-pin it instead", ErrConflict, c.Feed.Party, MaxKeys)
		}
		return nil
	case keys[i+1] != c.New.Verifier:
		return fmt.Errorf("%w: %s already named %s as the successor of %s, and now names %s", ErrConflict, c.Feed.Party, keys[i+1], c.Old, c.New.Verifier)
	}
	return nil
}

// KeyAt returns the verifier key that signs entry seq of feed f, whose
// first entry is signed by first (the key its channel's definition
// names for f's party).
func (b *Book) KeyAt(f hotline.Feed, first string, seq uint64) string {
	b.mu.RLock()
	defer b.mu.RUnlock()
	k := first
	for _, c := range b.feeds[f] {
		if c.Seq >= seq {
			break
		}
		k = c.New.Verifier
	}
	return k
}

// Changes returns the key changes of feed f, in seq order.
func (b *Book) Changes(f hotline.Feed) []Change {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return slices.Clone(b.feeds[f])
}

// Current returns party's newest key.
func (b *Book) Current(party string) (Key, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ch := b.parties[party]
	if ch == nil {
		return Key{}, false
	}
	return ch.keys[len(ch.keys)-1], true
}

// Keys returns party's chain, oldest first.
func (b *Book) Keys(party string) []Key {
	b.mu.RLock()
	defer b.mu.RUnlock()
	if ch := b.parties[party]; ch != nil {
		return slices.Clone(ch.keys)
	}
	return nil
}

// Recent returns the keys a party may sign heartbeats with: its newest,
// and the one before it, which its node uses until the rotation reaches
// this node.
func (b *Book) Recent(party string) []Key {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ch := b.parties[party]
	if ch == nil {
		return nil
	}
	return slices.Clone(ch.keys[max(0, len(ch.keys)-2):])
}

// PartyForTLS returns the party whose peer link may present the TLS key
// fp: its newest key's, or the one before. A rotating node moves to its
// new TLS key once every peer holds the change, and any of its replicas
// that has not moved yet presents the one before, until the party
// rotates again. (A stolen key is revoked, and the party re-pinned,
// rather than rotated: see Revocation.)
func (b *Book) PartyForTLS(fp identity.Fingerprint) (string, bool) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	for party, ch := range b.parties {
		if ch.accepts(fp) {
			return party, true
		}
	}
	return "", false
}

// AcceptsTLS reports whether party's peer link may present fp.
func (b *Book) AcceptsTLS(party string, fp identity.Fingerprint) bool {
	b.mu.RLock()
	defer b.mu.RUnlock()
	ch := b.parties[party]
	return ch != nil && ch.accepts(fp)
}

// accepts checks fp against the chain's two newest keys. The caller
// holds the book's lock.
func (ch *chain) accepts(fp identity.Fingerprint) bool {
	n := len(ch.keys)
	return ch.keys[n-1].TLS == fp || (n > 1 && ch.keys[n-2].TLS == fp)
}
