package node

import (
	"context"
	"crypto"
	"crypto/ed25519"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/keychain"
)

// This file holds the party's key rotation (see package keychain for
// which key signs what): the node's own rotation, and the keys it checks
// each peer's entries, heartbeats and TLS key against.

// KeyFiles is where a node's next keys are prepared and where a rotation
// is made lasting: the node directory (config.Dir).
type KeyFiles interface {
	// PrepareKeys returns the keys prepared for the next rotation; when
	// none are, it makes them if it can (a key file), before anything
	// names them.
	PrepareKeys() (*identity.SigningKey, *identity.TLSKey, error)
	// PreparedKeys returns the prepared keys, nil when there are none.
	PreparedKeys() (*identity.SigningKey, *identity.TLSKey, error)
	// PromoteSigningKey makes the prepared signing key the party's key.
	PromoteSigningKey() error
	// PromoteTLSKey makes the prepared TLS key the node's.
	PromoteTLSKey() error
}

// boundSigner signs with one key and reports to the signer watch: each
// signature (and the key a checkpoint names) is by the key current when
// it was asked for, even if a rotation commits meanwhile.
type boundSigner struct {
	key   crypto.Signer
	watch *signer
}

// Public implements crypto.Signer.
func (s boundSigner) Public() crypto.PublicKey { return s.key.Public() }

// Sign implements crypto.Signer.
func (s boundSigner) Sign(r io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	sig, err := s.key.Sign(r, msg, opts)
	s.watch.record(err)
	return sig, err
}

// signing returns the party key as it is now, to sign with.
func (n *Node) signing() crypto.Signer {
	return boundSigner{key: n.key.Load().Signer, watch: n.signer}
}

// loadKeys fills the key book: each pinned party's key, then every key
// change in the store, then this party's own chain. It is called by New,
// after the channels are loaded.
func (n *Node) loadKeys(ctx context.Context, own *identity.SigningKey, ownTLS identity.Fingerprint, peers []identity.Document, revoked *keychain.Revocation) error {
	for _, d := range peers {
		k, err := keychain.ParseKey(d.Key, d.TLS)
		if err != nil {
			return fmt.Errorf("node: peer %s: %w", d.Party, err)
		}
		n.keys.Pin(d.Party, k)
	}
	stored, err := n.store.KeyChanges(ctx)
	if err != nil {
		return fmt.Errorf("node: load key changes: %w", err)
	}
	var mine []keychain.Change
	for _, st := range stored {
		e := st.Entry
		ch := n.channels[e.Channel]
		if ch == nil {
			return fmt.Errorf("node: key entry %s/%d is in a channel this node does not hold", e.Author, e.Seq)
		}
		m, ok := ch.Definition.Member(e.Author)
		if !ok {
			return fmt.Errorf("node: key entry %s/%d is in a channel this node does not hold", e.Author, e.Seq)
		}
		body, err := entry.DecodeBody(e)
		if err != nil {
			return fmt.Errorf("node: key entry %s/%d: %w", e.Author, e.Seq, err)
		}
		f := hotline.Feed{Channel: e.Channel, Party: e.Author}
		c, err := keychain.ParseChange(e, body.(*entry.KeyChange), n.keys.KeyAt(f, m.Key, e.Seq))
		if err != nil {
			return fmt.Errorf("node: key entry %s/%d: %w", e.Author, e.Seq, err)
		}
		n.keys.Add(c)
		if e.Author == n.self {
			mine = append(mine, c)
		}
	}
	// This party's chain: the key it started from (the key its last
	// revocation named, if it revoked one), then each key it rotated to
	// from there, in order.
	var chain []keychain.Key
	switch {
	case revoked != nil:
		k, err := keychain.ParseKey(revoked.Identity.Key, revoked.Identity.TLS)
		if err != nil {
			return err
		}
		chain = []keychain.Key{k}
		n.revoked[n.self] = append(n.revoked[n.self], revoked)
	case len(mine) > 0:
		k, err := keychain.ParseKey(mine[0].Old, "")
		if err != nil {
			return err
		}
		chain = []keychain.Key{k}
	default:
		k, err := keychain.ParseKey(own.VerifierKey(), ownTLS)
		if err != nil {
			return err
		}
		chain = []keychain.Key{k}
	}
	for _, c := range mine {
		if chain[len(chain)-1].Verifier == c.Old && !slices.ContainsFunc(chain, func(k keychain.Key) bool { return k.Verifier == c.New.Verifier }) {
			chain = append(chain, c.New)
		}
	}
	if len(chain) > 1 {
		n.rotated = rotationFeeds(mine, chain[len(chain)-1].Verifier)
	}
	n.keys.Pin(n.self, chain...)
	return nil
}

