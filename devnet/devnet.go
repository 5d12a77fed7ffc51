// Package devnet runs a complete local hotline network in one directory:
// one node per party, each with its own store and operator API, pinned to
// each other and peered over mutual TLS on loopback, with one bilateral
// channel per level. It backs `hotline dev` and the integration tests.
package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/faultnet"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/server"
)

// Names are the dev network's party names, in order.
var Names = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliett"}

// MaxParties is the largest dev network.
var MaxParties = len(Names)

// Operator is the operator each dev party's token belongs to.
const Operator = "duty"

// Party is one party of a dev network.
type Party struct {
	Name   string
	Dir    string
	Token  string
	Server *server.Server // nil while stopped
	// Replicas are the directories of the party's replicas, Dir first,
	// when it has more than one (Options.Replicas).
	Replicas []string
	// Media is the fault injector on the node's media socket, with
	// Options.MediaFaults (nil otherwise, and while stopped).
	Media *faultnet.PacketConn
}

// Network is a dev network.
type Network struct {
	Dir         string
	Parties     []*Party
	log         *slog.Logger
	clock       func(party string) func() time.Time
	directories bool
	mediaFaults bool
}

// Manifest is DIR/dev.json, what scripts read to drive the network.
type Manifest struct {
	Parties  []ManifestParty   `json:"parties"`
	Channels []ManifestChannel `json:"channels"`
}

// ManifestParty is one party in dev.json.
type ManifestParty struct {
	Name    string `json:"name"`
	API     string `json:"api"`
	Token   string `json:"token"`
	Console string `json:"console"`
	// Replicas are the party's replica processes, when it runs as
	// several (hotline dev --replicas); API is the first one's.
	Replicas []ManifestReplica `json:"replicas,omitempty"`
}

// ManifestReplica is one replica process of a party in dev.json.
type ManifestReplica struct {
	API  string `json:"api"`
	Peer string `json:"peer"`
	Pid  int    `json:"pid"`
}

// ManifestChannel is one channel in dev.json.
type ManifestChannel struct {
	ID      string   `json:"id"`
	Name    string   `json:"name"`
	Level   string   `json:"level"`
	Members []string `json:"members"`
}

// Options adjust a dev network.
type Options struct {
	Parties int          // default 2
	Logger  *slog.Logger // nil: discard
	// SyncInterval for every node; zero keeps the default.
	SyncInterval time.Duration
	// Fast makes links fail over and alarm in seconds, not minutes, for
	// fault tests: heartbeat 250ms, silence alarm 1s, retry cap and
	// failback 1s, peer timeout 5s (or PeerTimeout).
	Fast bool
	// PeerTimeout overrides the peer timeout; zero keeps the default.
	PeerTimeout time.Duration
	// Clock, when set, gives each party's node its clock (nil: the system
	// clock), to run parties whose clocks disagree.
	Clock func(party string) func() time.Time
	// Configure, when set, adjusts each party's configuration before its
	// node directory is first written (tests set ladders and SMTP here).
	Configure func(party string, cfg *config.Config)
	// Replicas gives each new party whose store Configure puts on
	// PostgreSQL this many replica directories (DIR/NAME, DIR/NAME-r2,
	// ...), all listed in its peer.advertise. A party on SQLite has one
	// directory, since replicas share a store.
	Replicas int
	// MediaFaults puts a faultnet.PacketConn on each party's media socket
	// (Party.Media), for tests of calls over a bad bearer.
	MediaFaults bool
	// Directories makes each party publish, in each of its channels,
	// counterparts for the channel's level (see DevCounterparts), so call
	// requests can be addressed at once. hotline dev sets it.
	Directories bool
}

