// Package server runs one party's complete node from its directory: the
// store, the node, the peer listener and the operator API. `hotline serve`,
// `hotline dev`, `hotline bench` and the integration tests all start nodes
// through it, so they run the same code an operator does.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/console"
	"github.com/hotline-project/hotline/escalation"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/keychain"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/peer"
	"github.com/hotline-project/hotline/phrase"
	"github.com/hotline-project/hotline/replica"
	"github.com/hotline-project/hotline/sqlite"
	"github.com/prometheus/client_golang/prometheus"
)

// Server is a running node with its listeners.
type Server struct {
	Dir   *config.Dir
	Store Store
	Node  *node.Node
	Log   *slog.Logger
	// Console is the operator console, served under /console/ on the API
	// listener.
	Console *console.Console

	apiLn, peerLn net.Listener
	metricsLn     net.Listener   // nil unless metrics.listen is set
	mediaConn     net.PacketConn // the calls' media socket, if call.udp_listen is set
	api           *http.Server
	metrics       *http.Server
	peer          *peer.Server
	registry      *prometheus.Registry
	wg            sync.WaitGroup
	closeOnce     sync.Once
	cancelReqs    context.CancelFunc // ends long-lived API requests (event streams) at shutdown

	// The node, its console and the operator API's handler are set when
	// the node starts: at once, or when a standby replica takes over.
	node       atomic.Pointer[node.Node]
	console    atomic.Pointer[console.Console]
	apiHandler atomic.Pointer[handler]

	files            nodeFiles                       // read from the directory once, at Start
	peerParties      map[identity.Fingerprint]string // pinned peers by TLS key, for a standby's handshakes
	replica          *replica.Replica                // nil unless the store is shared by replicas
	forwardTransport http.RoundTripper               // a standby's connections to the writer, kept alive for reads
	forwardWrites    http.RoundTripper               // and for writes, one each
	roleCtx          context.Context                 // ends when the server closes: stops campaigning and renewing
	stopRole         context.CancelFunc
	roleDone         chan struct{} // closed when the replica's loop has returned
	done             chan struct{} // closed when the server stops on its own (lease lost)
	doneErr          error
}

// Options adjust how a server starts.
type Options struct {
	// Logger overrides the logger the configuration describes.
	Logger *slog.Logger
	// LogOutput is where the configured logger writes; nil means discard.
	LogOutput io.Writer
	// Now is the node's clock; nil means the system clock. Tests set it to
	// run parties whose clocks disagree.
	Now func() time.Time
	// MediaConn, when set, wraps the socket that carries the calls' media
	// (call.udp_listen, or a loopback port when that is empty): tests
	// inject a bearer's faults there (faultnet.PacketConn).
	MediaConn func(net.PacketConn) net.PacketConn
}

