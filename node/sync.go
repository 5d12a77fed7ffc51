package node

import (
	"context"
	"errors"
	"maps"
	"math/rand/v2"
	"net/http"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/peer"
	"github.com/hotline-project/hotline/quota"
)

// pushBatch is how many entries one push or pull carries at most: the
// protocol's limit, since a node back from an outage catches up a commit
// per batch, and each commit has a cost of its own (1,024 caught up 7%
// faster than 512; more would need peers to accept larger batches). The
// batch is bounded in bytes too (maxBatchBytes).
const pushBatch = peer.MaxBatchEntries

// link is the state of the sync with one peer, for status and metrics.
type link struct {
	party   string
	notify  chan struct{}
	reached chan struct{} // the peer reached this node: end a backoff

	mu             sync.Mutex
	up             bool
	since          time.Time // when the link was set up or last heard; silence counts from here
	silent         bool      // the silence alarm is raised
	lastContact    time.Time
	lastError      string
	lastErrorAt    time.Time
	rtt            time.Duration
	pushed, pulled uint64
	known          map[hotline.Feed]peer.FeedHead // the peer's heads as last learnt; kept while it is unreachable
	evidenceWindow time.Time                      // rejected entries kept as evidence: the minute counted
	evidenceCount  int                            // and how many in it
}

// LinkStatus is what a node knows of its link to one peer.
type LinkStatus struct {
	Party       string                `json:"party"`
	Endpoints   []peer.EndpointStatus `json:"endpoints"` // in order of preference
	Up          bool                  `json:"up"`
	Silent      bool                  `json:"silent"` // the silence alarm is raised
	LastContact *time.Time            `json:"last_contact"`
	RTT         time.Duration         `json:"rtt_ns"`
	Backlog     int                   `json:"backlog"`  // entries the peer lacks (not yet receipted by it), against its heads as last learnt
	Incoming    int                   `json:"incoming"` // entries the peer holds that this node lacks, as far as known: catch-up still to come
	Pushed      uint64                `json:"pushed"`
	Pulled      uint64                `json:"pulled"`
	LastError   string                `json:"last_error,omitempty"`
	LastErrorAt *time.Time            `json:"last_error_at,omitempty"`
	// Usage is what the party's entries take in this node's store, against
	// its quotas (hotline status shows it beside the limits).
	Usage quota.PartyUsage `json:"usage"`
}

// Links returns the status of every peer link, sorted by party.
func (n *Node) Links() []LinkStatus {
	var out []LinkStatus
	for _, name := range n.Peers() {
		p := n.peers[name]
		l := p.link
		l.mu.Lock()
		s := LinkStatus{Party: name, Endpoints: p.client.Endpoints(), Up: l.up, Silent: l.silent, RTT: l.rtt,
			Pushed: l.pushed, Pulled: l.pulled, LastError: l.lastError}
		known := l.known
		if !l.lastContact.IsZero() {
			t := l.lastContact
			s.LastContact = &t
		}
		if !l.lastErrorAt.IsZero() {
			t := l.lastErrorAt
			s.LastErrorAt = &t
		}
		l.mu.Unlock()
		s.Backlog, s.Incoming = n.backlog(name, known)
		s.Usage = n.meter.Usage(name)
		out = append(out, s)
	}
	return out
}

// notifyPeers wakes every sync loop; a loop already awake loses nothing.
func (n *Node) notifyPeers() {
	select {
	case n.cpWake <- struct{}{}:
	default:
	}
	for _, p := range n.peers {
		select {
		case p.link.notify <- struct{}{}:
		default:
		}
	}
}

