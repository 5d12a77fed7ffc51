// Package api serves a node's operator HTTP API under /api/v1/: JSON,
// authenticated by per-operator bearer tokens (stored hashed), with
// server-sent events for live updates, plus /healthz, /readyz and
// /metrics. The contract is documented in openapi.yaml, served at
// /api/v1/openapi.yaml.
package api

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	_ "embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/replica"
)

//go:embed openapi.yaml
var openAPI []byte

// OpenAPI returns the API's OpenAPI document.
func OpenAPI() []byte { return openAPI }

// maxRequestBytes bounds a request body: a message at its size limit, JSON
// escaped, fits with room to spare.
const maxRequestBytes = 8 * entry.MaxTextBytes

// Server is the operator API of one node.
type Server struct {
	n         *node.Node
	store     hotline.Store
	log       *slog.Logger
	endpoints []string // the peer endpoints this node advertises
	mux       *http.ServeMux
	sessions  SessionSource
	replica   func() replica.Status // nil: a single node
}

// SessionSource authenticates the operator console's sessions: the
// session's operator, and whether the request carries the session's CSRF
// token (in X-CSRF-Token), which anything that writes must.
type SessionSource interface {
	Session(r *http.Request) (operator string, csrfOK, ok bool)
}

// UseReplica makes GET /api/v1/replica report this replica's role and
// the writer's address; without it, the node is a single one.
func (s *Server) UseReplica(status func() replica.Status) { s.replica = status }

func (s *Server) replicaStatus(w http.ResponseWriter, r *http.Request, _ string) error {
	if s.replica == nil {
		return writeJSON(w, http.StatusOK, replica.Status{Role: replica.Single})
	}
	return writeJSON(w, http.StatusOK, s.replica())
}

// UseSessions lets requests authenticate with a console session as well
// as a bearer token.
func (s *Server) UseSessions(src SessionSource) { s.sessions = src }

// New returns the API of node n.
func New(n *node.Node, store hotline.Store, endpoints []string, log *slog.Logger) *Server {
	s := &Server{n: n, store: store, log: log, endpoints: endpoints, mux: http.NewServeMux()}
	s.mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok\n") })
	s.mux.HandleFunc("GET /readyz", s.ready)
	s.mux.HandleFunc("GET /api/v1/openapi.yaml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/yaml")
		w.Write(openAPI)
	})
	s.handle("GET /api/v1/identity", s.identity)
	s.handle("GET /api/v1/drafts", s.drafts)
	s.handle("GET /api/v1/drafts/{draft}", s.draft)
	s.handle("POST /api/v1/drafts/{draft}/release", s.releaseDraft)
	s.handle("POST /api/v1/drafts/{draft}/return", s.returnDraft)
	s.handle("POST /api/v1/drafts/{draft}/withdraw", s.withdrawDraft)
	s.handle("GET /api/v1/keys", s.keyStatus)
	s.handle("POST /api/v1/keys/rotate", s.rotateKey)
	s.handle("GET /api/v1/replica", s.replicaStatus)
	s.handle("GET /api/v1/channels", s.channels)
	s.handle("POST /api/v1/channels", s.propose)
	s.handle("GET /api/v1/channels/{channel}", s.channel)
	s.handle("POST /api/v1/channels/{channel}/accept", s.accept)
	s.handle("POST /api/v1/channels/{channel}/decline", s.decline)
	s.handle("GET /api/v1/channels/{channel}/entries", s.entries)
	s.handle("POST /api/v1/channels/{channel}/messages", s.send)
	s.handle("POST /api/v1/channels/{channel}/entries/{entry}/ack", s.mark(entry.KindAck))
	s.handle("POST /api/v1/channels/{channel}/entries/{entry}/read", s.mark(entry.KindRead))
	s.handle("POST /api/v1/channels/{channel}/read", s.readUpTo)
	s.handle("GET /api/v1/channels/{channel}/unread", s.unread)
	s.handle("GET /api/v1/channels/{channel}/entries/{entry}/proof", s.proof)
	s.handle("GET /api/v1/channels/{channel}/export", s.export)
	s.handle("GET /api/v1/channels/{channel}/escalation", s.escalation)
	s.handle("GET /api/v1/channels/{channel}/directory", s.directory)
	s.handle("PUT /api/v1/channels/{channel}/directory", s.publishDirectory)
	s.handle("POST /api/v1/channels/{channel}/calls", s.requestCall)
	s.handle("POST /api/v1/channels/{channel}/calls/{entry}/accept", s.answerCall(true))
	s.handle("POST /api/v1/channels/{channel}/calls/{entry}/decline", s.answerCall(false))
	s.handle("POST /api/v1/channels/{channel}/calls/{entry}/readout", s.readout)
	s.handle("POST /api/v1/channels/{channel}/entries/{entry}/cosign", s.cosign)
	s.handle("GET /api/v1/channels/{channel}/calls/{entry}/live", s.liveCall)
	s.handle("POST /api/v1/channels/{channel}/calls/{entry}/join", s.joinCall)
	s.handle("PUT /api/v1/channels/{channel}/calls/{entry}/participants/{id}", s.listenCall)
	s.handle("DELETE /api/v1/channels/{channel}/calls/{entry}/participants/{id}", s.leaveCall)
	s.handle("GET /api/v1/calls", s.calls)
	s.handle("GET /api/v1/pending", s.pending)
	s.handle("GET /api/v1/links", s.links)
	s.handle("GET /api/v1/links/history", s.linkHistory)
	s.handle("GET /api/v1/evidence", s.evidence)
	s.handle("GET /api/v1/evidence/{n}", s.evidenceFile)
	s.handle("GET /api/v1/events", s.events)
	s.handle("GET /api/v1/me", s.me)
	s.handle("PUT /api/v1/me", s.setMe)
	s.handle("GET /api/v1/catalogs", s.catalogs)
	s.handle("GET /api/v1/catalogs/{catalog}", s.catalog)
	s.handle("GET /api/v1/channels/{channel}/phrases", s.phrases)
	s.handle("POST /api/v1/channels/{channel}/entries/{entry}/translations", s.translate)
	s.mux.HandleFunc("/api/", func(w http.ResponseWriter, r *http.Request) {
		s.error(w, r, hotline.Errorf(hotline.ENOTFOUND, "no API endpoint %s %s; see /api/v1/openapi.yaml", r.Method, r.URL.Path))
	})
	return s
}

