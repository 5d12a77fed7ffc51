package node

import (
	"context"
	"maps"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/peer"
)

// pushBatch is how many entries one push carries at most.
const pushBatch = 512

// link is the state of the sync with one peer, for status and metrics.
type link struct {
	party  string
	notify chan struct{}

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
	evidenceWindow time.Time
	evidenceCount  int
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
// connect and every sync interval, and backs off, with jitter, up to the
// retry cap while the peer cannot be reached.
func (n *Node) syncLoop(p *pinnedPeer) {
	var (
		theirs   map[hotline.Feed]peer.FeedHead // nil: unknown, ask
		cosigned = map[hotline.Feed]int64{}     // own feeds: size the peer last cosigned
		backoff  time.Duration
		lastPull time.Time
	)
	for n.ctx.Err() == nil {
		pullDue := theirs == nil || n.now().Sub(lastPull) >= n.syncInt
		progressed, err := n.syncOnce(p, &theirs, pullDue)
		if err == nil && pullDue {
			lastPull = n.now()
		}
		if err == nil {
			p.link.learnt(maps.Clone(theirs))
		}
		n.countBacklog(p)
		if err != nil {
			theirs = nil
			p.link.failed(n.now(), err)
			n.metrics.peerUp.WithLabelValues(p.doc.Party).Set(0)
			if n.ctx.Err() != nil {
				return
			}
			backoff = min(max(2*backoff, 250*time.Millisecond), n.retry)
			wait := backoff/2 + rand.N(backoff/2+1) // jitter: between half and all of it
			n.log.Debug("peer unreachable; retrying", "peer", p.doc.Party, "in", wait, "err", err)
			if !n.sleep(wait, nil) {
				return
			}
			continue
		}
		backoff = 0
		n.metrics.peerUp.WithLabelValues(p.doc.Party).Set(1)
		if progressed {
			continue
		}
		// Caught up: ask the peer to cosign this node's new checkpoints.
		if err := n.requestCosignatures(n.ctx, p, theirs, cosigned); err != nil && n.ctx.Err() == nil {
			n.log.Warn("cosignature request failed", "peer", p.doc.Party, "err", err)
		}
		if !n.sleep(n.syncInt, p.link.notify) {
			return
		}
	}
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
func (n *Node) syncOnce(p *pinnedPeer, theirs *map[hotline.Feed]peer.FeedHead, pull bool) (progressed bool, err error) {
	ctx, cancel := context.WithTimeout(n.ctx, 5*time.Minute)
	defer cancel()
	party := p.doc.Party
	if *theirs == nil {
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
		*theirs = m
	}
	if pull {
		raw, err := p.client.Pull(ctx, n.headsShared(party), pushBatch)
		if err != nil {
			return false, err
		}
		if len(raw) > 0 {
			res, err := n.receive(ctx, party, raw)
			if err != nil {
				return false, err
			}
			p.link.count(0, uint64(res.Stored))
			progressed = res.Stored > 0
		}
	}
	heads := make([]peer.FeedHead, 0, len(*theirs))
	for _, h := range *theirs {
		heads = append(heads, h)
	}
	entries, err := n.lacking(ctx, party, heads, pushBatch)
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
		(*theirs)[hotline.Feed{Channel: h.Channel, Party: h.Party}] = h
	}
	if len(res.Rejected) > 0 {
		n.log.Warn("peer refused entries", "peer", party, "refused", len(res.Rejected), "first", res.Rejected[0].Error)
		if res.Stored == 0 && res.Duplicates == 0 {
			// No progress: back off rather than resend the same batch in a
			// tight loop; ask for fresh heads next time.
			return false, errNoProgress(res.Rejected[0].Error)
		}
	}
	if res.Stored == 0 && res.Duplicates > 0 && len(res.Heads) == 0 {
		*theirs = nil // our view of its heads is stale: ask again
	}
	return true, nil
}

type errNoProgress string

func (e errNoProgress) Error() string { return "peer refused every entry pushed: " + string(e) }

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

func (l *link) failed(now time.Time, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.up, l.lastError, l.lastErrorAt = false, err.Error(), now
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
