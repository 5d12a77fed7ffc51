package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
)

// standbyAPI is the operator API of a standby replica. It answers
// /healthz, /readyz and GET /api/v1/replica itself, and forwards every
// other request (API, console, event streams) to the writer, so that an
// operator may use any replica.
func (s *Server) standbyAPI() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if _, err := s.Store.(hotline.Lease).Holder(ctx); err != nil {
			http.Error(w, "store not readable: "+err.Error(), http.StatusServiceUnavailable)
			return
		}
		st := s.replica.Status()
		writer := "none holds the lease: a failover is under way"
		if st.Active != "" {
			writer = fmt.Sprintf("the writer is %s at %s", st.ActiveName, st.Active)
		}
		fmt.Fprintf(w, "ready standby: %s (epoch %d)\n", writer, st.Epoch)
	})
	mux.HandleFunc("GET /api/v1/replica", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") == "" { // a console session: the writer checks it
			s.forward(w, r)
			return
		}
		if _, err := api.BearerOperator(r, s.Store); err != nil {
			api.WriteError(w, err)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		json.NewEncoder(w).Encode(s.replica.Status())
	})
	mux.HandleFunc("/", s.forward)
	return mux
}

// forward sends an operator's request on to the writer and its answer
// back. While no replica holds the lease, or the writer refuses the
// connection, the request is answered 503 with NoWriterHeader: it was not
// carried out. A writer that fails after taking the request leaves its
// outcome unknown: that is answered 503 without the header.
func (s *Server) forward(w http.ResponseWriter, r *http.Request) {
	writer, ok := s.replica.Writer()
	if !ok {
		s.replica.Forwarded(r.Method, "no_writer")
		noWriter(w, "no replica of this party is its writer right now (a failover is under way); nothing was done: retry in a second")
		return
	}
	target := &url.URL{Scheme: "http", Host: writer}
	transport := s.forwardTransport
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		// A write goes on a connection of its own: a writer that died
		// since the last request then refuses it (or the dial times out),
		// which says for certain that nothing was done. On a kept-alive
		// connection its death would look like one it took the request
		// and died on.
		transport = s.forwardWrites
	}
	proxy := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(target)
			pr.Out.Host = pr.In.Host // the console's links and cookies stay this replica's
			pr.SetXForwarded()
		},
		Transport:     transport,
		FlushInterval: -1, // event streams
		ModifyResponse: func(*http.Response) error {
			s.replica.Forwarded(r.Method, "forwarded")
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			var op *net.OpError
			if errors.As(err, &op) && op.Op == "dial" || r.Method == http.MethodGet || r.Method == http.MethodHead {
				s.replica.Forwarded(r.Method, "no_writer")
				noWriter(w, fmt.Sprintf("the writer at %s did not answer (%v); nothing was done: retry in a second", writer, err))
				return
			}
			s.replica.Forwarded(r.Method, "failed")
			s.Log.Warn("a forwarded request failed at the writer", "writer", writer, "method", r.Method, "path", r.URL.Path, "err", err)
			api.WriteError(w, hotline.Errorf(hotline.EUNAVAILABLE,
				"the writer at %s failed while handling the request (%v): it may or may not have been carried out; look before sending it again", writer, err))
		},
	}
	proxy.ServeHTTP(w, r)
}

// noWriter answers that the request was not carried out for want of a
// writer.
func noWriter(w http.ResponseWriter, msg string) {
	w.Header().Set(api.NoWriterHeader, api.NoWriter)
	w.Header().Set("Retry-After", "1")
	api.WriteError(w, hotline.Errorf(hotline.EUNAVAILABLE, "%s", msg))
}