// ServeMetrics serves /metrics on the API listener too, behind token
// when it is not empty (see MetricsHandler).
func (s *Server) ServeMetrics(token string) {
	s.mux.Handle("GET /metrics", MetricsHandler(s.n.Metrics(), token))
}

// MetricsHandler serves the metrics g gathers (the node's). With a token, a
// scraper must send it as a bearer token (Prometheus: authorization
// credentials_file); the metrics name the peers and tell how busy the
// node is, which is nobody else's business.
func MetricsHandler(g prometheus.Gatherer, token string) http.Handler {
	h := promhttp.HandlerFor(g, promhttp.HandlerOpts{})
	if token == "" {
		return h
	}
	want := sha256.Sum256([]byte(token))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if sum := sha256.Sum256([]byte(got)); !ok || subtle.ConstantTimeCompare(sum[:], want[:]) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="hotline metrics"`)
			http.Error(w, "metrics: send the metrics token as a bearer token (metrics.token_file in hotline.toml)", http.StatusUnauthorized)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Cache-Control", "no-store")
	s.mux.ServeHTTP(w, r)
}

// handle registers an authenticated JSON handler.
func (s *Server) handle(pattern string, h func(w http.ResponseWriter, r *http.Request, operator string) error) {
	s.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		op, err := s.authenticate(r)
		if err == nil {
			err = h(w, r, op)
		}
		if err != nil {
			s.error(w, r, err)
		}
	})
}

// authenticate maps the request's bearer token, or its console session,
// to its operator.
func (s *Server) authenticate(r *http.Request) (string, error) {
	auth := r.Header.Get("Authorization")
	if auth == "" && s.sessions != nil {
		if op, csrfOK, ok := s.sessions.Session(r); ok {
			if r.Method != http.MethodGet && r.Method != http.MethodHead && !csrfOK {
				return "", hotline.Errorf(hotline.EUNAUTHORIZED, "a console session writes only with its CSRF token in X-CSRF-Token")
			}
			return op, nil
		}
	}
	return BearerOperator(r, s.store)
}

// BearerOperator returns the operator whose token r carries as a bearer
// token.
func BearerOperator(r *http.Request, store hotline.Store) (string, error) {
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok || tok == "" {
		return "", hotline.Errorf(hotline.EUNAUTHORIZED, "missing bearer token: send Authorization: Bearer <token> (hotline token create)")
	}
	op, err := store.OperatorByToken(r.Context(), HashToken(tok))
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return "", hotline.Errorf(hotline.EUNAUTHORIZED, "invalid token")
	}
	return op, err
}

// NewToken returns a fresh random operator token.
func NewToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return "hl_" + base64.RawURLEncoding.EncodeToString(b)
}

// HashToken returns the stored form of a token. Tokens are 256 random
// bits, so a plain SHA-256 suffices: there is nothing to brute-force.
func HashToken(tok string) [32]byte { return sha256.Sum256([]byte(tok)) }

// status maps error codes to HTTP statuses: the one place this happens.
var status = map[string]int{
	hotline.EINVALID:      http.StatusBadRequest,
	hotline.ENOTFOUND:     http.StatusNotFound,
	hotline.EUNAUTHORIZED: http.StatusUnauthorized,
	hotline.ECONFLICT:     http.StatusConflict,
	hotline.EUNAVAILABLE:  http.StatusServiceUnavailable,
	hotline.EBUSY:         http.StatusTooManyRequests,
	hotline.EINTERNAL:     http.StatusInternalServerError,
}

// NoWriterHeader, set to NoWriter on a 503 answer, says that a standby
// replica did not carry the request out because no replica holds the
// writer's lease right now (a failover is under way): the client may send
// it again after Retry-After.
const (
	NoWriterHeader = "Hotline-Replica"
	NoWriter       = "no-writer"
)

// ErrorBody is the JSON body of every error response.
type ErrorBody struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
		Field   string `json:"field,omitempty"` // the input field at fault, if one is
	} `json:"error"`
}

func (s *Server) error(w http.ResponseWriter, r *http.Request, err error) {
	code := hotline.ErrorCode(err)
	var cut errResponseCut
	if errors.As(err, &cut) {
		return // the answer was begun: nothing more can be said
	}
	if errors.Is(err, context.Canceled) {
		// The client went away (the answer goes nowhere), or the node is
		// shutting down: it must not read as an empty success.
		err = hotline.Errorf(hotline.EUNAVAILABLE, "the request was cancelled before it was carried out (the node is shutting down); nothing was written: retry")
		code = hotline.EUNAVAILABLE
	}
	if code == hotline.EINTERNAL {
		s.log.Error("API request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	WriteError(w, err)
}

// WriteError answers with err as an API error: its code's HTTP status and
// an ErrorBody.
func WriteError(w http.ResponseWriter, err error) {
	code := hotline.ErrorCode(err)
	var body ErrorBody
	body.Error.Code, body.Error.Message, body.Error.Field = code, hotline.ErrorMessage(err), hotline.ErrorField(err)
	switch code {
	case hotline.EUNAUTHORIZED:
		w.Header().Set("WWW-Authenticate", `Bearer realm="hotline"`)
	case hotline.EBUSY:
		w.Header().Set("Retry-After", "5")
	}
	writeJSON(w, status[code], body)
}

// writeJSON answers with v as JSON. It encodes the whole body before the
// status line is sent, so a value that cannot be encoded becomes an error
// answer (500, logged) and never a 200 with a broken body.
func writeJSON(w http.ResponseWriter, code int, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return fmt.Errorf("encode response: %w", err)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(code)
	_, err := w.Write(buf.Bytes())
	if err != nil {
		return errResponseCut{err}
	}
	return nil
}

// errResponseCut is a failure to write an answer already begun: nothing
// more can be sent on that response.
type errResponseCut struct{ error }

func (e errResponseCut) Unwrap() error { return e.error }

// decode reads a JSON request body strictly.
func decode(r *http.Request, v any) error {
	dec := json.NewDecoder(http.MaxBytesReader(nil, r.Body, maxRequestBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return hotline.Errorf(hotline.EINVALID, "request body is larger than %d bytes", maxRequestBytes)
		}
		return hotline.Errorf(hotline.EINVALID, "request body is not valid JSON for this call: %v", err)
	}
	if dec.More() {
		return hotline.Errorf(hotline.EINVALID, "request body has data after the JSON object")
	}
	return nil
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.store.OperatorByToken(ctx, [32]byte{}); err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND {
		http.Error(w, "store not readable: "+err.Error(), http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ready\n")
}

func (s *Server) identity(w http.ResponseWriter, r *http.Request, _ string) error {
	return writeJSON(w, http.StatusOK, s.n.Identity(s.endpoints))
}

func (s *Server) drafts(w http.ResponseWriter, r *http.Request, _ string) error {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			return &hotline.Error{Code: hotline.EINVALID, Field: "limit", Message: fmt.Sprintf("limit %q: give a number from 1 to 1000", l)}
		}
		limit = n
	}
	ds, err := s.n.Drafts(r.Context(), r.URL.Query().Get("state"), limit)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"drafts": ds})
}

func (s *Server) draft(w http.ResponseWriter, r *http.Request, _ string) error {
	d, err := s.n.Draft(r.Context(), r.PathValue("draft"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

// ReleaseRequest is an operator's personal signature releasing a draft:
// Ed25519 over the draft's release statement, or a passkey's assertion
// (its signature, authenticator data and client data) whose challenge is
// the draft's challenge.
type ReleaseRequest struct {
	Key        entry.PersonalKey `json:"key"`
	Sig        []byte            `json:"sig"`
	AuthData   []byte            `json:"auth_data,omitempty"`
	ClientData []byte            `json:"client_data,omitempty"`
}

func (s *Server) releaseDraft(w http.ResponseWriter, r *http.Request, op string) error {
	var req ReleaseRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := s.n.ReleaseDraft(r.Context(), op, r.PathValue("draft"), entry.Release{Operator: op, Key: req.Key, Sig: req.Sig, AuthData: req.AuthData, ClientData: req.ClientData})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

// CommentRequest carries why a draft goes back to its drafter.
type CommentRequest struct {
	Comment string `json:"comment"`
}

func (s *Server) returnDraft(w http.ResponseWriter, r *http.Request, op string) error {
	var req CommentRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d, err := s.n.ReturnDraft(r.Context(), op, r.PathValue("draft"), req.Comment)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) withdrawDraft(w http.ResponseWriter, r *http.Request, op string) error {
	d, err := s.n.WithdrawDraft(r.Context(), op, r.PathValue("draft"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, d)
}

func (s *Server) keyStatus(w http.ResponseWriter, r *http.Request, _ string) error {
	return writeJSON(w, http.StatusOK, s.n.KeyStatus())
}

func (s *Server) rotateKey(w http.ResponseWriter, r *http.Request, operator string) error {
	res, err := s.n.RotateKey(r.Context(), operator)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, res)
}

// MemberView is a channel member in API responses.
type MemberView struct {
	Party    string `json:"party"`
	Key      string `json:"key"`
	Accepted bool   `json:"accepted"`
}

// ChannelView is a channel in API responses.
type ChannelView struct {
	ID string `json:"id"`
	// Name is the channel's name at this node (its label): the name its
	// proposer gave it, unless a channel here had that name already; then
	// the name and its short id.
	Name string `json:"name"`
	// ProposedName is the name in the signed definition.
	ProposedName string               `json:"proposed_name"`
	Level        string               `json:"level"`
	Proposer     string               `json:"proposer"`
	State        hotline.ChannelState `json:"state"`
	Members      []MemberView         `json:"members"`
	Created      time.Time            `json:"created"`
	Policy       PolicyView           `json:"policy"`
	Catalog      string               `json:"catalog,omitempty"` // agreed phrase catalog hash; absent: free text only
	Lang         string               `json:"lang"`              // default language
}

func channelView(c *hotline.Channel) ChannelView {
	v := ChannelView{ID: c.ID.String(), Name: c.Label, ProposedName: c.Definition.Name, Level: c.Definition.Level,
		Proposer: c.Definition.Proposer, State: c.State, Created: time.UnixMilli(c.Definition.Created).UTC(),
		Policy: policyView(c), Lang: node.ChannelLang(c)}
	if h := c.Definition.Catalog; h != nil {
		v.Catalog = hex.EncodeToString(h[:])
	}
	for _, m := range c.Definition.Members {
		acc := false
		for _, a := range c.Accepted {
			acc = acc || a == m.Party
		}
		v.Members = append(v.Members, MemberView{Party: m.Party, Key: m.Key, Accepted: acc})
	}
	return v
}

// channels lists the channels, without those declined or expired unless
// ?all=true.
func (s *Server) channels(w http.ResponseWriter, r *http.Request, _ string) error {
	all := r.URL.Query().Get("all") == "true"
	out := []ChannelView{}
	for _, c := range s.n.Channels() {
		if !all && (c.State == hotline.ChannelDeclined || c.State == hotline.ChannelExpired) {
			continue
		}
		out = append(out, channelView(&c))
	}
	return writeJSON(w, http.StatusOK, map[string]any{"channels": out})
}

func (s *Server) decline(w http.ResponseWriter, r *http.Request, op string) error {
	c, err := s.n.Decline(r.Context(), op, r.PathValue("channel"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, channelView(c))
}

func (s *Server) channel(w http.ResponseWriter, r *http.Request, _ string) error {
	c, err := s.n.ResolveChannel(r.PathValue("channel"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, channelView(c))
}

// ProposeRequest is the body of POST /api/v1/channels.
type ProposeRequest struct {
	Name    string         `json:"name"`
	Level   string         `json:"level"`
	Members []string       `json:"members"`          // the other parties
	Policy  *PolicyRequest `json:"policy,omitempty"` // absent: the level's defaults, no escalation target
	// Catalog is the phrase catalog's hash (or a unique prefix); absent
	// means the node's default catalog, "none" no phrases.
	Catalog string `json:"catalog,omitempty"`
	// Lang is the channel's default language; absent means English.
	Lang string `json:"lang,omitempty"`
}

func (s *Server) propose(w http.ResponseWriter, r *http.Request, op string) error {
	var req ProposeRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	policy, err := s.policy(req.Level, req.Policy)
	if err != nil {
		return err
	}
	c, err := s.n.Propose(r.Context(), op, req.Name, req.Level, req.Members, node.ChannelOptions{Policy: policy, Catalog: req.Catalog, Lang: req.Lang})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, channelView(c))
}

func (s *Server) accept(w http.ResponseWriter, r *http.Request, op string) error {
	c, err := s.n.Accept(r.Context(), op, r.PathValue("channel"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, channelView(c))
}

// EntriesPage is the answer to GET .../entries: a page of the channel's
// log in channel order.
type EntriesPage struct {
	Channel ChannelView      `json:"channel"`
	Entries []node.EntryView `json:"entries"`
	// Earlier and Later say whether the channel holds entries before the
	// first and after the last of Entries; Prev and Next are their
	// cursors, for before= and after=.
	Earlier bool   `json:"earlier"`
	Later   bool   `json:"later"`
	Prev    string `json:"prev,omitempty"`
	Next    string `json:"next,omitempty"`
	// Stored is the newest point of this node's storage order for the
	// channel when the page was read, for stored_after.
	Stored int64 `json:"stored"`
}

// entries answers with a page of the channel's log: the newest entries,
// or those after (after=CURSOR; after=0 is the start) or before
// (before=CURSOR) a position, or those stored after a point of this
// node's storage order (stored_after=N, in storage order: for following
// a live log), up to limit; phrases rendered in the lang query
// parameter, else the operator's language, else the channel's.
func (s *Server) entries(w http.ResponseWriter, r *http.Request, op string) error {
	lang, err := s.readerLang(r, op)
	if err != nil {
		return err
	}
	q, err := pageQuery(r)
	if err != nil {
		return err
	}
	c, page, err := s.n.Log(r.Context(), r.PathValue("channel"), lang, q)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, EntriesPage{Channel: channelView(c), Entries: page.Entries,
		Earlier: page.Earlier, Later: page.Later, Prev: page.Prev, Next: page.Next, Stored: page.Stored})
}

// pageQuery reads the after, before and limit parameters of a page of a
// channel's log.
func pageQuery(r *http.Request) (hotline.PageQuery, error) {
	var q hotline.PageQuery
	var err error
	if q.Limit, err = intParam(r, "limit", node.DefaultPageLimit, 1, node.MaxPageLimit); err != nil {
		return q, err
	}
	cursor := func(name string) (*hotline.Position, error) {
		v := r.URL.Query().Get(name)
		if v == "" {
			return nil, nil
		}
		if v == "0" && name == "after" {
			return &hotline.Position{}, nil
		}
		p, err := hotline.ParsePosition(v)
		if err != nil {
			e := err.(*hotline.Error) // ParsePosition's only kind of error
			e.Field = name
			return nil, e
		}
		return &p, nil
	}
	if q.After, err = cursor("after"); err != nil {
		return q, err
	}
	if q.Before, err = cursor("before"); err != nil {
		return q, err
	}
	if v := r.URL.Query().Get("stored_after"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			return q, &hotline.Error{Code: hotline.EINVALID, Field: "stored_after", Message: fmt.Sprintf("stored_after %q: give an entry's stored number, or a page's stored", v)}
		}
		q.StoredAfter = &n
	}
	if (q.After != nil && q.Before != nil) || (q.StoredAfter != nil && (q.After != nil || q.Before != nil)) {
		return q, hotline.Errorf(hotline.EINVALID, "give one of after, before and stored_after")
	}
	return q, nil
}

// ReadRequest is the body of POST .../read: the messages on an
// operator's screen.
type ReadRequest struct {
	Entries []string `json:"entries"`
}

// readUpTo marks a screenful of messages read in one request.
func (s *Server) readUpTo(w http.ResponseWriter, r *http.Request, op string) error {
	var req ReadRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	written, err := s.n.ReadUpTo(r.Context(), op, r.PathValue("channel"), req.Entries)
	if err != nil {
		return err
	}
	refs := make([]EntryRef, 0, len(written))
	for _, e := range written {
		refs = append(refs, entryRef(e))
	}
	return writeJSON(w, http.StatusCreated, map[string]any{"entries": refs})
}

// unread answers with how many messages nobody here has read in the
// channel, and the cursor of the first of them.
func (s *Server) unread(w http.ResponseWriter, r *http.Request, _ string) error {
	n, err := s.n.Unread(r.Context(), r.PathValue("channel"))
	if err != nil {
		return err
	}
	first, err := s.n.FirstUnread(r.Context(), r.PathValue("channel"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, UnreadView{Count: n, First: first})
}

// UnreadView is the answer to GET .../unread.
type UnreadView struct {
	Count int    `json:"count"`
	First string `json:"first,omitempty"` // the first unread message's cursor
}

// proof answers with the C2SP tlog-proof of one entry of the channel.
func (s *Server) proof(w http.ResponseWriter, r *http.Request, _ string) error {
	p, err := s.n.Proof(r.Context(), r.PathValue("channel"), r.PathValue("entry"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write(p)
	return nil
}

// export streams the channel's archive. Once streaming has begun an error
// can no longer be sent as JSON: the connection is cut, and the archive
// lacks its end record, which any reader detects.
func (s *Server) export(w http.ResponseWriter, r *http.Request, _ string) error {
	c, err := s.n.ResolveChannel(r.PathValue("channel"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/jsonl")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", c.Label+".hotline-archive"))
	if err := s.n.Export(r.Context(), c.ID.String(), w); err != nil {
		s.log.Error("export failed part-way; connection cut", "channel", c.Label, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// SendRequest is the body of POST /api/v1/channels/{channel}/messages.
type SendRequest struct {
	// Text is free text; leave it out when sending a phrase.
	Text string `json:"text,omitempty"`
	// Lang is the language of Text (its authoritative language), or the
	// one a phrase's text is written in; absent means the operator's
	// language, else the channel's.
	Lang string `json:"lang,omitempty"`
	// Phrase is a standard phrase of the channel's catalog.
	Phrase *PhraseRequest `json:"phrase,omitempty"`
	// Unofficial are the author's own translations of Text, shown marked
	// as unofficial.
	Unofficial []Rendering `json:"unofficial,omitempty"`
	// AckWithin is a Go duration ("10m", "90s"); "0" asks for no
	// acknowledgement; absent means the channel's default for the
	// message's precedence.
	AckWithin *string `json:"ack_within,omitempty"`
	// Precedence is flash, immediate, priority or routine (the default).
	Precedence string `json:"precedence,omitempty"`
}

// EntryRef is the response to a write: the new entry's id and place. A
// send held as a draft (202, HeldDraft) has Draft set and no entry.
type EntryRef struct {
	Draft   *node.DraftView `json:"draft,omitempty"`
	ID      string          `json:"id"`
	Channel string          `json:"channel"`
	Author  string          `json:"author"`
	Seq     uint64          `json:"seq"`
	Kind    string          `json:"kind"`
	Time    time.Time       `json:"time"`
}

func entryRef(e *entry.Entry) EntryRef {
	return EntryRef{ID: e.ID().String(), Channel: e.Channel.String(), Author: e.Author, Seq: e.Seq, Kind: string(e.Kind), Time: e.AuthorTime()}
}

func (s *Server) send(w http.ResponseWriter, r *http.Request, op string) error {
	var req SendRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	in := node.MessageInput{Text: req.Text, Lang: req.Lang, Precedence: req.Precedence}
	if req.Phrase != nil {
		in.Phrase = &node.PhraseInput{Code: req.Phrase.Code, Fields: req.Phrase.Fields}
	}
	for _, u := range req.Unofficial {
		in.Unofficial = append(in.Unofficial, entry.Rendering{Lang: u.Lang, Text: u.Text})
	}
	if req.AckWithin != nil {
		d, err := time.ParseDuration(*req.AckWithin)
		if err != nil {
			return hotline.Errorf(hotline.EINVALID, "ack_within %q is not a duration: write it like 90s, 10m or 24h", *req.AckWithin)
		}
		in.AckWithin = &d
	}
	sent, err := s.n.Send(r.Context(), op, r.PathValue("channel"), in)
	if err != nil {
		return err
	}
	if sent.Draft != nil {
		// Held until released (the channel's release rule): accepted, not
		// yet sent.
		return writeJSON(w, http.StatusAccepted, HeldDraft{Draft: sent.Draft})
	}
	return writeJSON(w, http.StatusCreated, entryRef(sent.Entry))
}

// HeldDraft answers a send that the channel's release rule holds as a
// draft until operators other than the drafter release it.
type HeldDraft struct {
	Draft *node.DraftView `json:"draft"`
}

// MarkRequest is the body of the ack and read calls; both fields optional.
type MarkRequest struct {
	Reply string `json:"reply,omitempty"`
}

func (s *Server) mark(kind entry.Kind) func(w http.ResponseWriter, r *http.Request, op string) error {
	return func(w http.ResponseWriter, r *http.Request, op string) error {
		var req MarkRequest
		if r.ContentLength != 0 {
			if err := decode(r, &req); err != nil {
				return err
			}
		}
		e, err := s.n.Mark(r.Context(), op, r.PathValue("channel"), r.PathValue("entry"), kind, req.Reply)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, entryRef(e))
	}
}

func (s *Server) links(w http.ResponseWriter, r *http.Request, _ string) error {
	return writeJSON(w, http.StatusOK, map[string]any{"links": s.n.Links()})
}

func (s *Server) linkHistory(w http.ResponseWriter, r *http.Request, _ string) error {
	limit := 100
	if l := r.URL.Query().Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 10000 {
			return hotline.Errorf(hotline.EINVALID, "limit %q: give a number from 1 to 10000", l)
		}
		limit = n
	}
	tests, err := s.n.LinkHistory(r.Context(), r.URL.Query().Get("peer"), limit)
	if err != nil {
		return err
	}
	if tests == nil {
		tests = []hotline.LinkTest{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"tests": tests})
}

// EvidenceView is an evidence record in API responses. Its data is not
// in lists: GET /api/v1/evidence/{n} returns it.
type EvidenceView struct {
	N       int64     `json:"n"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // equivocation or rejected
	Peer    string    `json:"peer"`
	Detail  string    `json:"detail"`
	Channel string    `json:"channel,omitempty"`
	Party   string    `json:"party,omitempty"` // whose feed it is about
	Seq     uint64    `json:"seq,omitempty"`   // the entry's seq, or the checkpoint's size
	Size    int       `json:"size"`            // bytes of its data as stored
}

