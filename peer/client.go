package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// ClientOptions tune how a client reaches a peer.
type ClientOptions struct {
	// Timeout bounds connecting and waiting for the peer to start
	// answering a request, so a black-holed bearer is given up on and the
	// next endpoint tried; zero means 30 seconds.
	Timeout time.Duration
	// FailbackAfter is how long a client stays on a backup endpoint before
	// trying the preferred ones again; zero means one minute.
	FailbackAfter time.Duration
}

// Client calls one party's node over its endpoints, in order of
// preference: it stays on the endpoint that last worked, fails over to the
// next when it stops working, and tries the preferred ones again
// periodically (failback).
type Client struct {
	Party string

	hc       *http.Client
	failback time.Duration

	mu          sync.Mutex
	eps         []*endpoint
	active      int
	lastFailTry time.Time // when the preferred endpoints were last retried
}

// endpoint is one address of the peer and what the client knows of it.
type endpoint struct {
	addr        string
	up          bool
	standby     bool // it last answered as a standby replica of the party
	lastContact time.Time
	rtt         time.Duration
	failures    uint64
	lastError   string
	lastErrorAt time.Time
}

// EndpointStatus is the health of one endpoint of a peer.
type EndpointStatus struct {
	Address string `json:"address"`
	Active  bool   `json:"active"` // the endpoint requests go to now
	Up      bool   `json:"up"`     // the last request to it got an answer
	// Standby: it last answered as a standby replica of the party, not
	// its writer; it is up, but requests go elsewhere.
	Standby     bool          `json:"standby,omitempty"`
	LastContact *time.Time    `json:"last_contact"`
	RTT         time.Duration `json:"rtt_ns"`
	Failures    uint64        `json:"failures"`
	LastError   string        `json:"last_error,omitempty"`
	LastErrorAt *time.Time    `json:"last_error_at,omitempty"`
}

// NewClient returns a client that presents key and accepts only a server
// whose fingerprint pinned accepts (identity.Pin for one).
func NewClient(party string, endpoints []string, key *identity.TLSKey, pinned func(identity.Fingerprint) bool, o ClientOptions) *Client {
	if o.Timeout == 0 {
		o.Timeout = 30 * time.Second
	}
	if o.FailbackAfter == 0 {
		o.FailbackAfter = time.Minute
	}
	tr := &http.Transport{
		TLSClientConfig:       key.ClientConfig(pinned),
		DialContext:           (&net.Dialer{Timeout: o.Timeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   o.Timeout,
		ResponseHeaderTimeout: o.Timeout,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     false,
	}
	c := &Client{Party: party, hc: &http.Client{Transport: tr}, failback: o.FailbackAfter}
	for _, ep := range endpoints {
		c.eps = append(c.eps, &endpoint{addr: ep})
	}
	return c
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// Endpoints returns the health of every endpoint, in order of preference.
func (c *Client) Endpoints() []EndpointStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]EndpointStatus, len(c.eps))
	for i, ep := range c.eps {
		s := EndpointStatus{Address: ep.addr, Active: i == c.active, Up: ep.up, Standby: ep.standby, RTT: ep.rtt, Failures: ep.failures, LastError: ep.lastError}
		if !ep.lastContact.IsZero() {
			t := ep.lastContact
			s.LastContact = &t
		}
		if !ep.lastErrorAt.IsZero() {
			t := ep.lastErrorAt
			s.LastErrorAt = &t
		}
		out[i] = s
	}
	return out
}

// order is the order to try endpoints in for the next request: from the
// active one onwards; or, failing back, from a more preferred endpoint
// that answered its last request or heartbeat, or from the most preferred
// once failback_after has passed since they were last tried.
func (c *Client) order() []int {
	c.mu.Lock()
	defer c.mu.Unlock()
	start := c.active
	for i := range c.active {
		if c.eps[i].up {
			start = i
			break
		}
	}
	if start == c.active && start != 0 && time.Since(c.lastFailTry) >= c.failback {
		start = 0
		c.lastFailTry = time.Now()
	}
	out := make([]int, 0, len(c.eps))
	for i := range c.eps {
		out = append(out, (start+i)%len(c.eps))
	}
	return out
}

// record notes the outcome of a request or heartbeat to endpoint i.
func (c *Client) record(i int, rtt time.Duration, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ep := c.eps[i]
	now := time.Now()
	ep.standby = errors.Is(err, errStandby)
	if err != nil {
		ep.up = false
		ep.failures++
		ep.lastError, ep.lastErrorAt = err.Error(), now
		return
	}
	ep.up, ep.lastContact, ep.rtt = true, now, rtt
}

// use makes endpoint i the one requests go to.
func (c *Client) use(i int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if i != c.active {
		c.active = i
		if i != 0 {
			c.lastFailTry = time.Now() // failback timer starts now
		}
	}
}

