package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// ServerOptions bound what callers can make the server hold at once. A
// zero field means the default.
type ServerOptions struct {
	// MaxConns bounds the connections open on the listener, pinned or
	// not; more are closed as soon as they are accepted. Default 128.
	MaxConns int
	// MaxRequestsPerPeer bounds the requests one party may have in
	// progress; more are answered 429. Default 8.
	MaxRequestsPerPeer int
	// MaxBytesInFlightPerPeer bounds the request bytes one party may have
	// being read at once; a request that would pass it is answered 429
	// before its body is read. Default 64 MiB.
	MaxBytesInFlightPerPeer int64
	// Refused, when set, is told of every request or connection refused
	// by these bounds: the party ("" before one is authenticated) and the
	// bound ("connections", "requests", "bytes_in_flight").
	Refused func(party, bound string)
}

// Server serves the peer protocol on a mutually authenticated TLS listener.
type Server struct {
	h      Handler
	log    *slog.Logger
	srv    *http.Server
	tlsKey *identity.TLSKey
	opt    ServerOptions

	mu    sync.Mutex
	gates map[string]*gate // per calling party
	conns atomic.Int64
}

// gate counts one party's requests and bytes in progress.
type gate struct {
	requests int
	bytes    int64
}

// NewServer returns a server for h. Only clients whose TLS key fingerprint
// h.PartyFor knows can complete the handshake.
func NewServer(h Handler, key *identity.TLSKey, log *slog.Logger, opt ServerOptions) *Server {
	if opt.MaxConns <= 0 {
		opt.MaxConns = 128
	}
	if opt.MaxRequestsPerPeer <= 0 {
		opt.MaxRequestsPerPeer = 8
	}
	if opt.MaxBytesInFlightPerPeer <= 0 {
		opt.MaxBytesInFlightPerPeer = 64 << 20
	}
	if opt.Refused == nil {
		opt.Refused = func(string, string) {}
	}
	s := &Server{h: h, log: log, tlsKey: key, opt: opt, gates: make(map[string]*gate)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /peer/v1/heads", s.limited(0, s.heads))
	mux.HandleFunc("POST /peer/v1/entries", s.limited(MaxBatchBytes, s.push))
	mux.HandleFunc("POST /peer/v1/pull", s.limited(MaxBatchBytes, s.pull))
	mux.HandleFunc("POST /peer/v1/heartbeat", s.limited(maxHeartbeat, s.heartbeat))
	mux.HandleFunc("POST /peer/v1/add-checkpoint", s.limited(maxAddCheckpoint, s.addCheckpoint))
	mux.HandleFunc("POST /peer/v1/call", s.limited(MaxCallRequest, s.call))
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second, // also bounds the TLS handshake
		ReadTimeout:       5 * time.Minute,  // a full batch over a 10 kB/s satellite bearer
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		TLSConfig: key.ServerConfig(func(fp identity.Fingerprint) bool {
			_, ok := h.PartyFor(string(fp))
			return ok
		}),
	}
	return s
}

// Serve serves on ln until Shutdown; it returns nil after a clean shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.srv.ServeTLS(&limitListener{Listener: ln, s: s}, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

// limitListener closes connections past MaxConns as soon as they are
// accepted, so the kernel's queue never fills and pinned peers that hold
// a connection keep it.
type limitListener struct {
	net.Listener
	s *Server
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.s.conns.Add(1) > int64(l.s.opt.MaxConns) {
			l.s.conns.Add(-1)
			l.s.opt.Refused("", "connections")
			c.Close()
			continue
		}
		return &countedConn{Conn: c, s: l.s}, nil
	}
}

type countedConn struct {
	net.Conn
	s    *Server
	once sync.Once
}

func (c *countedConn) Close() error {
	c.once.Do(func() { c.s.conns.Add(-1) })
	return c.Conn.Close()
}

// limited authenticates the caller and admits the request within its
// party's bounds: requests in progress, and bytes in flight (the
// request's length, or max when it does not say).
func (s *Server) limited(max int64, h func(w http.ResponseWriter, r *http.Request, party string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		party, ok := s.caller(w, r)
		if !ok {
			return
		}
		size := r.ContentLength
		if size < 0 || size > max {
			size = max // a longer body is refused when read
		}
		s.mu.Lock()
		g := s.gates[party]
		if g == nil {
			g = &gate{}
			s.gates[party] = g
		}
		bound := ""
		switch {
		case g.requests >= s.opt.MaxRequestsPerPeer:
			bound = "requests"
		case g.bytes+size > s.opt.MaxBytesInFlightPerPeer:
			bound = "bytes_in_flight"
		default:
			g.requests++
			g.bytes += size
		}
		s.mu.Unlock()
		if bound != "" {
			s.opt.Refused(party, bound)
			s.busy(w, party, r.URL.Path, &BusyError{RetryAfter: time.Second,
				Msg: fmt.Sprintf("peer: too many requests from %s in progress (%s bound reached); retry shortly", party, bound)})
			return
		}
		defer func() {
			s.mu.Lock()
			g.requests--
			g.bytes -= size
			s.mu.Unlock()
		}()
		h(w, r, party)
	}
}

// caller returns the authenticated party of a request.
func (s *Server) caller(w http.ResponseWriter, r *http.Request) (string, bool) {
	fp, ok := identity.ConnFingerprint(r.TLS)
	if ok {
		if party, known := s.h.PartyFor(string(fp)); known {
			return party, true
		}
	}
	http.Error(w, "peer: TLS key is not pinned by this node", http.StatusForbidden)
	return "", false
}