// syncLoop keeps one peer in sync until the node closes: it pushes what
// the peer lacks as soon as it is written, pulls what this node lacks on
// connect and every sync interval (and at once again after a pull that
// came back full), and backs off, with jitter, up to the retry cap while
// the peer cannot be reached, until the peer reaches this node. When the peer asks it to
// slow down (429) or this node's own limit on the peer is reached, it
// waits as long as asked, without counting the link as down.
func (n *Node) syncLoop(p *pinnedPeer) {
	st := &syncState{cosigned: map[hotline.Feed]int64{}, skips: map[hotline.Feed]*feedSkip{}}
	var backoff time.Duration
	for n.ctx.Err() == nil {
		pullDue := st.theirs == nil || st.morePull || n.now().Sub(st.lastPull) >= n.syncInt
		progressed, err := n.syncOnce(p, st, pullDue)
		if err == nil {
			p.link.learnt(maps.Clone(st.theirs))
			n.maybeSwitchTLS() // the peer may now hold this party's key change
		}
		n.countBacklog(p)
		if wait, ok := throttled(err); ok {
			n.log.Debug("peer link throttled; waiting", "peer", p.doc.Party, "for", wait, "err", err)
			if !n.sleep(wait+rand.N(wait/10+1), nil) { // as long as asked, and a little jitter
				return
			}
			continue
		}
		if err != nil {
			st.theirs = nil
			if p.link.failed(n.now(), err) && n.ctx.Err() == nil {
				// Operators' views show the link down at once, not at
				// their next refresh.
				n.events.publish(Event{Type: EventLink, By: p.doc.Party, Detail: "the link to " + p.doc.Party + " is down"})
			}
			n.metrics.peerUp.WithLabelValues(p.doc.Party).Set(0)
			if n.ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, 250*time.Millisecond), n.retry)
			wait := backoff/2 + rand.N(backoff/2+1) // jitter: between half and all of it
			n.log.Debug("peer unreachable; retrying", "peer", p.doc.Party, "in", wait, "err", err)
			t := time.NewTimer(wait)
			select {
			case <-t.C:
			case <-p.link.reached:
				// The peer reached this node: it is back, so this node
				// serves it at once rather than at the end of a backoff
				// that may have grown to the retry cap.
				backoff = 0
				n.metrics.peerReached.WithLabelValues(p.doc.Party).Inc()
			case <-n.ctx.Done():
				t.Stop()
				return
			}
			t.Stop()
			continue
		}
		backoff = 0
		n.metrics.peerUp.WithLabelValues(p.doc.Party).Set(1)
		if progressed {
			continue
		}
		// Caught up: ask the peer to cosign this node's new checkpoints.
		if err := n.requestCosignatures(n.ctx, p, st.theirs, st.cosigned); err != nil && n.ctx.Err() == nil {
			n.log.Warn("cosignature request failed", "peer", p.doc.Party, "err", err)
		}
		if !n.sleep(n.syncInt, p.link.notify) {
			return
		}
	}
}

// syncState is what a sync loop knows of its peer between rounds.
type syncState struct {
	theirs   map[hotline.Feed]peer.FeedHead // nil: unknown, ask
	cosigned map[hotline.Feed]int64         // own feeds: size the peer last cosigned
	lastPull time.Time
	// morePull is set when the last pull came back full: the peer may
	// hold more, so the next round pulls again at once rather than after
	// the sync interval (a node back from an outage catches up at the
	// speed it verifies, not a batch per interval).
	morePull bool
	// skips are the feeds the peer refused entries of: they are not
	// pushed again until the wait is over, so the other feeds go on.
	skips map[hotline.Feed]*feedSkip
}

// feedSkip is how long a feed is held back from a peer that refused it.
type feedSkip struct {
	until   time.Time
	backoff time.Duration
}

// throttled reports whether err asks the sync loop to wait rather than
// count the link as down: the peer answered 429, or this node's own
// limit on the peer's entries was reached; and for how long.
func throttled(err error) (time.Duration, bool) {
	var se *peer.StatusError
	var be *peer.BusyError
	switch {
	case errors.As(err, &se) && se.Code == http.StatusTooManyRequests:
		return max(se.RetryAfter, time.Second), true
	case errors.As(err, &be):
		return max(be.RetryAfter, 100*time.Millisecond), true
	}
	return 0, false
}

// sleep waits for d, a wake-up on wake, or shutdown; it reports false on
// shutdown.
func (n *Node) sleep(d time.Duration, wake chan struct{}) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-wake:
	case <-n.ctx.Done():
		return false
	}
	return true
}

