// Package config is a node's directory: its configuration file, its keys,
// the identity documents of the parties it pins, and its store.
//
//	DIR/hotline.toml        configuration (see Config)
//	DIR/keys/signing.key    the party's signing key, signed-note form (0600),
//	                        or with signer.type = "ssh-agent":
//	DIR/keys/signing.pub    its public half, a signed-note verifier key
//	DIR/keys/tls.crt        the peer-link certificate
//	DIR/keys/tls.key        the peer-link key (0600)
//	DIR/peers/PARTY.json    identity documents of pinned parties
//	DIR/hotline.db          the SQLite store (with -wal and -shm beside it)
package config

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/BurntSushi/toml"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/escalation"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/quota"
)

// FileName is the configuration file's name in a node directory.
const FileName = "hotline.toml"

// Config is the content of hotline.toml.
type Config struct {
	// Party is this node's party name; it must match the signing key.
	Party string `toml:"party"`
	// Catalogs are phrase catalog files (JSON) the node holds besides the
	// default catalog built into the binary; relative paths are from the
	// node's directory.
	Catalogs []string `toml:"catalogs"`
	API      struct {
		// Listen is the operator API's address. Keep it on a network only
		// operators reach; put TLS in front of it for remote operators.
		Listen string `toml:"listen"`
		// MaxStreams bounds the live event streams open at once, and
		// MaxStreamsPerOperator those of one operator.
		MaxStreams            int `toml:"max_streams"`
		MaxStreamsPerOperator int `toml:"max_streams_per_operator"`
	} `toml:"api"`
	// Metrics is where /metrics is served, and who may read it.
	Metrics struct {
		// Listen, when set, serves /metrics on this address only, not on
		// the API listener.
		Listen string `toml:"listen"`
		// TokenFile, when set, names a file (relative to the node
		// directory) holding a token that scrapers must send as a bearer
		// token; without it /metrics is open to whoever reaches it.
		TokenFile string `toml:"token_file"`
	} `toml:"metrics"`
	// Quota bounds what each other party can make this node spend (see
	// README, "Limits against a hostile peer"). Zero means no limit.
	Quota struct {
		PeerEntriesPerSecond    float64  `toml:"peer_entries_per_second"`
		ChannelEntriesPerSecond float64  `toml:"channel_entries_per_second"`
		PeerMBPerDay            int64    `toml:"peer_mb_per_day"`
		ChannelMBPerDay         int64    `toml:"channel_mb_per_day"`
		PeerStoreShare          int      `toml:"peer_store_share"` // percent of store.max_size_mb
		InvitationsPerPeer      int      `toml:"invitations_per_peer"`
		InvitationExpiry        Duration `toml:"invitation_expiry"`
		EvidencePerDay          int64    `toml:"evidence_per_day"`
		EvidenceMBPerDay        int64    `toml:"evidence_mb_per_day"`
		PeerRequests            int      `toml:"peer_requests"`
		PeerMBInFlight          int64    `toml:"peer_mb_in_flight"`
		PeerConnections         int      `toml:"peer_connections"`
	} `toml:"quota"`
	Peer struct {
		// Listen is the peer link's address (mutual TLS).
		Listen string `toml:"listen"`
		// Advertise lists the endpoints other parties should dial, in
		// order of preference; it goes into this party's identity document.
		Advertise []string `toml:"advertise"`
	} `toml:"peer"`
	Sync struct {
		// Interval is how often each peer is polled even when idle.
		Interval Duration `toml:"interval"`
		// RetryMax caps the backoff between attempts to reach a peer.
		RetryMax Duration `toml:"retry_max"`
		// Timeout bounds connecting to a peer endpoint and waiting for it to
		// start answering, after which the next endpoint is tried.
		Timeout Duration `toml:"timeout"`
		// FailbackAfter is how long to stay on a backup endpoint before
		// trying the preferred ones again.
		FailbackAfter Duration `toml:"failback_after"`
	} `toml:"sync"`
	Heartbeat struct {
		// Interval is how often every endpoint of every peer is tested.
		Interval Duration `toml:"interval"`
		// SilenceAlarm is how long a peer may go unheard before an alarm.
		SilenceAlarm Duration `toml:"silence_alarm"`
		// History is how long link tests are kept.
		History Duration `toml:"history"`
	} `toml:"heartbeat"`
	Checkpoint struct {
		// Batch is how long writes gather before the node signs a
		// checkpoint of its grown feeds.
		Batch Duration `toml:"batch"`
		// Interval is how often the node looks for grown feeds to
		// checkpoint without being woken by a write.
		Interval Duration `toml:"interval"`
	} `toml:"checkpoint"`
	Clock struct {
		// ToleranceAhead and ToleranceBehind are how far an entry's time
		// may be ahead of, or behind, its arrival at this node before it
		// is flagged (future_dated, past_dated). Author times are never
		// trusted: deadlines and notice lead times count from arrival.
		ToleranceAhead  Duration `toml:"tolerance_ahead"`
		ToleranceBehind Duration `toml:"tolerance_behind"`
	} `toml:"clock"`
	Store struct {
		// Path is the SQLite file, relative to the node directory.
		Path string `toml:"path"`
		// DSN, if set, keeps the store on PostgreSQL instead: a URL or
		// key=value connection string (several hosts with
		// target_session_attrs=read-write follow a promoted standby).
		// DSNFile names a file (relative to the node directory) that holds
		// it instead, for a DSN with a password. Set at most one.
		DSN     string `toml:"dsn"`
		DSNFile string `toml:"dsn_file"`
		// MaxSizeMB caps the store's size in MiB (0: no cap): writes past it
		// fail cleanly, as on a full disk, well before the disk is full.
		MaxSizeMB int64 `toml:"max_size_mb"`
	} `toml:"store"`
	// Signer is where the party key is: in keys/signing.key (file), or in
	// an ssh-agent, which may keep it in hardware (package sshagent).
	Signer struct {
		// Type is "file" or "ssh-agent".
		Type string `toml:"type"`
		// Socket is the agent's socket; empty: $SSH_AUTH_SOCK.
		Socket string `toml:"socket,omitempty"`
		// Key is the agent's key, by its SHA256 fingerprint (ssh-add -l).
		Key string `toml:"key,omitempty"`
		// TLSKey, with an ssh-agent, is the agent's key for the peer link,
		// by its fingerprint: keys/tls.key is then not on disk either.
		// Empty: keys/tls.key.
		TLSKey string `toml:"tls_key,omitempty"`
	} `toml:"signer"`
	// Replica applies when the store is on PostgreSQL: every node process
	// of the party on that database is a replica, and the one holding the
	// lease is the party's writer (package replica).
	Replica struct {
		// Name tells this replica apart in the lease, logs and metrics;
		// empty: the host name and api.listen.
		Name string `toml:"name"`
		// Lease is how long the writer's lease runs without a renewal: a
		// standby takes over at most this long after the writer stops.
		Lease Duration `toml:"lease"`
		// Renew is how often the writer renews its lease, and a standby
		// checks whether it lapsed.
		Renew Duration `toml:"renew"`
	} `toml:"replica"`
	// Call is how the node carries its party's calls (package
	// conference): participants connect to it over WebRTC, and it links
	// to the other parties' nodes; media travels over UDP.
	Call struct {
		// Dir keeps each call's recordings and this party's account of
		// it, relative to the node directory.
		Dir string `toml:"dir"`
		// Operators may join this party's calls in any role a call names
		// for it (the duty officers who run the link); others join only
		// as the role the roster gives them.
		Operators []string `toml:"operators"`
		// UDPListen, when set (host:port), carries all the media on this
		// one UDP socket: the one port firewalls open. Otherwise each
		// connection takes a port of UDPPorts.
		UDPListen string `toml:"udp_listen"`
		// UDPPorts bounds the media's UDP ports, "MIN-MAX" (firewalls
		// open this range); empty: any ephemeral port.
		UDPPorts string `toml:"udp_ports"`
		// PublicIPs are the addresses to offer instead of the interfaces'
		// own, behind a 1:1 NAT.
		PublicIPs []string `toml:"public_ips"`
		// Loopback offers loopback addresses too: for nodes and
		// participants on one machine (hotline dev).
		Loopback bool `toml:"loopback"`
	} `toml:"call"`
	Log struct {
		Level  string `toml:"level"`  // debug, info, warn, error
		Format string `toml:"format"` // text or json
	} `toml:"log"`
	// SMTP is the server e-mail steps are sent through.
	SMTP struct {
		Addr         string `toml:"addr"` // host:port; empty: no e-mail
		From         string `toml:"from"`
		Username     string `toml:"username"`
		PasswordFile string `toml:"password_file"` // relative to the node directory
		StartTLS     string `toml:"starttls"`      // auto, required or never
	} `toml:"smtp"`
	// Escalation holds, by level, the steps this node takes when its own
	// message or call request is left unanswered past its deadline.
	Escalation map[string][]Step `toml:"escalation"`
	// Reminder holds, by level, the steps this node takes for its own
	// operators when they owe an answer; a step may come before the
	// deadline (a negative after).
	Reminder map[string][]Step `toml:"reminder"`
}

