package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/keychain"
	"github.com/hotline-project/hotline/peer"
	"github.com/hotline-project/hotline/quota"
)

// maxBatch bounds the entries grouped into one store transaction.
const maxBatch = 2048

// writeReq is one request to the writer: a local append or a batch of
// verified entries from a peer. The writer answers on done exactly once.
type writeReq struct {
	local  *localWrite
	remote *remoteBatch
	state  *stateChange
	rotate *rotation
	done   chan writeResult
}

// stateChange changes a channel's local state (an invitation declined or
// expired): no entry is written.
type stateChange struct {
	channel entry.ChannelID
	to      hotline.ChannelState
	// check runs in the writer, against the channel as it is.
	check func(ch *hotline.Channel) error
}

type localWrite struct {
	channel  entry.ChannelID
	kind     entry.Kind
	body     any
	operator string
	// newChannel is set for a proposal: the channel it creates.
	newChannel *entry.Definition
	// check runs in the writer, against the state the entry will extend.
	check func(b *batch, ch *hotline.Channel) error
	// draft is the draft a released message came from: saved, marked
	// sent, in the entry's transaction.
	draft *hotline.Draft
}

type remoteBatch struct {
	from    string
	entries []*verified
}

// verified is a peer's entry whose encoding, author and signature checked
// out; what remains is to check it against the feeds.
type verified struct {
	e    *entry.Entry
	body any
	// signedBy is the key e's signature verified under; tried are keys
	// it does not verify under. The writer checks that the key valid at
	// e's position is signedBy, verifying again only if it was not tried.
	signedBy string
	tried    []string
}

type writeResult struct {
	entry    *entry.Entry // the local entry written
	stored   int
	dups     int
	rejected []peer.Rejection
	touched  []hotline.Feed
	err      error
}

// submit hands a request to the writer and waits for its answer.
func (n *Node) submit(ctx context.Context, r *writeReq) writeResult {
	r.done = make(chan writeResult, 1)
	// Close takes submitMu before it stops the writer, so no request is
	// queued after the writer's last drain: one would never be answered.
	// (A select between the queue and a closed channel could still pick
	// the queue after Close, since select chooses among ready cases at
	// random.)
	n.submitMu.RLock()
	if n.shutting {
		n.submitMu.RUnlock()
		return writeResult{err: errShuttingDown}
	}
	select {
	case n.writes <- r:
	case <-ctx.Done():
		n.submitMu.RUnlock()
		return writeResult{err: ctx.Err()}
	}
	n.submitMu.RUnlock()
	// Once queued, the writer always answers, even when shutting down: an
	// operator is never left unsure whether the entry was written.
	return <-r.done
}

var errShuttingDown = hotline.Errorf(hotline.EUNAVAILABLE, "the node is shutting down; nothing was written")

// writer is the single goroutine that writes to the store.
func (n *Node) writer() {
	receipts := make(map[entry.ChannelID]bool) // channels owing a receipt
	var backoff time.Duration                  // after a failed commit, before retrying owed receipts
	for {
		var reqs []*writeReq
		if len(receipts) == 0 || backoff > 0 {
			// Wait for work; owed receipts are retried after the backoff,
			// so a full disk does not turn into a busy loop.
			var retry <-chan time.Time
			var t *time.Timer
			if len(receipts) > 0 {
				t = time.NewTimer(backoff)
				retry = t.C
			}
			select {
			case r := <-n.writes:
				reqs = append(reqs, r)
			case <-retry:
			case <-n.ctx.Done():
				n.drainWrites()
				return
			}
			if t != nil {
				t.Stop()
			}
		}
		count := len(reqs)
	drain:
		for count < maxBatch {
			select {
			case r := <-n.writes:
				reqs = append(reqs, r)
				count++
				if r.remote != nil {
					count += len(r.remote.entries)
				}
			default:
				break drain
			}
		}
		if n.commit(reqs, receipts) {
			backoff = 0
		} else {
			backoff = min(max(2*backoff, 100*time.Millisecond), 5*time.Second)
		}
	}
}

