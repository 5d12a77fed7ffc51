package node

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/peer"
)

// checkpointLoop signs a checkpoint of each of this node's own feeds that
// grew: shortly after writes (batching everything written meanwhile) and
// every checkpoint interval, so a checkpoint is never far behind its feed.
func (n *Node) checkpointLoop() {
	for {
		n.signCheckpoints(n.ctx)
		if !n.sleep(n.cpEvery, n.cpWake) {
			return
		}
		if !n.sleep(n.cpBatch, nil) { // let a burst of writes finish
			return
		}
	}
}

// signCheckpoints signs and stores a checkpoint of every own feed whose
// head is past its newest checkpoint, then wakes the sync loops so they ask
// the other members to cosign.
func (n *Node) signCheckpoints(ctx context.Context) {
	signed := 0
	for _, f := range n.ownFeeds() {
		head := n.head(f)
		size, ok := n.signedSize(f)
		if !ok {
			if c, err := n.store.LatestCheckpoint(ctx, f, n.self); err == nil {
				size = c.Size
			}
			n.setSignedSize(f, size)
		}
		if int64(head.Seq) <= size {
			continue
		}
		if err := n.signCheckpoint(ctx, f, int64(head.Seq)); err != nil {
			if ctx.Err() == nil {
				n.log.Error("sign checkpoint", "channel", f.Channel, "err", err)
			}
			continue
		}
		signed++
	}
	if signed > 0 {
		n.notifyPeers()
	}
}

// signedSize returns the size of the newest checkpoint this node signed of
// its feed f, if the checkpoint loop has looked at f since the start.
func (n *Node) signedSize(f hotline.Feed) (int64, bool) {
	n.cpMu.Lock()
	defer n.cpMu.Unlock()
	size, ok := n.cpSigned[f]
	return size, ok
}

func (n *Node) setSignedSize(f hotline.Feed, size int64) {
	n.cpMu.Lock()
	defer n.cpMu.Unlock()
	n.cpSigned[f] = size
}

// ownFeeds returns this node's feeds that hold entries.
func (n *Node) ownFeeds() []hotline.Feed {
	n.mu.RLock()
	defer n.mu.RUnlock()
	var out []hotline.Feed
	for f := range n.heads {
		if f.Party == n.self {
			out = append(out, f)
		}
	}
	return out
}

func (n *Node) treeReader(ctx context.Context, f hotline.Feed) tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return n.store.TreeHashes(ctx, f, idx) })
}

// signCheckpoint signs the checkpoint of size size of this node's feed f.
func (n *Node) signCheckpoint(ctx context.Context, f hotline.Feed, size int64) error {
	root, err := tlog.TreeHash(size, n.treeReader(ctx, f))
	if err != nil {
		return err
	}
	note, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: checkpoint.Origin(f.Channel, f.Party), Size: size, Root: root}, n.self, n.signing())
	if err != nil {
		return err
	}
	if err := n.store.AddCheckpoint(ctx, f, hotline.StoredCheckpoint{Size: size, Note: note, Time: n.now()}); err != nil {
		return err
	}
	n.setSignedSize(f, size)
	n.metrics.checkpointsSigned.Inc()
	return nil
}

// channelKeys returns the keys a channel's checkpoints may be signed
// and cosigned with: every key of each member's chain, and the key the
// channel's definition names for it.
func (n *Node) channelKeys(ch *hotline.Channel) checkpoint.Keys {
	keys := checkpoint.Keys{}
	for _, m := range ch.Definition.Members {
		keys[m.Party] = n.keysOf(ch)(m.Party)
		for _, k := range n.keys.Keys(m.Party) {
			if !slices.ContainsFunc(keys[m.Party], func(p ed25519.PublicKey) bool { return p.Equal(k.Pub) }) {
				keys[m.Party] = append(keys[m.Party], k.Pub)
			}
		}
	}
	return keys
}