// Step is one configured ladder step.
type Step struct {
	After      Duration `toml:"after"`  // from the deadline
	Action     string   `toml:"action"` // alert, webhook, email or escalate
	URL        string   `toml:"url,omitempty"`
	SecretFile string   `toml:"secret_file,omitempty"` // webhook: HMAC key file, relative to the node directory
	To         []string `toml:"to,omitempty"`          // email
}

// Duration is a time.Duration written as a string ("5s") in TOML.
type Duration struct{ time.Duration }

// UnmarshalText implements encoding.TextUnmarshaler.
func (d *Duration) UnmarshalText(b []byte) error {
	v, err := time.ParseDuration(string(b))
	if err != nil {
		return fmt.Errorf("%q is not a duration (write it like 5s or 1m)", b)
	}
	d.Duration = v
	return nil
}

// MarshalText implements encoding.TextMarshaler.
func (d Duration) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// Defaults returns the configuration a new node gets.
func Defaults(party string) Config {
	var c Config
	c.Party = party
	c.API.Listen = "127.0.0.1:8080"
	c.API.MaxStreams = 256
	c.API.MaxStreamsPerOperator = 8
	c.Quota.PeerEntriesPerSecond = 10000
	c.Quota.ChannelEntriesPerSecond = 10000
	c.Quota.PeerMBPerDay = 1024
	c.Quota.ChannelMBPerDay = 512
	c.Quota.PeerStoreShare = 50
	c.Quota.InvitationsPerPeer = 50
	c.Quota.InvitationExpiry = Duration{7 * 24 * time.Hour}
	c.Quota.EvidencePerDay = 500
	c.Quota.EvidenceMBPerDay = 16
	c.Quota.PeerRequests = 8
	c.Quota.PeerMBInFlight = 64
	c.Quota.PeerConnections = 128
	c.Peer.Listen = "0.0.0.0:7443"
	c.Sync.Interval = Duration{5 * time.Second}
	c.Sync.RetryMax = Duration{time.Minute}
	c.Sync.Timeout = Duration{30 * time.Second}
	c.Sync.FailbackAfter = Duration{time.Minute}
	c.Heartbeat.Interval = Duration{30 * time.Second}
	c.Heartbeat.SilenceAlarm = Duration{90 * time.Second}
	c.Heartbeat.History = Duration{30 * 24 * time.Hour}
	c.Checkpoint.Batch = Duration{time.Second}
	c.Checkpoint.Interval = Duration{time.Minute}
	c.Clock.ToleranceAhead = Duration{5 * time.Minute}
	c.Clock.ToleranceBehind = Duration{time.Hour}
	c.Store.Path = "hotline.db"
	c.Store.MaxSizeMB = 16384
	c.Signer.Type = SignerFile
	c.Replica.Lease = Duration{3 * time.Second}
	c.Replica.Renew = Duration{500 * time.Millisecond}
	c.Call.Dir = "calls"
	c.Log.Level = "info"
	c.Log.Format = "text"
	c.SMTP.StartTLS = escalation.StartTLSAuto
	// Out of the box, both sides' operators are alerted when a deadline
	// passes; webhooks, e-mail and escalation entries are set up per party.
	c.Escalation, c.Reminder = make(map[string][]Step), make(map[string][]Step)
	for _, l := range hotline.Levels {
		if l != hotline.Track2 {
			c.Escalation[string(l)] = []Step{{Action: escalation.Alert}}
			c.Reminder[string(l)] = []Step{{Action: escalation.Alert}}
		}
	}
	return c
}

