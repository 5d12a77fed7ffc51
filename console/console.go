// Package console is the operator console: web pages, served by each node
// under /console/, from which a duty officer runs a watch. It is plain
// html/template with a little JavaScript for live updates (server-sent
// events from the API) and countdowns; everything is embedded in the
// binary and nothing is fetched from elsewhere. Every page works without
// JavaScript.
//
// Operators log in with a password and, when configured, a TOTP code
// (package account). Sessions are cookies (HttpOnly, SameSite=Strict,
// Secure over TLS) kept in memory; every form carries a CSRF token, and
// the API accepts a console session only with that token in its
// X-CSRF-Token header for anything that writes.
package console

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/account"
	"github.com/hotline-project/hotline/loglimit"
	"github.com/hotline-project/hotline/node"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Prefix is the path the console is served under.
const Prefix = "/console/"

// Console is the operator console of one node.
type Console struct {
	n        *node.Node
	store    hotline.Store
	log      *slog.Logger
	now      func() time.Time
	sessions *sessions
	throttle *account.Throttle // failed logins, per address and account
	logs     *loglimit.Limiter // warnings about failed logins, one a minute per address
	pages    map[string]*template.Template
	mux      *http.ServeMux
	flashes  flashes // refused and pending forms, for the page after the redirect
	// ceremonies are the passkey registrations in progress.
	ceremonies ceremonies
}

// New returns the console of node n.
func New(n *node.Node, store hotline.Store, log *slog.Logger) *Console {
	c := &Console{n: n, store: store, log: log, now: time.Now, mux: http.NewServeMux(), pages: make(map[string]*template.Template)}
	if c.log == nil {
		c.log = slog.Default()
	}
	c.sessions = newSessions(n.Self(), func() time.Time { return c.now() })
	c.throttle = account.NewThrottle(func() time.Time { return c.now() })
	c.logs = loglimit.New(c.log, 1, nil)
	for _, name := range []string{"login", "home", "channel", "confirm", "invitations"} {
		c.pages[name] = template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
	}
	static, _ := fs.Sub(staticFS, "static")
	c.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", http.FileServerFS(static)))
	c.mux.HandleFunc("GET /console/login", c.loginPage)
	c.mux.HandleFunc("POST /console/login", c.login)
	c.mux.HandleFunc("GET /console/login/{token}", c.loginLink)
	c.mux.HandleFunc("POST /console/logout", c.logout)
	c.mux.HandleFunc("GET /console/{$}", c.authed(c.home))
	c.mux.HandleFunc("POST /console/lang", c.authed(c.setLang))
	c.mux.HandleFunc("GET /console/channels/{channel}", c.authed(c.channel))
	c.mux.HandleFunc("GET /console/channels/{channel}/rows", c.authed(c.rows))
	c.mux.HandleFunc("POST /console/channels/{channel}/send", c.authed(c.send))
	c.mux.HandleFunc("GET /console/channels/{channel}/confirm", c.authed(c.confirm))
	c.mux.HandleFunc("POST /console/channels/{channel}/accept", c.authed(c.accept))
	c.mux.HandleFunc("POST /console/channels/{channel}/decline", c.authed(c.decline))
	c.mux.HandleFunc("GET /console/invitations", c.authed(c.invitations))
	c.mux.HandleFunc("POST /console/passkeys/begin", c.authed(c.passkeyBegin))
	c.mux.HandleFunc("POST /console/passkeys/finish", c.authed(c.passkeyFinish))
	c.mux.HandleFunc("POST /console/drafts/{draft}/release", c.authed(c.draftRelease))
	c.mux.HandleFunc("POST /console/drafts/{draft}/return", c.authed(c.draftReturn))
	c.mux.HandleFunc("POST /console/drafts/{draft}/withdraw", c.authed(c.draftWithdraw))
	c.mux.HandleFunc("POST /console/channels/{channel}/entries/{entry}/ack", c.authed(c.ack))
	c.mux.HandleFunc("POST /console/channels/{channel}/calls", c.authed(c.requestCall))
	c.mux.HandleFunc("POST /console/channels/{channel}/calls/{entry}/answer", c.authed(c.answerCall))
	c.mux.HandleFunc("POST /console/channels/{channel}/entries/{entry}/translate", c.authed(c.translate))
	return c
}

// ServeHTTP implements http.Handler.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
	if !strings.HasPrefix(r.URL.Path, Prefix+"static/") {
		h.Set("Cache-Control", "no-store")
	}
	c.mux.ServeHTTP(w, r)
}