func (s *Server) heads(w http.ResponseWriter, r *http.Request, party string) {
	var after *entry.ChannelID
	if a := r.URL.Query().Get("after"); a != "" {
		id, err := entry.ParseChannelID(a)
		if err != nil {
			s.bad(w, party, "heads", fmt.Errorf("%w: after: %v", ErrMalformed, err))
			return
		}
		after = &id
	}
	page, err := s.h.PeerHeads(r.Context(), party, after)
	if err != nil {
		s.fail(w, party, "heads", err)
		return
	}
	writeCBOR(w, marshal(page))
}

// readBody reads a request body of at most max bytes into a buffer of
// its announced length, so that a full batch costs its size in memory,
// not the doubling of a growing buffer.
func readBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, error) {
	body := http.MaxBytesReader(w, r.Body, max)
	if n := r.ContentLength; n >= 0 && n <= max {
		buf := make([]byte, n)
		if _, err := io.ReadFull(body, buf); err != nil {
			return nil, err
		}
		return buf, nil
	}
	return io.ReadAll(body)
}

func (s *Server) push(w http.ResponseWriter, r *http.Request, party string) {
	body, err := readBody(w, r, MaxBatchBytes)
	if err != nil {
		s.bad(w, party, "push", fmt.Errorf("%w: batch larger than %d bytes or cut short: %v", ErrMalformed, MaxBatchBytes, err))
		return
	}
	raw, err := SplitEntries(body)
	if err != nil {
		s.bad(w, party, "push", err)
		return
	}
	res, err := s.h.PeerPush(r.Context(), party, raw)
	if err != nil {
		s.fail(w, party, "push", err)
		return
	}
	writeCBOR(w, marshal(res))
}

func (s *Server) pull(w http.ResponseWriter, r *http.Request, party string) {
	body, err := readBody(w, r, MaxBatchBytes)
	if err != nil {
		s.bad(w, party, "pull", fmt.Errorf("%w: request too large: %v", ErrMalformed, err))
		return
	}
	page, err := DecodeHeads(body)
	if err != nil {
		s.bad(w, party, "pull", err)
		return
	}
	limit := MaxBatchEntries
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l < limit {
		limit = l
	}
	entries, err := s.h.PeerPull(r.Context(), party, page, limit)
	if err != nil {
		s.fail(w, party, "pull", err)
		return
	}
	writeCBOR(w, EncodeEntries(entries))
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request, party string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHeartbeat))
	if err != nil {
		s.bad(w, party, "heartbeat", fmt.Errorf("%w: heartbeat too large: %v", ErrMalformed, err))
		return
	}
	answer, err := s.h.PeerHeartbeat(r.Context(), party, body)
	var se *StandbyError
	if errors.As(err, &se) {
		s.fail(w, party, "heartbeat", err)
		return
	}
	if err != nil {
		s.bad(w, party, "heartbeat", err)
		return
	}
	writeCBOR(w, answer)
}

// maxAddCheckpoint bounds an add-checkpoint request: 63 proof hashes and a
// checkpoint signed by at most every member of a channel.
const maxAddCheckpoint = 32 << 10

func (s *Server) addCheckpoint(w http.ResponseWriter, r *http.Request, party string) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxAddCheckpoint))
	if err != nil {
		s.bad(w, party, "add-checkpoint", fmt.Errorf("%w: request too large: %v", ErrMalformed, err))
		return
	}
	cosigs, err := s.h.PeerAddCheckpoint(r.Context(), party, body)
	var we *WitnessError
	switch {
	case errors.As(err, &we) && we.Code == http.StatusConflict && we.Size >= 0:
		s.log.Info("add-checkpoint: old size differs", "peer", party, "cosigned", we.Size)
		w.Header().Set("Content-Type", "text/x.tlog.size")
		w.WriteHeader(http.StatusConflict)
		fmt.Fprintf(w, "%d\n", we.Size)
	case errors.As(err, &we):
		s.log.Debug("add-checkpoint refused", "peer", party, "status", we.Code, "err", err)
		http.Error(w, err.Error(), we.Code)
	case err != nil:
		s.fail(w, party, "add-checkpoint", err)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(cosigs)
	}
}

// bad answers a request that does not parse. It logs at debug level only:
// a peer that sends garbage must not fill the log, and the node counts
// and alarms on it where it matters.
func (s *Server) bad(w http.ResponseWriter, party, op string, err error) {
	s.log.Debug("peer request refused", "peer", party, "op", op, "err", err)
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (s *Server) fail(w http.ResponseWriter, party, op string, err error) {
	var be *BusyError
	if errors.As(err, &be) {
		s.busy(w, party, op, be)
		return
	}
	var se *StandbyError
	if errors.As(err, &se) {
		w.Header().Set(StandbyHeader, "standby")
		http.Error(w, se.Error(), http.StatusServiceUnavailable)
		return
	}
	s.log.Error("peer request failed", "peer", party, "op", op, "err", err)
	http.Error(w, "peer: "+op+" failed on the server; see its log", http.StatusServiceUnavailable)
}

// busy answers 429 with the time to wait, in whole seconds (RFC 9110,
// section 10.2.3), rounded up.
func (s *Server) busy(w http.ResponseWriter, party, op string, be *BusyError) {
	s.log.Debug("peer request refused for now", "peer", party, "op", op, "retry_after", be.RetryAfter, "err", be.Msg)
	w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(max(be.RetryAfter, time.Second).Seconds()))))
	http.Error(w, be.Msg, http.StatusTooManyRequests)
}

func writeCBOR(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