// Check validates a configuration.
func (c *Config) Check() error {
	if err := entry.CheckName("party", c.Party); err != nil {
		return fmt.Errorf("party: %w", err)
	}
	for what, addr := range map[string]string{"api.listen": c.API.Listen, "peer.listen": c.Peer.Listen} {
		if _, _, err := net.SplitHostPort(addr); err != nil {
			return fmt.Errorf("%s %q is not host:port", what, addr)
		}
	}
	if _, _, err := c.CallPorts(); err != nil {
		return err
	}
	if c.Call.UDPListen != "" {
		if _, _, err := net.SplitHostPort(c.Call.UDPListen); err != nil {
			return fmt.Errorf("call.udp_listen %q is not host:port", c.Call.UDPListen)
		}
	}
	for _, ip := range c.Call.PublicIPs {
		if net.ParseIP(ip) == nil {
			return fmt.Errorf("call.public_ips: %q is not an IP address", ip)
		}
	}
	if len(c.Peer.Advertise) == 0 {
		return errors.New("peer.advertise is empty: list the host:port where other parties reach this node")
	}
	for _, ep := range c.Peer.Advertise {
		if _, _, err := net.SplitHostPort(ep); err != nil {
			return fmt.Errorf("peer.advertise %q is not host:port", ep)
		}
	}
	if c.Sync.Interval.Duration < 100*time.Millisecond || c.Sync.Interval.Duration > time.Hour {
		return fmt.Errorf("sync.interval %s is out of range (100ms to 1h)", c.Sync.Interval)
	}
	for _, r := range []struct {
		name   string
		v      Duration
		lo, hi time.Duration
	}{
		{"sync.timeout", c.Sync.Timeout, 100 * time.Millisecond, 10 * time.Minute},
		{"sync.failback_after", c.Sync.FailbackAfter, time.Second, time.Hour},
		{"heartbeat.interval", c.Heartbeat.Interval, 100 * time.Millisecond, time.Hour},
		{"heartbeat.silence_alarm", c.Heartbeat.SilenceAlarm, c.Heartbeat.Interval.Duration, 24 * time.Hour},
		{"heartbeat.history", c.Heartbeat.History, time.Hour, 10 * 365 * 24 * time.Hour},
		{"checkpoint.batch", c.Checkpoint.Batch, 10 * time.Millisecond, time.Minute},
		{"checkpoint.interval", c.Checkpoint.Interval, time.Second, 24 * time.Hour},
		{"clock.tolerance_ahead", c.Clock.ToleranceAhead, time.Second, 7 * 24 * time.Hour},
		{"clock.tolerance_behind", c.Clock.ToleranceBehind, time.Second, 365 * 24 * time.Hour},
	} {
		if r.v.Duration < r.lo || r.v.Duration > r.hi {
			return fmt.Errorf("%s %s is out of range (%s to %s)", r.name, r.v, r.lo, r.hi)
		}
	}
	switch c.Signer.Type {
	case SignerFile:
		if c.Signer.TLSKey != "" {
			return fmt.Errorf("signer.tls_key goes with signer.type = %q", SignerAgent)
		}
	case SignerAgent:
		if !strings.HasPrefix(c.Signer.Key, "SHA256:") {
			return fmt.Errorf("signer.key %q: give the agent's key by its SHA256 fingerprint, as ssh-add -l prints it", c.Signer.Key)
		}
		if c.Signer.TLSKey != "" && !strings.HasPrefix(c.Signer.TLSKey, "SHA256:") {
			return fmt.Errorf("signer.tls_key %q: give the agent's key by its SHA256 fingerprint, as ssh-add -l prints it", c.Signer.TLSKey)
		}
		if c.Signer.TLSKey == c.Signer.Key {
			return errors.New("signer.tls_key is the party key: give the peer link a key of its own")
		}
	default:
		return fmt.Errorf("signer.type %q: use %q or %q", c.Signer.Type, SignerFile, SignerAgent)
	}
	if c.Replica.Lease.Duration < time.Second || c.Replica.Lease.Duration > time.Minute {
		return fmt.Errorf("replica.lease %s is out of range (1s to 1m)", c.Replica.Lease)
	}
	if c.Replica.Renew.Duration < 50*time.Millisecond || 3*c.Replica.Renew.Duration > c.Replica.Lease.Duration {
		return fmt.Errorf("replica.renew %s: at least 50ms, and at most a third of replica.lease (%s), so that two renewals can fail before the lease lapses", c.Replica.Renew, c.Replica.Lease)
	}
	if c.Replica.Name != "" {
		if err := entry.CheckName("replica.name", c.Replica.Name); err != nil {
			return err
		}
	}
	if c.Store.DSN != "" && c.Store.DSNFile != "" {
		return errors.New("store: set dsn or dsn_file, not both")
	}
	if c.Store.MaxSizeMB < 0 {
		return fmt.Errorf("store.max_size_mb %d: give 0 for no cap, or a size in MiB", c.Store.MaxSizeMB)
	}
	q := &c.Quota
	if q.PeerEntriesPerSecond < 0 || q.ChannelEntriesPerSecond < 0 || q.PeerMBPerDay < 0 || q.ChannelMBPerDay < 0 ||
		q.InvitationsPerPeer < 0 || q.EvidencePerDay < 0 || q.EvidenceMBPerDay < 0 {
		return errors.New("quota: limits are 0 (none) or positive")
	}
	if q.PeerStoreShare < 0 || q.PeerStoreShare > 100 {
		return fmt.Errorf("quota.peer_store_share %d: give a percentage of store.max_size_mb, 1 to 100 (0: no share)", q.PeerStoreShare)
	}
	if q.PeerEntriesPerSecond > 0 && q.PeerEntriesPerSecond*10 < 1024 {
		return fmt.Errorf("quota.peer_entries_per_second %g: at least 103, so that a full batch of 1024 entries fits in a burst", q.PeerEntriesPerSecond)
	}
	if q.PeerRequests < 1 || q.PeerRequests > 1024 || q.PeerConnections < 2 || q.PeerConnections > 65536 {
		return fmt.Errorf("quota.peer_requests (1 to 1024) or quota.peer_connections (2 to 65536) out of range")
	}
	if q.PeerMBInFlight < 17 {
		return fmt.Errorf("quota.peer_mb_in_flight %d: at least 17, so one full push (16 MiB) fits", q.PeerMBInFlight)
	}
	if q.InvitationExpiry.Duration < time.Minute || q.InvitationExpiry.Duration > 365*24*time.Hour {
		return fmt.Errorf("quota.invitation_expiry %s is out of range (1m to 8760h)", q.InvitationExpiry)
	}
	if c.API.MaxStreams < 1 || c.API.MaxStreamsPerOperator < 1 || c.API.MaxStreamsPerOperator > c.API.MaxStreams {
		return fmt.Errorf("api.max_streams (%d) and api.max_streams_per_operator (%d): at least 1, and per operator at most the total", c.API.MaxStreams, c.API.MaxStreamsPerOperator)
	}
	if c.Metrics.Listen != "" {
		if _, _, err := net.SplitHostPort(c.Metrics.Listen); err != nil {
			return fmt.Errorf("metrics.listen %q is not host:port", c.Metrics.Listen)
		}
	}
	if c.Sync.RetryMax.Duration < time.Second || c.Sync.RetryMax.Duration > 10*time.Minute {
		return fmt.Errorf("sync.retry_max %s is out of range (1s to 10m): a treaty partner is never given up on for long", c.Sync.RetryMax)
	}
	if c.Store.Path == "" {
		return errors.New("store.path is empty")
	}
	if !slices.Contains([]string{"debug", "info", "warn", "error"}, c.Log.Level) {
		return fmt.Errorf("log.level %q: use debug, info, warn or error", c.Log.Level)
	}
	if !slices.Contains([]string{"text", "json"}, c.Log.Format) {
		return fmt.Errorf("log.format %q: use text or json", c.Log.Format)
	}
	return nil
}

