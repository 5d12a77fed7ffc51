// Package quota bounds what other parties can make this node spend. The
// other side of a hotline may be the adversary, and even a pinned peer
// sending perfectly valid traffic must not be able to exhaust the node:
// each resource it can consume has a limit here, counted per party (and
// per channel, so that a flood in one channel leaves the others alone).
//
// A Meter counts:
//
//   - entries per second delivered by each peer (a token bucket over the
//     entries it pushes or that this node pulls from it: the CPU their
//     verification costs), and per channel;
//   - bytes of each party's entries stored per UTC day, per party and per
//     channel, and in all (the party's share of the store);
//   - evidence records and bytes per peer per day, for each kind.
//
// Past a limit, the Meter refuses with an *Exceeded error that says which
// limit, for whom, and when to try again; it reports each limit's first
// refusal once (Refused) so the node raises one alarm, not one per entry.
// Requests, bytes in flight and connections are bounded where they are
// read, in package peer.
package quota

import (
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// Limits are the bounds a node keeps against each other party. A zero
// field means no limit of that kind.
type Limits struct {
	// PeerEntriesPerSecond is the sustained rate of entries one peer's
	// node may deliver, pushed or pulled, before verification; bursts of
	// BurstSeconds worth are allowed.
	PeerEntriesPerSecond float64
	// ChannelEntriesPerSecond is the same for other parties' entries in
	// one channel, checked before storing.
	ChannelEntriesPerSecond float64
	// PeerBytesPerDay bounds the bytes of one party's entries stored per
	// UTC day; ChannelBytesPerDay those of other parties' entries in one
	// channel.
	PeerBytesPerDay, ChannelBytesPerDay int64
	// PeerStoreBytes bounds the bytes of one party's entries in the store
	// in all: its share of the store.
	PeerStoreBytes int64
	// EvidencePerDay and EvidenceBytesPerDay bound the evidence records
	// kept per peer per UTC day, for each kind separately, so a flood of
	// rejected entries never crowds out the evidence of an equivocation.
	EvidencePerDay, EvidenceBytesPerDay int64
}

// BurstSeconds is how many seconds of a rate limit a burst may take at
// once: catching up after an outage starts at full speed.
const BurstSeconds = 10

// Names of the limits, as they appear in errors, alarms and metrics.
const (
	PeerRate      = "peer_entries_per_second"
	ChannelRate   = "channel_entries_per_second"
	PeerDaily     = "peer_bytes_per_day"
	ChannelDaily  = "channel_bytes_per_day"
	PeerStore     = "peer_store_share"
	EvidenceDaily = "evidence_per_day"
	Invitations   = "invitations_per_peer"
)

// Exceeded is a refusal: Party (the peer, or the author of the entries)
// has reached Limit; RetryAfter says when it may succeed again.
type Exceeded struct {
	Limit      string
	Party      string
	Channel    entry.ChannelID // for channel limits
	Detail     string
	RetryAfter time.Duration
}

func (e *Exceeded) Error() string {
	return fmt.Sprintf("quota %s of %s reached: %s; retry after %s", e.Limit, e.Party, e.Detail, e.RetryAfter.Round(time.Second))
}

// bucket is a token bucket: rate tokens a second, up to burst.
type bucket struct {
	tokens float64
	last   time.Time
}

func (b *bucket) take(now time.Time, rate, n float64) (time.Duration, bool) {
	burst := max(rate*BurstSeconds, n)
	if b.last.IsZero() {
		b.tokens = burst
	} else if d := now.Sub(b.last).Seconds(); d > 0 {
		b.tokens = min(burst, b.tokens+d*rate)
	}
	b.last = now
	if b.tokens >= n {
		b.tokens -= n
		return 0, true
	}
	return time.Duration(math.Ceil((n-b.tokens)/rate*1000)) * time.Millisecond, false
}

// give returns tokens taken for entries that were not stored after all.
func (b *bucket) give(rate, n float64) { b.tokens = min(max(rate*BurstSeconds, n), b.tokens+n) }

type evKey struct{ peer, kind string }

// Meter counts what each party has consumed. It is safe for concurrent
// use.
type Meter struct {
	limits Limits
	now    func() time.Time

	mu         sync.Mutex
	day        int64 // the UTC day the daily counts are for
	peerRate   map[string]*bucket
	chanRate   map[entry.ChannelID]*bucket
	total      map[string]int64 // bytes of each party's entries, in all
	daily      map[string]int64 // bytes of each party's entries today
	chanDaily  map[entry.ChannelID]int64
	evidence   map[evKey]*hotline.EvidenceCount
	refusals   map[string]bool // "limit/party" refused already today
	refusedLog []string
}

// New returns a meter with limits, on the clock now (nil: time.Now).
func New(l Limits, now func() time.Time) *Meter {
	if now == nil {
		now = time.Now
	}
	m := &Meter{limits: l, now: now, peerRate: make(map[string]*bucket), chanRate: make(map[entry.ChannelID]*bucket)}
	m.resetDay(hotline.Day(now()))
	m.total = make(map[string]int64)
	return m
}

func (m *Meter) resetDay(day int64) {
	m.day = day
	m.daily = make(map[string]int64)
	m.chanDaily = make(map[entry.ChannelID]int64)
	m.evidence = make(map[evKey]*hotline.EvidenceCount)
	m.refusals = make(map[string]bool)
}

// rollover starts a new day's counts when the UTC day has changed.
func (m *Meter) rollover(now time.Time) {
	if d := hotline.Day(now); d != m.day {
		m.resetDay(d)
	}
}

// untilTomorrow is how long until the daily counts start again.
func untilTomorrow(now time.Time) time.Duration {
	y, mo, d := now.UTC().Date()
	return time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC).Sub(now)
}