// EvidencePage is the answer to GET /api/v1/evidence.
type EvidencePage struct {
	Evidence []EvidenceView `json:"evidence"`
	// Next is the before= of the next page; absent on the last page.
	Next int64 `json:"next,omitempty"`
	// Counts are how many records this node keeps, by kind.
	Counts map[string]int64 `json:"counts"`
}

func (s *Server) evidence(w http.ResponseWriter, r *http.Request, _ string) error {
	q := hotline.EvidenceQuery{Kind: r.URL.Query().Get("kind"), Peer: r.URL.Query().Get("peer"), Limit: 100}
	var err error
	if q.Limit, err = intParam(r, "limit", 100, 1, 1000); err != nil {
		return err
	}
	before, err := intParam(r, "before", 0, 1, 1<<62)
	if err != nil {
		return err
	}
	q.Before = int64(before)
	evs, err := s.n.EvidenceList(r.Context(), q)
	if err != nil {
		return err
	}
	counts, err := s.store.EvidenceCounts(r.Context())
	if err != nil {
		return err
	}
	page := EvidencePage{Evidence: []EvidenceView{}, Counts: map[string]int64{node.EvidenceEquivocation: 0, node.EvidenceRejected: 0}}
	maps.Copy(page.Counts, counts)
	for _, ev := range evs {
		v := EvidenceView{N: ev.N, Time: ev.Time, Kind: ev.Kind, Peer: ev.Peer, Detail: ev.Detail, Party: ev.Party, Seq: ev.Seq, Size: ev.Size}
		if ev.Channel != (entry.ChannelID{}) {
			v.Channel = ev.Channel.String()
		}
		page.Evidence = append(page.Evidence, v)
	}
	if len(evs) == q.Limit && evs[len(evs)-1].N > 1 {
		page.Next = evs[len(evs)-1].N
	}
	return writeJSON(w, http.StatusOK, page)
}

