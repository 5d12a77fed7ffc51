package devnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/peer"
)

// The operator API's contract is api/openapi.yaml, checked here by code
// that is not ours (kin-openapi, with a JSON Schema 2020-12 validator for
// OpenAPI 3.1): the document itself must validate, and every request and
// response of a scenario that calls every operation of two real nodes,
// successes and failures alike, must match it. An operation the scenario
// does not reach, or a status code the server returns that the document
// does not list, fails the test.

// loadOpenAPI loads and validates the API's document, with the given
// servers in place of its own so that requests to test nodes route.
func loadOpenAPI(tb testing.TB, servers ...string) *openapi3.T {
	tb.Helper()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(api.OpenAPI())
	if err != nil {
		tb.Fatalf("api/openapi.yaml does not load: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		tb.Fatalf("api/openapi.yaml does not validate: %v", err)
	}
	if len(servers) > 0 {
		doc.Servers = nil
		for _, s := range servers {
			doc.Servers = append(doc.Servers, &openapi3.Server{URL: s})
		}
	}
	return doc
}

func TestOpenAPI_DocumentValidates(t *testing.T) {
	doc := loadOpenAPI(t)
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("openapi %s: the document is written for 3.1", doc.OpenAPI)
	}
}

// contractChecker validates every exchange that passes through it, and
// records which operations answered with which status codes.
type contractChecker struct {
	tb     testing.TB
	router routers.Router
	base   http.RoundTripper

	mu     sync.Mutex
	seen   map[string]map[int]bool // "GET /api/v1/channels" -> statuses
	failed []string
}

func init() {
	// Bodies the validator does not decode itself: JSON Lines archives
	// and CBOR evidence are checked as opaque strings.
	openapi3filter.RegisterBodyDecoder("application/jsonl", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/cbor", openapi3filter.PlainBodyDecoder)
}

func newContractChecker(tb testing.TB, doc *openapi3.T) *contractChecker {
	r, err := gorillamux.NewRouter(doc)
	if err != nil {
		tb.Fatal(err)
	}
	return &contractChecker{tb: tb, router: r, base: http.DefaultTransport, seen: make(map[string]map[int]bool)}
}

// client returns an API client whose exchanges are checked.
func (cc *contractChecker) client(base, token string) *client.Client {
	c := client.New(base, token)
	c.HTTP.Transport = cc
	return c
}

func (cc *contractChecker) fail(format string, args ...any) {
	cc.mu.Lock()
	defer cc.mu.Unlock()
	cc.failed = append(cc.failed, fmt.Sprintf(format, args...))
}

// RoundTrip implements http.RoundTripper.
func (cc *contractChecker) RoundTrip(req *http.Request) (*http.Response, error) {
	var reqBody []byte
	if req.Body != nil {
		var err error
		if reqBody, err = io.ReadAll(req.Body); err != nil {
			return nil, err
		}
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(reqBody))
	}
	route, params, err := cc.router.FindRoute(req)
	if err != nil {
		cc.fail("%s %s: no operation in api/openapi.yaml: %v", req.Method, req.URL.Path, err)
		return cc.base.RoundTrip(req)
	}
	op := req.Method + " " + route.Path
	in := &openapi3filter.RequestValidationInput{Request: req.Clone(req.Context()), PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: openapi3filter.NoopAuthenticationFunc, MultiError: true}}
	in.Request.Body = io.NopCloser(bytes.NewReader(reqBody))
	// Requests meant to be refused are not expected to match the document.
	if req.Header.Get("X-Test-Bad-Request") == "" {
		if err := openapi3filter.ValidateRequest(req.Context(), in); err != nil {
			cc.fail("%s: request does not match the document: %v", op, err)
		}
	}
	req.Header.Del("X-Test-Bad-Request")
	resp, err := cc.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	cc.mu.Lock()
	if cc.seen[op] == nil {
		cc.seen[op] = make(map[int]bool)
	}
	cc.seen[op][resp.StatusCode] = true
	cc.mu.Unlock()
	stream := strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
	var body []byte
	if !stream {
		body, err = io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return nil, err
		}
		resp.Body = io.NopCloser(bytes.NewReader(body))
	}
	out := &openapi3filter.ResponseValidationInput{RequestValidationInput: in, Status: resp.StatusCode, Header: resp.Header,
		Body: io.NopCloser(bytes.NewReader(body)), Options: &openapi3filter.Options{MultiError: true, IncludeResponseStatus: true, ExcludeResponseBody: stream}}
	if err := openapi3filter.ValidateResponse(req.Context(), out); err != nil {
		cc.fail("%s answered %d: the answer does not match the document: %v\n%s", op, resp.StatusCode, err, clipBody(body))
	}
	return resp, nil
}

