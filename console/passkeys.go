package console

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/release"
)

// This file holds passkeys: an operator registers one in the console
// (a WebAuthn registration ceremony, go-webauthn on this side) and
// releases drafts with it, the draft's release challenge being the
// assertion's challenge (see package release). The passkey is bound to
// the console's host name, its relying party: reach the console by a
// name (localhost, or a DNS name), not an IP address.

// ceremonies holds registration ceremonies in progress, one per session,
// for a few minutes.
type ceremonies struct {
	mu sync.Mutex
	m  map[string]*ceremony
}

type ceremony struct {
	data    webauthn.SessionData
	rpID    string
	expires time.Time
}

const ceremonyTTL = 5 * time.Minute

func (cs *ceremonies) put(session string, c *ceremony, now time.Time) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	if cs.m == nil {
		cs.m = make(map[string]*ceremony)
	}
	for k, v := range cs.m { // few: one per session at most
		if now.After(v.expires) {
			delete(cs.m, k)
		}
	}
	cs.m[session] = c
}

func (cs *ceremonies) take(session string, now time.Time) (*ceremony, bool) {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.m[session]
	delete(cs.m, session)
	return c, ok && now.Before(c.expires)
}

// passkeyUser is an operator as go-webauthn sees a user.
type passkeyUser struct {
	party string
	op    hotline.Operator
}

// WebAuthnID is stable for the operator of this party, and reveals
// nothing but that.
func (u passkeyUser) WebAuthnID() []byte {
	sum := sha256.Sum256([]byte("hotline operator\n" + u.party + "\n" + u.op.Name))
	return sum[:16]
}
func (u passkeyUser) WebAuthnName() string { return u.op.Name + "@" + u.party }
func (u passkeyUser) WebAuthnDisplayName() string {
	if u.op.Role != "" {
		return u.op.Name + " (" + u.op.Role + ")"
	}
	return u.op.Name
}

// WebAuthnCredentials are the operator's passkeys, so that the same
// authenticator is not registered twice.
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential {
	var out []webauthn.Credential
	for _, k := range u.op.Keys {
		if k.Key.Type == entry.KeyWebAuthn && k.Removed.IsZero() {
			out = append(out, webauthn.Credential{ID: k.Key.ID, PublicKey: k.Key.Public})
		}
	}
	return out
}

// errNeedsHostName says why passkeys are not offered on a console
// reached by an IP address.
var errNeedsHostName = errors.New("passkeys need the console reached by a host name (localhost, or a DNS name), not an IP address")

// relyingParty is the WebAuthn relying party of the console as r
// reached it: its host name, and its origin.
func (c *Console) relyingParty(r *http.Request) (*webauthn.WebAuthn, string, error) {
	host := r.Host
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	if net.ParseIP(name) != nil || name == "" {
		return nil, "", errNeedsHostName
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	origin := (&url.URL{Scheme: scheme, Host: host}).String()
	wa, err := webauthn.New(&webauthn.Config{
		RPID: name, RPDisplayName: "hotline " + c.n.Self(), RPOrigins: []string{origin},
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			UserVerification: protocol.VerificationRequired, ResidentKey: protocol.ResidentKeyRequirementPreferred,
		},
	})
	return wa, name, err
}

// passkeyBegin starts registering a passkey: the creation options for
// navigator.credentials.create.
func (c *Console) passkeyBegin(w http.ResponseWriter, r *http.Request, rq *request) {
	wa, rpID, err := c.relyingParty(r)
	if err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	op, err := c.store.Operator(r.Context(), rq.operator)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	u := passkeyUser{party: c.n.Self(), op: op}
	var exclude []protocol.CredentialDescriptor
	for _, cred := range u.WebAuthnCredentials() {
		exclude = append(exclude, cred.Descriptor())
	}
	creation, data, err := wa.BeginRegistration(u, webauthn.WithExclusions(exclude))
	if err != nil {
		c.fail(w, r, err)
		return
	}
	c.ceremonies.put(rq.id, &ceremony{data: *data, rpID: rpID, expires: c.now().Add(ceremonyTTL)}, c.now())
	writeJSONResponse(w, http.StatusOK, creation)
}