// NewLogger returns the logger a configuration describes.
func NewLogger(cfg *config.Config, w io.Writer) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(cfg.Log.Level))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Log.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Start opens the node in dir, binds its listeners and starts serving. On
// error, everything opened so far is closed again.
func Start(ctx context.Context, dir string, opts Options) (_ *Server, err error) {
	d, err := config.Open(dir)
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: d, Log: opts.Logger}
	if s.Log == nil {
		out := opts.LogOutput
		if out == nil {
			out = io.Discard
		}
		s.Log = NewLogger(&d.Config, out)
	}
	defer func() {
		if err != nil {
			s.Close(context.Background())
		}
	}()
	// Read what the node needs before connecting, so that a mistake in
	// the directory is reported before anything starts; a standby starts
	// its node from the same, later.
	f := &s.files
	if f.peers, err = d.Peers(); err != nil {
		return nil, err
	}
	if f.revocations, err = d.Revocations(); err != nil {
		return nil, err
	}
	if f.ownRevocation, err = d.OwnRevocation(); err != nil {
		return nil, err
	}
	if f.ladders, err = d.Ladders(); err != nil {
		return nil, err
	}
	if f.mailer, err = d.Mailer(); err != nil {
		return nil, err
	}
	if f.catalogs, err = d.Catalogs(); err != nil {
		return nil, err
	}
	peers := f.peers
	if s.Store, err = OpenStore(ctx, d); err != nil {
		return nil, err
	}
	for _, wide := range d.WideModes() {
		s.Log.Warn("readable or writable by others than the node's user; make it 0600 (files) or 0700 (directories)", "path", wide)
	}
	sq, onSQLite := s.Store.(*sqlite.Store)
	if !onSQLite {
		s.Log.Info("the store is on PostgreSQL: store.max_size_mb bounds each party's share of it, but not the database's size; set that on the database server")
	} else if d.Config.Store.MaxSizeMB == 0 {
		s.Log.Warn("store.max_size_mb is 0: the store has no cap but the disk, so no party's share of it is bounded; set a cap below the disk's free space (README, Limits against a hostile peer)")
	}
	if want := d.Config.Store.MaxSizeMB << 20; want > 0 && onSQLite {
		got, err := sq.SetMaxSize(ctx, want)
		if err != nil {
			return nil, err
		}
		if got > want {
			s.Log.Warn("the store is already larger than store.max_size_mb; it cannot grow until the cap is raised",
				"size_mb", got>>20, "max_size_mb", d.Config.Store.MaxSizeMB)
		}
		// The per-party shares protect the other channels only if the cap,
		// not the disk, is what fills first.
		var fs syscall.Statfs_t
		if err := syscall.Statfs(filepath.Dir(d.StorePath()), &fs); err == nil {
			if room := int64(fs.Bavail)*int64(fs.Bsize) + fileSize(d.StorePath()) + fileSize(d.StorePath()+"-wal"); room < want {
				s.Log.Warn("the disk has less room than store.max_size_mb: one party's flood could fill the disk before its share of the cap; set store.max_size_mb below the free space",
					"free_mb", room>>20, "max_size_mb", d.Config.Store.MaxSizeMB)
			}
		}
	}
	if s.peerLn, err = net.Listen("tcp", d.Config.Peer.Listen); err != nil {
		return nil, fmt.Errorf("peer listener: %w (is another node using %s?)", err, d.Config.Peer.Listen)
	}
	if s.apiLn, err = net.Listen("tcp", d.Config.API.Listen); err != nil {
		return nil, fmt.Errorf("API listener: %w (is another node using %s?)", err, d.Config.API.Listen)
	}
	if l := d.Config.Metrics.Listen; l != "" {
		if s.metricsLn, err = net.Listen("tcp", l); err != nil {
			return nil, fmt.Errorf("metrics listener: %w (is another node using %s?)", err, l)
		}
	}
	s.registry = prometheus.NewRegistry()
	s.done = make(chan struct{})
	s.roleCtx, s.stopRole = context.WithCancel(context.Background())
	s.peerParties = pinnedTLS(peers)
	if lease, ok := s.Store.(hotline.Lease); ok {
		if err := s.startReplica(ctx, lease); err != nil {
			return nil, err
		}
	}
	active := s.replica == nil || s.replica.Role() == replica.Active
	if !active {
		s.apiHandler.Store(&handler{s.standbyAPI()})
	}
	if s.replica != nil {
		// Renewing (or campaigning) starts now: an active replica's lease
		// must not lapse while its node starts.
		s.roleDone = make(chan struct{})
		go s.runReplica(opts)
	}
	if active {
		if err := s.activate(ctx, opts); err != nil {
			return nil, err
		}
		s.Node = s.node.Load()
		s.Console = s.console.Load()
	}
	if err := s.serve(); err != nil {
		return nil, err
	}
	role := "single"
	if s.replica != nil {
		role = string(s.replica.Role())
	}
	s.Log.Info("node started", "api", s.APIURL(), "peer", s.peerLn.Addr().String(), "peers", len(peers), "store", storeName(d), "role", role)
	return s, nil
}