// LoginLink returns a one-time login path for operator, valid for
// LoginLinkTTL: what hotline dev prints for each party.
func (c *Console) LoginLink(operator string) string {
	return Prefix + "login/" + c.sessions.issueLink(operator)
}

// Session reports the console session a request carries, for the API:
// its operator, and whether the request proves it comes from the console
// (its X-CSRF-Token header is the session's token).
func (c *Console) Session(r *http.Request) (operator string, csrfOK, ok bool) {
	ss, ok := c.sessions.get(r)
	if !ok {
		return "", false, false
	}
	if _, err := c.account(r, ss); err != nil {
		return "", false, false
	}
	return ss.operator, sameToken(r.Header.Get("X-CSRF-Token"), ss.csrf), true
}

// errSessionEnded is a session whose operator was disabled or removed,
// or whose password changed, since it opened.
var errSessionEnded = hotline.Errorf(hotline.EUNAUTHORIZED, "this session has ended: log in again")

// account returns the session's operator account, checking the session is
// still valid: the operator is not disabled, and its session epoch is the
// one the session opened in. An operator without an account (known only
// by an API token, logged in by a one-time link) has epoch 0. A session
// found invalid is forgotten.
func (c *Console) account(r *http.Request, ss *session) (hotline.Operator, error) {
	op, err := c.store.Operator(r.Context(), ss.operator)
	switch {
	case hotline.ErrorCode(err) == hotline.ENOTFOUND:
		op, err = hotline.Operator{Name: ss.operator}, nil
	case err != nil:
		return op, err
	}
	if op.Disabled || op.SessionEpoch != ss.epoch {
		c.sessions.drop(ss)
		return op, errSessionEnded
	}
	return op, nil
}

// request is one authenticated request: who asks, in which language.
type request struct {
	*session
	lang string
}

// authed wraps a handler that needs a logged-in operator; forms it
// receives must carry the session's CSRF token.
func (c *Console) authed(h func(w http.ResponseWriter, r *http.Request, rq *request)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ss, ok := c.sessions.get(r)
		if !ok {
			if r.Method == http.MethodGet {
				http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
				return
			}
			http.Error(w, "not logged in: log in again", http.StatusUnauthorized)
			return
		}
		if r.Method != http.MethodGet {
			r.Body = http.MaxBytesReader(w, r.Body, 256<<10)
			if !sameToken(r.FormValue("csrf"), ss.csrf) && !sameToken(r.Header.Get("X-CSRF-Token"), ss.csrf) {
				http.Error(w, "missing or wrong CSRF token: reload the page and try again", http.StatusForbidden)
				return
			}
		}
		op, err := c.account(r, ss)
		switch {
		case err == errSessionEnded && r.Method == http.MethodGet:
			c.sessions.end(w, r)
			http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
			return
		case err == errSessionEnded:
			c.sessions.end(w, r)
			http.Error(w, "this session has ended: log in again", http.StatusUnauthorized)
			return
		case err != nil:
			c.fail(w, r, err)
			return
		}
		h(w, r, &request{session: ss, lang: uiLang(op.Lang)})
	}
}

// fail answers an unexpected error without detail.
func (c *Console) fail(w http.ResponseWriter, r *http.Request, err error) {
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		http.Error(w, hotline.ErrorMessage(err), http.StatusNotFound)
		return
	}
	c.log.Error("console request failed", "path", r.URL.Path, "err", err)
	http.Error(w, "internal error; see the node's log", http.StatusInternalServerError)
}

// render writes a page.
func (c *Console) render(w http.ResponseWriter, status int, name string, data any) {
	c.write(w, status, name, func(b *bytes.Buffer) error { return c.pages[name].Execute(b, data) })
}

