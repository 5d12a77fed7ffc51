package peer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/hotline-project/hotline/identity"
)

// Server serves the peer protocol on a mutually authenticated TLS listener.
type Server struct {
	h      Handler
	log    *slog.Logger
	srv    *http.Server
	tlsKey *identity.TLSKey
}

// NewServer returns a server for h. Only clients whose TLS key fingerprint
// h.PartyFor knows can complete the handshake.
func NewServer(h Handler, key *identity.TLSKey, log *slog.Logger) *Server {
	s := &Server{h: h, log: log, tlsKey: key}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /peer/v1/heads", s.heads)
	mux.HandleFunc("POST /peer/v1/entries", s.push)
	mux.HandleFunc("POST /peer/v1/pull", s.pull)
	mux.HandleFunc("POST /peer/v1/heartbeat", s.heartbeat)
	mux.HandleFunc("POST /peer/v1/add-checkpoint", s.addCheckpoint)
	s.srv = &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       5 * time.Minute, // a full batch over a 10 kB/s satellite bearer
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
	err := s.srv.ServeTLS(ln, "", "")
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting and waits for requests in flight.
func (s *Server) Shutdown(ctx context.Context) error { return s.srv.Shutdown(ctx) }

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

func (s *Server) heads(w http.ResponseWriter, r *http.Request) {
	party, ok := s.caller(w, r)
	if !ok {
		return
	}
	heads, err := s.h.PeerHeads(r.Context(), party)
	if err != nil {
		s.fail(w, party, "heads", err)
		return
	}
	writeCBOR(w, marshal(Heads{Heads: heads}))
}

func (s *Server) push(w http.ResponseWriter, r *http.Request) {
	party, ok := s.caller(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBatchBytes))
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

func (s *Server) pull(w http.ResponseWriter, r *http.Request) {
	party, ok := s.caller(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBatchBytes))
	if err != nil {
		s.bad(w, party, "pull", fmt.Errorf("%w: request too large: %v", ErrMalformed, err))
		return
	}
	heads, err := DecodeHeads(body)
	if err != nil {
		s.bad(w, party, "pull", err)
		return
	}
	limit := MaxBatchEntries
	if l, err := strconv.Atoi(r.URL.Query().Get("limit")); err == nil && l > 0 && l < limit {
		limit = l
	}
	entries, err := s.h.PeerPull(r.Context(), party, heads, limit)
	if err != nil {
		s.fail(w, party, "pull", err)
		return
	}
	writeCBOR(w, EncodeEntries(entries))
}

func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	party, ok := s.caller(w, r)
	if !ok {
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxHeartbeat))
	if err != nil {
		s.bad(w, party, "heartbeat", fmt.Errorf("%w: heartbeat too large: %v", ErrMalformed, err))
		return
	}
	answer, err := s.h.PeerHeartbeat(r.Context(), party, body)
	if err != nil {
		s.bad(w, party, "heartbeat", err)
		return
	}
	writeCBOR(w, answer)
}

// maxAddCheckpoint bounds an add-checkpoint request: 63 proof hashes and a
// checkpoint signed by at most every member of a channel.
const maxAddCheckpoint = 32 << 10

func (s *Server) addCheckpoint(w http.ResponseWriter, r *http.Request) {
	party, ok := s.caller(w, r)
	if !ok {
		return
	}
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
		s.log.Warn("add-checkpoint refused", "peer", party, "status", we.Code, "err", err)
		http.Error(w, err.Error(), we.Code)
	case err != nil:
		s.fail(w, party, "add-checkpoint", err)
	default:
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write(cosigs)
	}
}

func (s *Server) bad(w http.ResponseWriter, party, op string, err error) {
	s.log.Warn("peer request refused", "peer", party, "op", op, "err", err)
	http.Error(w, err.Error(), http.StatusBadRequest)
}

func (s *Server) fail(w http.ResponseWriter, party, op string, err error) {
	s.log.Error("peer request failed", "peer", party, "op", op, "err", err)
	http.Error(w, "peer: "+op+" failed on the server; see its log", http.StatusServiceUnavailable)
}

func writeCBOR(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/cbor")
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.Write(b)
}