// Limits returns the quota limits the configuration sets (see package
// quota).
func (c *Config) Limits() quota.Limits {
	q := c.Quota
	l := quota.Limits{
		PeerEntriesPerSecond:    q.PeerEntriesPerSecond,
		ChannelEntriesPerSecond: q.ChannelEntriesPerSecond,
		PeerBytesPerDay:         q.PeerMBPerDay << 20,
		ChannelBytesPerDay:      q.ChannelMBPerDay << 20,
		EvidencePerDay:          q.EvidencePerDay,
		EvidenceBytesPerDay:     q.EvidenceMBPerDay << 20,
	}
	if c.Store.MaxSizeMB > 0 && q.PeerStoreShare > 0 {
		l.PeerStoreBytes = (c.Store.MaxSizeMB << 20) * int64(q.PeerStoreShare) / 100
	}
	return l
}

// Dir is an opened node directory.
type Dir struct {
	Path   string
	Config Config
	Key    *identity.SigningKey
	TLS    *identity.TLSKey
}

// Init creates a node directory for party with configuration cfg and new
// keys. It refuses to touch a directory that already holds a configuration.
func Init(dir string, cfg Config) (*Dir, error) {
	if err := cfg.Check(); err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		return nil, fmt.Errorf("init %s: a node is already set up there (%s exists); use another directory", dir, FileName)
	}
	// The keys first: a key the agent does not hold leaves nothing behind.
	signing, err := newSigningKey(&cfg)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	tlsFiles, err := newTLSKey(&cfg)
	if err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	files := append([]keyFile{signing}, tlsFiles...)
	// The directory holds the party's keys and, in its store, every
	// message, TOTP secret and password hash: it and everything in it are
	// for the node's user alone, whatever was there before.
	for _, sub := range []string{".", "keys", "peers"} {
		p := filepath.Join(dir, sub)
		if err := os.MkdirAll(p, 0o700); err != nil {
			return nil, fmt.Errorf("init %s: %w", dir, err)
		}
		if err := os.Chmod(p, 0o700); err != nil {
			return nil, fmt.Errorf("init %s: %w", dir, err)
		}
	}
	if err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		return os.Chmod(path, 0o600)
	}); err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	for _, f := range files {
		if err := writeFileSync(filepath.Join(dir, f.name), f.data, f.mode); err != nil {
			return nil, fmt.Errorf("init %s: %w", dir, err)
		}
	}
	if err := writeConfig(dir, cfg); err != nil {
		return nil, fmt.Errorf("init %s: %w", dir, err)
	}
	return Open(dir)
}