// requestCosignatures asks peer p to cosign the newest checkpoint of each
// of this node's feeds that p holds and has not cosigned yet. cosigned
// caches, per feed, the size p last cosigned.
func (n *Node) requestCosignatures(ctx context.Context, p *pinnedPeer, theirs map[hotline.Feed]peer.FeedHead, cosigned map[hotline.Feed]int64) error {
	party := p.doc.Party
	for _, f := range n.ownFeeds() {
		ch, ok := n.channel(f.Channel)
		if !ok || !ch.IsMember(party) || ch.State != hotline.ChannelActive {
			continue
		}
		old, known := cosigned[f]
		if !known {
			old = 0
			if c, err := n.store.LatestCheckpoint(ctx, f, party); err == nil {
				old = c.Size
			} else if hotline.ErrorCode(err) != hotline.ENOTFOUND {
				return err
			}
			cosigned[f] = old
		}
		if size, ok := n.signedSize(f); ok && (size <= old || int64(theirs[f].Seq) < size) {
			continue // as below, without reading the checkpoint: sync loops come here after every round
		}
		latest, err := n.store.LatestCheckpoint(ctx, f, n.self)
		if hotline.ErrorCode(err) == hotline.ENOTFOUND {
			continue
		} else if err != nil {
			return err
		}
		if latest.Size <= old || int64(theirs[f].Seq) < latest.Size {
			continue // cosigned already, or the peer does not hold it yet
		}
		if err := n.askCosignature(ctx, p, ch, f, old, latest, cosigned); err != nil {
			return err
		}
	}
	return nil
}

func (n *Node) askCosignature(ctx context.Context, p *pinnedPeer, ch *hotline.Channel, f hotline.Feed, old int64, latest *hotline.StoredCheckpoint, cosigned map[hotline.Feed]int64) error {
	party := p.doc.Party
	var proof tlog.TreeProof
	if old > 0 {
		var err error
		if proof, err = tlog.ProveTree(latest.Size, old, n.treeReader(ctx, f)); err != nil {
			return err
		}
	}
	req := checkpoint.AddCheckpoint{OldSize: old, Proof: proof, Note: latest.Note}
	actx, cancel := context.WithTimeout(ctx, cosignTimeout)
	lines, err := p.client.AddCheckpoint(actx, req.Encode())
	cancel()
	var se *peer.StatusError
	if errors.As(err, &se) && se.Code == http.StatusConflict && strings.HasPrefix(se.ContentType, "text/x.tlog.size") {
		size, perr := strconv.ParseInt(strings.TrimSpace(se.Body), 10, 64)
		if perr != nil || size < 0 {
			return fmt.Errorf("%s answered add-checkpoint with a bad size %q", party, se.Body)
		}
		n.log.Info("peer last cosigned another size; asking again from it", "peer", party, "channel", f.Channel, "ours", old, "theirs", size)
		cosigned[f] = size // the next round asks with the peer's size
		if size == latest.Size && old != size {
			// It cosigned this very checkpoint but the answer was lost
			// (a crash or a cut link): ask from that size, which the
			// witness answers with its cosignature again.
			return n.askCosignature(ctx, p, ch, f, size, latest, cosigned)
		}
		return nil
	}
	if errors.As(err, &se) {
		// Refused for a reason a retry will not fix soon (the log has it):
		// do not ask again for this size.
		n.log.Warn("peer refused to cosign checkpoint", "peer", party, "channel", f.Channel, "size", latest.Size, "err", err)
		cosigned[f] = latest.Size
		return nil
	}
	if err != nil {
		return err
	}
	text, _, _ := strings.Cut(string(latest.Note), "\n\n")
	s, err := checkpoint.Open(checkpoint.Merge(latest.Note, []byte(text+"\n\n"+string(lines))), n.channelKeys(ch))
	if err != nil {
		return fmt.Errorf("%s's cosignature: %w", party, err)
	}
	if _, ok := s.Cosigners[party]; !ok {
		return fmt.Errorf("%s answered add-checkpoint without its cosignature", party)
	}
	if err := n.store.AddCheckpoint(ctx, f, hotline.StoredCheckpoint{Size: latest.Size, Note: s.Note, Time: n.now()}); err != nil {
		return err
	}
	cosigned[f] = latest.Size
	n.metrics.cosignatures.WithLabelValues(party, "received").Inc()
	return nil
}