// drainWrites fails every queued request after shutdown began.
func (n *Node) drainWrites() {
	for {
		select {
		case r := <-n.writes:
			r.done <- writeResult{err: errShuttingDown}
		default:
			return
		}
	}
}

// batch is the writer's working state for one transaction: the changes it
// makes to heads and channels, applied to the node only after the commit.
type batch struct {
	n        *Node
	heads    map[hotline.Feed]hotline.Head
	chans    map[entry.ChannelID]*hotline.Channel
	ids      map[hotline.Feed]map[uint64]entry.ID
	writes   []hotline.Write
	events   []Event
	heldIn   []heldRef                // held records of other parties stored, to co-sign
	receipts map[entry.ChannelID]bool // channels whose receipt the batch writes: it stores entries from peers there
	reserved []*entry.Entry           // peers' entries counted against their quotas
	now      time.Time
	// watchChanged is set when the batch adds a watched entry or an
	// answer, so the deadline watcher looks again after the commit.
	watchChanged bool
	// keyChanges are the batch's key entries; key is the party key once
	// the batch rotated it (see keys.go).
	keyChanges []keychain.Change
	key        *identity.SigningKey
}

func (b *batch) head(f hotline.Feed) hotline.Head {
	if h, ok := b.heads[f]; ok {
		return h
	}
	return b.n.heads[f] // only the writer mutates n.heads
}

func (b *batch) channel(id entry.ChannelID) (*hotline.Channel, bool) {
	if c, ok := b.chans[id]; ok {
		return c, true
	}
	c, ok := b.n.channels[id]
	return c, ok
}

// idAt returns the id of entry seq of feed f, or false if not held.
func (b *batch) idAt(ctx context.Context, f hotline.Feed, seq uint64) (entry.ID, bool, error) {
	h := b.head(f)
	switch {
	case seq > h.Seq:
		return entry.ID{}, false, nil
	case seq == h.Seq:
		return h.ID, true, nil
	}
	if id, ok := b.ids[f][seq]; ok {
		return id, true, nil
	}
	if id, ok := b.n.recentID(f, seq); ok {
		return id, true, nil
	}
	id, ok, err := b.n.store.IDAt(ctx, f, seq)
	if err != nil {
		return entry.ID{}, false, err
	}
	if !ok {
		return entry.ID{}, false, fmt.Errorf("store lost entry %s/%d below head %d", f.Party, seq, h.Seq)
	}
	return id, true, nil
}

// refs returns the causal references of a new entry by author in ch: the
// newest entry held of every other member's feed.
func (b *batch) refs(ch *hotline.Channel, author string) []entry.Ref {
	var refs []entry.Ref
	for _, m := range ch.Definition.Members {
		if m.Party == author {
			continue
		}
		if h := b.head(hotline.Feed{Channel: ch.ID, Party: m.Party}); h.Seq > 0 {
			refs = append(refs, entry.Ref{Party: m.Party, Seq: h.Seq, ID: h.ID})
		}
	}
	return refs
}

// add records an entry and the index rows derived from it in the batch.
func (b *batch) add(w hotline.Write) {
	e := w.Entry
	f := hotline.Feed{Channel: e.Channel, Party: e.Author}
	b.heads[f] = hotline.Head{Seq: e.Seq, ID: e.ID()}
	if b.ids[f] == nil {
		b.ids[f] = make(map[uint64]entry.ID)
	}
	b.ids[f][e.Seq] = e.ID()
	if w.Channel != nil {
		b.chans[w.Channel.ID] = w.Channel
	}
	b.writes = append(b.writes, w)
}