// feedKeys returns the keys that have signed feed f, whose first key is
// first: it, then each its key changes moved it on to.
func (n *Node) feedKeys(f hotline.Feed, first string) []string {
	keys := []string{first}
	for _, c := range n.keys.Changes(f) {
		keys = append(keys, c.New.Verifier)
	}
	return keys
}

// revokedFrom returns the first seq of feed f (whose first key is first)
// that a revocation of its party no longer trusts, and the revocation;
// ok is false when none applies to f.
func (n *Node) revokedFrom(f hotline.Feed, first string) (from uint64, r *keychain.Revocation, ok bool) {
	rs := n.revoked[f.Party]
	if len(rs) == 0 {
		return 0, nil, false
	}
	keys := n.feedKeys(f, first)
	for _, x := range rs {
		if x.AppliesTo(f, keys) && (!ok || x.From(f.Channel) < from) {
			from, r, ok = x.From(f.Channel), x, true
		}
	}
	return from, r, ok
}

// disputed says why an entry of feed f at seq is not to be trusted: its
// party revoked the key that signed that part of the feed. "" otherwise.
func (n *Node) disputed(ch *hotline.Channel, party string, seq uint64) string {
	m, ok := ch.Definition.Member(party)
	if !ok {
		return ""
	}
	from, r, ok := n.revokedFrom(hotline.Feed{Channel: ch.ID, Party: party}, m.Key)
	if !ok || seq < from {
		return ""
	}
	return fmt.Sprintf("%s revoked its key %s on %s: from seq %d of this feed on, nothing is to be trusted", party, r.Revoked, r.Time.Format(time.RFC3339), from)
}

// rotationFeeds returns the changes to key among changes: the feeds one
// rotation announced it in.
func rotationFeeds(changes []keychain.Change, key string) []keychain.Change {
	var out []keychain.Change
	for _, c := range changes {
		if c.New.Verifier == key {
			out = append(out, c)
		}
	}
	return out
}

// settleKeys brings the node's keys in line with what its store says:
// a rotation committed just before a crash may have left the prepared
// keys unpromoted, and its TLS key waits until every peer holds the
// change. New calls it once the key book is loaded.
func (n *Node) settleKeys(files KeyFiles) error {
	cur, _ := n.keys.Current(n.self)
	// The TLS key is checked once the party changed keys (a rotation, or
	// a revocation, either of which may have been cut short).
	if cur.Verifier == n.key.Load().VerifierKey() && (cur.TLS == "" || cur.TLS == n.tlsKey.Fingerprint()) {
		return nil
	}
	if files == nil {
		return fmt.Errorf("node: the store says this party's key is %s (TLS %s), and this node was given %s", cur.Verifier, cur.TLS, n.key.Load().VerifierKey())
	}
	sk, tk, err := files.PreparedKeys()
	if err != nil {
		return fmt.Errorf("node: read the prepared keys: %w", err)
	}
	if cur.Verifier != n.key.Load().VerifierKey() {
		if sk == nil || sk.VerifierKey() != cur.Verifier {
			return fmt.Errorf("node: the store says this party rotated to key %s, but the node directory holds neither it nor a prepared key that is it (it holds %s): copy keys/ from the replica that rotated, or restore them", cur.Verifier, n.key.Load().VerifierKey())
		}
		if err := files.PromoteSigningKey(); err != nil {
			return fmt.Errorf("node: promote the prepared signing key: %w", err)
		}
		n.key.Store(sk)
		n.log.Info("finished a key rotation that had committed before the node stopped", "key", cur.Verifier)
	}
	if cur.TLS != n.tlsKey.Fingerprint() {
		if tk == nil || tk.Fingerprint() != cur.TLS {
			return fmt.Errorf("node: this party's key change names TLS key %s, but the node directory holds neither it nor a prepared key that is it (it holds %s): copy keys/ from the replica that rotated, or restore them", cur.TLS, n.tlsKey.Fingerprint())
		}
		n.tlsPending.Store(tk)
		if len(n.rotated) == 0 {
			// A revocation's TLS key: the other parties re-pinned it out of
			// band, and no peer has to learn it from this node first.
			n.maybeSwitchTLS()
		}
	}
	return nil
}