// syncOnce does one round with a peer; progressed reports that it pushed
// or pulled something, so another round should follow at once.
func (n *Node) syncOnce(p *pinnedPeer, st *syncState, pull bool) (progressed bool, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Minute)
	defer cancel()
	party := p.doc.Party
	if st.theirs == nil {
		start := time.Now()
		heads, err := p.client.Heads(ctx)
		if err != nil {
			return false, err
		}
		p.link.contact(n.now(), time.Since(start))
		m := make(map[hotline.Feed]peer.FeedHead, len(heads))
		for _, h := range heads {
			m[hotline.Feed{Channel: h.Channel, Party: h.Party}] = h
		}
		st.theirs = m
	}
	if pull {
		pulled, full, err := n.pullFrom(ctx, p)
		// More to pull at once if the batch came back full, or if the
		// peer's heads as last learnt are still ahead of this node's (a
		// batch shared out over several channels can come back short).
		st.morePull = err == nil && pulled > 0 && (full || n.behind(party, st.theirs))
		if wait, ok := throttled(err); ok {
			// Pulling waits (the peer is busy, or it sent more than this
			// node verifies from it), but pushing this node's own entries
			// does not: the next pull is due after the wait.
			st.lastPull = n.now().Add(wait - n.syncInt)
		} else if err != nil {
			return false, err
		} else {
			st.lastPull = n.now()
		}
		progressed = pulled > 0
	}
	now := n.now()
	skip := func(f hotline.Feed) bool {
		s := st.skips[f]
		return s != nil && now.Before(s.until)
	}
	theirs := make(map[hotline.Feed]uint64, len(st.theirs))
	for f, h := range st.theirs {
		theirs[f] = h.Seq
	}
	entries, err := n.lacking(ctx, party, theirs, pushBatch, nil, skip)
	if err != nil {
		return false, err
	}
	if len(entries) == 0 {
		return progressed, nil
	}
	start := time.Now()
	res, err := p.client.Push(ctx, entries)
	if err != nil {
		return false, err
	}
	p.link.contact(n.now(), time.Since(start))
	p.link.count(uint64(res.Stored), 0)
	for _, h := range res.Heads {
		st.theirs[hotline.Feed{Channel: h.Channel, Party: h.Party}] = h
	}
	n.noteRefusals(party, st, entries, res)
	if res.Stored == 0 && res.Duplicates == 0 {
		// Everything was refused: those feeds wait now; ask for fresh heads
		// next time, in case our view of the peer is stale.
		st.theirs = nil
		return false, nil
	}
	if res.Stored == 0 && res.Duplicates > 0 && len(res.Heads) == 0 {
		st.theirs = nil // our view of its heads is stale: ask again
	}
	return true, nil
}

// behind reports whether any feed this node shares with party is ahead
// at the peer, by its heads as last learnt.
func (n *Node) behind(party string, theirs map[hotline.Feed]peer.FeedHead) bool {
	n.mu.RLock()
	defer n.mu.RUnlock()
	for f, h := range theirs {
		if ch, ok := n.channels[f.Channel]; ok && n.shares(ch, party) && h.Seq > n.heads[f].Seq {
			return true
		}
	}
	return false
}

// pullFrom pulls what this node lacks from peer p, a page of its heads at
// a time, up to one batch in all, and stores it. It returns how many
// entries were stored, and whether the batch came back full (the peer
// may hold more).
func (n *Node) pullFrom(ctx context.Context, p *pinnedPeer) (stored int, full bool, err error) {
	party := p.doc.Party
	all := n.headsShared(party)
	var after *entry.ChannelID
	got := 0
	for {
		page := headsPage(all, after)
		raw, err := p.client.Pull(ctx, page, pushBatch-got)
		if err != nil {
			return stored, false, err
		}
		if len(raw) > 0 {
			res, err := n.receive(ctx, party, raw)
			if err != nil {
				return stored, false, err
			}
			p.link.count(0, uint64(res.Stored))
			stored += res.Stored
			got += len(raw)
		}
		if got >= pushBatch {
			return stored, stored > 0, nil
		}
		if page.Through == nil {
			return stored, false, nil
		}
		after = page.Through
	}
}

