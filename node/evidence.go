package node

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
)

// Evidence is what a node keeps of bad input, and it is bounded like
// everything a peer can make the node spend:
//
//   - rejected entries: their bytes (at most one entry's size), at most
//     maxRejectEvidence a minute per peer;
//   - equivocations: the two conflicting signed statements (two entries,
//     or two checkpoints), or, for a checkpoint that misstates the
//     author's own entries, the checkpoint alone, the entries being named
//     by reference to this node's store (see EvidenceFile); at most
//     maxEquivocationsPerFeed records per feed while the node runs;
//   - and for each peer and kind, at most the day's evidence allowance
//     (package quota), so that a flood of rejected entries never crowds
//     out an equivocation.

// maxRejectEvidence bounds how many rejected entries are kept as evidence
// per peer per minute, within the day's allowance.
const maxRejectEvidence = 60

// maxEquivocationsPerFeed bounds the equivocation records kept per feed:
// one proves the author lied; a few show it was not a one-off.
const maxEquivocationsPerFeed = 3

// Kinds of evidence record.
const (
	EvidenceRejected     = "rejected"
	EvidenceEquivocation = "equivocation"
)

// reject logs, counts and keeps evidence of a refused entry.
func (n *Node) reject(from string, e *entry.Entry, err error) {
	n.rejectRaw(from, e.Encode(), err)
}

func (n *Node) rejectRaw(from string, raw []byte, err error) {
	reason := rejectReason(err)
	n.metrics.entriesRejected.WithLabelValues(from, reason).Inc()
	n.logs.Warn(from, "rejected entry from peer", "peer", from, "reason", reason, "err", err)
	p := n.peers[from]
	if reason == "equivocation" || p == nil || !p.link.allowEvidence(n.now()) {
		return // an equivocation is kept as such (see equivocation)
	}
	if len(raw) > entry.MaxEntrySize {
		raw = raw[:entry.MaxEntrySize]
	}
	ev := hotline.Evidence{Time: n.now(), Kind: EvidenceRejected, Peer: from, Detail: err.Error(), Data: raw}
	if e, derr := entry.Decode(raw); derr == nil {
		ev.Channel, ev.Party, ev.Seq = e.Channel, e.Author, e.Seq
	}
	n.keepEvidence(context.Background(), ev)
}