// PeerAddCheckpoint implements peer.Handler: this node acts as a C2SP
// tlog-witness for the feeds of the channels it shares with the caller,
// and, holding those feeds' entries, cosigns a checkpoint only if its root
// is the tree of the entries it holds. A checkpoint that contradicts a
// signed checkpoint or the author's own entries is kept as evidence.
func (n *Node) PeerAddCheckpoint(ctx context.Context, from string, body []byte) ([]byte, error) {
	werr := func(code int, format string, args ...any) error {
		return &peer.WitnessError{Code: code, Size: -1, Msg: fmt.Sprintf(format, args...)}
	}
	req, err := checkpoint.ParseAddCheckpoint(body)
	if err != nil {
		return nil, werr(http.StatusBadRequest, "%v", err)
	}
	text, _, _ := strings.Cut(string(req.Note), "\n\n")
	c, err := checkpoint.ParseBody(text + "\n")
	if err != nil {
		return nil, werr(http.StatusBadRequest, "%v", err)
	}
	chID, author, _ := checkpoint.ParseOrigin(c.Origin)
	ch, ok := n.channel(chID)
	if !ok || !ch.IsMember(author) || !ch.IsMember(from) || author == n.self {
		return nil, werr(http.StatusNotFound, "unknown origin %s: not a feed this node witnesses for %s", c.Origin, from)
	}
	s, err := checkpoint.Open(req.Note, n.channelKeys(ch))
	if err != nil {
		return nil, werr(http.StatusForbidden, "%v", err)
	}
	if req.OldSize > s.Size {
		return nil, werr(http.StatusBadRequest, "old size %d is larger than the checkpoint's %d", req.OldSize, s.Size)
	}
	f := hotline.Feed{Channel: chID, Party: author}

	n.witnessMu.Lock() // check and record atomically, per the tlog-witness protocol
	defer n.witnessMu.Unlock()
	var last *hotline.StoredCheckpoint
	lastSize := int64(0)
	if last, err = n.store.LatestCheckpoint(ctx, f, n.self); err == nil {
		lastSize = last.Size
	} else if hotline.ErrorCode(err) != hotline.ENOTFOUND {
		return nil, err
	}
	if req.OldSize != lastSize {
		return nil, &peer.WitnessError{Code: http.StatusConflict, Size: lastSize, Msg: fmt.Sprintf("last cosigned size is %d", lastSize)}
	}
	// The consistency proof first, as C2SP tlog-witness orders it: one
	// that does not verify is 422, whatever else is wrong.
	switch {
	case last == nil && len(req.Proof) > 0:
		return nil, werr(http.StatusUnprocessableEntity, "consistency proof from size 0 must be empty, got %d hashes", len(req.Proof))
	case last != nil:
		oldCp, err := checkpoint.Open(last.Note, n.channelKeys(ch))
		if err != nil {
			return nil, fmt.Errorf("stored checkpoint: %w", err)
		}
		if oldCp.Size == s.Size && oldCp.Root != s.Root {
			n.checkpointEvidence(ctx, from, f, s)
			return nil, werr(http.StatusConflict, "checkpoint %s size %d has another root than the one this node cosigned; kept as evidence", c.Origin, s.Size)
		}
		if err := tlog.CheckTree(req.Proof, s.Size, s.Root, oldCp.Size, oldCp.Root); err != nil {
			return nil, werr(http.StatusUnprocessableEntity, "consistency proof from size %d: %v", oldCp.Size, err)
		}
	}
	if int64(n.head(f).Seq) < s.Size {
		return nil, werr(http.StatusConflict, "this node holds %d entries of %s; it cosigns only what it holds", n.head(f).Seq, c.Origin)
	}
	ours, err := tlog.TreeHash(s.Size, n.treeReader(ctx, f))
	if err != nil {
		return nil, err
	}
	if ours != s.Root {
		n.checkpointEvidence(ctx, from, f, s)
		return nil, werr(http.StatusConflict, "checkpoint %s size %d does not match the author's entries this node holds; kept as evidence", c.Origin, s.Size)
	}
	line, err := checkpoint.Cosign(text+"\n", n.self, n.signing(), n.now())
	if err != nil {
		return nil, err
	}
	merged := checkpoint.Merge(s.Note, []byte(text+"\n\n"+line))
	if err := n.store.AddCheckpoint(ctx, f, hotline.StoredCheckpoint{Size: s.Size, Note: merged, Time: n.now()}); err != nil {
		if hotline.ErrorCode(err) == hotline.ECONFLICT {
			n.checkpointEvidence(ctx, from, f, s)
			return nil, werr(http.StatusConflict, "a different checkpoint of size %d is stored; kept as evidence", s.Size)
		}
		return nil, err
	}
	n.metrics.cosignatures.WithLabelValues(from, "given").Inc()
	return []byte(line), nil
}