// Prepare creates the parties' node directories under dir if they do not
// exist yet (fresh keys, free loopback ports, every party pinning every
// other), and returns the network, not started. Run again on the same
// directory, it finds what it made before.
func Prepare(dir string, opts Options) (*Network, error) {
	n := opts.Parties
	if n == 0 {
		n = 2
	}
	if n < 2 || n > MaxParties {
		return nil, fmt.Errorf("dev: --parties must be 2 to %d, got %d", MaxParties, n)
	}
	net := &Network{Dir: dir, log: opts.Logger, clock: opts.Clock, directories: opts.Directories, mediaFaults: opts.MediaFaults}
	if net.log == nil {
		net.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var dirs []*config.Dir
	for _, name := range Names[:n] {
		p := &Party{Name: name, Dir: filepath.Join(dir, name)}
		d, err := config.Open(p.Dir)
		if err != nil {
			if _, statErr := os.Stat(filepath.Join(p.Dir, config.FileName)); !errors.Is(statErr, fs.ErrNotExist) {
				return nil, err
			}
			cfg := config.Defaults(name)
			apiAddr, err := FreeAddr()
			if err != nil {
				return nil, err
			}
			peerAddr, err := FreeAddr()
			if err != nil {
				return nil, err
			}
			cfg.API.Listen, cfg.Peer.Listen, cfg.Peer.Advertise = apiAddr, peerAddr, []string{peerAddr}
			cfg.Log.Level = "debug"
			// Calls between parties on one machine; the dev operator
			// runs the link and may join in any role.
			cfg.Call.Loopback, cfg.Call.Operators = true, []string{Operator}
			if opts.SyncInterval > 0 {
				cfg.Sync.Interval = config.Duration{Duration: opts.SyncInterval}
			}
			if opts.Fast {
				cfg.Sync.Timeout = config.Duration{Duration: 5 * time.Second}
				cfg.Sync.RetryMax = config.Duration{Duration: time.Second}
				cfg.Sync.FailbackAfter = config.Duration{Duration: time.Second}
				cfg.Heartbeat.Interval = config.Duration{Duration: 250 * time.Millisecond}
				cfg.Heartbeat.SilenceAlarm = config.Duration{Duration: time.Second}
			}
			if opts.PeerTimeout > 0 {
				cfg.Sync.Timeout = config.Duration{Duration: opts.PeerTimeout}
			}
			if opts.Configure != nil {
				opts.Configure(name, &cfg)
			}
			// Replicas, for a party on PostgreSQL: each its own listeners,
			// every peer endpoint advertised.
			var more []config.Replica
			if cfg.Store.DSN != "" || cfg.Store.DSNFile != "" {
				for i := 2; i <= opts.Replicas; i++ {
					r := config.Replica{Name: fmt.Sprintf("%s-r%d", name, i)}
					if r.APIListen, err = FreeAddr(); err != nil {
						return nil, err
					}
					if r.PeerListen, err = FreeAddr(); err != nil {
						return nil, err
					}
					cfg.Peer.Advertise = append(cfg.Peer.Advertise, r.PeerListen)
					more = append(more, r)
				}
			}
			if len(more) > 0 && cfg.Replica.Name == "" {
				cfg.Replica.Name = name + "-r1"
			}
			if d, err = config.Init(p.Dir, cfg); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(p.Dir, "dev-token"), []byte(api.NewToken()+"\n"), 0o600); err != nil {
				return nil, err
			}
			for _, r := range more {
				if _, _, err := d.NewReplica(filepath.Join(dir, r.Name), r); err != nil {
					return nil, err
				}
			}
		}
		if more, _ := filepath.Glob(filepath.Join(dir, name+"-r[0-9]*")); len(more) > 0 {
			slices.Sort(more)
			p.Replicas = append([]string{p.Dir}, more...)
		}
		tok, err := os.ReadFile(filepath.Join(p.Dir, "dev-token"))
		if err != nil {
			return nil, fmt.Errorf("dev: %s has no dev-token; was it made by hotline dev? %w", p.Dir, err)
		}
		p.Token = strings.TrimSpace(string(tok))
		net.Parties = append(net.Parties, p)
		dirs = append(dirs, d)
	}
	for i, d := range dirs {
		pinning := []*config.Dir{d}
		for _, r := range net.Parties[i].Replicas[min(1, len(net.Parties[i].Replicas)):] {
			rd, err := config.Open(r)
			if err != nil {
				return nil, err
			}
			pinning = append(pinning, rd)
		}
		for j, other := range dirs {
			if i == j {
				continue
			}
			doc := other.Identity()
			for _, d := range pinning {
				if _, err := d.AddPeer(&doc); err != nil {
					return nil, fmt.Errorf("dev: pin %s at %s: %w", other.Config.Party, d.Path, err)
				}
			}
		}
	}
	return net, nil
}