// errStandby is the answer of a standby replica.
var errStandby = errors.New("a standby replica, not the party's writer")

// errTransport marks a failure to reach an endpoint, as opposed to an
// answer from the peer.
type errTransport struct{ error }

// do runs one request against the endpoints in order until one answers.
func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var errs []string
	for _, i := range c.order() {
		b, err := c.doAt(ctx, i, method, path, body)
		var te errTransport
		if err == nil || !errors.As(err, &te) {
			c.use(i) // it answered, even if with an error
			return b, err
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, err.Error())
	}
	return nil, fmt.Errorf("%s unreachable: %s", c.Party, strings.Join(errs, "; "))
}

// doAt runs one request against endpoint i.
func (c *Client) doAt(ctx context.Context, i int, method, path string, body []byte) ([]byte, error) {
	addr := c.eps[i].addr
	req, err := http.NewRequestWithContext(ctx, method, "https://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/cbor")
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.record(i, 0, err)
		return nil, errTransport{fmt.Errorf("%s: %w", addr, err)}
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBatchBytes+1))
	resp.Body.Close()
	if err != nil {
		c.record(i, 0, err)
		return nil, errTransport{fmt.Errorf("%s: read response: %w", addr, err)}
	}
	if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(StandbyHeader) == "standby" {
		err := fmt.Errorf("%s: %w of %s", addr, errStandby, c.Party)
		c.record(i, 0, err)
		return nil, errTransport{err} // the next endpoint may be the writer
	}
	c.record(i, time.Since(start), nil)
	if resp.StatusCode != http.StatusOK {
		se := &StatusError{Party: c.Party, Path: path, Status: resp.Status, Code: resp.StatusCode,
			ContentType: resp.Header.Get("Content-Type"), Body: strings.TrimSpace(string(b))}
		if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs >= 0 {
			se.RetryAfter = time.Duration(min(secs, 3600)) * time.Second
		}
		return nil, se
	}
	return b, nil
}

// StatusError is a peer's answer other than 200 OK.
type StatusError struct {
	Party, Path string
	Status      string // e.g. "409 Conflict"
	Code        int
	ContentType string
	Body        string
	// RetryAfter is the wait the peer asked for (429, 503), at most an
	// hour; zero if it asked for none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s %s: %s: %s", e.Party, e.Path, e.Status, e.Body)
}

// AddCheckpoint sends a C2SP tlog-witness add-checkpoint request (see
// checkpoint.AddCheckpoint) and returns the peer's cosignature lines. When
// the peer last cosigned another size, the error is a *StatusError with
// code 409 and the peer's size in its body.
func (c *Client) AddCheckpoint(ctx context.Context, body []byte) ([]byte, error) {
	return c.do(ctx, http.MethodPost, "/peer/v1/add-checkpoint", body)
}

// Heads asks the peer what it holds of the feeds it shares with us,
// page by page.
func (c *Client) Heads(ctx context.Context) ([]FeedHead, error) {
	var out []FeedHead
	path := "/peer/v1/heads"
	for {
		b, err := c.do(ctx, http.MethodGet, path, nil)
		if err != nil {
			return nil, err
		}
		page, err := DecodeHeads(b)
		if err != nil {
			return nil, err
		}
		out = append(out, page.Heads...)
		if page.Through == nil {
			return out, nil
		}
		next := "/peer/v1/heads?after=" + page.Through.String()
		if next == path {
			return nil, fmt.Errorf("%w: heads: the next page is the same page", ErrMalformed)
		}
		path = next
	}
}

// Push sends entries to the peer.
func (c *Client) Push(ctx context.Context, entries []*entry.Entry) (*PushResult, error) {
	return c.PushRaw(ctx, EncodeEntries(entries))
}

// PushRaw sends already encoded entries; for tests of hostile input.
func (c *Client) PushRaw(ctx context.Context, body []byte) (*PushResult, error) {
	b, err := c.do(ctx, http.MethodPost, "/peer/v1/entries", body)
	if err != nil {
		return nil, err
	}
	return DecodePushResult(b)
}

// Pull asks the peer for the entries we lack of the channels a page of
// our heads covers. The entries are returned encoded; the caller
// verifies them like a push.
func (c *Client) Pull(ctx context.Context, page *Heads, limit int) ([][]byte, error) {
	b, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/peer/v1/pull?limit=%d", limit), marshal(page))
	if err != nil {
		return nil, err
	}
	return SplitEntries(b)
}

// Heartbeat sends a signed heartbeat to endpoint i (every endpoint is
// tested, not only the active one) and returns the peer's signed answer.
func (c *Client) Heartbeat(ctx context.Context, i int, hb []byte) ([]byte, time.Duration, error) {
	start := time.Now()
	b, err := c.doAt(ctx, i, http.MethodPost, "/peer/v1/heartbeat", hb)
	return b, time.Since(start), err
}
