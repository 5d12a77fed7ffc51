package client

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/node"
)

// Pending returns every watched entry still unanswered, soonest deadline
// first.
func (c *Client) Pending(ctx context.Context) ([]node.Item, error) {
	var out struct {
		Items []node.Item `json:"items"`
	}
	err := c.do(ctx, http.MethodGet, "/api/v1/pending", nil, &out)
	return out.Items, err
}

// Calls returns the call requests of a channel ("" for every channel).
func (c *Client) Calls(ctx context.Context, ch string) ([]node.CallView, error) {
	var out struct {
		Calls []node.CallView `json:"calls"`
	}
	path := "/api/v1/calls"
	if ch != "" {
		path += "?channel=" + url.QueryEscape(ch)
	}
	err := c.do(ctx, http.MethodGet, path, nil, &out)
	return out.Calls, err
}

// RequestCall writes a call request (or, with req.Counter, a
// counter-proposal).
func (c *Client) RequestCall(ctx context.Context, ch string, req api.CallRequestBody) (*api.EntryRef, error) {
	var out api.EntryRef
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/calls", req, &out)
}

// AcceptCall accepts a call request at one of its proposed times.
func (c *Client) AcceptCall(ctx context.Context, ch, request string, at time.Time) (*api.EntryRef, error) {
	var out api.EntryRef
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/calls/"+url.PathEscape(request)+"/accept", api.CallAnswerBody{Time: &at}, &out)
}

// DeclineCall declines a call request with a reason.
func (c *Client) DeclineCall(ctx context.Context, ch, request, reason string) (*api.EntryRef, error) {
	var out api.EntryRef
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/calls/"+url.PathEscape(request)+"/decline", api.CallAnswerBody{Reason: reason}, &out)
}

// Readout writes this party's readout of a call, or a draft joint readout.
func (c *Client) Readout(ctx context.Context, ch, request string, req api.ReadoutBody) (*api.EntryRef, error) {
	var out api.EntryRef
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/calls/"+url.PathEscape(request)+"/readout", req, &out)
}

// Cosign co-signs a joint readout.
func (c *Client) Cosign(ctx context.Context, ch, draft string) (*api.EntryRef, error) {
	var out api.EntryRef
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/entries/"+url.PathEscape(draft)+"/cosign", nil, &out)
}

// Directory returns every member's newest directory in a channel.
func (c *Client) Directory(ctx context.Context, ch string) ([]node.PartyDirectory, error) {
	var out struct {
		Directories []node.PartyDirectory `json:"directories"`
	}
	err := c.do(ctx, http.MethodGet, chPath(ch)+"/directory", nil, &out)
	return out.Directories, err
}

// PublishDirectory publishes this party's counterparts in a channel.
func (c *Client) PublishDirectory(ctx context.Context, ch string, req api.DirectoryRequest) (*api.EntryRef, error) {
	var out api.EntryRef
	return &out, c.do(ctx, http.MethodPut, chPath(ch)+"/directory", req, &out)
}

// Escalation returns a channel's agreed policy and this node's ladders.
func (c *Client) Escalation(ctx context.Context, ch string) (*api.EscalationView, error) {
	var out api.EscalationView
	return &out, c.do(ctx, http.MethodGet, chPath(ch)+"/escalation", nil, &out)
}