// commit builds and commits one transaction from reqs, then answers them.
// It reports whether the batch went through whole: false when the store
// refused it, or when the signer failed receipts, which stay owed and
// are retried after a backoff.
func (n *Node) commit(reqs []*writeReq, receipts map[entry.ChannelID]bool) bool {
	ctx := context.Background()
	b := &batch{
		n:        n,
		heads:    make(map[hotline.Feed]hotline.Head),
		chans:    make(map[entry.ChannelID]*hotline.Channel),
		ids:      make(map[hotline.Feed]map[uint64]entry.ID),
		receipts: make(map[entry.ChannelID]bool),
		now:      n.now(),
	}
	results := make([]writeResult, len(reqs))
	for i, r := range reqs {
		switch {
		case r.local != nil:
			results[i].entry, results[i].err = b.appendLocal(r.local)
		case r.remote != nil:
			results[i] = b.applyRemote(ctx, r.remote)
		case r.state != nil:
			results[i].err = b.changeState(r.state)
		case r.rotate != nil:
			before := len(b.writes)
			results[i].err = b.rotate(r.rotate)
			results[i].stored = len(b.writes) - before
		}
	}
	// Receipts go in the transaction that stores what they cover: a
	// receipt is durable, and can be seen by anyone, exactly when what it
	// covers is. Receipts a failed commit lost are owed from before.
	for id := range b.receipts {
		receipts[id] = true
	}
	var receiptIDs []entry.ChannelID
	for id := range receipts {
		receiptIDs = append(receiptIDs, id)
		delete(receipts, id)
	}
	slices.SortFunc(receiptIDs, func(a, c entry.ChannelID) int { return slices.Compare(a[:], c[:]) })
	var unsigned []entry.ChannelID // receipts the signer failed: owed still
	for _, id := range receiptIDs {
		err := b.writeReceipt(id)
		switch {
		case signerFailed(err):
			unsigned = append(unsigned, id) // the signer's alarm says why
		case err != nil:
			n.log.Error("write receipt", "channel", id, "err", err)
		}
	}
	start := time.Now()
	var err error
	if len(b.writes) > 0 {
		err = n.store.Append(ctx, b.now, b.writes)
		n.metrics.commitSeconds.Observe(time.Since(start).Seconds())
		n.metrics.batchEntries.Observe(float64(len(b.writes)))
	}
	if err != nil {
		n.log.Error("store commit failed; batch discarded", "entries", len(b.writes), "err", err)
		n.metrics.storeErrors.Inc()
		// A database server may have applied the commit and lost the
		// answer (the store checks, but may not reach the server to): the
		// feeds' heads are read again, so that the next batch continues
		// what the store holds rather than repeating its seqs.
		if heads, herr := n.store.Heads(ctx); herr == nil {
			n.mu.Lock()
			n.heads = heads
			n.mu.Unlock()
		}
		for _, e := range b.reserved {
			n.meter.Release(e.Author, e.Channel, entrySize(e))
		}
		for _, id := range receiptIDs {
			receipts[id] = true // retry the receipts with the next batch
		}
		for i, r := range reqs {
			if results[i].err == nil {
				results[i] = writeResult{err: err}
			}
			r.done <- results[i]
		}
		return false
	}
	n.keepRecent(b.writes)
	// Key changes first: nothing is signed or checked against the keys
	// until the book and the party key follow the batch.
	n.keysAdded(b.keyChanges)
	if b.key != nil {
		n.key.Store(b.key)
	}
	n.mu.Lock()
	if b.key != nil {
		n.rotated = rotationFeeds(b.keyChanges, b.key.VerifierKey())
	}
	for f, h := range b.heads {
		n.heads[f] = h
	}
	for id, c := range b.chans {
		if old, ok := n.channels[id]; ok && n.labels[old.Label] == id {
			delete(n.labels, old.Label)
		}
		n.channels[id] = c
		n.labels[c.Label] = id
	}
	n.mu.Unlock()
	for _, w := range b.writes {
		if w.Entry != nil {
			n.metrics.entriesStored.WithLabelValues(string(w.Entry.Kind), origin(w.Entry.Author == n.self)).Inc()
		}
	}
	n.raiseQuotaAlarms()
	for i, r := range reqs {
		r.done <- results[i]
	}
	for _, ev := range b.events {
		n.events.publish(ev)
	}
	for _, h := range b.heldIn {
		select {
		case n.heldIn <- h:
		default:
			go func() {
				select {
				case n.heldIn <- h:
				case <-n.ctx.Done():
				}
			}()
		}
	}
	if len(b.writes) > 0 {
		n.notifyPeers()
	}
	if b.watchChanged {
		n.watches.touch(b.writes)
		n.wakeDeadlines()
	}
	for _, id := range unsigned {
		receipts[id] = true // retried after a backoff, until the signer answers
	}
	return len(unsigned) == 0
}

