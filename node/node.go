// Package node is one party's hotline node: it writes its party's feeds,
// verifies and stores the other members' feeds, proves delivery with signed
// receipts, and keeps every peer in sync.
//
// All writes go through one goroutine, the writer, which groups whatever is
// waiting into one store transaction (one fsync for many entries), assigns
// sequence numbers and causal references, signs, and only then answers the
// callers. Because a node stores an entry only once it holds everything the
// entry references, its storage order is a causal order; the peer sync sends
// entries in that order, so the receiver's checks always find what an entry
// depends on.
package node

import (
	"cmp"
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/escalation"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/keychain"
	"github.com/hotline-project/hotline/loglimit"
	"github.com/hotline-project/hotline/peer"
	"github.com/hotline-project/hotline/phrase"
	"github.com/hotline-project/hotline/quota"
)

// Config configures a node.
type Config struct {
	Key    *identity.SigningKey
	TLSKey *identity.TLSKey
	Store  hotline.Store
	Peers  []identity.Document // the other parties, as pinned
	Logger *slog.Logger
	// Registry receives the node's metrics; nil means a new registry.
	Registry *prometheus.Registry
	// SyncInterval is how often each peer is polled for entries we lack even
	// when nothing new was pushed; zero means 5 seconds.
	SyncInterval time.Duration
	// RetryMax caps the backoff between attempts to reach a peer; zero
	// means one minute. A peer is never given up on.
	RetryMax time.Duration
	// PeerTimeout bounds connecting to a peer endpoint and waiting for it
	// to start answering; zero means 30 seconds.
	PeerTimeout time.Duration
	// FailbackAfter is how long the node stays on a backup endpoint of a
	// peer before trying its preferred ones again; zero means one minute.
	FailbackAfter time.Duration
	// HeartbeatInterval is how often every endpoint of every peer is
	// tested with a signed heartbeat; zero means 30 seconds.
	HeartbeatInterval time.Duration
	// SilenceAlarm is how long a peer may be silent (no heartbeat or sync
	// answered on any endpoint) before an alarm; zero means three
	// heartbeat intervals.
	SilenceAlarm time.Duration
	// LinkHistory is how long link tests are kept; zero means 30 days.
	LinkHistory time.Duration
	// CheckpointBatch is how long the node lets writes gather after a
	// write before it signs checkpoints of its grown feeds; zero means one
	// second.
	CheckpointBatch time.Duration
	// CheckpointInterval is how often the node looks for grown feeds to
	// checkpoint even without being woken by a write; zero means one
	// minute.
	CheckpointInterval time.Duration
	// Ladders are the escalation and reminder ladders by level, checked
	// by the caller (escalation.Ladders.Check).
	Ladders escalation.Ladders
	// Poster calls webhooks; nil means one with default retries.
	Poster *escalation.Poster
	// Mailer sends e-mail steps; nil means no SMTP server is configured.
	Mailer *escalation.Mailer
	// Catalogs are the phrase catalogs the node holds; nil means the
	// default catalog only.
	Catalogs *phrase.Set
	// Limits bound what each other party can make this node spend: see
	// package quota.
	Limits quota.Limits
	// Invitations bounds the open invitations one party may have at this
	// node; its proposals past it are refused. Zero: no bound.
	Invitations int
	// InvitationExpiry is how long an invitation waits for this party's
	// answer before it expires; zero means seven days.
	InvitationExpiry time.Duration
	// Streams bound the live event streams.
	Streams StreamLimits
	// ClockAhead and ClockBehind are how far an entry's time may be
	// ahead of, or behind, its arrival here before it is flagged; zero
	// means DefaultClockAhead and DefaultClockBehind.
	ClockAhead, ClockBehind time.Duration
	// KeyFiles is where key rotations prepare the next keys and make
	// them lasting; nil means the node cannot rotate (RotateKey fails).
	KeyFiles KeyFiles
	// Revocations are the other parties' revocations this node applied;
	// OwnRevocation is this party's last one, if it revoked a key.
	Revocations   []*keychain.Revocation
	OwnRevocation *keychain.Revocation
	// Calls, when set, has the node carry calls (package conference);
	// nil: joins are refused as unavailable.
	Calls *CallOptions
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Node is a running hotline node.
type Node struct {
	self   string
	key    atomic.Pointer[identity.SigningKey] // the party key; a rotation replaces it
	signer *signer                             // the party key's signer, watched
	tlsKey *identity.TLSKey
	// keys follows every party's keys (this one's too) through their
	// rotations: which key signs which part of each feed (see keys.go).
	keys     *keychain.Book
	keyFiles KeyFiles
	rotMu    sync.Mutex // one rotation at a time
	draftMu  sync.Mutex // one change to a draft at a time
	filesMu  sync.Mutex // one change to the key files at a time
	// tlsPending is the TLS key of the last rotation, presented once
	// every peer holds the change; rotated are that rotation's key
	// entries (under mu).
	tlsPending atomic.Pointer[identity.TLSKey]
	rotated    []keychain.Change
	// revoked are the revocations of each party's keys (see keys.go).
	revoked map[string][]*keychain.Revocation
	store   hotline.Store
	log     *slog.Logger
	now     func() time.Time
	metrics *metrics
	events  *broker

	peers   map[string]*pinnedPeer // by party name
	syncInt time.Duration
	retry   time.Duration
	peerOpt peer.ClientOptions
	beat    time.Duration // heartbeat interval
	silence time.Duration // silence before an alarm
	history time.Duration // link tests kept

	cpBatch, cpEvery time.Duration
	cpWake           chan struct{}
	cpMu             sync.Mutex
	cpSigned         map[hotline.Feed]int64 // own feeds: size of the newest checkpoint signed; written by the checkpoint loop, under cpMu
	witnessMu        sync.Mutex             // makes a cosignature's check and record atomic

	ladders escalation.Ladders
	poster  *escalation.Poster
	mailer  *escalation.Mailer
	dlWake  chan struct{}
	watches watches // the deadline watcher's view of the open watches

	catalogs *phrase.Set

	clockAhead, clockBehind time.Duration

	meter        *quota.Meter
	invitations  int               // open invitations per proposer; 0: no bound
	inviteExpiry time.Duration     // how long an invitation waits
	logs         *loglimit.Limiter // warnings about each peer's input, rate-limited

	equivMu     sync.Mutex
	equivocated map[hotline.Feed]int // equivocation records kept per feed since start

	conf     *conference.Service // nil: no calls carried
	callOpts CallOptions
	callWake chan conference.Key // a call ended here, or a section came
	heldIn   chan heldRef        // another party's held records, to co-sign

	callOpsMu sync.Mutex
	callOps   map[string]*rate.Limiter // each party's allowance of call operations (admitCallOp)

	recent map[hotline.Feed]*idRing // each feed's newest ids, for the writer alone (see recent.go)

	mu       sync.RWMutex // guards heads, channels and labels, written only by the writer
	heads    map[hotline.Feed]hotline.Head
	channels map[entry.ChannelID]*hotline.Channel
	labels   map[string]entry.ChannelID // every channel by its label

	writes chan *writeReq
	// submitMu guards shutting: submitters hold it to queue, Close to
	// stop queueing (see submit).
	submitMu sync.RWMutex
	shutting bool
	stop     context.CancelFunc
	ctx      context.Context
	wg       sync.WaitGroup
}

// pinnedPeer is another party as this node pinned it.
type pinnedPeer struct {
	doc    identity.Document
	client *peer.Client
	link   *link
}

// New opens a node on its store. It does not start the writer or the peer
// links: call Start.
func New(ctx context.Context, cfg Config) (*Node, error) {
	if cfg.Key == nil || cfg.TLSKey == nil || cfg.Store == nil {
		return nil, errors.New("node: Key, TLSKey and Store are required")
	}
	n := &Node{
		callWake:     make(chan conference.Key, 16),
		heldIn:       make(chan heldRef, 16),
		callOps:      make(map[string]*rate.Limiter),
		self:         cfg.Key.Party,
		tlsKey:       cfg.TLSKey,
		keys:         keychain.New(),
		keyFiles:     cfg.KeyFiles,
		store:        cfg.Store,
		log:          cfg.Logger,
		now:          cfg.Now,
		peers:        make(map[string]*pinnedPeer),
		syncInt:      cfg.SyncInterval,
		retry:        cfg.RetryMax,
		writes:       make(chan *writeReq, 1024),
		events:       newBroker(cfg.Streams),
		channels:     make(map[entry.ChannelID]*hotline.Channel),
		cpBatch:      cfg.CheckpointBatch,
		cpEvery:      cfg.CheckpointInterval,
		cpWake:       make(chan struct{}, 1),
		cpSigned:     make(map[hotline.Feed]int64),
		ladders:      cfg.Ladders,
		poster:       cfg.Poster,
		mailer:       cfg.Mailer,
		dlWake:       make(chan struct{}, 1),
		recent:       make(map[hotline.Feed]*idRing),
		catalogs:     cfg.Catalogs,
		clockAhead:   cmp.Or(cfg.ClockAhead, DefaultClockAhead),
		clockBehind:  cmp.Or(cfg.ClockBehind, DefaultClockBehind),
		invitations:  cfg.Invitations,
		inviteExpiry: cmp.Or(cfg.InvitationExpiry, 7*24*time.Hour),
		labels:       make(map[string]entry.ChannelID),
		equivocated:  make(map[hotline.Feed]int),
	}
	if n.catalogs == nil {
		n.catalogs = phrase.NewSet()
	}
	if n.poster == nil {
		n.poster = &escalation.Poster{}
	}
	if n.cpBatch == 0 {
		n.cpBatch = time.Second
	}
	if n.cpEvery == 0 {
		n.cpEvery = time.Minute
	}
	if n.log == nil {
		n.log = slog.Default()
	}
	n.log = n.log.With("party", n.self)
	if n.now == nil {
		n.now = time.Now
	}
	if cfg.Calls != nil {
		n.callOpts = *cfg.Calls
		n.callOpts.RecordWait = cmp.Or(n.callOpts.RecordWait, 10*time.Minute)
	}
	if n.syncInt == 0 {
		n.syncInt = 5 * time.Second
	}
	if n.retry == 0 {
		n.retry = time.Minute
	}
	n.peerOpt = peer.ClientOptions{Timeout: cfg.PeerTimeout, FailbackAfter: cfg.FailbackAfter}
	n.beat, n.silence, n.history = cfg.HeartbeatInterval, cfg.SilenceAlarm, cfg.LinkHistory
	if n.beat == 0 {
		n.beat = 30 * time.Second
	}
	if n.silence == 0 {
		n.silence = 3 * n.beat
	}
	if n.history == 0 {
		n.history = 30 * 24 * time.Hour
	}
	reg := cfg.Registry
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	n.metrics = newMetrics(reg, n)
	n.key.Store(cfg.Key)
	n.signer = &signer{n: n}
	for _, d := range cfg.Peers {
		if err := n.pin(d); err != nil {
			return nil, err
		}
	}
	var err error
	if n.heads, err = n.store.Heads(ctx); err != nil {
		return nil, fmt.Errorf("node: load heads: %w", err)
	}
	chans, err := n.store.Channels(ctx)
	if err != nil {
		return nil, fmt.Errorf("node: load channels: %w", err)
	}
	for i := range chans {
		c := &chans[i]
		n.channels[c.ID] = c
		if c.Label == "" { // cannot happen after schema version 7; be safe
			c.Label = hotline.ChannelLabel(c.Definition.Name, c.ID, n.labelTaken(nil))
		}
		n.labels[c.Label] = c.ID
	}
	n.revoked = make(map[string][]*keychain.Revocation)
	for _, r := range cfg.Revocations {
		n.revoked[r.Identity.Party] = append(n.revoked[r.Identity.Party], r)
	}
	if err := n.loadKeys(ctx, cfg.Key, cfg.TLSKey.Fingerprint(), cfg.Peers, cfg.OwnRevocation); err != nil {
		return nil, err
	}
	if err := n.settleKeys(cfg.KeyFiles); err != nil {
		return nil, err
	}
	n.meter = quota.New(cfg.Limits, n.now)
	total, today, err := n.store.Usage(ctx, hotline.Day(n.now()))
	if err != nil {
		return nil, fmt.Errorf("node: load store usage: %w", err)
	}
	y, mo, d := n.now().UTC().Date()
	evs, err := n.store.EvidenceUsage(ctx, time.Date(y, mo, d, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, fmt.Errorf("node: load evidence usage: %w", err)
	}
	n.meter.Load(total, today, evs)
	n.registerUsageMetrics()
	n.logs = loglimit.New(n.log, logLinesPerMinute, n.now)
	return n, nil
}

// labelTaken reports whether label names a channel, those new in batch b
// included (b may be nil). The caller is the writer, or New.
func (n *Node) labelTaken(b *batch) func(string) bool {
	return func(label string) bool {
		if _, ok := n.labels[label]; ok {
			return true
		}
		if b != nil {
			for _, c := range b.chans {
				if c.Label == label {
					return true
				}
			}
		}
		return false
	}
}

func (n *Node) pin(d identity.Document) error {
	if err := d.Check(); err != nil {
		return fmt.Errorf("node: peer %s: %w", d.Party, err)
	}
	if d.Party == n.self {
		return fmt.Errorf("node: peer document for %s is this node's own party", d.Party)
	}
	if _, dup := n.peers[d.Party]; dup {
		return fmt.Errorf("node: party %s pinned twice", d.Party)
	}
	if _, _, err := identity.ParseVerifierKey(d.Key); err != nil {
		return err
	}
	party := d.Party
	n.peers[party] = &pinnedPeer{
		doc: d,
		// The party's TLS key as its key changes move it on.
		client: peer.NewClient(party, d.Endpoints, n.tlsKey, func(fp identity.Fingerprint) bool { return n.keys.AcceptsTLS(party, fp) }, n.peerOpt),
		link:   &link{party: party, notify: make(chan struct{}, 1), reached: make(chan struct{}, 1)},
	}
	return nil
}

// Start starts the writer and one sync loop per peer. They run until Close.
func (n *Node) Start() {
	n.ctx, n.stop = context.WithCancel(context.Background())
	n.wg.Add(3)
	go func() {
		defer n.wg.Done()
		n.writer()
	}()
	go func() {
		defer n.wg.Done()
		n.deadlineLoop()
	}()
	go func() {
		defer n.wg.Done()
		n.checkpointLoop()
	}()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		n.invitationLoop()
	}()
	if n.callOpts.Dir != "" {
		conf, err := conference.New(callHost{n}, conference.Options{Party: n.self, Dir: n.callOpts.Dir, Media: n.callOpts.Media,
			Linger: n.callOpts.Linger, Logger: n.log.With("component", "calls"), Registry: n.metrics.reg, Now: n.now})
		if err != nil {
			n.log.Error("calls not carried: the call service did not start", "err", err)
		} else {
			n.conf = conf
			n.wg.Add(1)
			go func() {
				defer n.wg.Done()
				n.callLoop()
			}()
		}
	}
	for _, p := range n.peers {
		n.wg.Add(2)
		go func() {
			defer n.wg.Done()
			n.syncLoop(p)
		}()
		go func() {
			defer n.wg.Done()
			n.heartbeatLoop(p)
		}()
	}
}

// Close stops the sync loops and the writer. Writes already accepted by the
// writer complete; later ones fail with EUNAVAILABLE. It does not close the
// store.
func (n *Node) Close() {
	if n.stop == nil {
		return
	}
	n.submitMu.Lock()
	n.shutting = true
	n.submitMu.Unlock()
	if n.conf != nil {
		n.conf.Close() // every room ends and hands its section over
	}
	n.stop()
	n.wg.Wait()
	for _, p := range n.peers {
		p.client.Close()
	}
	n.events.close()
}

// Self returns this node's party name.
func (n *Node) Self() string { return n.self }

// Identity returns this node's identity document for the given endpoints.
func (n *Node) Identity(endpoints []string) identity.Document {
	return identity.Document{Party: n.self, Key: n.key.Load().VerifierKey(), TLS: n.tlsKey.Fingerprint(), Endpoints: endpoints}
}

// Peers returns the pinned parties, sorted by name.
func (n *Node) Peers() []string {
	var out []string
	for name := range n.peers {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Metrics returns the registry holding the node's metrics.
func (n *Node) Metrics() *prometheus.Registry { return n.metrics.reg }

// Subscribe returns a subscription to the node's events for operator,
// starting after event id after (0: from now; see Subscription). It
// fails with EBUSY past the caps on streams. Cancel it when done.
func (n *Node) Subscribe(operator string, after uint64) (*Subscription, error) {
	return n.events.subscribe(operator, after)
}

// PartyFor implements peer.Handler. A peer that reaches this node is up:
// the sync loop towards it, if it is backing off, tries again at once.
func (n *Node) PartyFor(fp string) (string, bool) {
	p, ok := n.keys.PartyForTLS(identity.Fingerprint(fp))
	if pp := n.peers[p]; ok && pp != nil {
		select {
		case pp.link.reached <- struct{}{}:
		default:
		}
	}
	return p, ok
}

// keyOf returns party's current key (this node's own included): the
// pinned one, or the one its key changes moved on to.
func (n *Node) keyOf(party string) (ed25519.PublicKey, string, bool) {
	if party != n.self {
		if _, pinned := n.peers[party]; !pinned {
			return nil, "", false
		}
	}
	k, ok := n.keys.Current(party)
	return k.Pub, k.Verifier, ok
}

func (n *Node) head(f hotline.Feed) hotline.Head {
	n.mu.RLock()
	defer n.mu.RUnlock()
	return n.heads[f]
}

func (n *Node) channel(id entry.ChannelID) (*hotline.Channel, bool) {
	n.mu.RLock()
	defer n.mu.RUnlock()
	c, ok := n.channels[id]
	return c, ok
}
