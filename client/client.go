// Package client calls a node's operator API. The CLI, the benchmark and
// the integration tests use it, so they drive nodes the way operators do.
package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/replica"
)

// Client is an operator API client.
type Client struct {
	Base  string // e.g. http://127.0.0.1:8080
	Token string
	HTTP  *http.Client
	// Alternates are other replicas of the same party, tried in turn
	// when Base (or the one that answered last) cannot be connected to:
	// a request that never connected did nothing.
	Alternates []string
	// FailoverWait is how long a request answered "no writer" by a
	// standby replica (a failover under way, nothing done) is sent again;
	// zero means 15 seconds.
	FailoverWait time.Duration

	mu        sync.Mutex
	preferred int // index in bases() of the one that answered last
}

// New returns a client for the API at base with token. base may list
// several replicas of a party, comma-separated: the first is Base, the
// others Alternates.
func New(base, token string) *Client {
	bases := strings.Split(base, ",")
	for i := range bases {
		bases[i] = strings.TrimRight(strings.TrimSpace(bases[i]), "/")
	}
	return &Client{Base: bases[0], Alternates: bases[1:], Token: token, HTTP: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second},
	}}
}

// bases returns the API URLs to try, the one that answered last first.
func (c *Client) bases() []string {
	all := append([]string{c.Base}, c.Alternates...)
	c.mu.Lock()
	p := c.preferred % len(all)
	c.mu.Unlock()
	return append(all[p:], all[:p]...)
}

// current is the API URL requests go to first.
func (c *Client) current() string { return c.bases()[0] }

// answered makes base the one requests go to first.
func (c *Client) answered(base string) {
	all := append([]string{c.Base}, c.Alternates...)
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.Index(all, base); i >= 0 {
		c.preferred = i
	}
}

// neverConnected reports whether err is a failure to connect: the
// request was never sent.
func neverConnected(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// maxAnswer bounds a JSON answer the client reads into memory.
const maxAnswer = 256 << 20

// do sends a request and decodes a JSON response into out. API errors come
// back as *hotline.Error with the server's code and message.
func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body []byte
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = b
	}
	resp, err := c.send(ctx, method, path, body)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return hotline.Errorf(hotline.EUNAVAILABLE, "reading the node's answer: %v", err)
	}
	if len(b) > maxAnswer {
		return hotline.Errorf(hotline.EUNAVAILABLE, "the node's answer to %s %s is larger than %d MiB, more than this client reads", method, path, maxAnswer>>20)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return hotline.Errorf(hotline.EINTERNAL, "the node's answer is not the JSON expected: %v", err)
	}
	return nil
}