func origin(local bool) string {
	if local {
		return "local"
	}
	return "peer"
}

// appendLocal builds, signs and adds an entry of this node's own feed.
func (b *batch) appendLocal(lw *localWrite) (*entry.Entry, error) {
	n := b.n
	var ch *hotline.Channel
	if lw.newChannel != nil {
		if _, exists := b.channel(lw.channel); exists {
			return nil, hotline.Errorf(hotline.ECONFLICT, "channel %s already exists", lw.channel)
		}
		ch = &hotline.Channel{ID: lw.channel, Definition: *lw.newChannel}
	} else {
		var ok bool
		if ch, ok = b.channel(lw.channel); !ok {
			return nil, hotline.Errorf(hotline.ENOTFOUND, "no channel %s", lw.channel)
		}
	}
	if lw.check != nil {
		if err := lw.check(b, ch); err != nil {
			return nil, err
		}
	}
	f := hotline.Feed{Channel: ch.ID, Party: n.self}
	h := b.head(f)
	key := b.signingKey()
	if m, open := b.ownFeedOpen(ch); !open {
		if _, _, revoked := n.revokedFrom(f, m.Key); revoked {
			return nil, hotline.Errorf(hotline.ECONFLICT, "this party revoked the key of its feed in channel %s: the feed is closed; propose a new channel, which carries the new key", ch.Definition.Name)
		}
		return nil, hotline.Errorf(hotline.ECONFLICT, "channel %s names an earlier key of this party (%s) for its feed, and this party's key is now %s: propose the channel again",
			ch.Definition.Name, m.Key, key.VerifierKey())
	}
	body, err := entry.EncodeBody(lw.body)
	if err != nil {
		return nil, err
	}
	e, err := entry.Sign(entry.Header{
		Channel:  ch.ID,
		Author:   n.self,
		Seq:      h.Seq + 1,
		Prev:     h.ID,
		Time:     b.now.UnixMilli(),
		Kind:     lw.kind,
		Operator: lw.operator,
		Refs:     b.refs(ch, n.self),
	}, body, boundSigner{key: key.Signer, watch: n.signer})
	if signerFailed(err) {
		return nil, signerUnavailable(err)
	}
	if err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	w, err := b.derive(e, lw.body)
	if err != nil {
		return nil, err
	}
	if lw.draft != nil {
		lw.draft.Entry = e.ID()
		w.Draft = lw.draft
	}
	b.add(w)
	return e, nil
}

// ownFeedOpen reports whether this party can still sign its feed in ch:
// the key that signs the feed's next entry is the party's key now. It is
// not after a revocation, nor in a channel whose definition names an
// earlier key of this party. m is this party's member record in ch.
func (b *batch) ownFeedOpen(ch *hotline.Channel) (m entry.Member, open bool) {
	m, _ = ch.Definition.Member(b.n.self)
	f := hotline.Feed{Channel: ch.ID, Party: b.n.self}
	return m, b.keyAt(f, m.Key, b.head(f).Seq+1) == b.signingKey().VerifierKey()
}

// writeReceipt appends a cumulative receipt to this node's feed of ch:
// every other member feed it holds, up to its head.
func (b *batch) writeReceipt(id entry.ChannelID) error {
	ch, ok := b.channel(id)
	if !ok {
		return fmt.Errorf("no channel %s", id)
	}
	holds := b.refs(ch, b.n.self)
	if len(holds) == 0 {
		return nil
	}
	if _, open := b.ownFeedOpen(ch); !open {
		return nil // this party's feed here is closed (its key was revoked, or the channel names an earlier one): it receipts nothing more
	}
	_, err := b.appendLocal(&localWrite{channel: id, kind: entry.KindReceipt, body: &entry.Receipt{Holds: holds}})
	return err
}

