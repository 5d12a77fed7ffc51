package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/entry"
)

// Bad operator input gets a 4xx that says what to fix, and changes nothing.
func TestAPI_BadInput(t *testing.T) {
	net := MustStart(t, 3)
	ctx := context.Background()
	a := net.Party("alpha")
	alpha, bravo := clientOf(a), clientOf(net.Party("bravo"))
	msg, err := alpha.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "agenda item 1"})
	if err != nil {
		t.Fatal(err)
	}
	// Wait until the link is quiet: the message delivered and both nodes
	// holding the same entries, so any later change is the bad input's.
	eventually(t, "the link is quiet", func() bool {
		e := findEntry(t, alpha, "alpha-bravo-policy", msg.ID)
		la, _ := alpha.Log(ctx, "alpha-bravo-policy")
		lb, _ := bravo.Log(ctx, "alpha-bravo-policy")
		return e != nil && e.Delivered != nil && len(la) == len(lb)
	})
	beforeA, _ := alpha.Log(ctx, "alpha-bravo-policy")
	beforeB, _ := bravo.Log(ctx, "alpha-bravo-policy")
	receipt := beforeB[len(beforeB)-1]
	if receipt.Kind != "receipt" {
		// Find any receipt of bravo's to try to ack.
		for _, e := range beforeB {
			if e.Kind == "receipt" && e.Author == "alpha" {
				receipt = e
			}
		}
	}
	huge := strings.Repeat("x", entry.MaxTextBytes+1)
	neg, absurd, junk := "-5m", "9000h", "soon"
	// A channel proposed by alpha to charlie that charlie has not accepted.
	pending, err := alpha.Propose(ctx, api.ProposeRequest{Name: "alpha-charlie-pending", Level: "policy", Members: []string{"charlie"}})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		c        *client.Client
		call     func(c *client.Client) error
		wantCode string
		wantMsg  string
	}{
		{"invalid token", client.New(a.Server.APIURL(), "hl_nope"), func(c *client.Client) error { _, err := c.Channels(ctx); return err }, hotline.EUNAUTHORIZED, "invalid token"},
		{"unknown channel", alpha, func(c *client.Client) error {
			_, err := c.Send(ctx, "no-such-channel", api.SendRequest{Text: "x"})
			return err
		}, hotline.ENOTFOUND, "no channel"},
		{"empty text", alpha, func(c *client.Client) error {
			_, err := c.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: ""})
			return err
		}, hotline.EINVALID, "empty"},
		{"oversized text", alpha, func(c *client.Client) error {
			_, err := c.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: huge})
			return err
		}, hotline.EINVALID, "limit 16384"},
		{"negative deadline", alpha, func(c *client.Client) error {
			_, err := c.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "x", AckWithin: &neg})
			return err
		}, hotline.EINVALID, "out of range"},
		{"absurd deadline", alpha, func(c *client.Client) error {
			_, err := c.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "x", AckWithin: &absurd})
			return err
		}, hotline.EINVALID, "out of range"},
		{"unparsable deadline", alpha, func(c *client.Client) error {
			_, err := c.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "x", AckWithin: &junk})
			return err
		}, hotline.EINVALID, "not a duration"},
		{"ack of a non-message", alpha, func(c *client.Client) error {
			_, err := c.Mark(ctx, "alpha-bravo-policy", receipt.ID, "ack", "")
			return err
		}, hotline.EINVALID, "not a message"},
		{"ack of own message", alpha, func(c *client.Client) error {
			_, err := c.Mark(ctx, "alpha-bravo-policy", msg.ID, "ack", "")
			return err
		}, hotline.EINVALID, "receiving side"},
		{"ack of unknown entry", bravo, func(c *client.Client) error {
			_, err := c.Mark(ctx, "alpha-bravo-policy", strings.Repeat("ab", 32), "ack", "")
			return err
		}, hotline.ENOTFOUND, "no entry"},
		{"send before the channel is accepted", alpha, func(c *client.Client) error {
			_, err := c.Send(ctx, pending.ID, api.SendRequest{Text: "x"})
			return err
		}, hotline.ECONFLICT, "not active"},
		{"propose to an unpinned party", alpha, func(c *client.Client) error {
			_, err := c.Propose(ctx, api.ProposeRequest{Name: "x", Level: "policy", Members: []string{"mallory"}})
			return err
		}, hotline.EINVALID, "not pinned"},
		{"propose with an unknown level", alpha, func(c *client.Client) error {
			_, err := c.Propose(ctx, api.ProposeRequest{Name: "x", Level: "galactic", Members: []string{"bravo"}})
			return err
		}, hotline.EINVALID, "unknown level"},
		{"accept an active channel", bravo, func(c *client.Client) error {
			_, err := c.Accept(ctx, "alpha-bravo-policy")
			return err
		}, hotline.ECONFLICT, "only a channel this party was invited to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(tt.c)
			if hotline.ErrorCode(err) != tt.wantCode || !strings.Contains(hotline.ErrorMessage(err), tt.wantMsg) {
				t.Fatalf("got %v, want code %s with %q", err, tt.wantCode, tt.wantMsg)
			}
		})
	}
	// Raw HTTP: missing token, unknown fields, not JSON.
	raw := []struct {
		name, method, path, auth, body string
		want                           int
	}{
		{"missing token", "GET", "/api/v1/channels", "", "", 401},
		{"unknown field", "POST", "/api/v1/channels/alpha-bravo-policy/messages", "Bearer " + a.Token, `{"text":"x","urgent":true}`, 400},
		{"not JSON", "POST", "/api/v1/channels/alpha-bravo-policy/messages", "Bearer " + a.Token, `text=x`, 400},
		{"unknown endpoint", "GET", "/api/v1/nothing", "Bearer " + a.Token, "", 404},
	}
	for _, tt := range raw {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, a.Server.APIURL()+tt.path, bytes.NewBufferString(tt.body))
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var eb api.ErrorBody
			if resp.StatusCode != tt.want || json.NewDecoder(resp.Body).Decode(&eb) != nil || eb.Error.Message == "" {
				t.Fatalf("status %d (want %d), error %+v", resp.StatusCode, tt.want, eb)
			}
		})
	}
	afterA, _ := alpha.Log(ctx, "alpha-bravo-policy")
	afterB, _ := bravo.Log(ctx, "alpha-bravo-policy")
	if len(afterA) != len(beforeA) || len(afterB) != len(beforeB) {
		t.Fatalf("bad input changed the logs: alpha %d→%d, bravo %d→%d entries", len(beforeA), len(afterA), len(beforeB), len(afterB))
	}
}

func TestAPI_HealthMetricsOpenAPI(t *testing.T) {
	net := MustStart(t, 2)
	base := net.Party("alpha").Server.APIURL()
	for path, want := range map[string]string{
		"/healthz":             "ok",
		"/readyz":              "ready",
		"/metrics":             "hotline_entries_stored_total",
		"/api/v1/openapi.yaml": "openapi: 3.1.0",
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(buf.String(), want) {
			t.Fatalf("%s: %d, body lacks %q", path, resp.StatusCode, want)
		}
	}
}