// Party returns the party named name.
func (n *Network) Party(name string) *Party {
	for _, p := range n.Parties {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// StartParty starts one party's node.
func (n *Network) StartParty(ctx context.Context, p *Party) error {
	if p.Server != nil {
		return nil
	}
	var now func() time.Time
	if n.clock != nil {
		now = n.clock(p.Name)
	}
	opts := server.Options{Logger: n.log.With("node", p.Name), Now: now}
	if n.mediaFaults {
		opts.MediaConn = func(c net.PacketConn) net.PacketConn {
			p.Media = faultnet.NewPacketConn(c, uint64(len(p.Name)))
			return p.Media
		}
	}
	s, err := server.Start(ctx, p.Dir, opts)
	if err != nil {
		return fmt.Errorf("dev: start %s: %w", p.Name, err)
	}
	if _, err := s.Store.OperatorByToken(ctx, api.HashToken(p.Token)); hotline.ErrorCode(err) == hotline.ENOTFOUND {
		if err := s.Store.AddOperatorToken(ctx, Operator, api.HashToken(p.Token)); err != nil {
			s.Close(ctx)
			return err
		}
	}
	p.Server = s
	return nil
}

// StopParty stops one party's node cleanly.
func (n *Network) StopParty(ctx context.Context, p *Party) error {
	if p.Server == nil {
		return nil
	}
	err := p.Server.Close(ctx)
	p.Server = nil
	return err
}

// Start starts every node and, on first start, sets up the channels: one
// bilateral channel per level between the first two parties, proposed by
// the first and accepted by the second, and with three or more parties one
// policy channel of all. It then writes dev.json.
func (n *Network) Start(ctx context.Context) error {
	for _, p := range n.Parties {
		if err := n.StartParty(ctx, p); err != nil {
			n.Stop(ctx)
			return err
		}
	}
	if err := n.setupChannels(ctx); err != nil {
		n.Stop(ctx)
		return err
	}
	if n.directories {
		if err := n.publishDirectories(ctx); err != nil {
			n.Stop(ctx)
			return err
		}
	}
	return n.WriteManifest()
}

// Stop stops every running node.
func (n *Network) Stop(ctx context.Context) error {
	var errs []error
	for _, p := range n.Parties {
		errs = append(errs, n.StopParty(ctx, p))
	}
	return errors.Join(errs...)
}

func (n *Network) setupChannels(ctx context.Context) error {
	a, b := n.Parties[0], n.Parties[1]
	type want struct {
		name    string
		level   hotline.Level
		members []*Party
	}
	var wants []want
	for _, l := range hotline.Levels {
		wants = append(wants, want{fmt.Sprintf("%s-%s-%s", a.Name, b.Name, l), l, []*Party{b}})
	}
	if len(n.Parties) > 2 {
		wants = append(wants, want{"all-parties-policy", hotline.Policy, n.Parties[1:]})
	}
	existing := make(map[string]entry.ChannelID)
	for _, c := range a.Server.Node.Channels() {
		existing[c.Label] = c.ID
	}
	var above *entry.ChannelID // the bilateral channel one level up
	for _, w := range wants {
		if id, ok := existing[w.name]; ok {
			above = &id
			continue
		}
		var others []string
		for _, p := range w.members {
			others = append(others, p.Name)
		}
		// Each bilateral channel below strategic escalates into the one
		// above it, so the dev network shows a whole escalation chain.
		var policy *entry.Policy
		if len(w.members) == 1 && w.level != hotline.Track2 {
			policy = &entry.Policy{AckWithin: w.level.DefaultAckWithin().Milliseconds(), EscalateTo: above,
				RecordCalls: w.level == hotline.Strategic} // ministers' calls are recorded on each side
		}
		ch, err := a.Server.Node.Propose(ctx, Operator, w.name, string(w.level), others, node.ChannelOptions{Policy: policy})
		if err != nil {
			return fmt.Errorf("dev: propose %s: %w", w.name, err)
		}
		for _, p := range w.members {
			if err := waitFor(ctx, 30*time.Second, func() bool {
				c, err := p.Server.Node.ResolveChannel(ch.ID.String())
				return err == nil && c.State == hotline.ChannelInvited
			}); err != nil {
				return fmt.Errorf("dev: %s never received the proposal of %s: %w", p.Name, w.name, err)
			}
			if _, err := p.Server.Node.Accept(ctx, Operator, ch.ID.String()); err != nil {
				return fmt.Errorf("dev: %s accept %s: %w", p.Name, w.name, err)
			}
		}
		for _, p := range append([]*Party{a}, w.members...) {
			if err := waitFor(ctx, 30*time.Second, func() bool {
				c, err := p.Server.Node.ResolveChannel(ch.ID.String())
				return err == nil && c.State == hotline.ChannelActive
			}); err != nil {
				return fmt.Errorf("dev: channel %s never became active at %s: %w", w.name, p.Name, err)
			}
		}
		above = &ch.ID
	}
	return nil
}

// DevCounterparts are the counterparts a dev party publishes in a
// channel of each level: the people call requests are addressed to.
func DevCounterparts(party string, level hotline.Level) []entry.Counterpart {
	p := strings.ToUpper(party[:1]) + party[1:]
	switch level {
	case hotline.Strategic:
		return []entry.Counterpart{
			{Level: string(level), Role: "minister", Name: "Minister of Defence of " + p, Address: "Minister", Alternates: []string{"Deputy Minister of Defence of " + p}},
			{Level: string(level), Role: "chief-of-defence", Name: "Chief of Defence of " + p, Address: "General"},
		}
	case hotline.Policy:
		return []entry.Counterpart{{Level: string(level), Role: "director-policy", Name: "Director-General for Policy, " + p, Address: "Director-General"}}
	case hotline.Theatre:
		return []entry.Counterpart{{Level: string(level), Role: "theatre-commander", Name: "Commander, Joint Theatre Command, " + p, Address: "Commander"}}
	case hotline.Frontline:
		return []entry.Counterpart{{Level: string(level), Role: "duty-ship", Name: "Commanding Officer, duty frigate, " + p, Address: "Captain"}}
	default:
		return []entry.Counterpart{{Level: string(level), Role: "programme-lead", Name: "Programme Lead, " + p + " Institute for Strategic Studies"}}
	}
}

// publishDirectories has every party publish its dev counterparts in each
// active channel where it has published none yet (a resumed network keeps
// what it published before).
func (n *Network) publishDirectories(ctx context.Context) error {
	for _, p := range n.Parties {
		for _, ch := range p.Server.Node.Channels() {
			if ch.State != hotline.ChannelActive {
				continue
			}
			_, dirs, err := p.Server.Node.Directory(ctx, ch.ID.String())
			if err != nil {
				return err
			}
			if slices.ContainsFunc(dirs, func(d node.PartyDirectory) bool { return d.Party == p.Name }) {
				continue
			}
			level, err := hotline.ParseLevel(ch.Definition.Level)
			if err != nil {
				return err
			}
			if _, err := p.Server.Node.PublishDirectory(ctx, Operator, ch.ID.String(), &entry.Directory{Counterparts: DevCounterparts(p.Name, level)}); err != nil {
				return fmt.Errorf("dev: %s publish its directory in %s: %w", p.Name, ch.Definition.Name, err)
			}
		}
	}
	return nil
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(ctx context.Context, timeout time.Duration, cond func() bool) error {
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s", timeout)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}

// Manifest describes the running network.
func (n *Network) Manifest() Manifest {
	var m Manifest
	for _, p := range n.Parties {
		mp := ManifestParty{Name: p.Name, Token: p.Token}
		if p.Server != nil {
			mp.API = p.Server.APIURL()
			mp.Console = p.Server.ConsoleURL()
		}
		m.Parties = append(m.Parties, mp)
	}
	if a := n.Parties[0].Server; a != nil {
		for _, c := range a.Node.Channels() {
			mc := ManifestChannel{ID: c.ID.String(), Name: c.Label, Level: c.Definition.Level}
			for _, mem := range c.Definition.Members {
				mc.Members = append(mc.Members, mem.Party)
			}
			m.Channels = append(m.Channels, mc)
		}
	}
	return m
}

// WriteManifest writes DIR/dev.json.
func (n *Network) WriteManifest() error { return n.WriteManifestOf(n.Manifest()) }

// WriteManifestOf writes m as DIR/dev.json, atomically.
func (n *Network) WriteManifestOf(m Manifest) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	tmp := filepath.Join(n.Dir, ".dev.json.tmp")
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(n.Dir, "dev.json"))
}

// VerifyExport exports party p's archive of channel ch through its API and
// verifies it offline, as hotline verify does.
func VerifyExport(ctx context.Context, p *Party, ch string) (*audit.Report, error) {
	rc, err := client.New(p.Server.APIURL(), p.Token).Export(ctx, ch)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	a, err := audit.Decode(rc, nil)
	if err != nil {
		return nil, err
	}
	return audit.Verify(a), nil
}