// evidenceFile streams one evidence record's data: an evidence file
// (JSON) for an equivocation, the refused entry (CBOR) otherwise.
func (s *Server) evidenceFile(w http.ResponseWriter, r *http.Request, _ string) error {
	num, err := strconv.ParseInt(r.PathValue("n"), 10, 64)
	if err != nil || num < 1 {
		return hotline.Errorf(hotline.EINVALID, "evidence %q: give the record's number (n in GET /api/v1/evidence)", r.PathValue("n"))
	}
	ctype, write, err := s.n.EvidenceFile(r.Context(), num)
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=\"evidence-%d\"", num))
	w.WriteHeader(http.StatusOK)
	if err := write(w); err != nil {
		// Once streaming has begun an error can no longer be sent: the
		// connection is cut, and the file does not parse.
		s.log.Error("evidence file failed part-way; connection cut", "n", num, "err", err)
		panic(http.ErrAbortHandler)
	}
	return nil
}

// intParam reads an integer query parameter between lo and hi; absent,
// it is def.
func intParam(r *http.Request, name string, def, lo, hi int) (int, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < lo || n > hi {
		return 0, &hotline.Error{Code: hotline.EINVALID, Field: name, Message: fmt.Sprintf("%s %q: give a number from %d to %d", name, v, lo, hi)}
	}
	return n, nil
}