// changeState changes a channel's local state in the batch.
func (b *batch) changeState(sc *stateChange) error {
	ch, ok := b.channel(sc.channel)
	if !ok {
		return hotline.Errorf(hotline.ENOTFOUND, "no channel %s", sc.channel)
	}
	if sc.check != nil {
		if err := sc.check(ch); err != nil {
			return err
		}
	}
	c := *ch
	c.State = sc.to
	b.chans[c.ID] = &c
	b.writes = append(b.writes, hotline.Write{Channel: &c})
	b.events = append(b.events, Event{Type: EventChannel, Channel: c.ID, State: c.State})
	return nil
}

// entrySize is what an entry takes in the store, as quotas count it.
func entrySize(e *entry.Entry) int64 { return int64(len(e.HeaderBytes) + len(e.Sig) + len(e.Body)) }

// applyRemote checks each verified entry against the feeds and adds those
// that continue them, within the author's and the channel's quotas.
func (b *batch) applyRemote(ctx context.Context, rb *remoteBatch) writeResult {
	var res writeResult
	touched := make(map[hotline.Feed]bool)
	for _, v := range rb.entries {
		e := v.e
		f := hotline.Feed{Channel: e.Channel, Party: e.Author}
		touched[f] = true
		dup, err := b.checkRemote(ctx, rb.from, v)
		switch {
		case err != nil:
			res.rejected = append(res.rejected, b.n.refuse(rb.from, e, err))
		case dup:
			res.dups++
		default:
			if err := b.n.meter.Reserve(e.Author, e.Channel, entrySize(e)); err != nil {
				res.rejected = append(res.rejected, b.n.refuse(rb.from, e, quotaRejection(err)))
				continue
			}
			w, err := b.derive(e, v.body)
			if err != nil {
				b.n.meter.Release(e.Author, e.Channel, entrySize(e))
				res.rejected = append(res.rejected, b.n.refuse(rb.from, e, err))
				continue
			}
			b.reserved = append(b.reserved, e)
			b.add(w)
			res.stored++
			if e.Kind != entry.KindReceipt && b.head(hotline.Feed{Channel: e.Channel, Party: b.n.self}).Seq > 0 {
				b.receipts[e.Channel] = true
			}
		}
	}
	for f := range touched {
		res.touched = append(res.touched, f)
	}
	return res
}

// rejection is a reason a peer's entry was refused, with a metric label;
// a refusal by a quota (reason "quota") says when it may succeed.
type rejection struct {
	reason     string
	msg        string
	retryAfter time.Duration
	limit      string // the quota, for reason "quota"
}

func (r *rejection) Error() string { return r.msg }

func reject(reason, format string, args ...any) error {
	return &rejection{reason: reason, msg: fmt.Sprintf(format, args...)}
}

// quotaRejection turns a quota refusal into a rejection.
func quotaRejection(err error) error {
	var ex *quota.Exceeded
	if !errors.As(err, &ex) {
		return err
	}
	return &rejection{reason: peer.ReasonQuota, msg: ex.Error(), retryAfter: ex.RetryAfter, limit: ex.Limit}
}

func rejectReason(err error) string {
	var r *rejection
	if errors.As(err, &r) {
		return r.reason
	}
	return "invalid"
}