// write sends a page rendered whole first (pages are bounded, so this
// costs little): a template that fails is a 500 the log explains, never
// half a page that looks whole.
func (c *Console) write(w http.ResponseWriter, status int, name string, render func(*bytes.Buffer) error) {
	var b bytes.Buffer
	if err := render(&b); err != nil {
		c.log.Error("console template failed", "page", name, "err", err)
		http.Error(w, "the console could not draw this page; the node's log says why", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	w.Write(b.Bytes())
}

// renderFragment writes the template name of the channel page alone:
// a part of the page for its live updates.
func (c *Console) renderFragment(w http.ResponseWriter, name string, data any) {
	c.write(w, http.StatusOK, name, func(b *bytes.Buffer) error { return c.pages["channel"].ExecuteTemplate(b, name, data) })
}

// loginCookie names the cookie that carries the login form's CSRF token.
func (c *Console) loginCookie() string { return "hotline_login_" + c.n.Self() }

// loginData is the login page.
type loginData struct {
	base
	Error    string
	Operator string
}

// loginPage shows the login form, with a fresh CSRF token in a cookie
// and in the form (double submit: a cross-site form cannot read either).
func (c *Console) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := c.sessions.get(r); ok {
		http.Redirect(w, r, Prefix, http.StatusSeeOther)
		return
	}
	c.renderLogin(w, r, http.StatusOK, "", "")
}

func (c *Console) renderLogin(w http.ResponseWriter, r *http.Request, status int, msg, operator string) {
	tok := randomToken()
	http.SetCookie(w, &http.Cookie{Name: c.loginCookie(), Value: tok, Path: Prefix + "login", HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil})
	lang := uiLang(r.URL.Query().Get("lang"))
	c.render(w, status, "login", &loginData{base: base{Lang: lang, Party: c.n.Self(), CSRF: tok, Title: T(lang, "login.title")}, Error: msg, Operator: operator})
}

func (c *Console) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	lang := uiLang(r.URL.Query().Get("lang"))
	ck, err := r.Cookie(c.loginCookie())
	if err != nil || !sameToken(r.FormValue("csrf"), ck.Value) {
		c.renderLogin(w, r, http.StatusForbidden, T(lang, "login.csrf"), "")
		return
	}
	name := r.FormValue("operator")
	source, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		source = r.RemoteAddr
	}
	op, err := account.Authenticate(r.Context(), c.store, c.throttle, source, name, r.FormValue("password"), r.FormValue("code"), c.now())
	var throttled *account.ThrottledError
	switch {
	case errors.As(err, &throttled):
		c.logs.Warn(source, "console login refused: too many failures from this address", "remote", source, "until", throttled.Until)
		c.renderLogin(w, r, http.StatusTooManyRequests, T(lang, "login.locked", formatTime(lang, throttled.Until)), name)
		return
	case hotline.ErrorCode(err) == hotline.EUNAUTHORIZED:
		c.logs.Warn(source, "console login failed", "operator", name, "remote", source)
		c.renderLogin(w, r, http.StatusUnauthorized, T(lang, "login.bad"), name)
		return
	case err != nil:
		c.fail(w, r, err)
		return
	}
	c.sessions.start(w, r, op.Name, op.SessionEpoch)
	c.log.Info("console login", "operator", op.Name, "remote", r.RemoteAddr)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (c *Console) loginLink(w http.ResponseWriter, r *http.Request) {
	op, ok := c.sessions.useLink(r.PathValue("token"))
	if !ok {
		c.renderLogin(w, r, http.StatusUnauthorized, T("en", "login.expired"), "")
		return
	}
	var epoch int64
	if acct, err := c.store.Operator(r.Context(), op); err == nil {
		if acct.Disabled {
			c.renderLogin(w, r, http.StatusUnauthorized, T("en", "login.expired"), "")
			return
		}
		epoch = acct.SessionEpoch
	}
	c.sessions.start(w, r, op, epoch)
	c.log.Info("console login by one-time link", "operator", op, "remote", r.RemoteAddr)
	http.Redirect(w, r, Prefix, http.StatusSeeOther)
}

func (c *Console) logout(w http.ResponseWriter, r *http.Request) {
	if ss, ok := c.sessions.get(r); ok && sameToken(r.FormValue("csrf"), ss.csrf) {
		c.sessions.end(w, r)
	}
	http.Redirect(w, r, Prefix+"login", http.StatusSeeOther)
}

func (c *Console) setLang(w http.ResponseWriter, r *http.Request, rq *request) {
	lang := r.FormValue("lang")
	if !slices.Contains(Languages, lang) {
		http.Error(w, "unknown language", http.StatusBadRequest)
		return
	}
	if err := c.n.SetOperatorLang(r.Context(), rq.operator, lang); err != nil {
		c.fail(w, r, err)
		return
	}
	back := r.FormValue("back")
	if !strings.HasPrefix(back, Prefix) || strings.ContainsAny(back, "\\\r\n") {
		back = Prefix
	}
	http.Redirect(w, r, back, http.StatusSeeOther)
}