func clipBody(b []byte) string {
	if len(b) > 600 {
		return string(b[:600]) + "..."
	}
	return string(b)
}

// raw sends one request through the checker, without the client's
// decoding: for answers the client does not expect, and bad requests.
func (cc *contractChecker) raw(method, url, token string, body string, bad bool) int {
	cc.tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		cc.tb.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if bad {
		req.Header.Set("X-Test-Bad-Request", "1")
	}
	resp, err := (&http.Client{Transport: cc}).Do(req)
	if err != nil {
		cc.tb.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestOpenAPI_EveryOperationAnswersAsDocumented(t *testing.T) {
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond, Directories: true})
	ctx := context.Background()
	a, b := net.Party("alpha"), net.Party("bravo")
	doc := loadOpenAPI(t, a.Server.APIURL(), b.Server.APIURL())
	cc := newContractChecker(t, doc)
	alpha, bravo := cc.client(a.Server.APIURL(), a.Token), cc.client(b.Server.APIURL(), b.Token)
	must := func(what string, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	const ch = "alpha-bravo-policy"

	// Every operation that needs credentials refuses a request without
	// them, with 401 and the error body.
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			if op.Security != nil && (len(*op.Security) == 0 || slices.ContainsFunc(*op.Security, func(r openapi3.SecurityRequirement) bool { return len(r) == 0 })) {
				continue // public, or public unless configured: /healthz, /metrics and the like
			}
			u := a.Server.APIURL() + strings.NewReplacer("{channel}", ch, "{entry}", "0123456789abcdef", "{catalog}", "00000000", "{n}", "1").Replace(path)
			if got := cc.raw(method, u, "", "", true); got != http.StatusUnauthorized {
				t.Errorf("%s %s without a token: %d, want 401", method, path, got)
			}
		}
	}

	// The public endpoints.
	for _, p := range []string{"/healthz", "/readyz", "/metrics", "/api/v1/openapi.yaml"} {
		if got := cc.raw(http.MethodGet, a.Server.APIURL()+p, "", "", false); got != http.StatusOK {
			t.Errorf("GET %s: %d", p, got)
		}
	}

	// Channels: list, one, propose, accept, decline.
	_, err := alpha.Channels(ctx)
	must("channels", err)
	_, err = alpha.AllChannels(ctx)
	must("all channels", err)
	_, err = alpha.Channel(ctx, ch)
	must("channel", err)
	_, err = alpha.Channel(ctx, "no-such-channel")
	if err == nil {
		t.Fatal("an unknown channel was found")
	}
	_, err = alpha.Propose(ctx, api.ProposeRequest{Name: "alpha-bravo-extra", Level: "theatre", Members: []string{"bravo"},
		Policy: &api.PolicyRequest{AckByPrecedence: map[string]string{"flash": "3m"}}})
	must("propose", err)
	_, err = alpha.Propose(ctx, api.ProposeRequest{Name: "alpha-bravo-extra", Level: "theatre", Members: []string{"bravo"}})
	if err == nil {
		t.Fatal("a name in use was proposed again")
	}
	cc.raw(http.MethodPost, a.Server.APIURL()+"/api/v1/channels", a.Token, `{"name":"x","level":"nope","members":["bravo"]}`, true)
	declined, err := alpha.Propose(ctx, api.ProposeRequest{Name: "alpha-bravo-declined", Level: "track2", Members: []string{"bravo"}, Catalog: "none"})
	must("propose", err)
	eventually(t, "bravo holds the invitations", func() bool {
		_, e1 := bravo.Channel(ctx, "alpha-bravo-extra")
		_, e2 := bravo.Channel(ctx, declined.ID)
		return e1 == nil && e2 == nil
	})
	_, err = bravo.Accept(ctx, "alpha-bravo-extra")
	must("accept", err)
	_, err = bravo.Accept(ctx, "alpha-bravo-extra")
	if err == nil {
		t.Fatal("accepted twice")
	}
	_, err = bravo.Decline(ctx, declined.ID)
	must("decline", err)
	_, err = bravo.Decline(ctx, declined.ID)
	if err == nil {
		t.Fatal("declined twice")
	}

	// Release authority: a draft held, listed, released, returned and
	// withdrawn.
	relc, err := alpha.Propose(ctx, api.ProposeRequest{Name: "alpha-bravo-released", Level: "policy", Members: []string{"bravo"},
		Policy: &api.PolicyRequest{Release: &api.ReleaseRule{Precedence: "routine", Releasers: 1}}})
	must("propose with a release rule", err)
	cc.raw(http.MethodPost, a.Server.APIURL()+"/api/v1/channels", a.Token, `{"name":"x2","level":"policy","members":["bravo"],"policy":{"release":{"releasers":9}}}`, true)
	eventually(t, "bravo holds the invitation", func() bool { _, err := bravo.Channel(ctx, relc.ID); return err == nil })
	_, err = bravo.Accept(ctx, relc.ID)
	must("accept", err)
	eventually(t, "the released channel is active", func() bool { v, err := alpha.Channel(ctx, relc.ID); return err == nil && v.State == "active" })
	chief := newReleaser(t, a, "chief", "duty director")
	chiefAPI := cc.client(a.Server.APIURL(), "chief-token-"+strings.Repeat("x", 20))
	held, err := alpha.Send(ctx, relc.ID, api.SendRequest{Text: "Held until released"})
	must("send held as a draft", err)
	_, err = alpha.Drafts(ctx, "")
	must("drafts", err)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/drafts?state=lost", a.Token, "", true)
	_, err = alpha.Draft(ctx, held.Draft.ID)
	must("draft", err)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/drafts/nothere", a.Token, "", false)
	_, err = alpha.ReleaseDraft(ctx, held.Draft.ID, chief.sign(t, held))
	if err == nil {
		t.Fatal("the drafter released its own draft")
	}
	_, err = chiefAPI.ReleaseDraft(ctx, held.Draft.ID, chief.sign(t, held))
	must("release", err)
	_, err = chiefAPI.ReleaseDraft(ctx, held.Draft.ID, chief.sign(t, held))
	if err == nil {
		t.Fatal("a sent draft was released again")
	}
	back, err := alpha.Send(ctx, relc.ID, api.SendRequest{Text: "To be returned"})
	must("send held as a draft", err)
	_, err = chiefAPI.ReturnDraft(ctx, back.Draft.ID, "not now")
	must("return", err)
	gone, err := alpha.Send(ctx, relc.ID, api.SendRequest{Text: "To be withdrawn"})
	must("send held as a draft", err)
	_, err = alpha.WithdrawDraft(ctx, gone.Draft.ID)
	must("withdraw", err)

	// Messages, marks, translations, the log.
	msg, err := alpha.Send(ctx, ch, api.SendRequest{Text: "Agenda for the next round", Lang: "en"})
	must("send", err)
	cc.raw(http.MethodPost, a.Server.APIURL()+"/api/v1/channels/"+ch+"/messages", a.Token, `{"text":""}`, true)
	cc.raw(http.MethodPost, a.Server.APIURL()+"/api/v1/channels/"+declined.ID+"/messages", a.Token, `{"text":"not yet"}`, false)
	_, err = alpha.Send(ctx, ch, api.SendRequest{Text: "Vessel on collision course", Precedence: "flash"})
	must("flash", err)
	_, err = alpha.Send(ctx, ch, api.SendRequest{Phrase: &api.PhraseRequest{Code: "COMMS-CHECK"}})
	must("send a phrase", err)
	eventually(t, "bravo holds the message", func() bool { return findEntry(t, clientOf(b), ch, msg.ID) != nil })
	_, err = bravo.Mark(ctx, ch, msg.ID, "read", "")
	must("read", err)
	_, err = bravo.Mark(ctx, ch, msg.ID, "ack", "noted")
	must("ack", err)
	_, err = alpha.Mark(ctx, ch, msg.ID, "ack", "")
	if err == nil {
		t.Fatal("the author acknowledged its own message")
	}
	_, err = bravo.Mark(ctx, ch, "ffffffffffff", "ack", "")
	if err == nil {
		t.Fatal("an unknown entry was acknowledged")
	}
	_, err = bravo.Translate(ctx, ch, msg.ID, api.TranslationRequest{Lang: "zh-Hans", Stage: "rough", Text: "下一轮议程"})
	must("translate", err)
	_, err = alpha.Log(ctx, ch)
	must("log", err)
	_, err = alpha.LogIn(ctx, ch, "zh-Hans")
	must("log in Chinese", err)
	newest, err := alpha.Page(ctx, ch, client.PageRequest{Limit: 2})
	must("the newest page", err)
	_, err = alpha.Page(ctx, ch, client.PageRequest{Before: newest.Prev, Limit: 2})
	must("the page before", err)
	_, err = alpha.Page(ctx, ch, client.PageRequest{StoredAfter: &newest.Stored, Limit: 2})
	must("what was stored since", err)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/channels/"+ch+"/entries?stored_after=-1", a.Token, "", true)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/channels/"+ch+"/entries?after=nonsense", a.Token, "", true)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/channels/"+ch+"/entries?limit=100000", a.Token, "", true)
	second, err := bravo.Send(ctx, ch, api.SendRequest{Text: "Noted; a second item", Lang: "en"})
	must("send", err)
	eventually(t, "alpha holds bravo's message", func() bool { return findEntry(t, clientOf(a), ch, second.ID) != nil })
	_, err = alpha.Unread(ctx, ch)
	must("unread", err)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/pending?role=nobody", a.Token, "", true)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/calls?limit=0", a.Token, "", true)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/pending?role=sent&limit=1", a.Token, "", false)
	_, err = alpha.ReadUpTo(ctx, ch, []string{second.ID})
	must("read up to here", err)
	cc.raw(http.MethodPost, a.Server.APIURL()+"/api/v1/channels/"+ch+"/read", a.Token, `{"entries":[]}`, true)

	// Proof and export (once a checkpoint covers the message).
	eventually(t, "a checkpoint covers the message", func() bool {
		_, err := alpha.Proof(ctx, ch, msg.ID)
		return err == nil
	})
	rc, err := alpha.Export(ctx, ch)
	must("export", err)
	io.Copy(io.Discard, rc)
	rc.Close()

	// Escalation, directory, calls.
	_, err = alpha.Escalation(ctx, ch)
	must("escalation", err)
	dirs, err := alpha.Directory(ctx, ch)
	must("directory", err)
	var cps []api.CounterpartRequest
	for _, d := range dirs {
		if d.Party == "alpha" {
			for _, c := range d.Counterparts {
				cps = append(cps, api.CounterpartRequest(c))
			}
		}
	}
	_, err = alpha.PublishDirectory(ctx, ch, api.DirectoryRequest{Counterparts: cps})
	must("publish directory", err)
	at := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Minute)
	callReq := api.CallRequestBody{Purpose: "Review the agenda", Times: []time.Time{at, at.Add(time.Hour)}, Minutes: 30,
		Participants: []entry.Participant{{Party: "alpha", Role: "director-policy"}, {Party: "bravo", Role: "director-policy"}}}
	call, err := alpha.RequestCall(ctx, ch, callReq)
	must("request a call", err)
	_, err = alpha.RequestCall(ctx, ch, api.CallRequestBody{Purpose: "bad", Minutes: 30})
	if err == nil {
		t.Fatal("a call request without times was written")
	}
	call2, err := alpha.RequestCall(ctx, ch, callReq)
	must("request another call", err)
	eventually(t, "bravo holds the call requests", func() bool {
		return findEntry(t, clientOf(b), ch, call.ID) != nil && findEntry(t, clientOf(b), ch, call2.ID) != nil
	})
	_, err = bravo.AcceptCall(ctx, ch, call.ID, at)
	must("accept a call", err)
	_, err = bravo.AcceptCall(ctx, ch, call2.ID, at.Add(5*time.Minute))
	if err == nil {
		t.Fatal("a call was accepted at a time not proposed")
	}
	_, err = bravo.DeclineCall(ctx, ch, call2.ID, "the director travels")
	must("decline a call", err)
	draft, err := alpha.Readout(ctx, ch, call.ID, api.ReadoutBody{Text: "Both agreed to meet again.", Lang: "en", Joint: true})
	must("joint readout draft", err)
	eventually(t, "bravo holds the draft", func() bool { return findEntry(t, clientOf(b), ch, draft.ID) != nil })
	_, err = bravo.Cosign(ctx, ch, draft.ID)
	must("cosign", err)
	_, err = bravo.Cosign(ctx, ch, msg.ID)
	if err == nil {
		t.Fatal("a message was cosigned as a readout")
	}
	_, err = alpha.Calls(ctx, "")
	must("calls", err)
	_, err = alpha.Calls(ctx, ch)
	must("calls of a channel", err)

	// A call held: joined (refused while only requested), looked at,
	// switched to interpretation, left.
	soon := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	now, err := alpha.RequestCall(ctx, ch, api.CallRequestBody{Purpose: "Now", Times: []time.Time{soon}, Minutes: 10, Participants: callReq.Participants})
	must("request a call for now", err)
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	_, _, err = joinCall(jctx, alpha, ch, now.ID, api.JoinBody{})
	if hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Fatalf("joining a call not yet accepted: %v", err)
	}
	eventually(t, "bravo accepts the call for now", func() bool { _, err := bravo.AcceptCall(ctx, ch, now.ID, soon); return err == nil })
	eventually(t, "alpha sees it accepted", func() bool {
		v := callOf(t, clientOf(a), ch, now.ID)
		return v != nil && v.State == node.CallAccepted
	})
	p, joined, err := joinCall(jctx, alpha, ch, now.ID, api.JoinBody{As: "director-policy"})
	cancel()
	must("join a call", err)
	_, err = alpha.LiveCall(ctx, ch, now.ID)
	must("live call", err)
	must("listen to interpretation", alpha.ListenCall(ctx, ch, now.ID, joined.Participant, "interpretation"))
	must("leave a call", alpha.LeaveCall(ctx, ch, now.ID, joined.Participant))
	p.Close()
	if err := alpha.LeaveCall(ctx, ch, now.ID, joined.Participant); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("leaving twice: %v", err)
	}

	// Phrases and catalogs.
	_, err = alpha.Phrases(ctx, ch, "zh-Hans")
	must("phrases", err)
	_, err = alpha.Phrases(ctx, "alpha-bravo-declined", "")
	if err == nil {
		t.Fatal("phrases of a channel without a catalog")
	}
	cats, err := alpha.Catalogs(ctx)
	must("catalogs", err)
	_, err = alpha.Catalog(ctx, cats[0].ID)
	must("catalog", err)
	_, err = alpha.Catalog(ctx, "00000000")
	if err == nil {
		t.Fatal("an unknown catalog was found")
	}

	// The operator, the watch, links, evidence, events.
	_, err = alpha.Me(ctx)
	must("me", err)
	_, err = alpha.SetLang(ctx, "zh-Hans")
	must("set language", err)
	_, err = alpha.SetLang(ctx, "not a tag")
	if err == nil {
		t.Fatal("a bad language was saved")
	}
	_, err = alpha.Pending(ctx)
	must("pending", err)
	_, err = alpha.Links(ctx)
	must("links", err)
	_, err = alpha.LinkHistory(ctx, "bravo", 10)
	must("link history", err)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/links/history?limit=0", a.Token, "", true)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/links/history?peer=nobody", a.Token, "", false)
	_, err = alpha.Identity(ctx)
	must("identity", err)
	_, err = alpha.Replica(ctx)
	must("replica", err)
	// Evidence: an entry bravo refuses from alpha's key, signed by
	// another, is kept; its bytes are served.
	aDir, err := config.Open(a.Dir)
	must("alpha's directory", err)
	bDir, err := config.Open(b.Dir)
	must("bravo's directory", err)
	pc := peer.NewClient("bravo", []string{b.Server.PeerAddr()}, aDir.TLS, identity.Pin(bDir.TLS.Fingerprint()), peer.ClientOptions{})
	defer pc.Close()
	_, stranger, _ := ed25519.GenerateKey(rand.Reader)
	chView, err := bravo.Channel(ctx, ch)
	must("channel", err)
	chID, _ := entry.ParseChannelID(chView.ID)
	body, _ := entry.EncodeBody(&entry.Message{Text: "forged", Lang: "en"})
	forged, err := entry.Sign(entry.Header{Channel: chID, Author: "alpha", Seq: 1000, Prev: entry.ID{1}, Time: time.Now().UnixMilli(), Kind: entry.KindMessage}, body, stranger)
	must("sign", err)
	_, err = pc.Push(ctx, []*entry.Entry{forged})
	must("push a forged entry", err)
	page, err := bravo.Evidence(ctx, client.EvidenceQuery{Limit: 10})
	must("evidence", err)
	if len(page.Evidence) == 0 {
		t.Fatal("no evidence kept of the forged entry")
	}
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/evidence?kind=nonsense", a.Token, "", true)
	cc.raw(http.MethodGet, a.Server.APIURL()+"/api/v1/evidence/999999", a.Token, "", false)
	for _, ev := range page.Evidence {
		rc, err := bravo.EvidenceFile(ctx, ev.N)
		must("evidence file", err)
		rc.Close()
	}
	evCtx, cancel := context.WithCancel(ctx)
	ready := make(chan struct{})
	go alpha.Events(evCtx, ch, ready, func(client.ServerEvent) bool { return true })
	<-ready
	cancel()
	// Last, as it changes alpha's keys: a rotation, and the keys after it.
	_, err = alpha.RotateKey(ctx)
	must("rotate the key", err)
	_, err = alpha.KeyStatus(ctx)
	must("key status", err)

	// Every operation answered, every answer as documented.
	cc.mu.Lock()
	defer cc.mu.Unlock()
	for _, f := range cc.failed {
		t.Error(f)
	}
	var missing []string
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			op := method + " " + path
			ok := false
			for code := range cc.seen[op] {
				ok = ok || (code >= 200 && code < 300)
			}
			if !ok {
				missing = append(missing, op)
			}
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("operations the scenario never saw succeed: %s", strings.Join(missing, ", "))
	}
	var summary []string
	for op, codes := range cc.seen {
		var cs []string
		for c := range codes {
			cs = append(cs, fmt.Sprint(c))
		}
		slices.Sort(cs)
		summary = append(summary, op+" "+strings.Join(cs, ","))
	}
	sort.Strings(summary)
	t.Logf("operations and statuses checked against api/openapi.yaml:\n%s", strings.Join(summary, "\n"))
}
