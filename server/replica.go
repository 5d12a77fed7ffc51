package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/peer"
	"github.com/hotline-project/hotline/replica"
)

// startReplica makes this server one of the party's replicas on a shared
// store, and tries once for the lease. A replica restarting after a crash
// finds its own earlier lease still running: it waits for it to lapse,
// since nothing else will take it over sooner.
func (s *Server) startReplica(ctx context.Context, lease hotline.Lease) error {
	c := s.Dir.Config
	name := c.Replica.Name
	if name == "" {
		host, err := os.Hostname()
		if err != nil {
			host = "localhost"
		}
		name = host + "-" + s.apiLn.Addr().String()
	}
	s.replica = replica.New(replica.Config{
		Lease: lease,
		Me:    hotline.LeaseHolder{Name: name, API: reachable(s.apiLn.Addr()), Peer: reachable(s.peerLn.Addr())},
		TTL:   c.Replica.Lease.Duration, Renew: c.Replica.Renew.Duration,
		Log: s.Log, Registry: s.registry,
	})
	dial := (&net.Dialer{Timeout: 2 * time.Second}).DialContext
	s.forwardTransport = &http.Transport{DialContext: dial, MaxIdleConnsPerHost: 32, IdleConnTimeout: time.Minute}
	s.forwardWrites = &http.Transport{DialContext: dial, DisableKeepAlives: true}
	deadline := time.Now().Add(c.Replica.Lease.Duration + c.Replica.Renew.Duration)
	for {
		ok, err := s.replica.TryAcquire(ctx)
		if err != nil {
			return fmt.Errorf("replica: read the lease: %w", err)
		}
		st := s.replica.Status()
		if ok || st.ActiveName != name || time.Now().After(deadline) {
			if !ok {
				s.Log.Info("starting as a standby replica", "replica", name, "writer", st.ActiveName, "writer_api", st.Active, "epoch", st.Epoch)
			}
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(c.Replica.Renew.Duration):
		}
	}
}

// reachable is the address other replicas reach a listener at: its own,
// or, bound to every interface, the host's name with its port.
func reachable(a net.Addr) string {
	host, port, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		if h, err := os.Hostname(); err == nil {
			host = h
		}
	}
	return net.JoinHostPort(host, port)
}

// runReplica campaigns for the lease while a standby, starts the node
// when it wins, and renews the lease while active. Losing the lease stops
// the server (Done): a replica does not step down in place, it exits and
// its supervisor starts it again as a standby, with nothing carried over.
func (s *Server) runReplica(opts Options) {
	defer close(s.roleDone)
	ctx := s.roleCtx
	standby := s.replica.Role() == replica.Standby
	if standby {
		if err := s.replica.Campaign(ctx); err != nil {
			return // closing
		}
	}
	// The lease is renewed from the moment it is held, while the node
	// starts too: a slow start must not let it lapse.
	held := make(chan error, 1)
	go func() { held <- s.replica.Hold(ctx) }()
	if standby {
		start := time.Now()
		if err := s.activate(ctx, opts); err != nil {
			if ctx.Err() != nil {
				<-held // closing while it started: a clean stop, not a failure
				return
			}
			s.stop(fmt.Errorf("replica: took over the lease but could not start the node: %w", err))
			<-held // the store is fenced; the lease lapses or is released at Close
			return
		}
		s.Log.Info("standby took over as the party's writer", "started_in", time.Since(start).Round(time.Millisecond))
	}
	if err := <-held; err != nil {
		s.Log.Error("this replica is no longer the party's writer; stopping, so that it restarts as a standby", "err", err)
		s.stop(err)
	}
}

// stop ends the server on its own, with err: Done is closed.
func (s *Server) stop(err error) {
	s.doneErr = err
	close(s.done)
}

// Done is closed when the server stops on its own: a replica that lost
// its lease. Err then says why; the caller should Close it and exit.
func (s *Server) Done() <-chan struct{} { return s.done }

// Err says why the server stopped on its own, once Done is closed.
func (s *Server) Err() error {
	select {
	case <-s.done:
		return s.doneErr
	default:
		return nil
	}
}

// ActiveNode returns the running node; nil on a standby replica.
func (s *Server) ActiveNode() *node.Node { return s.node.Load() }

// Replica returns the server's replica; nil unless its store is shared by
// replicas (on PostgreSQL).
func (s *Server) Replica() *replica.Replica { return s.replica }

// pinnedTLS maps each pinned peer's TLS key to its party.
func pinnedTLS(peers []identity.Document) map[identity.Fingerprint]string {
	m := make(map[identity.Fingerprint]string, len(peers))
	for _, p := range peers {
		m[p.TLS] = p.Party
	}
	return m
}

// peerSwitch serves the peer protocol through the node once it runs; a
// standby completes pinned parties' handshakes and answers that it is
// not the writer, and they move on to the party's next endpoint.
type peerSwitch struct{ s *Server }

func (p peerSwitch) standby() error { return &peer.StandbyError{Party: p.s.Dir.Config.Party} }

// PartyFor implements peer.Handler.
func (p peerSwitch) PartyFor(fp string) (string, bool) {
	if n := p.s.node.Load(); n != nil {
		return n.PartyFor(fp)
	}
	party, ok := p.s.peerParties[identity.Fingerprint(fp)]
	return party, ok
}

// PeerHeartbeat implements peer.Handler.
func (p peerSwitch) PeerHeartbeat(ctx context.Context, party string, signed []byte) ([]byte, error) {
	if n := p.s.node.Load(); n != nil {
		return n.PeerHeartbeat(ctx, party, signed)
	}
	return nil, p.standby()
}

// PeerHeads implements peer.Handler.
func (p peerSwitch) PeerHeads(ctx context.Context, party string, after *entry.ChannelID) (*peer.Heads, error) {
	if n := p.s.node.Load(); n != nil {
		return n.PeerHeads(ctx, party, after)
	}
	return nil, p.standby()
}

// PeerPush implements peer.Handler.
func (p peerSwitch) PeerPush(ctx context.Context, party string, raw [][]byte) (*peer.PushResult, error) {
	if n := p.s.node.Load(); n != nil {
		return n.PeerPush(ctx, party, raw)
	}
	return nil, p.standby()
}

// PeerPull implements peer.Handler.
func (p peerSwitch) PeerPull(ctx context.Context, party string, page *peer.Heads, limit int) ([]*entry.Entry, error) {
	if n := p.s.node.Load(); n != nil {
		return n.PeerPull(ctx, party, page, limit)
	}
	return nil, p.standby()
}

// PeerCall implements peer.Handler.
func (p peerSwitch) PeerCall(ctx context.Context, party string, req *peer.CallRequest) (*peer.CallResponse, error) {
	if n := p.s.node.Load(); n != nil {
		return n.PeerCall(ctx, party, req)
	}
	return nil, p.standby()
}

// PeerAddCheckpoint implements peer.Handler.
func (p peerSwitch) PeerAddCheckpoint(ctx context.Context, party string, body []byte) ([]byte, error) {
	if n := p.s.node.Load(); n != nil {
		return n.PeerAddCheckpoint(ctx, party, body)
	}
	return nil, p.standby()
}