// checkRemote checks a peer's entry against the feed it claims to
// continue and the channel it belongs to. It reports dup for an entry
// already held.
func (b *batch) checkRemote(ctx context.Context, from string, v *verified) (dup bool, err error) {
	e := v.e
	f := hotline.Feed{Channel: e.Channel, Party: e.Author}
	if e.Author == b.n.self {
		// A node's own feed is written only by itself; it can only be
		// offered back to it as a duplicate or a forgery.
		id, ok, err := b.idAt(ctx, f, e.Seq)
		if err != nil {
			return false, err
		}
		if ok && id == e.ID() {
			return true, nil
		}
		return false, reject("forged_own", "entry %s/%d claims to be written by this node, which never wrote it", e.Author, e.Seq)
	}
	// The signature before anything else: only a signed entry can be
	// evidence of equivocation.
	if err := b.checkSignature(v); err != nil {
		return false, err
	}
	h := b.head(f)
	if e.Seq <= h.Seq {
		id, _, err := b.idAt(ctx, f, e.Seq)
		if err != nil {
			return false, err
		}
		if id == e.ID() {
			return true, nil
		}
		b.n.equivocation(ctx, from, e)
		return false, reject("equivocation", "equivocation: %s signed two different entries with seq %d in channel %s; both kept as evidence", e.Author, e.Seq, e.Channel)
	}
	if e.Seq != h.Seq+1 {
		return false, reject("seq_gap", "seq gap in %s's feed: this node holds up to %d, got %d", e.Author, h.Seq, e.Seq)
	}
	if e.Prev != h.ID {
		return false, reject("bad_prev", "entry %s/%d does not chain to the entry %d this node holds", e.Author, e.Seq, h.Seq)
	}
	ch, known := b.channel(e.Channel)
	if !known {
		cfg, ok := v.body.(*entry.Config)
		if !ok || cfg.Action != entry.ActionPropose {
			return false, reject("unknown_channel", "unknown channel %s", e.Channel)
		}
		if err := b.n.checkProposal(e, cfg.Definition); err != nil {
			return false, err
		}
		return false, b.checkInvitationQuota(e.Author)
	}
	if !ch.IsMember(e.Author) {
		return false, reject("not_member", "%s is not a member of channel %s", e.Author, ch.Definition.Name)
	}
	if !ch.IsMember(from) {
		return false, reject("not_member", "peer %s is not a member of channel %s and may not forward its entries", from, ch.Definition.Name)
	}
	for _, r := range e.Refs {
		if !ch.IsMember(r.Party) {
			return false, reject("bad_reference", "causal reference to %s, not a member of channel %s", r.Party, ch.Definition.Name)
		}
		id, ok, err := b.idAt(ctx, hotline.Feed{Channel: e.Channel, Party: r.Party}, r.Seq)
		if err != nil {
			return false, err
		}
		if !ok {
			return false, reject("missing_dependency", "entry %s/%d references %s, which this node does not hold yet", e.Author, e.Seq, r)
		}
		if id != r.ID {
			return false, reject("bad_reference", "entry %s/%d references %s with an id that does not match the entry held", e.Author, e.Seq, r)
		}
	}
	return false, b.checkKind(ctx, ch, e, v.body)
}

// checkKind checks the rules of each kind of entry.
func (b *batch) checkKind(ctx context.Context, ch *hotline.Channel, e *entry.Entry, body any) error {
	if e.Seq == 1 {
		cfg, ok := body.(*entry.Config)
		if !ok || e.Kind != entry.KindConfig {
			return reject("invalid", "the first entry of %s's feed must be its proposal or acceptance, got %s", e.Author, e.Kind)
		}
		if cfg.Action != entry.ActionAccept || e.Author == ch.Definition.Proposer {
			return reject("invalid", "%s's first entry in an existing channel must accept it", e.Author)
		}
		want := b.head(hotline.Feed{Channel: ch.ID, Party: ch.Definition.Proposer})
		if want.Seq == 0 {
			return reject("missing_dependency", "acceptance of a proposal this node does not hold")
		}
		first, _, err := b.idAt(ctx, hotline.Feed{Channel: ch.ID, Party: ch.Definition.Proposer}, 1)
		if err != nil {
			return err
		}
		if cfg.Proposal.Party != ch.Definition.Proposer || cfg.Proposal.Seq != 1 || cfg.Proposal.ID != first {
			return reject("bad_reference", "acceptance names proposal %s, not this channel's", cfg.Proposal)
		}
		return nil
	}
	switch v := body.(type) {
	case *entry.Config:
		return reject("invalid", "channel changes after agreement are not supported by this node's version")
	case *entry.Message:
		if ch.State != hotline.ChannelActive {
			return reject("invalid", "message in channel %s, which is not active", ch.Definition.Name)
		}
		if err := b.n.checkMessage(ch, e.AuthorTime(), v); err != nil {
			return err
		}
		return b.checkReleases(ctx, ch, e, v)
	case *entry.Roster:
		return checkRoster(v)
	case *entry.Translation:
		if ch.State != hotline.ChannelActive {
			return reject("invalid", "translation in channel %s, which is not active", ch.Definition.Name)
		}
		return b.checkTarget(ctx, ch, v.Of)
	case *entry.Receipt:
		for _, r := range v.Holds {
			if r.Party == e.Author || !ch.IsMember(r.Party) {
				return reject("bad_reference", "receipt for feed %s, which is not another member's", r.Party)
			}
			id, ok, err := b.idAt(ctx, hotline.Feed{Channel: ch.ID, Party: r.Party}, r.Seq)
			if err != nil {
				return err
			}
			if !ok || id != r.ID {
				return reject("bad_reference", "receipt claims %s, which does not match what this node holds", r)
			}
		}
	case *entry.Mark:
		if ch.State != hotline.ChannelActive {
			return reject("invalid", "%s in channel %s, which is not active", e.Kind, ch.Definition.Name)
		}
		if v.Target.Party == e.Author {
			return reject("invalid", "%s of the author's own entry", e.Kind)
		}
		return b.checkTarget(ctx, ch, v.Target)
	case *entry.Call:
		return b.checkCall(ctx, ch, e.Author, v)
	case *entry.Escalation:
		return b.checkEscalation(ctx, ch, e.Author, v)
	case *entry.Directory:
		return checkDirectory(v)
	case *entry.KeyChange:
		return b.checkKeyChange(ch, e, v)
	}
	return nil
}

