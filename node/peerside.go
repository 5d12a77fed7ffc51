package node

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/peer"
)

// PeerHeads implements peer.Handler.
func (n *Node) PeerHeads(ctx context.Context, party string) ([]peer.FeedHead, error) {
	return n.headsShared(party), nil
}

// headsShared lists this node's heads of every feed of every channel party
// is a member of.
func (n *Node) headsShared(party string) []peer.FeedHead {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var out []peer.FeedHead
	for id, ch := range n.channels {
		if !ch.IsMember(party) {
			continue
		}
		for _, m := range ch.Definition.Members {
			if h := n.heads[hotline.Feed{Channel: id, Party: m.Party}]; h.Seq > 0 {
				out = append(out, peer.FeedHead{Channel: id, Party: m.Party, Seq: h.Seq, ID: h.ID})
			}
		}
	}
	return out
}

// PeerPush implements peer.Handler.
func (n *Node) PeerPush(ctx context.Context, from string, raw [][]byte) (*peer.PushResult, error) {
	n.heardFrom(from)
	return n.receive(ctx, from, raw)
}

// PeerPull implements peer.Handler.
func (n *Node) PeerPull(ctx context.Context, party string, heads []peer.FeedHead, limit int) ([]*entry.Entry, error) {
	n.heardFrom(party)
	return n.lacking(ctx, party, heads, limit)
}

// receive verifies entries from a peer, in parallel across cores, then
// hands those that verified to the writer.
func (n *Node) receive(ctx context.Context, from string, raw [][]byte) (*peer.PushResult, error) {
	n.metrics.entriesReceived.WithLabelValues(from).Add(float64(len(raw)))
	vs := make([]*verified, len(raw))
	errs := make([]error, len(raw))
	workers := min(runtime.GOMAXPROCS(0), (len(raw)+15)/16)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(raw); i += workers {
				vs[i], errs[i] = n.verify(raw[i])
			}
		}()
	}
	wg.Wait()
	res := &peer.PushResult{}
	rb := &remoteBatch{from: from}
	for i := range raw {
		if errs[i] != nil {
			var id entry.ID
			if vs[i] != nil {
				id = vs[i].e.ID()
			}
			res.Rejected = append(res.Rejected, peer.Rejection{ID: id, Error: errs[i].Error()})
			n.rejectRaw(from, raw[i], errs[i])
			continue
		}
		rb.entries = append(rb.entries, vs[i])
	}
	if len(rb.entries) > 0 {
		wr := n.submit(ctx, &writeReq{remote: rb})
		if wr.err != nil {
			return nil, wr.err
		}
		res.Stored, res.Duplicates = wr.stored, wr.dups
		res.Rejected = append(res.Rejected, wr.rejected...)
		for _, f := range wr.touched {
			if h := n.head(f); h.Seq > 0 {
				res.Heads = append(res.Heads, peer.FeedHead{Channel: f.Channel, Party: f.Party, Seq: h.Seq, ID: h.ID})
			}
		}
	}
	return res, nil
}

// verify decodes one entry and checks what needs no feed state: the
// encoding, the limits, the author is a pinned party, the signature and
// the body.
func (n *Node) verify(raw []byte) (*verified, error) {
	e, err := entry.Decode(raw)
	if err != nil {
		return nil, reject(decodeReason(err), "%v", err)
	}
	v := &verified{e: e}
	pub, _, ok := n.keyOf(e.Author)
	if !ok {
		return v, reject("unknown_author", "entry %s/%d is by %s, a party this node has not pinned", e.Author, e.Seq, e.Author)
	}
	if err := e.Verify(pub); err != nil {
		return v, reject("signature", "entry %s/%d: %v", e.Author, e.Seq, err)
	}
	if v.body, err = entry.DecodeBody(e); err != nil {
		return v, reject(decodeReason(err), "entry %s/%d: %v", e.Author, e.Seq, err)
	}
	return v, nil
}

func decodeReason(err error) string {
	if errors.Is(err, entry.ErrTooLarge) {
		return "too_large"
	}
	return "malformed"
}

// maxBatchBytes bounds the entries in one push or pull response.
const maxBatchBytes = 1 << 20

// maxRejectEvidence bounds how many rejected entries are kept as evidence
// per peer per minute, so a flood cannot fill the disk.
const maxRejectEvidence = 60