// events streams node events as server-sent events. Each event's data is
// a JSON object with the event type, the channel and entry ids and what
// changed; its id lets a client that was cut off resume with
// Last-Event-ID. A comment line is sent every 15 seconds to keep proxies
// open. A client that stops reading is cut (each write must finish within
// eventWriteTimeout, and the node holds a bounded number of events for
// it); streams are capped per operator and in all (429 past them).
func (s *Server) events(w http.ResponseWriter, r *http.Request, op string) error {
	var filter string
	if ref := r.URL.Query().Get("channel"); ref != "" {
		c, err := s.n.ResolveChannel(ref)
		if err != nil {
			return err
		}
		filter = c.ID.String()
	}
	var after uint64
	if last := r.Header.Get("Last-Event-ID"); last != "" {
		after, _ = strconv.ParseUint(last, 10, 64) // a bad id counts as none: the stream starts afresh
	}
	sub, err := s.n.Subscribe(op, after)
	if err != nil {
		return err
	}
	defer sub.Cancel()
	rc := http.NewResponseController(w)
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	write := func(f func()) bool {
		rc.SetWriteDeadline(time.Now().Add(eventWriteTimeout))
		f()
		return rc.Flush() == nil
	}
	if !write(func() { io.WriteString(w, ": hotline events\nretry: 2000\n\n") }) {
		return nil
	}
	keepalive := time.NewTicker(15 * time.Second)
	defer keepalive.Stop()
	for {
		select {
		case <-r.Context().Done():
			return nil
		case <-keepalive.C:
			if !write(func() { io.WriteString(w, ": keepalive\n\n") }) {
				return nil
			}
		case ev, ok := <-sub.C:
			if !ok {
				// Cut for falling behind, or the node is stopping: the
				// client reconnects with its Last-Event-ID.
				return nil
			}
			data := eventData(ev)
			if filter != "" && data.Channel != filter && ev.Type != node.EventLagged {
				continue
			}
			b, _ := json.Marshal(data)
			if !write(func() { fmt.Fprintf(w, "id: %d\nevent: %s\ndata: %s\n\n", ev.ID, ev.Type, b) }) {
				return nil
			}
		}
	}
}

// eventWriteTimeout is how long one write to an event stream may take
// before the client is deemed gone and the stream is cut.
const eventWriteTimeout = 10 * time.Second

// EventData is the JSON data of a server-sent event.
type EventData struct {
	node.Event
	Channel string `json:"channel,omitempty"`
	Entry   string `json:"entry,omitempty"`
}

func eventData(ev node.Event) EventData {
	d := EventData{Event: ev}
	if ev.Channel != (entry.ChannelID{}) {
		d.Channel = ev.Channel.String()
	}
	if !ev.Entry.IsZero() {
		d.Entry = ev.Entry.String()
	}
	return d
}