// rotation is a request to the writer: append a key entry naming next to
// each of this party's live feeds, all in one transaction.
type rotation struct {
	next     *identity.SigningKey
	tls      identity.Fingerprint
	operator string
}

// rotate signs and adds the key entries of a rotation, or none: every
// entry is signed before any is added to the batch.
func (b *batch) rotate(r *rotation) error {
	n := b.n
	old := b.signingKey()
	type keyEntry struct {
		e    *entry.Entry
		body *entry.KeyChange
	}
	var out []keyEntry
	for _, id := range b.channelIDs() {
		ch, _ := b.channel(id)
		if ch.State != hotline.ChannelActive && ch.State != hotline.ChannelProposed {
			continue // its feeds are over: nothing more is signed in them
		}
		h := b.head(hotline.Feed{Channel: id, Party: n.self})
		if _, open := b.ownFeedOpen(ch); h.Seq == 0 || !open {
			continue // no feed of this party's here, or one that is closed
		}
		msg := entry.KeyChangeMessage(id, h.Seq+1, old.VerifierKey(), r.next.VerifierKey(), string(r.tls))
		sig, err := entry.SignBytes(r.next.Signer, msg)
		if err != nil {
			return hotline.Errorf(hotline.EUNAVAILABLE, "the new key's signer: %v; nothing was written", err)
		}
		body := &entry.KeyChange{Key: r.next.VerifierKey(), TLS: string(r.tls), Sig: sig}
		enc, err := entry.EncodeBody(body)
		if err != nil {
			return err
		}
		e, err := entry.Sign(entry.Header{Channel: id, Author: n.self, Seq: h.Seq + 1, Prev: h.ID, Time: b.now.UnixMilli(),
			Kind: entry.KindKey, Operator: r.operator, Refs: b.refs(ch, n.self)}, enc, boundSigner{key: old.Signer, watch: n.signer})
		if signerFailed(err) {
			return signerUnavailable(err)
		}
		if err != nil {
			return err
		}
		out = append(out, keyEntry{e, body})
	}
	if len(out) == 0 {
		return hotline.Errorf(hotline.ECONFLICT, "this party has no channel to announce a new key in: other parties learn it from the key entries in their channels with it (with none, give them the new identity document to pin)")
	}
	for _, ke := range out {
		w, err := b.derive(ke.e, ke.body)
		if err != nil {
			return err
		}
		b.add(w)
	}
	b.key = r.next
	return nil
}

// channelIDs returns every channel the batch sees, sorted.
func (b *batch) channelIDs() []entry.ChannelID {
	ids := make([]entry.ChannelID, 0, len(b.n.channels)+len(b.chans))
	for id := range b.n.channels {
		ids = append(ids, id)
	}
	for id := range b.chans {
		if _, ok := b.n.channels[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return string(ids[i][:]) < string(ids[j][:]) })
	return ids
}