// keepEvidence stores an evidence record within the peer's allowance.
func (n *Node) keepEvidence(ctx context.Context, ev hotline.Evidence) bool {
	if err := n.meter.AdmitEvidence(ev.Peer, ev.Kind, len(ev.Data)); err != nil {
		n.metrics.quotaRefused.WithLabelValues(ev.Peer, "evidence_per_day").Inc()
		n.raiseQuotaAlarms()
		return false
	}
	if err := n.store.AddEvidence(ctx, ev); err != nil {
		n.log.Error("record evidence", "kind", ev.Kind, "err", err)
		return false
	}
	return true
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

// newEquivocation counts an equivocation in feed f and reports whether
// it is still to be kept as a record (see maxEquivocationsPerFeed).
func (n *Node) newEquivocation(f hotline.Feed) bool {
	n.metrics.equivocations.Inc()
	n.equivMu.Lock()
	defer n.equivMu.Unlock()
	n.equivocated[f]++
	return n.equivocated[f] <= maxEquivocationsPerFeed
}

// equivocation keeps both signed entries of one seq as evidence and raises
// the alarm.
func (n *Node) equivocation(ctx context.Context, from string, e *entry.Entry) {
	f := hotline.Feed{Channel: e.Channel, Party: e.Author}
	detail := fmt.Sprintf("%s signed two different entries with seq %d in channel %s", e.Author, e.Seq, e.Channel)
	if !n.newEquivocation(f) {
		n.logs.Warn(from, "equivocation seen again; already kept as evidence", "peer", from, "author", e.Author, "seq", e.Seq, "channel", e.Channel)
		return
	}
	var data []byte
	got, err := n.store.Feed(ctx, f, e.Seq, 1)
	if err == nil && len(got) == 1 {
		data = n.entryEvidence(got[0].Entry, e)
	}
	n.log.Error("EQUIVOCATION", "peer", from, "author", e.Author, "seq", e.Seq, "channel", e.Channel)
	n.keepEvidence(ctx, hotline.Evidence{Time: n.now(), Kind: EvidenceEquivocation, Peer: from, Detail: detail, Data: data,
		Channel: e.Channel, Party: e.Author, Seq: e.Seq})
	n.events.publish(Event{Type: EventAlarm, Channel: e.Channel, Author: e.Author, Seq: e.Seq, Detail: detail})
}

// entryEvidence is the evidence file of two entries with one seq.
func (n *Node) entryEvidence(a, b *entry.Entry) []byte {
	// The key that signs that seq of the feed, which may be older than
	// the party's current key.
	_, vkey, _ := n.keyOf(a.Author)
	if ch, ok := n.channel(a.Channel); ok {
		if m, ok := ch.Definition.Member(a.Author); ok {
			vkey = n.keys.KeyAt(hotline.Feed{Channel: a.Channel, Party: a.Author}, m.Key, a.Seq)
		}
	}
	return (&audit.Evidence{Kind: audit.EntryEquivocation, Channel: a.Channel.String(), Party: a.Author, Key: vkey,
		Detail:  fmt.Sprintf("%s signed two different entries with seq %d", a.Author, a.Seq),
		Entries: [][]byte{a.Encode(), b.Encode()}}).Encode()
}

// checkpointEvidence keeps a checkpoint that contradicts what this node
// holds, and raises the alarm: with a stored checkpoint of the same size
// if there is one (two notes), else as a checkpoint that misstates the
// author's own entries, which stay in this node's store and are named by
// reference: one request cannot make the node copy a feed.
func (n *Node) checkpointEvidence(ctx context.Context, from string, f hotline.Feed, s *checkpoint.Signed) {
	detail := fmt.Sprintf("%s signed a checkpoint of its feed (size %d) that contradicts what this node holds", f.Party, s.Size)
	if !n.newEquivocation(f) {
		n.logs.Warn(from, "contradicting checkpoint seen again; already kept as evidence", "peer", from, "author", f.Party, "size", s.Size)
		return
	}
	_, vkey, _ := n.keyOf(f.Party)
	ev := &audit.Evidence{Channel: f.Channel.String(), Party: f.Party, Key: vkey, Checkpoints: []string{string(s.Note)}, Detail: detail}
	if cps, err := n.checkpointOfSize(ctx, f, s.Size); err == nil && cps != nil {
		ev.Kind = audit.CheckpointConflict
		ev.Checkpoints = append(ev.Checkpoints, string(cps.Note))
	} else {
		ev.Kind = audit.CheckpointMismatch // entries 1 to s.Size by reference
	}
	n.log.Error("EQUIVOCATION", "peer", from, "author", f.Party, "channel", f.Channel, "size", s.Size, "kind", ev.Kind)
	n.keepEvidence(ctx, hotline.Evidence{Time: n.now(), Kind: EvidenceEquivocation, Peer: from, Detail: detail, Data: ev.Encode(),
		Channel: f.Channel, Party: f.Party, Seq: uint64(s.Size)})
	n.events.publish(Event{Type: EventAlarm, Channel: f.Channel, Author: f.Party, Seq: uint64(s.Size), Detail: detail})
}

// checkpointOfSize returns the stored checkpoint of f with size, or nil.
func (n *Node) checkpointOfSize(ctx context.Context, f hotline.Feed, size int64) (*hotline.StoredCheckpoint, error) {
	cps, err := n.store.Checkpoints(ctx, f)
	if err != nil {
		return nil, err
	}
	for i := range cps {
		if cps[i].Size == size {
			return &cps[i], nil
		}
	}
	return nil, nil
}

// EvidenceList returns evidence records, newest first, without their data.
func (n *Node) EvidenceList(ctx context.Context, q hotline.EvidenceQuery) ([]hotline.Evidence, error) {
	if q.Kind != "" && q.Kind != EvidenceRejected && q.Kind != EvidenceEquivocation {
		return nil, hotline.Errorf(hotline.EINVALID, "evidence kind %q: use %s or %s", q.Kind, EvidenceEquivocation, EvidenceRejected)
	}
	if q.Limit <= 0 || q.Limit > 1000 {
		return nil, hotline.Errorf(hotline.EINVALID, "limit %d: give 1 to 1000", q.Limit)
	}
	return n.store.EvidenceList(ctx, q)
}

// EvidenceFile returns evidence record num as a file: its content type,
// and a function that writes it. For an equivocation it is the
// self-contained evidence file `hotline verify` checks (JSON), with the
// author's entries written out from the store when the record names them
// by reference (without their bodies, which the proof does not need), so
// that a long feed is streamed, never held in memory; for a rejected
// entry, its bytes (CBOR).
func (n *Node) EvidenceFile(ctx context.Context, num int64) (string, func(io.Writer) error, error) {
	ev, err := n.store.EvidenceRecord(ctx, num)
	if err != nil {
		return "", nil, err
	}
	verbatim := func(w io.Writer) error {
		_, err := w.Write(ev.Data)
		return err
	}
	if ev.Kind != EvidenceEquivocation {
		return "application/cbor", verbatim, nil
	}
	doc, err := audit.DecodeEvidence(ev.Data)
	if err != nil {
		return "", nil, fmt.Errorf("evidence %d: stored file: %w", num, err)
	}
	if doc.Kind != audit.CheckpointMismatch || len(doc.Entries) > 0 {
		return "application/json", verbatim, nil
	}
	f := hotline.Feed{Channel: ev.Channel, Party: ev.Party}
	return "application/json", func(w io.Writer) error {
		bw := bufio.NewWriterSize(w, 64<<10)
		err := doc.EncodeTo(bw, func(yield func([]byte) error) error {
			for from := uint64(1); from <= ev.Seq; {
				es, err := n.store.Feed(ctx, f, from, int(min(1000, ev.Seq-from+1)))
				if err != nil {
					return err
				}
				if len(es) == 0 {
					return fmt.Errorf("the store lacks %s's entry %d, which the evidence names", f.Party, from)
				}
				for _, st := range es {
					bare := *st.Entry
					bare.Body = nil
					if err := yield(bare.Encode()); err != nil {
						return err
					}
					from = st.Seq + 1
				}
			}
			return nil
		})
		if err != nil {
			return err
		}
		return bw.Flush()
	}, nil
}