// callOptions returns how the node carries calls, from the configuration
// (checked when it was read); with call.udp_listen (or a MediaConn
// wrapper), it opens the media's socket, which the server closes.
func (s *Server) callOptions(d *config.Dir, opts Options) (*node.CallOptions, error) {
	lo, hi, _ := d.Config.CallPorts()
	o := &node.CallOptions{Dir: d.CallDir(), Operators: d.Config.Call.Operators,
		Media: conference.MediaOptions{Loopback: d.Config.Call.Loopback, UDPPortMin: lo, UDPPortMax: hi, PublicIPs: d.Config.Call.PublicIPs}}
	addr := d.Config.Call.UDPListen
	if addr == "" && opts.MediaConn != nil {
		addr = "127.0.0.1:0"
	}
	if addr != "" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return nil, fmt.Errorf("call.udp_listen: %w", err)
		}
		s.mediaConn = c
		o.Media.UDP = c
		if opts.MediaConn != nil {
			o.Media.UDP = opts.MediaConn(c)
		}
	}
	return o, nil
}

// activate starts the node: the writer, the peer links and the operator
// API behind the listeners. A replica does this once it holds the lease.
func (s *Server) activate(ctx context.Context, opts Options) error {
	d, f := s.Dir, &s.files
	calls, err := s.callOptions(d, opts)
	if err != nil {
		return err
	}
	n, err := node.New(ctx, node.Config{
		Ladders: f.ladders, Mailer: f.mailer, Catalogs: f.catalogs, Registry: s.registry,
		Key: d.Key, TLSKey: d.TLS, KeyFiles: d, Revocations: f.revocations, OwnRevocation: f.ownRevocation, Store: s.Store, Peers: f.peers, Logger: s.Log,
		SyncInterval: d.Config.Sync.Interval.Duration, RetryMax: d.Config.Sync.RetryMax.Duration,
		PeerTimeout: d.Config.Sync.Timeout.Duration, FailbackAfter: d.Config.Sync.FailbackAfter.Duration,
		HeartbeatInterval: d.Config.Heartbeat.Interval.Duration, SilenceAlarm: d.Config.Heartbeat.SilenceAlarm.Duration,
		LinkHistory: d.Config.Heartbeat.History.Duration, Now: opts.Now,
		CheckpointBatch: d.Config.Checkpoint.Batch.Duration, CheckpointInterval: d.Config.Checkpoint.Interval.Duration,
		ClockAhead: d.Config.Clock.ToleranceAhead.Duration, ClockBehind: d.Config.Clock.ToleranceBehind.Duration,
		Limits: d.Config.Limits(), Invitations: d.Config.Quota.InvitationsPerPeer, InvitationExpiry: d.Config.Quota.InvitationExpiry.Duration,
		Streams: node.StreamLimits{Total: d.Config.API.MaxStreams, PerOperator: d.Config.API.MaxStreamsPerOperator},
		Calls:   calls,
	})
	if err != nil {
		return err
	}
	n.Start()
	apiHandler := api.New(n, s.Store, d.Config.Peer.Advertise, s.Log)
	if s.replica != nil {
		apiHandler.UseReplica(s.replica.Status)
	}
	c := console.New(n, s.Store, s.Log)
	apiHandler.UseSessions(c)
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, c)
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusSeeOther))
	mux.Handle("/", apiHandler)
	s.console.Store(c)
	s.node.Store(n)
	s.apiHandler.Store(&handler{mux})
	return nil
}

// nodeFiles is what the node starts from, besides the configuration:
// pinned peers, ladders, the mailer and phrase catalogs.
type nodeFiles struct {
	peers []identity.Document
	// revocations are the other parties' (peer update), ownRevocation
	// this party's last (key revoke).
	revocations   []*keychain.Revocation
	ownRevocation *keychain.Revocation
	ladders       escalation.Ladders
	mailer        *escalation.Mailer
	catalogs      *phrase.Set
}

// handler lets an http.Handler sit in an atomic.Pointer.
type handler struct{ http.Handler }