// signingKey is the party key the batch signs with: the node's, or the
// new one once the batch rotated.
func (b *batch) signingKey() *identity.SigningKey {
	if b.key != nil {
		return b.key
	}
	return b.n.key.Load()
}

// keyAt returns the key that signs entry seq of feed f, whose first
// entry is signed by first, with the key changes of the batch.
func (b *batch) keyAt(f hotline.Feed, first string, seq uint64) string {
	k := b.n.keys.KeyAt(f, first, seq)
	for _, c := range b.keyChanges {
		if c.Feed == f && c.Seq < seq {
			k = c.New.Verifier
		}
	}
	return k
}

// checkSignature checks a peer's entry against the key valid at its
// position: the key the channel's definition names for its author, as
// the feed's key entries moved it on; for the proposal of a channel this
// node does not know yet, its author's current key. An entry signed by a
// key its feed has moved on from is refused.
func (b *batch) checkSignature(v *verified) error {
	e := v.e
	var want string
	if ch, known := b.channel(e.Channel); known {
		m, member := ch.Definition.Member(e.Author)
		if !member {
			return reject("not_member", "%s is not a member of channel %s", e.Author, ch.Definition.Name)
		}
		f := hotline.Feed{Channel: e.Channel, Party: e.Author}
		if from, r, ok := b.n.revokedFrom(f, m.Key); ok && e.Seq >= from {
			return reject("revoked", "entry %s/%d: %s revoked the key of this feed on %s, from seq %d on: nothing more of the feed is accepted (its new key signs new channels)",
				e.Author, e.Seq, e.Author, r.Time.Format(time.RFC3339), from)
		}
		want = b.keyAt(f, m.Key, e.Seq)
	} else {
		cur, _ := b.n.keys.Current(e.Author)
		want = cur.Verifier
	}
	if want == v.signedBy {
		return nil
	}
	bad := reject("signature", "entry %s/%d: the signature does not verify under %s's key %s, the key valid at this position of its feed", e.Author, e.Seq, e.Author, want)
	if slices.Contains(v.tried, want) {
		return bad
	}
	k, err := keychain.ParseKey(want, "")
	if err != nil || e.Verify(k.Pub) != nil {
		return bad
	}
	v.signedBy = want
	return nil
}

// checkKeyChange checks a peer's key entry: the new key signed the
// statement, and it follows the author's chain.
func (b *batch) checkKeyChange(ch *hotline.Channel, e *entry.Entry, kc *entry.KeyChange) error {
	c, err := b.parseKeyChange(ch, e, kc)
	if err != nil {
		return reject("bad_key", "entry %s/%d: %v", e.Author, e.Seq, err)
	}
	if err := b.n.keys.Check(c, b.keyChanges...); err != nil {
		return reject("key_conflict", "entry %s/%d: %v", e.Author, e.Seq, err)
	}
	return nil
}

func (b *batch) parseKeyChange(ch *hotline.Channel, e *entry.Entry, kc *entry.KeyChange) (keychain.Change, error) {
	m, ok := ch.Definition.Member(e.Author)
	if !ok {
		return keychain.Change{}, fmt.Errorf("%s is not a member of channel %s", e.Author, ch.Definition.Name)
	}
	return keychain.ParseChange(e, kc, b.keyAt(hotline.Feed{Channel: e.Channel, Party: e.Author}, m.Key, e.Seq))
}

// keysAdded records a committed batch's key changes in the book; the
// writer calls it after the commit.
func (n *Node) keysAdded(changes []keychain.Change) {
	for _, c := range changes {
		before, _ := n.keys.Current(c.Feed.Party)
		n.keys.Add(c)
		if after, _ := n.keys.Current(c.Feed.Party); after.Verifier != before.Verifier && c.Feed.Party != n.self {
			n.log.Info("a party rotated its key: its entries after each key entry, its heartbeats and checkpoints are checked against the new key",
				"peer", c.Feed.Party, "old", c.Old, "new", c.New.Verifier, "tls", c.New.TLS)
			n.events.publish(Event{Type: EventLink, By: c.Feed.Party, Detail: fmt.Sprintf("%s rotated its key to %s", c.Feed.Party, c.New.Verifier)})
		}
	}
}

