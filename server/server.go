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
	"syscall"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/console"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/peer"
	"github.com/hotline-project/hotline/sqlite"
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
	metricsLn     net.Listener // nil unless metrics.listen is set
	api           *http.Server
	metrics       *http.Server
	peer          *peer.Server
	wg            sync.WaitGroup
	closeOnce     sync.Once
	cancelReqs    context.CancelFunc // ends long-lived API requests (event streams) at shutdown
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
	peers, err := d.Peers()
	if err != nil {
		return nil, err
	}
	ladders, err := d.Ladders()
	if err != nil {
		return nil, err
	}
	mailer, err := d.Mailer()
	if err != nil {
		return nil, err
	}
	catalogs, err := d.Catalogs()
	if err != nil {
		return nil, err
	}
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
	s.Node, err = node.New(ctx, node.Config{
		Ladders: ladders, Mailer: mailer, Catalogs: catalogs,
		Key: d.Key, TLSKey: d.TLS, Store: s.Store, Peers: peers, Logger: s.Log,
		SyncInterval: d.Config.Sync.Interval.Duration, RetryMax: d.Config.Sync.RetryMax.Duration,
		PeerTimeout: d.Config.Sync.Timeout.Duration, FailbackAfter: d.Config.Sync.FailbackAfter.Duration,
		HeartbeatInterval: d.Config.Heartbeat.Interval.Duration, SilenceAlarm: d.Config.Heartbeat.SilenceAlarm.Duration,
		LinkHistory: d.Config.Heartbeat.History.Duration, Now: opts.Now,
		CheckpointBatch: d.Config.Checkpoint.Batch.Duration, CheckpointInterval: d.Config.Checkpoint.Interval.Duration,
		ClockAhead: d.Config.Clock.ToleranceAhead.Duration, ClockBehind: d.Config.Clock.ToleranceBehind.Duration,
		Limits: d.Config.Limits(), Invitations: d.Config.Quota.InvitationsPerPeer, InvitationExpiry: d.Config.Quota.InvitationExpiry.Duration,
		Streams: node.StreamLimits{Total: d.Config.API.MaxStreams, PerOperator: d.Config.API.MaxStreamsPerOperator},
	})
	if err != nil {
		return nil, err
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
	s.Node.Start()
	q := d.Config.Quota
	s.peer = peer.NewServer(s.Node, d.TLS, s.Log, peer.ServerOptions{
		MaxConns: q.PeerConnections, MaxRequestsPerPeer: q.PeerRequests, MaxBytesInFlightPerPeer: q.PeerMBInFlight << 20,
		Refused: s.Node.PeerRefused,
	})
	reqCtx, cancelReqs := context.WithCancel(context.Background())
	s.cancelReqs = cancelReqs
	apiHandler := api.New(s.Node, s.Store, d.Config.Peer.Advertise, s.Log)
	metricsToken, err := d.MetricsToken()
	if err != nil {
		return nil, err
	}
	if d.Config.Metrics.Listen == "" {
		apiHandler.ServeMetrics(metricsToken)
	} else {
		mmux := http.NewServeMux()
		mmux.Handle("GET /metrics", api.MetricsHandler(s.Node, metricsToken))
		s.metrics = &http.Server{Handler: mmux, ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(s.Log.Handler(), slog.LevelDebug)}
	}
	s.Console = console.New(s.Node, s.Store, s.Log)
	apiHandler.UseSessions(s.Console)
	mux := http.NewServeMux()
	mux.Handle(console.Prefix, s.Console)
	mux.Handle("GET /{$}", http.RedirectHandler(console.Prefix, http.StatusSeeOther))
	mux.Handle("/", apiHandler)
	s.api = &http.Server{
		BaseContext:       func(net.Listener) context.Context { return reqCtx },
		Handler:           mux,
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
	s.Log.Info("node started", "api", s.APIURL(), "peer", s.peerLn.Addr().String(), "peers", s.Node.Peers(), "store", storeName(d))
	return s, nil
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

// Close shuts down in order: stop taking API and peer requests (waiting
// for those in flight, up to ctx), stop the node's writer and sync loops
// (queued writes are answered), then close the store, which checkpoints
// its WAL so the next start finds a clean file.
func (s *Server) Close(ctx context.Context) error {
	var err error
	s.closeOnce.Do(func() {
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
		if s.Node != nil {
			s.Node.Close()
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
