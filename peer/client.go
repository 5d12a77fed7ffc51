package peer

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// Client calls one party's node over its endpoints.
type Client struct {
	Party     string
	Endpoints []string
	hc        *http.Client
}

// NewClient returns a client that presents key and accepts only a server
// with the pinned fingerprint.
func NewClient(party string, endpoints []string, key *identity.TLSKey, pin identity.Fingerprint) *Client {
	tr := &http.Transport{
		TLSClientConfig:       key.ClientConfig(pin),
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 2 * time.Minute,
		MaxIdleConnsPerHost:   4,
		IdleConnTimeout:       90 * time.Second,
		ForceAttemptHTTP2:     false,
	}
	return &Client{Party: party, Endpoints: endpoints, hc: &http.Client{Transport: tr}}
}

// Close releases idle connections.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

// do runs one request against the first endpoint that answers.
func (c *Client) do(ctx context.Context, method, path string, body []byte) ([]byte, error) {
	var errs []string
	for _, ep := range c.Endpoints {
		req, err := http.NewRequestWithContext(ctx, method, "https://"+ep+path, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/cbor")
		}
		resp, err := c.hc.Do(req)
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			errs = append(errs, err.Error())
			continue
		}
		b, err := io.ReadAll(io.LimitReader(resp.Body, MaxBatchBytes+1))
		resp.Body.Close()
		if err != nil {
			errs = append(errs, fmt.Sprintf("%s: read response: %v", ep, err))
			continue
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("%s %s: %s: %s", c.Party, path, resp.Status, strings.TrimSpace(string(b)))
		}
		return b, nil
	}
	return nil, fmt.Errorf("%s unreachable: %s", c.Party, strings.Join(errs, "; "))
}

// Heads asks the peer what it holds of the feeds it shares with us.
func (c *Client) Heads(ctx context.Context) ([]FeedHead, error) {
	b, err := c.do(ctx, http.MethodGet, "/peer/v1/heads", nil)
	if err != nil {
		return nil, err
	}
	return DecodeHeads(b)
}

// Push sends entries to the peer.
func (c *Client) Push(ctx context.Context, entries []*entry.Entry) (*PushResult, error) {
	b, err := c.do(ctx, http.MethodPost, "/peer/v1/entries", EncodeEntries(entries))
	if err != nil {
		return nil, err
	}
	return DecodePushResult(b)
}

// PushRaw sends already encoded entries; for tests of hostile input.
func (c *Client) PushRaw(ctx context.Context, body []byte) (*PushResult, error) {
	b, err := c.do(ctx, http.MethodPost, "/peer/v1/entries", body)
	if err != nil {
		return nil, err
	}
	return DecodePushResult(b)
}

// Pull asks the peer for the entries we lack, given our heads. The
// entries are returned encoded; the caller verifies them like a push.
func (c *Client) Pull(ctx context.Context, heads []FeedHead, limit int) ([][]byte, error) {
	b, err := c.do(ctx, http.MethodPost, fmt.Sprintf("/peer/v1/pull?limit=%d", limit), marshal(Heads{Heads: heads}))
	if err != nil {
		return nil, err
	}
	return SplitEntries(b)
}