// keysOf returns a party's keys in channel ch so far: the key its
// definition names and every key its feed moved on to (joint readout
// signatures made before a rotation verify under the earlier key).
func (n *Node) keysOf(ch *hotline.Channel) func(string) []ed25519.PublicKey {
	return func(party string) []ed25519.PublicKey {
		m, ok := ch.Definition.Member(party)
		if !ok {
			return nil
		}
		var out []ed25519.PublicKey
		if k, err := keychain.ParseKey(m.Key, ""); err == nil {
			out = append(out, k.Pub)
		}
		for _, c := range n.keys.Changes(hotline.Feed{Channel: ch.ID, Party: party}) {
			out = append(out, c.New.Pub)
		}
		return out
	}
}

// KeyRotation is what a rotation did.
type KeyRotation struct {
	Old    string `json:"old"`
	New    string `json:"new"`
	OldTLS string `json:"old_tls"`
	NewTLS string `json:"new_tls"`
	// Feeds is how many of this party's feeds carry the key entry.
	Feeds int `json:"feeds"`
}

// RotateKey rotates the party key to the prepared next key (making one
// when none is prepared and the signer is a key file): a key entry,
// signed by the old key and naming the new one, which signs it too, is
// appended to every live feed of this party in one transaction, and
// every later entry is signed by the new key. The new TLS key is used
// once every peer that shares a channel holds the change.
func (n *Node) RotateKey(ctx context.Context, operator string) (*KeyRotation, error) {
	if n.keyFiles == nil {
		return nil, hotline.Errorf(hotline.EINVALID, "this node was started without a node directory to keep keys in; it cannot rotate")
	}
	n.rotMu.Lock()
	defer n.rotMu.Unlock()
	if p := n.tlsPending.Load(); p != nil {
		return nil, hotline.Errorf(hotline.ECONFLICT, "the last rotation is not over: its TLS key %s is presented once these peers hold the key change: %s (see hotline key status)",
			p.Fingerprint(), strings.Join(n.lackingKeyChange(), ", "))
	}
	if len(n.keys.Keys(n.self)) >= keychain.MaxKeys {
		return nil, hotline.Errorf(hotline.ECONFLICT, "this party has had %d keys, the most peers follow through rotations: re-key by revocation and re-pinning (hotline key revoke)", keychain.MaxKeys)
	}
	n.filesMu.Lock()
	next, tlsNext, err := n.keyFiles.PrepareKeys()
	n.filesMu.Unlock()
	if err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	old := n.key.Load()
	switch {
	case next.Party != n.self:
		return nil, hotline.Errorf(hotline.EINVALID, "the prepared key is party %s's, not %s's", next.Party, n.self)
	case next.VerifierKey() == old.VerifierKey():
		return nil, hotline.Errorf(hotline.EINVALID, "the prepared key is the party's current key")
	case tlsNext.Fingerprint() == n.tlsKey.Fingerprint():
		return nil, hotline.Errorf(hotline.EINVALID, "the prepared TLS key is the node's current one")
	}
	wr := n.submit(ctx, &writeReq{rotate: &rotation{next: next, tls: tlsNext.Fingerprint(), operator: operator}})
	if wr.err != nil {
		return nil, wr.err
	}
	res := &KeyRotation{Old: old.VerifierKey(), New: next.VerifierKey(), OldTLS: string(n.tlsKey.Fingerprint()), NewTLS: string(tlsNext.Fingerprint()), Feeds: wr.stored}
	n.tlsPending.Store(tlsNext)
	n.log.Info("KEY ROTATED: later entries are signed by the new key; the new TLS key is used once every peer holds the change",
		"operator", operator, "old", res.Old, "new", res.New, "feeds", res.Feeds)
	n.filesMu.Lock()
	err = n.keyFiles.PromoteSigningKey()
	n.filesMu.Unlock()
	if err != nil {
		// The rotation is committed and the node signs with the new key;
		// the next start promotes it (see settleKeys).
		n.log.Error("could not make the new key the party key on disk; it will be at the next start", "err", err)
	}
	n.maybeSwitchTLS()
	return res, nil
}

