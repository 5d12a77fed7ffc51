package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/node"
)

// Pending returns every watched entry still unanswered, soonest deadline
// first, read a page at a time.
func (c *Client) Pending(ctx context.Context) ([]node.Item, error) {
	var all []node.Item
	for offset := 0; ; {
		var out struct {
			Items []node.Item `json:"items"`
			Next  int         `json:"next"`
		}
		q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(api.MaxListLimit)}}
		if err := c.do(ctx, http.MethodGet, "/api/v1/pending?"+q.Encode(), nil, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Items...)
		if out.Next <= offset {
			return all, nil
		}
		offset = out.Next
	}
}

// Calls returns the call requests of a channel ("" for every channel),
// read a page at a time.
func (c *Client) Calls(ctx context.Context, ch string) ([]node.CallView, error) {
	var all []node.CallView
	for offset := 0; ; {
		var out struct {
			Calls []node.CallView `json:"calls"`
			Next  int             `json:"next"`
		}
		q := url.Values{"offset": {strconv.Itoa(offset)}, "limit": {strconv.Itoa(api.MaxListLimit)}}
		if ch != "" {
			q.Set("channel", ch)
		}
		if err := c.do(ctx, http.MethodGet, "/api/v1/calls?"+q.Encode(), nil, &out); err != nil {
			return nil, err
		}
		all = append(all, out.Calls...)
		if out.Next <= offset {
			return all, nil
		}
		offset = out.Next
	}
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