// checkTarget checks that a read, ack or translation names a message
// this node holds.
func (b *batch) checkTarget(ctx context.Context, ch *hotline.Channel, t entry.Ref) error {
	e, _, err := b.lookup(ctx, ch, t)
	if err != nil {
		return err
	}
	if e.Kind != entry.KindMessage {
		return hotline.Errorf(hotline.EINVALID, "entry %s is a %s, not a message: only messages are read, acknowledged or translated", t.ID, e.Kind)
	}
	return nil
}

// lookup returns the entry t of channel ch, held in the store or written
// earlier in this batch, with its decoded body (nil if redacted). It
// fails with a bad_reference rejection if this node does not hold it.
func (b *batch) lookup(ctx context.Context, ch *hotline.Channel, t entry.Ref) (*entry.Entry, any, error) {
	id, ok, err := b.idAt(ctx, hotline.Feed{Channel: ch.ID, Party: t.Party}, t.Seq)
	if err != nil {
		return nil, nil, err
	}
	if !ok || id != t.ID {
		return nil, nil, reject("bad_reference", "reference to %s, which this node does not hold in channel %s", t, ch.Definition.Name)
	}
	var e *entry.Entry
	if st, err := b.n.store.Entry(ctx, t.ID); err == nil {
		e = st.Entry
	} else {
		// Not yet committed: it is in this batch.
		for _, w := range b.writes {
			if w.Entry.ID() == t.ID {
				e = w.Entry
			}
		}
		if e == nil {
			return nil, nil, err
		}
	}
	if e.Body == nil {
		return e, nil, nil
	}
	body, err := entry.DecodeBody(e)
	return e, body, err
}

// checkProposal checks a proposal for a channel this node does not know.
func (n *Node) checkProposal(e *entry.Entry, d *entry.Definition) error {
	if e.Seq != 1 || e.Author != d.Proposer {
		return reject("invalid", "a proposal must be its proposer's first entry in the channel")
	}
	if d.ChannelID() != e.Channel {
		return reject("invalid", "proposal's definition does not hash to its channel id")
	}
	if _, err := hotline.ParseLevel(d.Level); err != nil {
		return reject("invalid", "proposal: %s", hotline.ErrorMessage(err))
	}
	if err := n.checkPolicy(d); err != nil {
		return reject("invalid", "proposal: %s", hotline.ErrorMessage(err))
	}
	if _, ok := d.Member(n.self); !ok {
		return reject("not_member", "proposal for channel %s does not include this party", d.Name)
	}
	for _, m := range d.Members {
		_, key, ok := n.keyOf(m.Party)
		if !ok {
			return reject("unknown_author", "proposal names member %s, which this party has not pinned", m.Party)
		}
		if key != m.Key {
			return reject("bad_key", "proposal names a key for %s that is not the key this party pinned", m.Party)
		}
	}
	return nil
}