// lackingKeyChange returns the peers that share a channel with this
// party and hold none of the key entries of its last rotation, as this
// node last learnt their heads.
func (n *Node) lackingKeyChange() []string {
	n.mu.RLock()
	rotated := n.rotated
	n.mu.RUnlock()
	var out []string
	for _, name := range n.Peers() {
		p := n.peers[name]
		p.link.mu.Lock()
		known := p.link.known
		p.link.mu.Unlock()
		shares, holds := false, false
		for _, c := range rotated {
			ch, ok := n.channel(c.Feed.Channel)
			if !ok || !ch.IsMember(name) {
				continue
			}
			shares = true
			if known[c.Feed].Seq >= c.Seq {
				holds = true
				break
			}
		}
		if shares && !holds {
			out = append(out, name)
		}
	}
	return out
}

// maybeSwitchTLS starts presenting the rotated TLS key once every peer
// that shares a channel holds the key change, which pins it there.
func (n *Node) maybeSwitchTLS() {
	next := n.tlsPending.Load()
	if next == nil || len(n.lackingKeyChange()) > 0 {
		return
	}
	if !n.tlsPending.CompareAndSwap(next, nil) {
		return
	}
	old := n.tlsKey.Fingerprint()
	n.tlsKey.Use(next)
	n.log.Info("every peer holds the key change: the peer link now presents the new TLS key", "old", old, "new", next.Fingerprint())
	if n.keyFiles != nil {
		n.filesMu.Lock()
		defer n.filesMu.Unlock()
		if err := n.keyFiles.PromoteTLSKey(); err != nil {
			n.log.Error("could not make the new TLS key the node's on disk; the next start will finish it", "err", err)
		}
	}
}

// KeyStatus is this party's keys and the keys it holds of each peer.
type KeyStatus struct {
	Party string `json:"party"`
	Key   string `json:"key"`
	TLS   string `json:"tls"` // the TLS key the peer link presents
	// PendingTLS is the rotated TLS key, not yet presented: it waits
	// until WaitingFor hold the key change.
	PendingTLS string     `json:"pending_tls,omitempty"`
	WaitingFor []string   `json:"waiting_for,omitempty"`
	History    []string   `json:"history"` // this party's keys, oldest first
	Peers      []PeerKeys `json:"peers"`
}

// PeerKeys is a peer's chain as this node holds it.
type PeerKeys struct {
	Party string   `json:"party"`
	Key   string   `json:"key"`  // its current key
	Keys  []string `json:"keys"` // every key it has had here, oldest first
	TLS   string   `json:"tls"`  // the TLS key of its current key
}

// KeyStatus reports the party's keys and its peers'.
func (n *Node) KeyStatus() KeyStatus {
	s := KeyStatus{Party: n.self, Key: n.key.Load().VerifierKey(), TLS: string(n.tlsKey.Fingerprint()), Peers: []PeerKeys{}}
	if p := n.tlsPending.Load(); p != nil {
		s.PendingTLS, s.WaitingFor = string(p.Fingerprint()), n.lackingKeyChange()
	}
	for _, k := range n.keys.Keys(n.self) {
		s.History = append(s.History, k.Verifier)
	}
	for _, name := range n.Peers() {
		pk := PeerKeys{Party: name}
		for _, k := range n.keys.Keys(name) {
			pk.Keys = append(pk.Keys, k.Verifier)
			pk.Key, pk.TLS = k.Verifier, string(k.TLS)
		}
		s.Peers = append(s.Peers, pk)
	}
	return s
}