// Open reads a node directory.
func Open(dir string) (*Dir, error) {
	d := &Dir{Path: dir, Config: Defaults("")}
	md, err := toml.DecodeFile(filepath.Join(dir, FileName), &d.Config)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%s is not a node directory (no %s): create one with hotline init", dir, FileName)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", filepath.Join(dir, FileName), err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		return nil, fmt.Errorf("read %s: unknown setting %q", filepath.Join(dir, FileName), und[0].String())
	}
	if err := d.Config.Check(); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, FileName), err)
	}
	if err := finishPromotion(dir, &d.Config); err != nil {
		return nil, err
	}
	if d.Key, err = loadSigningKey(dir, &d.Config); err != nil {
		return nil, err
	}
	if d.Key.Party != d.Config.Party {
		return nil, fmt.Errorf("signing key is for party %q, %s says %q", d.Key.Party, FileName, d.Config.Party)
	}
	if d.TLS, err = loadTLSKey(dir, &d.Config); err != nil {
		return nil, err
	}
	return d, nil
}

// StoreDSN returns the PostgreSQL DSN the store is kept at, from
// store.dsn or store.dsn_file, or "" for the SQLite file at StorePath.
func (d *Dir) StoreDSN() (string, error) {
	if d.Config.Store.DSN != "" {
		return d.Config.Store.DSN, nil
	}
	if d.Config.Store.DSNFile == "" {
		return "", nil
	}
	path, dsn, err := d.readSetting("store.dsn_file", d.Config.Store.DSNFile)
	if err != nil {
		return "", err
	}
	if dsn == "" {
		return "", fmt.Errorf("store.dsn_file %s is empty: write the PostgreSQL connection string in it", path)
	}
	return dsn, nil
}