// Load sets the counts from the store at start-up: usage in total and
// today (hotline.Store.Usage) and today's evidence (EvidenceUsage), so a
// restart gives nobody a fresh allowance.
func (m *Meter) Load(total, today []hotline.Usage, evidence []hotline.EvidenceCount) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollover(m.now())
	for _, u := range total {
		m.total[u.Party] += u.Bytes
	}
	for _, u := range today {
		m.daily[u.Party] += u.Bytes
		m.chanDaily[u.Channel] += u.Bytes
	}
	for _, c := range evidence {
		e := m.evidenceCount(c.Peer, c.Kind)
		e.Records += c.Records
		e.Bytes += c.Bytes
	}
}

// AdmitEntries takes n entries from peer's rate, before they are
// verified; a refusal says how long to wait. Nothing is counted when it
// is refused.
func (m *Meter) AdmitEntries(peer string, n int) error {
	r := m.limits.PeerEntriesPerSecond
	if r <= 0 || n == 0 {
		return nil
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	b := m.peerRate[peer]
	if b == nil {
		b = &bucket{}
		m.peerRate[peer] = b
	}
	wait, ok := b.take(m.now(), r, float64(n))
	if ok {
		return nil
	}
	return m.refuse(&Exceeded{Limit: PeerRate, Party: peer, RetryAfter: wait,
		Detail: fmt.Sprintf("%d entries at once, over the %g entries a second this node verifies from one peer", n, r)})
}

// Reserve counts one entry of author in channel ch, of size bytes, that
// is about to be stored, or refuses it without counting it. A reserved
// entry that is not stored after all is given back with Release.
func (m *Meter) Reserve(author string, ch entry.ChannelID, size int64) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.rollover(now)
	l := m.limits
	switch {
	case l.PeerStoreBytes > 0 && m.total[author]+size > l.PeerStoreBytes:
		return m.refuse(&Exceeded{Limit: PeerStore, Party: author, RetryAfter: time.Hour,
			Detail: fmt.Sprintf("its entries take %d MiB of this node's store, its whole share of %d MiB", m.total[author]>>20, l.PeerStoreBytes>>20)})
	case l.PeerBytesPerDay > 0 && m.daily[author]+size > l.PeerBytesPerDay:
		return m.refuse(&Exceeded{Limit: PeerDaily, Party: author, RetryAfter: untilTomorrow(now),
			Detail: fmt.Sprintf("%d MiB of its entries stored today, the most one party may add in a day", l.PeerBytesPerDay>>20)})
	case l.ChannelBytesPerDay > 0 && m.chanDaily[ch]+size > l.ChannelBytesPerDay:
		return m.refuse(&Exceeded{Limit: ChannelDaily, Party: author, Channel: ch, RetryAfter: untilTomorrow(now),
			Detail: fmt.Sprintf("%d MiB of other parties' entries stored today in channel %s, the most one channel may add in a day", l.ChannelBytesPerDay>>20, ch.String()[:8])})
	}
	if r := l.ChannelEntriesPerSecond; r > 0 {
		b := m.chanRate[ch]
		if b == nil {
			b = &bucket{}
			m.chanRate[ch] = b
		}
		if wait, ok := b.take(now, r, 1); !ok {
			return m.refuse(&Exceeded{Limit: ChannelRate, Party: author, Channel: ch, RetryAfter: wait,
				Detail: fmt.Sprintf("more than %g entries a second in channel %s", r, ch.String()[:8])})
		}
	}
	m.total[author] += size
	m.daily[author] += size
	m.chanDaily[ch] += size
	return nil
}

