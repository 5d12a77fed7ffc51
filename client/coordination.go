package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/node"
)

// Pending returns every watched entry still unanswered, soonest deadline
// first, read a page at a time.
func (c *Client) Pending(ctx context.Context) ([]node.Item, error) {
	return readAll[node.Item](ctx, c, "/api/v1/pending", url.Values{}, "items")
}

// Calls returns the call requests of a channel ("" for every channel),
// read a page at a time.
func (c *Client) Calls(ctx context.Context, ch string) ([]node.CallView, error) {
	q := url.Values{}
	if ch != "" {
		q.Set("channel", ch)
	}
	return readAll[node.CallView](ctx, c, "/api/v1/calls", q, "calls")
}

// readAll reads a list endpoint paged by offset (see api.ListLimit) to
// its end: the items under key of each page, in order.
func readAll[T any](ctx context.Context, c *Client, path string, q url.Values, key string) ([]T, error) {
	all := []T{}
	q.Set("limit", strconv.Itoa(api.MaxListLimit))
	for offset := 0; ; {
		q.Set("offset", strconv.Itoa(offset))
		var page map[string]json.RawMessage
		if err := c.do(ctx, http.MethodGet, path+"?"+q.Encode(), nil, &page); err != nil {
			return nil, err
		}
		var items []T
		var next int
		if err := json.Unmarshal(page[key], &items); err != nil {
			return nil, hotline.Errorf(hotline.EINTERNAL, "the node's answer to %s is not the list expected: %v", path, err)
		}
		if raw, ok := page["next"]; ok {
			if err := json.Unmarshal(raw, &next); err != nil {
				return nil, hotline.Errorf(hotline.EINTERNAL, "the node's answer to %s has a bad next page: %v", path, err)
			}
		}
		all = append(all, items...)
		if next <= offset {
			return all, nil
		}
		offset = next
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

// LiveCall returns a call and who of this party is on it now.
func (c *Client) LiveCall(ctx context.Context, ch, call string) (*node.CallLive, error) {
	var out node.CallLive
	return &out, c.do(ctx, http.MethodGet, chPath(ch)+"/calls/"+url.PathEscape(call)+"/live", nil, &out)
}

// JoinCall joins a call with a participant's WebRTC offer.
func (c *Client) JoinCall(ctx context.Context, ch, call string, req api.JoinBody) (*node.CallJoined, error) {
	var out node.CallJoined
	return &out, c.do(ctx, http.MethodPost, chPath(ch)+"/calls/"+url.PathEscape(call)+"/join", req, &out)
}

// DialCall joins a call as a participant with a WebRTC connection of its
// own (package conference): it makes the offer, has the node answer it
// (JoinCall, req's SDP set), and returns once the media is connected,
// with what the node said of the join.
func (c *Client) DialCall(ctx context.Context, ch, call string, req api.JoinBody, o conference.MediaOptions) (*conference.Participant, *node.CallJoined, error) {
	var joined *node.CallJoined
	p, err := conference.Dial(ctx, o, func(ctx context.Context, offer string) (string, error) {
		req.SDP = offer
		j, err := c.JoinCall(ctx, ch, call, req)
		if err != nil {
			return "", err
		}
		joined = j
		return j.SDP, nil
	})
	if err != nil {
		return nil, nil, err
	}
	return p, joined, nil
}

// LeaveCall takes a participant off a call.
func (c *Client) LeaveCall(ctx context.Context, ch, call, participant string) error {
	return c.do(ctx, http.MethodDelete, chPath(ch)+"/calls/"+url.PathEscape(call)+"/participants/"+url.PathEscape(participant), nil, nil)
}

// ListenCall switches what a participant hears: original or
// interpretation.
func (c *Client) ListenCall(ctx context.Context, ch, call, participant, listen string) error {
	return c.do(ctx, http.MethodPut, chPath(ch)+"/calls/"+url.PathEscape(call)+"/participants/"+url.PathEscape(participant), api.ListenBody{Listen: listen}, nil)
}