// reject logs, counts and keeps evidence of a refused entry.
func (n *Node) reject(from string, e *entry.Entry, err error) {
	n.rejectRaw(from, e.Encode(), err)
}

func (n *Node) rejectRaw(from string, raw []byte, err error) {
	reason := rejectReason(err)
	n.metrics.entriesRejected.WithLabelValues(from, reason).Inc()
	n.log.Warn("rejected entry from peer", "peer", from, "reason", reason, "err", err)
	p := n.peers[from]
	if p == nil || !p.link.allowEvidence(n.now()) {
		return
	}
	if len(raw) > entry.MaxEntrySize {
		raw = raw[:entry.MaxEntrySize]
	}
	ev := hotline.Evidence{Time: n.now(), Kind: "rejected", Peer: from, Detail: err.Error(), Data: raw}
	if err := n.store.AddEvidence(context.Background(), ev); err != nil {
		n.log.Error("record evidence", "err", err)
	}
}

// equivocation keeps both signed entries of one seq as evidence and raises
// the alarm.
func (n *Node) equivocation(ctx context.Context, from string, e *entry.Entry) {
	n.metrics.equivocations.Inc()
	var data []byte
	got, err := n.store.Feed(ctx, hotline.Feed{Channel: e.Channel, Party: e.Author}, e.Seq, 1)
	if err == nil && len(got) == 1 {
		data = n.entryEvidence(got[0].Entry, e)
	}
	detail := fmt.Sprintf("%s signed two different entries with seq %d in channel %s", e.Author, e.Seq, e.Channel)
	n.log.Error("EQUIVOCATION", "peer", from, "author", e.Author, "seq", e.Seq, "channel", e.Channel)
	if err := n.store.AddEvidence(ctx, hotline.Evidence{Time: n.now(), Kind: "equivocation", Peer: from, Detail: detail, Data: data}); err != nil {
		n.log.Error("record equivocation evidence", "err", err)
	}
	n.events.publish(Event{Type: EventAlarm, Channel: e.Channel, Author: e.Author, Seq: e.Seq, Detail: detail})
}

// lacking returns up to limit entries of channels shared with party that
// party does not hold according to heads, in this node's storage order (a
// causal order). Party's own feeds are never sent back to it.
func (n *Node) lacking(ctx context.Context, party string, heads []peer.FeedHead, limit int) ([]*entry.Entry, error) {
	theirs := make(map[hotline.Feed]uint64, len(heads))
	for _, h := range heads {
		theirs[hotline.Feed{Channel: h.Channel, Party: h.Party}] = h.Seq
	}
	type want struct {
		f    hotline.Feed
		from uint64
	}
	var wants []want
	n.mu.RLock()
	for id, ch := range n.channels {
		if !ch.IsMember(party) {
			continue
		}
		for _, m := range ch.Definition.Members {
			f := hotline.Feed{Channel: id, Party: m.Party}
			if m.Party != party && n.heads[f].Seq > theirs[f] {
				wants = append(wants, want{f, theirs[f] + 1})
			}
		}
	}
	n.mu.RUnlock()
	var all []*hotline.Stored
	for _, w := range wants {
		got, err := n.store.Feed(ctx, w.f, w.from, limit)
		if err != nil {
			return nil, err
		}
		all = append(all, got...)
	}
	slices.SortFunc(all, func(a, b *hotline.Stored) int { return int(a.Local - b.Local) })
	if len(all) > limit {
		all = all[:limit]
	}
	// Bound the batch by size too, so one request over a slow bearer ends
	// in reasonable time (1 MiB is under two minutes at 10 kB/s).
	size := 0
	for i, s := range all {
		size += len(s.HeaderBytes) + len(s.Sig) + len(s.Body)
		if size > maxBatchBytes && i > 0 {
			all = all[:i]
			break
		}
	}
	out := make([]*entry.Entry, len(all))
	for i, s := range all {
		out[i] = s.Entry
	}
	return out, nil
}

// allowEvidence reports whether one more rejected entry may be kept as
// evidence this minute.
func (l *link) allowEvidence(now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.evidenceWindow) > time.Minute {
		l.evidenceWindow, l.evidenceCount = now, 0
	}
	l.evidenceCount++
	return l.evidenceCount <= maxRejectEvidence
}
