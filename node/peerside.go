package node

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/peer"
)

// shares reports whether this node syncs channel ch with party: party is
// a member, and this party proposed or accepted the channel, or party
// proposed it (so that its proposer knows the invitation arrived). An
// invitation is never relayed to the other members: junk proposals do not
// travel between honest nodes.
func (n *Node) shares(ch *hotline.Channel, party string) bool {
	return ch.IsMember(party) && (ch.State.Joined() || ch.Definition.Proposer == party)
}

// headsShared lists this node's heads of every feed of every channel it
// shares with party, ordered by channel id, then party.
func (n *Node) headsShared(party string) []peer.FeedHead {
	n.mu.RLock()
	var out []peer.FeedHead
	for id, ch := range n.channels {
		if !n.shares(ch, party) {
			continue
		}
		for _, m := range ch.Definition.Members {
			if h := n.heads[hotline.Feed{Channel: id, Party: m.Party}]; h.Seq > 0 {
				out = append(out, peer.FeedHead{Channel: id, Party: m.Party, Seq: h.Seq, ID: h.ID})
			}
		}
	}
	n.mu.RUnlock()
	slices.SortFunc(out, func(a, b peer.FeedHead) int {
		if c := bytes.Compare(a.Channel[:], b.Channel[:]); c != 0 {
			return c
		}
		return strings.Compare(a.Party, b.Party)
	})
	return out
}

// headsPage returns the page of heads (sorted as headsShared) of the
// channels above after: at most peer.MaxHeadsPage heads, never splitting
// a channel, with Through set when more follow.
func headsPage(all []peer.FeedHead, after *entry.ChannelID) *peer.Heads {
	i := 0
	if after != nil {
		i = sort.Search(len(all), func(i int) bool { return bytes.Compare(all[i].Channel[:], after[:]) > 0 })
	}
	j := i
	for j < len(all) && (j-i < peer.MaxHeadsPage || all[j].Channel == all[j-1].Channel) {
		j++
	}
	page := &peer.Heads{Heads: all[i:j], After: after}
	if j < len(all) {
		through := all[j-1].Channel
		page.Through = &through
	}
	return page
}

// PeerHeads implements peer.Handler.
func (n *Node) PeerHeads(ctx context.Context, party string, after *entry.ChannelID) (*peer.Heads, error) {
	return headsPage(n.headsShared(party), after), nil
}

// PeerPush implements peer.Handler.
func (n *Node) PeerPush(ctx context.Context, from string, raw [][]byte) (*peer.PushResult, error) {
	n.heardFrom(from)
	return n.receive(ctx, from, raw)
}

// PeerPull implements peer.Handler.
func (n *Node) PeerPull(ctx context.Context, party string, page *peer.Heads, limit int) ([]*entry.Entry, error) {
	n.heardFrom(party)
	theirs := make(map[hotline.Feed]uint64, len(page.Heads))
	for _, h := range page.Heads {
		theirs[hotline.Feed{Channel: h.Channel, Party: h.Party}] = h.Seq
	}
	return n.lacking(ctx, party, theirs, limit, page.Covers, nil)
}

// receive verifies entries from a peer, in parallel across cores, then
// hands those that verified to the writer.
func (n *Node) receive(ctx context.Context, from string, raw [][]byte) (*peer.PushResult, error) {
	n.metrics.entriesReceived.WithLabelValues(from).Add(float64(len(raw)))
	if err := n.admit(from, len(raw)); err != nil {
		return nil, err
	}
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
			res.Rejected = append(res.Rejected, peer.Rejection{ID: id, Error: errs[i].Error(), Reason: rejectReason(errs[i])})
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
// encoding, the limits, the author is a pinned party, and the body; and
// it tries the signature under the author's recent keys.
func (n *Node) verify(raw []byte) (*verified, error) {
	e, err := entry.Decode(raw)
	if err != nil {
		return nil, reject(decodeReason(err), "%v", err)
	}
	v := &verified{e: e}
	if _, _, ok := n.keyOf(e.Author); !ok && e.Author != n.self {
		return v, reject("unknown_author", "entry %s/%d is by %s, a party this node has not pinned", e.Author, e.Seq, e.Author)
	}
	if err := e.CheckBody(); err != nil {
		return v, reject("signature", "entry %s/%d: %v", e.Author, e.Seq, err)
	}
	// The party's newest key, then the one before: one of them signs
	// nearly every entry. The writer checks the signature is by the key
	// valid at the entry's place in its feed (checkSignature), verifying
	// again only under a key not tried here.
	for _, k := range slices.Backward(n.keys.Recent(e.Author)) {
		if e.Verify(k.Pub) == nil {
			v.signedBy = k.Verifier
			break
		}
		v.tried = append(v.tried, k.Verifier)
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

// lacking returns up to limit entries of the channels shared with party
// (and covered by covers) that party does not hold according to theirs,
// its heads, skipping the feeds in skip. Party's own feeds are never
// sent back to it. Each channel behind gets its share of the batch, so a
// flood in one channel never holds up another; within a channel,
// entries come in this node's storage order (a causal order), and
// channels come in the order of their oldest entry sent.
func (n *Node) lacking(ctx context.Context, party string, theirs map[hotline.Feed]uint64, limit int, covers func(entry.ChannelID) bool, skip func(hotline.Feed) bool) ([]*entry.Entry, error) {
	type want struct {
		f    hotline.Feed
		from uint64
	}
	byChannel := make(map[entry.ChannelID][]want)
	n.mu.RLock()
	for id, ch := range n.channels {
		if !n.shares(ch, party) || (covers != nil && !covers(id)) {
			continue
		}
		for _, m := range ch.Definition.Members {
			f := hotline.Feed{Channel: id, Party: m.Party}
			if m.Party != party && n.heads[f].Seq > theirs[f] && (skip == nil || !skip(f)) {
				byChannel[id] = append(byChannel[id], want{f, theirs[f] + 1})
			}
		}
	}
	n.mu.RUnlock()
	if len(byChannel) == 0 {
		return nil, nil
	}
	share := max(1, (limit+len(byChannel)-1)/len(byChannel))
	var chunks [][]*hotline.Stored
	for _, wants := range byChannel {
		var chunk []*hotline.Stored
		for _, w := range wants {
			got, err := n.store.Feed(ctx, w.f, w.from, share)
			if err != nil {
				return nil, err
			}
			chunk = append(chunk, got...)
		}
		slices.SortFunc(chunk, func(a, b *hotline.Stored) int { return cmp.Compare(a.Local, b.Local) })
		if len(chunk) > share {
			chunk = chunk[:share]
		}
		if len(chunk) > 0 {
			chunks = append(chunks, chunk)
		}
	}
	slices.SortFunc(chunks, func(a, b []*hotline.Stored) int { return cmp.Compare(a[0].Local, b[0].Local) })
	// Take the channels' entries in turn, and bound the batch by size
	// too, so one request over a slow bearer ends in reasonable time
	// (1 MiB is under two minutes at 10 kB/s).
	var out []*entry.Entry
	size := 0
	for k := 0; len(chunks) > 0; {
		if k >= len(chunks) {
			k = 0
		}
		s := chunks[k][0]
		size += len(s.HeaderBytes) + len(s.Sig) + len(s.Body)
		if len(out) == limit || (size > maxBatchBytes && len(out) > 0) {
			break
		}
		out = append(out, s.Entry)
		if chunks[k] = chunks[k][1:]; len(chunks[k]) == 0 {
			chunks = slices.Delete(chunks, k, k+1) // the next channel moves into place k
		} else {
			k++
		}
	}
	return out, nil
}