// noteRefusals holds back, for a while, the feeds whose entries the peer
// refused in a push: as long as it asks for an entry refused by one of
// its limits, else backing off from a second to the retry cap. A feed
// the peer stored entries of is pushed again at once.
func (n *Node) noteRefusals(party string, st *syncState, sent []*entry.Entry, res *peer.PushResult) {
	if len(res.Rejected) == 0 {
		if len(st.skips) > 0 {
			for _, e := range sent {
				delete(st.skips, hotline.Feed{Channel: e.Channel, Party: e.Author})
			}
		}
		return
	}
	feedOf := make(map[entry.ID]hotline.Feed, len(sent))
	for _, e := range sent {
		feedOf[e.ID()] = hotline.Feed{Channel: e.Channel, Party: e.Author}
	}
	refused := make(map[hotline.Feed]bool)
	now := n.now()
	for _, r := range res.Rejected {
		f, ok := feedOf[r.ID]
		if !ok || refused[f] {
			continue
		}
		refused[f] = true
		s := st.skips[f]
		if s == nil {
			s = &feedSkip{}
			st.skips[f] = s
		}
		if r.Reason == peer.ReasonQuota {
			s.until = now.Add(max(time.Duration(r.RetryAfterMS)*time.Millisecond, 50*time.Millisecond))
		} else {
			s.backoff = min(max(2*s.backoff, time.Second), n.retry)
			s.until = now.Add(s.backoff)
		}
	}
	for _, f := range feedOf {
		if !refused[f] {
			delete(st.skips, f)
		}
	}
	n.logs.Warn(party, "peer refused entries", "peer", party, "refused", len(res.Rejected), "stored", res.Stored, "first", res.Rejected[0].Error)
}

// contact records an answer from the peer to this node.
func (l *link) contact(now time.Time, rtt time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.up, l.lastContact, l.since, l.rtt = true, now, now, rtt
}

// heard records a request from the peer to this node.
func (l *link) heard(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.since = now
}

// checkSilence reports how long the peer has been silent, and whether the
// silence alarm changed state (raised when silent for longer than limit,
// cleared when heard again).
func (l *link) checkSilence(now time.Time, limit time.Duration) (silentFor time.Duration, changed, silent bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.since.IsZero() {
		l.since = now
	}
	silentFor = now.Sub(l.since)
	silent = silentFor > limit
	changed = silent != l.silent
	l.silent = silent
	return silentFor, changed, silent
}

// failed records a failed round with the peer, and reports whether the
// link was up until now.
func (l *link) failed(now time.Time, err error) (wasUp bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	wasUp = l.up
	l.up, l.lastError, l.lastErrorAt = false, err.Error(), now
	return wasUp
}

func (l *link) count(pushed, pulled uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pushed += pushed
	l.pulled += pulled
}

// learnt records the peer's heads after a round; the map is not changed
// afterwards, so readers may use it without the lock.
func (l *link) learnt(heads map[hotline.Feed]peer.FeedHead) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.known = heads
}

// countBacklog updates the backlog gauges of a peer against its heads as
// last learnt, so they keep growing while the peer is unreachable.
func (n *Node) countBacklog(p *pinnedPeer) {
	p.link.mu.Lock()
	known := p.link.known
	p.link.mu.Unlock()
	out, in := n.backlog(p.doc.Party, known)
	n.metrics.peerBacklog.WithLabelValues(p.doc.Party).Set(float64(out))
	n.metrics.peerIncoming.WithLabelValues(p.doc.Party).Set(float64(in))
}

// backlog counts, from heads alone, how many entries party lacks of the
// feeds this node shares with it (out), and how many of its heads are
// ahead of this node's (in), so catch-up progress costs no store reads.
func (n *Node) backlog(party string, theirs map[hotline.Feed]peer.FeedHead) (out, in int) {
	for _, h := range n.headsShared(party) {
		if h.Party == party {
			continue
		}
		if t := theirs[hotline.Feed{Channel: h.Channel, Party: h.Party}]; h.Seq > t.Seq {
			out += int(h.Seq - t.Seq)
		}
	}
	n.mu.RLock()
	defer n.mu.RUnlock()
	for f, t := range theirs {
		if f.Party == n.self {
			continue
		}
		if h := n.heads[f]; t.Seq > h.Seq {
			in += int(t.Seq - h.Seq)
		}
	}
	return out, in
}