// Proof returns a C2SP tlog-proof of an entry of channel ref, named by its
// id or a prefix of it (8+ hex digits): the entry, its inclusion
// proof and the newest checkpoint of its feed that covers it, preferring
// one cosigned by every other member. If no checkpoint covers it yet, the
// error is EUNAVAILABLE.
func (n *Node) Proof(ctx context.Context, ref, entryRef string) ([]byte, error) {
	ch, st, err := n.resolveEntry(ctx, ref, entryRef)
	if err != nil {
		return nil, err
	}
	f := hotline.Feed{Channel: st.Channel, Party: st.Author}
	cps, err := n.store.Checkpoints(ctx, f)
	if err != nil {
		return nil, err
	}
	var best *hotline.StoredCheckpoint
	for i := range cps {
		c := &cps[i]
		if c.Size < int64(st.Seq) {
			continue
		}
		if best == nil || len(c.Signers) > len(best.Signers) || (len(c.Signers) == len(best.Signers) && c.Size > best.Size) {
			best = c
		}
		if len(c.Signers) == len(ch.Definition.Members) {
			best = c
			break // the smallest fully cosigned checkpoint gives the shortest proof
		}
	}
	if best == nil {
		return nil, hotline.Errorf(hotline.EUNAVAILABLE, "no checkpoint covers %s/%d yet; try again in a few seconds", st.Author, st.Seq)
	}
	incl, err := tlog.ProveRecord(best.Size, int64(st.Seq)-1, n.treeReader(ctx, f))
	if err != nil {
		return nil, err
	}
	p := checkpoint.Proof{Entry: st.Entry.Encode(), Index: int64(st.Seq) - 1, Inclusion: incl, Note: best.Note}
	return p.Encode(), nil
}

// cosignTimeout bounds one add-checkpoint exchange.
const cosignTimeout = 30 * time.Second

// cosignedSizes returns, for each member's feed of ch, the size of the
// largest checkpoint this node holds with every other member's
// cosignature (the author's own signature is on every checkpoint).
func (n *Node) cosignedSizes(ctx context.Context, ch *hotline.Channel) (map[string]int64, error) {
	out := make(map[string]int64, len(ch.Definition.Members))
	for _, author := range ch.Definition.Members {
		f := hotline.Feed{Channel: ch.ID, Party: author.Party}
		size := int64(-1)
		for _, m := range ch.Definition.Members {
			if m.Party == author.Party {
				continue
			}
			c, err := n.store.LatestCheckpoint(ctx, f, m.Party)
			if hotline.ErrorCode(err) == hotline.ENOTFOUND || (err == nil && c == nil) {
				size = 0
				break
			}
			if err != nil {
				return nil, err
			}
			if size < 0 || c.Size < size {
				size = c.Size
			}
		}
		out[author.Party] = max(size, 0)
	}
	return out, nil
}