// passkeyFinish completes the registration: the browser's attestation is
// checked and the passkey becomes one of the operator's personal keys.
func (c *Console) passkeyFinish(w http.ResponseWriter, r *http.Request, rq *request) {
	cer, ok := c.ceremonies.take(rq.id, c.now())
	if !ok {
		jsonError(w, http.StatusBadRequest, "no passkey registration in progress, or it took too long: start again")
		return
	}
	wa, rpID, err := c.relyingParty(r)
	if err != nil || rpID != cer.rpID {
		jsonError(w, http.StatusBadRequest, "the registration was started from another address: start again")
		return
	}
	ctx := r.Context()
	op, err := c.store.Operator(ctx, rq.operator)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	cred, err := wa.FinishRegistration(passkeyUser{party: c.n.Self(), op: op}, cer.data, r)
	if err != nil {
		c.logs.Warn(r.RemoteAddr, "passkey registration refused", "operator", rq.operator, "err", err)
		jsonError(w, http.StatusBadRequest, "the passkey was not registered: "+protocolDetail(err))
		return
	}
	if !cred.Flags.UserVerified {
		jsonError(w, http.StatusBadRequest, "the authenticator did not verify you (PIN or biometric): a passkey that releases messages must")
		return
	}
	k := entry.PersonalKey{Type: entry.KeyWebAuthn, Public: cred.PublicKey, ID: cred.ID, RPID: rpID}
	if err := release.CheckKey(&k); err != nil {
		jsonError(w, http.StatusBadRequest, err.Error())
		return
	}
	op.Keys = append(op.Keys, hotline.OperatorKey{Key: k, Label: "passkey", Added: c.now().UTC()})
	if err := c.store.PutOperator(ctx, op); err != nil {
		c.fail(w, r, err)
		return
	}
	c.log.Info("passkey registered", "operator", rq.operator, "rp_id", rpID)
	writeJSONResponse(w, http.StatusOK, map[string]any{"registered": true, "passkeys": len(passkeyUser{op: op}.WebAuthnCredentials())})
}

// releaseRequest is the browser's passkey assertion releasing a draft.
type releaseRequest struct {
	Credential []byte `json:"credential"` // the credential id
	AuthData   []byte `json:"auth_data"`
	ClientData []byte `json:"client_data"`
	Sig        []byte `json:"sig"`
}

// draftRelease releases a draft with the operator's passkey assertion.
func (c *Console) draftRelease(w http.ResponseWriter, r *http.Request, rq *request) {
	var req releaseRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		jsonError(w, http.StatusBadRequest, "not a passkey assertion")
		return
	}
	ctx := r.Context()
	op, err := c.store.Operator(ctx, rq.operator)
	if err != nil {
		c.fail(w, r, err)
		return
	}
	var key *entry.PersonalKey
	for i := range op.Keys {
		if k := &op.Keys[i].Key; k.Type == entry.KeyWebAuthn && string(k.ID) == string(req.Credential) && op.Keys[i].Removed.IsZero() {
			key = k
		}
	}
	if key == nil {
		jsonError(w, http.StatusBadRequest, "that passkey is not one of yours here: register it first")
		return
	}
	d, err := c.n.ReleaseDraft(ctx, rq.operator, r.PathValue("draft"), entry.Release{Key: *key, Sig: req.Sig, AuthData: req.AuthData, ClientData: req.ClientData})
	if err != nil {
		status := http.StatusBadRequest
		if hotline.ErrorCode(err) == hotline.ECONFLICT {
			status = http.StatusConflict
		}
		jsonError(w, status, hotline.ErrorMessage(err))
		return
	}
	writeJSONResponse(w, http.StatusOK, d)
}

// draftReturn sends a draft back to its drafter, with a comment.
func (c *Console) draftReturn(w http.ResponseWriter, r *http.Request, rq *request) {
	c.draftAction(w, r, func() error {
		_, err := c.n.ReturnDraft(r.Context(), rq.operator, r.PathValue("draft"), r.FormValue("comment"))
		return err
	})
}

// draftWithdraw withdraws the operator's own draft.
func (c *Console) draftWithdraw(w http.ResponseWriter, r *http.Request, rq *request) {
	c.draftAction(w, r, func() error {
		_, err := c.n.WithdrawDraft(r.Context(), rq.operator, r.PathValue("draft"))
		return err
	})
}

func (c *Console) draftAction(w http.ResponseWriter, r *http.Request, do func() error) {
	if err := do(); err != nil {
		code := hotline.ErrorCode(err)
		if code == hotline.EINVALID || code == hotline.ECONFLICT || code == hotline.ENOTFOUND {
			http.Error(w, hotline.ErrorMessage(err), http.StatusBadRequest)
			return
		}
		c.fail(w, r, err)
		return
	}
	http.Redirect(w, r, Prefix+"#drafts", http.StatusSeeOther)
}

func jsonError(w http.ResponseWriter, status int, msg string) {
	writeJSONResponse(w, status, map[string]string{"error": msg})
}

func writeJSONResponse(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// protocolDetail is what go-webauthn says went wrong, for the operator.
func protocolDetail(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) && pe.Details != "" {
		return pe.Details
	}
	return err.Error()
}