// UseStoreDSNFile points the node's configuration at a PostgreSQL store
// whose DSN the file name (relative to the directory) holds: it sets
// store.dsn_file in the configuration file, keeping the rest of the file
// as it is, and reloads it.
func (d *Dir) UseStoreDSNFile(name string) error {
	path := filepath.Join(d.Path, FileName)
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	lines := strings.Split(string(b), "\n")
	section, at, set := "", -1, false
	for i, l := range lines {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "[") {
			section = strings.Trim(t, "[] ")
			if section == "store" {
				at = i
			}
			continue
		}
		if section == "store" && (strings.HasPrefix(t, "dsn_file") || strings.HasPrefix(t, "dsn ") || strings.HasPrefix(t, "dsn=")) {
			key, _, _ := strings.Cut(t, "=")
			if strings.TrimSpace(key) == "dsn_file" {
				lines[i], set = fmt.Sprintf("  dsn_file = %q", name), true
			} else {
				lines[i] = `  dsn = ""`
			}
		}
	}
	switch {
	case set:
	case at >= 0:
		lines = slices.Insert(lines, at+1, fmt.Sprintf("  dsn_file = %q", name))
	default:
		lines = append(lines, "[store]", fmt.Sprintf("  dsn_file = %q", name), "")
	}
	out := strings.Join(lines, "\n")
	var cfg Config
	if _, err := toml.Decode(out, &cfg); err != nil {
		return fmt.Errorf("set store.dsn_file in %s: %w", path, err)
	}
	mode := os.FileMode(0o600)
	if fi, err := os.Stat(path); err == nil {
		mode = fi.Mode().Perm()
	}
	if err := os.WriteFile(path+".new", []byte(out), mode); err != nil {
		return err
	}
	if err := os.Rename(path+".new", path); err != nil {
		return err
	}
	nd, err := Open(d.Path)
	if err != nil {
		return err
	}
	*d = *nd
	return nil
}