// serve starts serving the listeners: the peer link, the operator API
// (the node's, or a standby's until it takes over) and the metrics.
func (s *Server) serve() error {
	d := s.Dir
	q := d.Config.Quota
	s.peer = peer.NewServer(peerSwitch{s}, d.TLS, s.Log, peer.ServerOptions{
		MaxConns: q.PeerConnections, MaxRequestsPerPeer: q.PeerRequests, MaxBytesInFlightPerPeer: q.PeerMBInFlight << 20,
		Refused: func(party, bound string) {
			if n := s.node.Load(); n != nil {
				n.PeerRefused(party, bound)
			}
		},
	})
	metricsToken, err := d.MetricsToken()
	if err != nil {
		return err
	}
	metrics := api.MetricsHandler(s.registry, metricsToken)
	reqCtx, cancelReqs := context.WithCancel(context.Background())
	s.cancelReqs = cancelReqs
	outer := http.NewServeMux()
	if d.Config.Metrics.Listen == "" {
		outer.Handle("GET /metrics", metrics)
	} else {
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", metrics)
		s.metrics = &http.Server{Handler: mmux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
	}
	outer.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.apiHandler.Load().ServeHTTP(w, r)
	}))
	s.api = &http.Server{
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		Handler:           outer,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug),
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		if err := s.peer.Serve(s.peerLn); err != nil {
			s.Log.Error("peer listener stopped", "err", err)
		}
	}()
	if s.metrics != nil {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := s.metrics.Serve(s.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				s.Log.Error("metrics listener stopped", "err", err)
			}
		}()
	}
	go func() {
		defer s.wg.Done()
		if err := s.api.Serve(s.apiLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Log.Error("API listener stopped", "err", err)
		}
	}()
	return nil
}

// APIURL returns the operator API's base URL.
func (s *Server) APIURL() string { return "http://" + s.apiLn.Addr().String() }

// ConsoleURL returns the operator console's URL.
func (s *Server) ConsoleURL() string { return s.APIURL() + console.Prefix }

// MetricsURL returns where /metrics is served.
func (s *Server) MetricsURL() string {
	if s.metricsLn != nil {
		return "http://" + s.metricsLn.Addr().String() + "/metrics"
	}
	return s.APIURL() + "/metrics"
}

// PeerAddr returns the peer listener's address.
func (s *Server) PeerAddr() string { return s.peerLn.Addr().String() }

// Close shuts down in order: stop campaigning for or renewing the lease,
// stop taking API and peer requests (waiting for those in flight, up to
// ctx), stop the node's writer and sync loops (queued writes are
// answered), release the lease if this replica held it, then close the
// store, which checkpoints its WAL so the next start finds a clean file.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
		if s.stopRole != nil {
			s.stopRole()
			if s.roleDone != nil {
				<-s.roleDone
			}
		}
		if s.api != nil {
			s.cancelReqs()
			s.api.Shutdown(ctx)
		} else if s.apiLn != nil {
			s.apiLn.Close()
		}
		if s.peer != nil {
			s.peer.Shutdown(ctx)
		} else if s.peerLn != nil {
			s.peerLn.Close()
		}
		if s.metrics != nil && s.metricsLn != nil {
			s.metrics.Shutdown(ctx)
		} else if s.metricsLn != nil {
			s.metricsLn.Close()
		}
		s.wg.Wait()
		if n := s.node.Load(); n != nil {
			n.Close()
		}
		if s.mediaConn != nil {
			s.mediaConn.Close()
		}
		if s.replica != nil {
			// Only now that the node wrote its last: a standby takes over
			// at once instead of when the lease lapses.
			rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
			s.replica.Release(rctx)
			cancel()
		}
		if s.Store != nil {
			err = s.Store.Close()
		}
		if s.Log != nil {
			s.Log.Info("node stopped")
		}
	})
	return err
}

// fileSize is the size of the file at path, 0 if there is none.
func fileSize(path string) int64 {
	if fi, err := os.Stat(path); err == nil {
		return fi.Size()
	}
	return 0
}