// send sends a request with an optional JSON body and returns a successful
// response, whose body the caller must close; an API error comes back as
// *hotline.Error.
func (c *Client) send(ctx context.Context, method, path string, body []byte) (*http.Response, error) {
	newReq := func(base string) (*http.Request, error) {
		var rd io.Reader
		if body != nil {
			rd = bytes.NewReader(body)
		}
		req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
		if err != nil {
			return nil, hotline.Errorf(hotline.EINVALID, "bad API URL %q: %v", base, err)
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Authorization", "Bearer "+c.Token)
		return req, nil
	}
	wait := c.FailoverWait
	if wait == 0 {
		wait = 15 * time.Second
	}
	giveUp := time.Now().Add(wait)
	var req *http.Request
	var resp *http.Response
	var err error
	base := c.current()
	for _, base = range c.bases() {
		if req, err = newReq(base); err != nil {
			return nil, err
		}
		if resp, err = c.HTTP.Do(req); !neverConnected(err) {
			break // answered, or failed after the request may have gone
		}
	}
	if err == nil {
		c.answered(base)
	}
	// A standby without a writer to forward to did nothing: send it again
	// once a standby has taken over.
	for err == nil && resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(api.NoWriterHeader) == api.NoWriter && time.Now().Before(giveUp) {
		resp.Body.Close()
		select {
		case <-ctx.Done():
			return nil, hotline.Errorf(hotline.EUNAVAILABLE, "no writer at %s yet (a failover is under way): %v", base, ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
		if req, err = newReq(base); err != nil {
			return nil, err
		}
		resp, err = c.HTTP.Do(req)
	}
	if err != nil {
		return nil, hotline.Errorf(hotline.EUNAVAILABLE, "cannot reach the node at %s: %v", strings.Join(c.bases(), " or "), err)
	}
	if resp.StatusCode < 300 {
		return resp, nil
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	var eb api.ErrorBody
	if json.Unmarshal(b, &eb) == nil && eb.Error.Code != "" {
		return nil, &hotline.Error{Code: eb.Error.Code, Message: eb.Error.Message, Field: eb.Error.Field}
	}
	return nil, hotline.Errorf(hotline.EINTERNAL, "%s %s: %s: %s", method, path, resp.Status, strings.TrimSpace(string(b)))
}

// Export returns the archive of a channel as it streams from the node; the
// caller must close it. A stream cut short lacks the archive's end record,
// which audit.Decode reports.
func (c *Client) Export(ctx context.Context, ch string) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, chPath(ch)+"/export", nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// Proof returns the C2SP tlog-proof of one entry.
func (c *Client) Proof(ctx context.Context, ch, entryID string) ([]byte, error) {
	resp, err := c.send(ctx, http.MethodGet, chPath(ch)+"/entries/"+url.PathEscape(entryID)+"/proof", nil)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	return io.ReadAll(io.LimitReader(resp.Body, 1<<20))
}

func chPath(ch string) string { return "/api/v1/channels/" + url.PathEscape(ch) }

// Drafts returns drafts in state ("" for those awaiting release).
func (c *Client) Drafts(ctx context.Context, state string) ([]node.DraftView, error) {
	var out struct {
		Drafts []node.DraftView `json:"drafts"`
	}
	q := url.Values{}
	if state != "" {
		q.Set("state", state)
	}
	return out.Drafts, c.do(ctx, http.MethodGet, "/api/v1/drafts?"+q.Encode(), nil, &out)
}

// Draft returns one draft.
func (c *Client) Draft(ctx context.Context, id string) (*node.DraftView, error) {
	var out node.DraftView
	return &out, c.do(ctx, http.MethodGet, "/api/v1/drafts/"+url.PathEscape(id), nil, &out)
}

// ReleaseDraft releases a draft with a personal signature.
func (c *Client) ReleaseDraft(ctx context.Context, id string, req api.ReleaseRequest) (*node.DraftView, error) {
	var out node.DraftView
	return &out, c.do(ctx, http.MethodPost, "/api/v1/drafts/"+url.PathEscape(id)+"/release", req, &out)
}

// ReturnDraft sends a draft back to its drafter with a comment.
func (c *Client) ReturnDraft(ctx context.Context, id, comment string) (*node.DraftView, error) {
	var out node.DraftView
	return &out, c.do(ctx, http.MethodPost, "/api/v1/drafts/"+url.PathEscape(id)+"/return", api.CommentRequest{Comment: comment}, &out)
}

// WithdrawDraft withdraws the caller's own draft.
func (c *Client) WithdrawDraft(ctx context.Context, id string) (*node.DraftView, error) {
	var out node.DraftView
	return &out, c.do(ctx, http.MethodPost, "/api/v1/drafts/"+url.PathEscape(id)+"/withdraw", struct{}{}, &out)
}

// KeyStatus returns the party's keys and the keys it holds of its peers.
func (c *Client) KeyStatus(ctx context.Context) (*node.KeyStatus, error) {
	var out node.KeyStatus
	return &out, c.do(ctx, http.MethodGet, "/api/v1/keys", nil, &out)
}

// RotateKey rotates the party key to the next one (see node.RotateKey).
func (c *Client) RotateKey(ctx context.Context) (*node.KeyRotation, error) {
	var out node.KeyRotation
	return &out, c.do(ctx, http.MethodPost, "/api/v1/keys/rotate", struct{}{}, &out)
}

// Identity returns the node's identity document.
func (c *Client) Identity(ctx context.Context) (*identity.Document, error) {
	var d identity.Document
	return &d, c.do(ctx, http.MethodGet, "/api/v1/identity", nil, &d)
}

// Replica returns the replica's role and the party's writer; the role is
// replica.Single for a node that is not one of several replicas.
func (c *Client) Replica(ctx context.Context) (*replica.Status, error) {
	var st replica.Status
	return &st, c.do(ctx, http.MethodGet, "/api/v1/replica", nil, &st)
}

// Channels lists the node's channels, without those declined or expired.
func (c *Client) Channels(ctx context.Context) ([]api.ChannelView, error) {
	var out struct{ Channels []api.ChannelView }
	return out.Channels, c.do(ctx, http.MethodGet, "/api/v1/channels", nil, &out)
}

// AllChannels lists the node's channels, those declined or expired too.
func (c *Client) AllChannels(ctx context.Context) ([]api.ChannelView, error) {
	var out struct{ Channels []api.ChannelView }
	return out.Channels, c.do(ctx, http.MethodGet, "/api/v1/channels?all=true", nil, &out)
}

// Channel returns one channel.
func (c *Client) Channel(ctx context.Context, ch string) (*api.ChannelView, error) {
	var out api.ChannelView
	return &out, c.do(ctx, http.MethodGet, chPath(ch), nil, &out)
}

// Propose proposes a channel.
func (c *Client) Propose(ctx context.Context, req api.ProposeRequest) (*api.ChannelView, error) {
	var out api.ChannelView
	return &out, c.do(ctx, http.MethodPost, "/api/v1/channels", req, &out)
}

// Accept accepts a channel.
func (c *Client) Accept(ctx context.Context, ch string) (*api.ChannelView, error) {
	var out api.ChannelView
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/accept", nil, &out)
}

// Decline declines an invitation.
func (c *Client) Decline(ctx context.Context, ch string) (*api.ChannelView, error) {
	var out api.ChannelView
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/decline", nil, &out)
}

// Send sends a message.
func (c *Client) Send(ctx context.Context, ch string, req api.SendRequest) (*api.EntryRef, error) {
	var out api.EntryRef
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/messages", req, &out)
}

// Mark acknowledges ("ack") or marks read ("read") a message.
func (c *Client) Mark(ctx context.Context, ch, entryID, kind, reply string) (*api.EntryRef, error) {
	var out api.EntryRef
	var in any
	if reply != "" {
		in = api.MarkRequest{Reply: reply}
	}
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/entries/"+url.PathEscape(entryID)+"/"+kind, in, &out)
}

// PageRequest selects a page of a channel's log: the newest entries, or
// those After or Before a cursor ("0" after is the start), up to Limit
// (0: the node's default), phrases in Lang ("" for the operator's).
type PageRequest struct {
	After, Before string
	// StoredAfter, if set, asks for what the node stored after that
	// point, in storage order: how a live log is followed.
	StoredAfter *int64
	Limit       int
	Lang        string
}

// Page returns one page of a channel's log.
func (c *Client) Page(ctx context.Context, ch string, req PageRequest) (*api.EntriesPage, error) {
	q := url.Values{}
	for k, v := range map[string]string{"after": req.After, "before": req.Before, "lang": req.Lang} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if req.Limit > 0 {
		q.Set("limit", strconv.Itoa(req.Limit))
	}
	if req.StoredAfter != nil {
		q.Set("stored_after", strconv.FormatInt(*req.StoredAfter, 10))
	}
	path := chPath(ch) + "/entries"
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	var out api.EntriesPage
	return &out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// EachEntry calls fn with every entry of a channel's log after cursor
// after ("0" for the start), in channel order, reading a page of limit
// entries at a time (0: the node's default), phrases in lang. It returns
// the cursor of the last entry seen, from which a later call goes on.
func (c *Client) EachEntry(ctx context.Context, ch, after string, limit int, lang string, fn func(node.EntryView) error) (string, error) {
	for {
		p, err := c.Page(ctx, ch, PageRequest{After: after, Limit: limit, Lang: lang})
		if err != nil {
			return after, err
		}
		for _, e := range p.Entries {
			if err := fn(e); err != nil {
				return after, err
			}
			after = e.Cursor
		}
		if !p.Later || len(p.Entries) == 0 {
			return after, nil
		}
	}
}

// Log returns a channel's whole log, phrases in the operator's language,
// read a page at a time: for tests and small channels; EachEntry streams.
func (c *Client) Log(ctx context.Context, ch string) ([]node.EntryView, error) {
	return c.LogIn(ctx, ch, "")
}

// LogIn is Log with phrases rendered in lang ("" for the operator's
// language, else the channel's).
func (c *Client) LogIn(ctx context.Context, ch, lang string) ([]node.EntryView, error) {
	var out []node.EntryView
	_, err := c.EachEntry(ctx, ch, "0", node.MaxPageLimit, lang, func(e node.EntryView) error {
		out = append(out, e)
		return nil
	})
	return out, err
}

// ReadUpTo marks read every message of each author's feed from the first
// to the last of entries (ids or prefixes), in one request.
func (c *Client) ReadUpTo(ctx context.Context, ch string, entries []string) ([]api.EntryRef, error) {
	var out struct{ Entries []api.EntryRef }
	return out.Entries, c.do(ctx, http.MethodPost, chPath(ch)+"/read", api.ReadRequest{Entries: entries}, &out)
}

// Unread returns how many messages of a channel nobody here has read, and
// the cursor of the first.
func (c *Client) Unread(ctx context.Context, ch string) (*api.UnreadView, error) {
	var out api.UnreadView
	return &out, c.do(ctx, http.MethodGet, chPath(ch)+"/unread", nil, &out)
}

// LinkHistory returns the newest link tests, newest first; peer "" means
// every peer.
func (c *Client) LinkHistory(ctx context.Context, peer string, limit int) ([]hotline.LinkTest, error) {
	var out struct{ Tests []hotline.LinkTest }
	q := url.Values{"limit": {strconv.Itoa(limit)}}
	if peer != "" {
		q.Set("peer", peer)
	}
	return out.Tests, c.do(ctx, http.MethodGet, "/api/v1/links/history?"+q.Encode(), nil, &out)
}

// Links returns the peer links' state.
func (c *Client) Links(ctx context.Context) ([]node.LinkStatus, error) {
	var out struct{ Links []node.LinkStatus }
	return out.Links, c.do(ctx, http.MethodGet, "/api/v1/links", nil, &out)
}

// EvidenceQuery selects a page of evidence records.
type EvidenceQuery struct {
	Kind, Peer string
	Before     int64 // from the page's Next; 0: the newest
	Limit      int   // 0: the node's default (100)
}

// Evidence returns a page of the evidence of refused input and
// equivocations the node keeps, newest first, without the data.
func (c *Client) Evidence(ctx context.Context, q EvidenceQuery) (*api.EvidencePage, error) {
	v := url.Values{}
	if q.Kind != "" {
		v.Set("kind", q.Kind)
	}
	if q.Peer != "" {
		v.Set("peer", q.Peer)
	}
	if q.Before > 0 {
		v.Set("before", strconv.FormatInt(q.Before, 10))
	}
	if q.Limit > 0 {
		v.Set("limit", strconv.Itoa(q.Limit))
	}
	var out api.EvidencePage
	path := "/api/v1/evidence"
	if len(v) > 0 {
		path += "?" + v.Encode()
	}
	return &out, c.do(ctx, http.MethodGet, path, nil, &out)
}

// EvidenceFile returns evidence record n's data as it streams from the
// node (an evidence file for an equivocation); the caller must close it.
func (c *Client) EvidenceFile(ctx context.Context, n int64) (io.ReadCloser, error) {
	resp, err := c.send(ctx, http.MethodGet, "/api/v1/evidence/"+strconv.FormatInt(n, 10), nil)
	if err != nil {
		return nil, err
	}
	return resp.Body, nil
}

// ServerEvent is one server-sent event.
type ServerEvent struct {
	Name string
	Data api.EventData
}

// Events streams server-sent events to fn until ctx ends, fn returns
// false, or the stream breaks. ready, if not nil, is closed once the
// stream is open.
func (c *Client) Events(ctx context.Context, channel string, ready chan<- struct{}, fn func(ServerEvent) bool) error {
	path := "/api/v1/events"
	if channel != "" {
		path += "?channel=" + url.QueryEscape(channel)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.current()+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.Token)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.HTTP.Do(req)
	if err != nil {
		return hotline.Errorf(hotline.EUNAVAILABLE, "cannot reach the node at %s: %v", c.current(), err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("events: %s: %s", resp.Status, strings.TrimSpace(string(b)))
	}
	if ready != nil {
		close(ready)
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var ev ServerEvent
	for sc.Scan() {
		line := sc.Text()
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.Name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.Data); err != nil {
				return fmt.Errorf("events: bad data line: %w", err)
			}
		case line == "" && ev.Name != "":
			if !fn(ev) {
				return nil
			}
			ev = ServerEvent{}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	return sc.Err()
}