// CallPorts returns the media's UDP port range (0, 0: any).
func (c *Config) CallPorts() (lo, hi uint16, err error) {
	if c.Call.UDPPorts == "" {
		return 0, 0, nil
	}
	a, b, ok := strings.Cut(c.Call.UDPPorts, "-")
	x, err1 := strconv.ParseUint(strings.TrimSpace(a), 10, 16)
	y, err2 := strconv.ParseUint(strings.TrimSpace(b), 10, 16)
	if !ok || err1 != nil || err2 != nil || x == 0 || y < x {
		return 0, 0, fmt.Errorf("call.udp_ports %q is not MIN-MAX (ports, MIN at most MAX)", c.Call.UDPPorts)
	}
	return uint16(x), uint16(y), nil
}

// CallDir returns the absolute path of the calls directory.
func (d *Dir) CallDir() string {
	dir := cmp.Or(d.Config.Call.Dir, "calls")
	if filepath.IsAbs(dir) {
		return dir
	}
	return filepath.Join(d.Path, dir)
}

// StorePath returns the absolute path of the SQLite store.
func (d *Dir) StorePath() string {
	if filepath.IsAbs(d.Config.Store.Path) {
		return d.Config.Store.Path
	}
	return filepath.Join(d.Path, d.Config.Store.Path)
}

// readSetting reads the file a setting names (relative to the directory),
// without surrounding space, and returns its path too.
func (d *Dir) readSetting(setting, name string) (path, value string, err error) {
	path = d.rel(name)
	b, err := os.ReadFile(path)
	if err != nil {
		return path, "", fmt.Errorf("%s: %w", setting, err)
	}
	return path, strings.TrimSpace(string(b)), nil
}

