package escalation

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"
)

// Webhook request headers.
const (
	// SignatureHeader carries "sha256=" and the lower-case hex
	// HMAC-SHA256 of the request body under the step's secret.
	SignatureHeader = "X-Hotline-Signature"
	// DeliveryHeader carries the payload's delivery id, the same on every
	// retry, so a receiver can drop a repeat.
	DeliveryHeader = "X-Hotline-Delivery"
)

// Signature returns the SignatureHeader value for body under secret.
func Signature(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// CheckSignature reports whether header is the signature of body under
// secret, in constant time. Webhook receivers use it.
func CheckSignature(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(Signature(secret, body)), []byte(header))
}

// Retry says how often and how patiently a step's delivery is retried.
type Retry struct {
	Attempts int           // in all; zero means 6
	First    time.Duration // first backoff; zero means one second
	Max      time.Duration // backoff cap; zero means 30 seconds
}

// do calls try until it succeeds, fails permanently, or runs out of
// attempts, backing off exponentially with jitter in between.
func (r Retry) do(ctx context.Context, try func(context.Context) (permanent bool, err error)) error {
	attempts, wait, most := r.Attempts, r.First, r.Max
	if attempts <= 0 {
		attempts = 6
	}
	if wait <= 0 {
		wait = time.Second
	}
	if most <= 0 {
		most = 30 * time.Second
	}
	var err error
	for i := range attempts {
		var permanent bool
		if permanent, err = try(ctx); err == nil || permanent {
			return err
		}
		if i == attempts-1 {
			break
		}
		d := wait/2 + rand.N(wait/2+1)
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return fmt.Errorf("%w (gave up: %v)", err, ctx.Err())
		}
		wait = min(2*wait, most)
	}
	return fmt.Errorf("after %d attempts: %w", attempts, err)
}

// Poster calls webhooks.
type Poster struct {
	Client *http.Client // nil means a client with a 10-second timeout
	Retry  Retry
}

// Post sends p as JSON to url, signed with secret, retrying transient
// failures (network errors, 408, 425, 429 and 5xx). Any other answer
// outside 2xx fails at once.
func (w *Poster) Post(ctx context.Context, url string, secret []byte, p *Payload) error {
	body, err := json.Marshal(p)
	if err != nil {
		return err
	}
	client := w.Client
	if client == nil {
		client = &http.Client{Timeout: 10 * time.Second}
	}
	return w.Retry.do(ctx, func(ctx context.Context) (bool, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return true, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("User-Agent", "hotline-webhook/1")
		req.Header.Set(SignatureHeader, Signature(secret, body))
		req.Header.Set(DeliveryHeader, p.Delivery)
		resp, err := client.Do(req)
		if err != nil {
			return false, fmt.Errorf("webhook %s: %w", url, err)
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		switch c := resp.StatusCode; {
		case c >= 200 && c < 300:
			return false, nil
		case c == http.StatusRequestTimeout, c == http.StatusTooEarly, c == http.StatusTooManyRequests, c >= 500:
			return false, fmt.Errorf("webhook %s answered %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
		default:
			return true, fmt.Errorf("webhook %s refused the call with %s: %s", url, resp.Status, strings.TrimSpace(string(msg)))
		}
	})
}