// Release gives back an entry counted by Reserve that was not stored.
func (m *Meter) Release(author string, ch entry.ChannelID, size int64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.total[author] -= size
	m.daily[author] -= size
	m.chanDaily[ch] -= size
	if b := m.chanRate[ch]; b != nil && m.limits.ChannelEntriesPerSecond > 0 {
		b.give(m.limits.ChannelEntriesPerSecond, 1)
	}
}

func (m *Meter) evidenceCount(peer, kind string) *hotline.EvidenceCount {
	k := evKey{peer, kind}
	c := m.evidence[k]
	if c == nil {
		c = &hotline.EvidenceCount{Peer: peer, Kind: kind}
		m.evidence[k] = c
	}
	return c
}

// AdmitEvidence counts one evidence record of kind caused by peer, of
// size bytes, or refuses it once the day's allowance is spent.
func (m *Meter) AdmitEvidence(peer, kind string, size int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.now()
	m.rollover(now)
	c := m.evidenceCount(peer, kind)
	l := m.limits
	if (l.EvidencePerDay > 0 && c.Records+1 > l.EvidencePerDay) || (l.EvidenceBytesPerDay > 0 && c.Bytes+int64(size) > l.EvidenceBytesPerDay) {
		return m.refuse(&Exceeded{Limit: EvidenceDaily, Party: peer, RetryAfter: untilTomorrow(now),
			Detail: fmt.Sprintf("%d %s evidence records (%d KiB) kept today, the most kept of one kind from one peer in a day", c.Records, kind, c.Bytes>>10)})
	}
	c.Records++
	c.Bytes += int64(size)
	return nil
}

// RefuseInvitation refuses a proposal from proposer, which has limit
// invitations open already (the node counts them).
func (m *Meter) RefuseInvitation(proposer string, limit int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollover(m.now())
	return m.refuse(&Exceeded{Limit: Invitations, Party: proposer, RetryAfter: time.Hour,
		Detail: fmt.Sprintf("%d of its invitations wait for an answer here, the most one party may have open; they are accepted, declined or expire first", limit)})
}

// refuse records a refusal; the caller holds m.mu.
func (m *Meter) refuse(e *Exceeded) error {
	k := e.Limit + "/" + e.Party
	if !m.refusals[k] {
		m.refusals[k] = true
		m.refusedLog = append(m.refusedLog, k)
	}
	return e
}

// Refused returns, once each, the limits first refused today as
// "limit/party" (since the last call): what the node raises an alarm for.
func (m *Meter) Refused() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.refusedLog
	m.refusedLog = nil
	return out
}

// PartyUsage is what one party has used against its limits.
type PartyUsage struct {
	StoreBytes int64 `json:"store_bytes"` // its entries in this node's store, in all
	TodayBytes int64 `json:"today_bytes"` // its entries stored today (UTC)
}

// Usage returns what party has used.
func (m *Meter) Usage(party string) PartyUsage {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.rollover(m.now())
	return PartyUsage{StoreBytes: m.total[party], TodayBytes: m.daily[party]}
}