// derive computes the index rows and channel changes an entry makes.
func (b *batch) derive(e *entry.Entry, body any) (hotline.Write, error) {
	w := hotline.Write{Entry: e}
	b.events = append(b.events, Event{Type: EventEntry, Channel: e.Channel, Entry: e.ID(), Author: e.Author, Seq: e.Seq, Kind: e.Kind})
	switch v := body.(type) {
	case *entry.Config:
		var ch hotline.Channel
		if v.Action == entry.ActionPropose {
			// Names are local: a channel whose name is already a label
			// here is labelled with its short id too.
			ch = hotline.Channel{ID: e.Channel, Definition: *v.Definition, Accepted: []string{e.Author},
				Label: hotline.ChannelLabel(v.Definition.Name, e.Channel, b.n.labelTaken(b)), Stored: b.now}
		} else {
			old, ok := b.channel(e.Channel)
			if !ok {
				return w, hotline.Errorf(hotline.ENOTFOUND, "no channel %s", e.Channel)
			}
			ch = *old
			ch.Accepted = append(slices.Clone(old.Accepted), e.Author)
			slices.Sort(ch.Accepted)
		}
		switch {
		case ch.State == hotline.ChannelDeclined || ch.State == hotline.ChannelExpired:
			// Another member's acceptance changes nothing here.
		case slices.Contains(ch.Accepted, b.n.self):
			ch.State = hotline.ChannelProposed
			if len(ch.Accepted) == len(ch.Definition.Members) {
				ch.State = hotline.ChannelActive
			}
		default:
			ch.State = hotline.ChannelInvited
		}
		w.Channel = &ch
		b.events = append(b.events, Event{Type: EventChannel, Channel: e.Channel, State: ch.State})
	case *entry.Receipt:
		b.watchChanged = true
		for _, h := range v.Holds {
			w.Receipts = append(w.Receipts, hotline.ReceiptRow{Receiver: e.Author, Party: h.Party, Seq: h.Seq, ReceiptSeq: e.Seq, Time: e.AuthorTime()})
			b.events = append(b.events, Event{Type: EventDelivered, Channel: e.Channel, Author: h.Party, Seq: h.Seq, By: e.Author})
		}
	case *entry.Mark:
		w.Mark = &hotline.MarkRow{Kind: e.Kind, Target: v.Target, From: v.From, Party: e.Author, Operator: e.Operator, Seq: e.Seq, Time: e.AuthorTime(), Reply: v.Reply}
		b.events = append(b.events, Event{Type: EventMarked, Channel: e.Channel, Entry: v.Target.ID, Author: v.Target.Party, Seq: v.Target.Seq, From: v.From, By: e.Author, Operator: e.Operator, Kind: e.Kind})
	case *entry.Message:
		w.Watch = v.AckWithin > 0
	case *entry.Translation:
		w.Mark = &hotline.MarkRow{Kind: e.Kind, Target: v.Of, Party: e.Author, Operator: e.Operator, Seq: e.Seq, Time: e.AuthorTime()}
	case *entry.Call:
		w.Watch = v.Action == entry.CallPropose
		if v.Action == entry.CallHeld && v.Draft == nil && e.Author != b.n.self {
			b.heldIn = append(b.heldIn, heldRef{channel: e.Channel, id: e.ID()})
		}
		if v.Re != nil {
			w.Mark = &hotline.MarkRow{Kind: e.Kind, Action: v.Action, Target: *v.Re, Party: e.Author, Operator: e.Operator, Seq: e.Seq, Time: e.AuthorTime(), Reply: v.Reason}
		}
	case *entry.Escalation:
		w.Mark = &hotline.MarkRow{Kind: e.Kind, Target: v.Entry, Party: e.Author, Operator: e.Operator, Seq: e.Seq, Time: e.AuthorTime()}
	case *entry.KeyChange:
		ch, ok := b.channel(e.Channel)
		if !ok {
			return w, hotline.Errorf(hotline.ENOTFOUND, "no channel %s", e.Channel)
		}
		c, err := b.parseKeyChange(ch, e, v)
		if err != nil {
			return w, err
		}
		b.keyChanges = append(b.keyChanges, c)
	}
	if w.Watch || w.Mark != nil {
		b.watchChanged = true
	}
	return w, nil
}