// MetricsToken reads the token /metrics requires ("" if none is set).
func (d *Dir) MetricsToken() (string, error) {
	if d.Config.Metrics.TokenFile == "" {
		return "", nil
	}
	path, tok, err := d.readSetting("metrics.token_file", d.Config.Metrics.TokenFile)
	if err != nil {
		return "", err
	}
	if len(tok) < 16 {
		return "", fmt.Errorf("metrics.token_file %s: the token is %d characters; use at least 16 random ones", path, len(tok))
	}
	return tok, nil
}

// WideModes returns the files and directories of the node directory (its
// store among them) that others than the node's user may read or write:
// hotline serve warns about each.
func (d *Dir) WideModes() []string {
	var out []string
	check := func(path string) {
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			out = append(out, fmt.Sprintf("%s (%s)", path, fi.Mode().Perm()))
		}
	}
	filepath.WalkDir(d.Path, func(path string, _ fs.DirEntry, err error) error {
		if err == nil {
			check(path)
		}
		return nil
	})
	if store := d.StorePath(); !strings.HasPrefix(store, filepath.Clean(d.Path)+string(filepath.Separator)) {
		for _, p := range []string{store, store + "-wal", store + "-shm"} {
			check(p)
		}
	}
	return out
}

// Identity returns this party's identity document.
func (d *Dir) Identity() identity.Document {
	return identity.Document{Party: d.Config.Party, Key: d.Key.VerifierKey(), TLS: d.TLS.Fingerprint(), Endpoints: d.Config.Peer.Advertise}
}

// Peers reads the pinned parties' identity documents.
func (d *Dir) Peers() ([]identity.Document, error) {
	files, err := filepath.Glob(filepath.Join(d.Path, "peers", "*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []identity.Document
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		doc, err := identity.ParseDocument(b)
		if err != nil {
			return nil, fmt.Errorf("pinned peer %s: %w", f, err)
		}
		if want := doc.Party + ".json"; filepath.Base(f) != want {
			return nil, fmt.Errorf("pinned peer %s holds party %s; it should be named %s", f, doc.Party, want)
		}
		out = append(out, *doc)
	}
	return out, nil
}

// AddPeer pins a party from its identity document. Pinning a party again
// with a different key is refused: re-keying is a deliberate act (remove
// the old file first).
func (d *Dir) AddPeer(doc *identity.Document) (replaced bool, err error) {
	if err := doc.Check(); err != nil {
		return false, err
	}
	if doc.Party == d.Config.Party {
		return false, fmt.Errorf("that identity is this node's own party %q", doc.Party)
	}
	path := filepath.Join(d.Path, "peers", doc.Party+".json")
	if b, err := os.ReadFile(path); err == nil {
		old, err := identity.ParseDocument(b)
		if err == nil && (old.Key != doc.Key || old.TLS != doc.TLS) {
			return false, fmt.Errorf("party %s is already pinned with other keys; if it really re-keyed, remove %s and add it again", doc.Party, path)
		}
		replaced = true
	}
	b := MarshalDocument(doc)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return false, err
	}
	return replaced, writeFileSync(path, b, 0o600)
}

// MarshalDocument formats an identity document as the JSON file exchanged.
func MarshalDocument(doc *identity.Document) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "{\n  \"party\": %q,\n  \"key\": %q,\n  \"tls\": %q,\n  \"endpoints\": [", doc.Party, doc.Key, doc.TLS)
	for i, ep := range doc.Endpoints {
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%q", ep)
	}
	b.WriteString("]\n}\n")
	return []byte(b.String())
}

// writeFileSync writes a file atomically and durably: a temporary file,
// fsynced, renamed over the target, and the directory fsynced.
func writeFileSync(path string, data []byte, mode fs.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	dirf, err := os.Open(filepath.Dir(path))
	if err != nil {
		return err
	}
	defer dirf.Close()
	return dirf.Sync()
}
