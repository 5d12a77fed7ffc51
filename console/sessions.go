package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"sync"
	"time"
)

// Sessions live in the node's memory: a restart logs everyone out, and
// nothing that grants access is ever on disk.
// Cookie names carry the party, because browsers do not tell ports apart:
// two parties' consoles on one host (as in hotline dev) keep their own.
const (
	SessionIdle  = 12 * time.Hour // a watch
	SessionMax   = 24 * time.Hour
	LoginLinkTTL = 24 * time.Hour
)

type session struct {
	id, operator, csrf string
	created, seen      time.Time
	// epoch is the operator account's session epoch when the session
	// opened (0 without an account): a new password, disabling or
	// removing the operator changes it, which ends the session.
	epoch int64
}

type loginLink struct {
	operator string
	expires  time.Time
}

type sessions struct {
	cookie string // session cookie name
	mu     sync.Mutex
	byID   map[string]*session
	links  map[string]loginLink
	now    func() time.Time
}

func newSessions(party string, now func() time.Time) *sessions {
	return &sessions{cookie: "hotline_session_" + party, byID: make(map[string]*session), links: make(map[string]loginLink), now: now}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// start opens a session for operator and sets its cookie.
func (s *sessions) start(w http.ResponseWriter, r *http.Request, operator string, epoch int64) *session {
	now := s.now()
	ss := &session{id: randomToken(), operator: operator, csrf: randomToken(), created: now, seen: now, epoch: epoch}
	s.mu.Lock()
	for id, old := range s.byID { // forget expired sessions
		if s.expired(old, now) {
			delete(s.byID, id)
		}
	}
	s.byID[ss.id] = ss
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: ss.id, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: int(SessionMax / time.Second)})
	return ss
}

func (s *sessions) expired(ss *session, now time.Time) bool {
	return now.Sub(ss.seen) > SessionIdle || now.Sub(ss.created) > SessionMax
}

// get returns the request's live session, if any.
func (s *sessions) get(r *http.Request) (*session, bool) {
	c, err := r.Cookie(s.cookie)
	if err != nil {
		return nil, false
	}
	now := s.now()
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, ok := s.byID[c.Value]
	if !ok || s.expired(ss, now) {
		delete(s.byID, c.Value)
		return nil, false
	}
	ss.seen = now
	return ss, true
}

// drop forgets a session that is no longer valid.
func (s *sessions) drop(ss *session) {
	s.mu.Lock()
	delete(s.byID, ss.id)
	s.mu.Unlock()
}

// end closes the request's session and clears its cookie.
func (s *sessions) end(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(s.cookie); err == nil {
		s.mu.Lock()
		delete(s.byID, c.Value)
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: s.cookie, Value: "", Path: "/", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: -1})
}

// issueLink returns a one-time login token for operator.
func (s *sessions) issueLink(operator string) string {
	tok := randomToken()
	s.mu.Lock()
	s.links[tok] = loginLink{operator: operator, expires: s.now().Add(LoginLinkTTL)}
	s.mu.Unlock()
	return tok
}

// useLink consumes a one-time login token.
func (s *sessions) useLink(tok string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[tok]
	delete(s.links, tok)
	if !ok || s.now().After(l.expires) {
		return "", false
	}
	return l.operator, true
}

// sameToken compares secrets in constant time.
func sameToken(a, b string) bool {
	return a != "" && subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1
}
