package peer

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/hotline-project/hotline/entry"
)

// Call operations: what one node of a call's parties asks another.
const (
	// CallOffer carries the asking node's WebRTC offer for the call's
	// media link; the answer carries the node's. The session
	// descriptions, and so the DTLS fingerprints the media is encrypted
	// under, travel only over this mutually authenticated link.
	CallOffer = "offer"
	// CallRing says the asking party's people are on the call, so a node
	// that links to it (the one with the smaller name) should do so now.
	CallRing = "ring"
	// CallSection hands the call's requester the asking party's account
	// of the call (a conference.Section, JSON), for the held record.
	CallSection = "section"
)

// MaxCallRequest bounds a call request's encoding.
const MaxCallRequest = 192 << 10

// CallRequest is one call operation.
type CallRequest struct {
	Op      string          `cbor:"1,keyasint"`
	Channel entry.ChannelID `cbor:"2,keyasint"`
	Call    entry.ID        `cbor:"3,keyasint"` // the call request's entry id
	SDP     string          `cbor:"4,keyasint,omitempty"`
	Section []byte          `cbor:"5,keyasint,omitempty"`
}

// CallResponse is a call operation's answer.
type CallResponse struct {
	SDP string `cbor:"1,keyasint,omitempty"` // offer: the answer
}

// CallRefused is a call operation the node will not carry out, for a
// reason that is not a fault (nobody of its party is on the call, the
// call has ended, or it is not a party of it): answered 409.
type CallRefused struct{ Msg string }

func (e *CallRefused) Error() string { return e.Msg }

// DecodeCallRequest decodes and checks a call request.
func DecodeCallRequest(b []byte) (*CallRequest, error) {
	if len(b) > MaxCallRequest {
		return nil, fmt.Errorf("%w: call request is %d bytes, limit %d", ErrMalformed, len(b), MaxCallRequest)
	}
	var r CallRequest
	if err := decMode.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: call request: %v", ErrMalformed, err)
	}
	switch r.Op {
	case CallOffer:
		if r.SDP == "" || r.Section != nil {
			return nil, fmt.Errorf("%w: a call offer carries a session description only", ErrMalformed)
		}
	case CallRing:
		if r.SDP != "" || r.Section != nil {
			return nil, fmt.Errorf("%w: a ring carries nothing", ErrMalformed)
		}
	case CallSection:
		if r.SDP != "" || len(r.Section) == 0 {
			return nil, fmt.Errorf("%w: a call section carries the section only", ErrMalformed)
		}
	default:
		return nil, fmt.Errorf("%w: unknown call operation %q", ErrMalformed, r.Op)
	}
	return &r, nil
}

// DecodeCallResponse decodes a call operation's answer.
func DecodeCallResponse(b []byte) (*CallResponse, error) {
	var r CallResponse
	if err := decMode.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: call response: %v", ErrMalformed, err)
	}
	return &r, nil
}

// Call sends a call operation to the peer.
func (c *Client) Call(ctx context.Context, req *CallRequest) (*CallResponse, error) {
	b, err := c.do(ctx, http.MethodPost, "/peer/v1/call", marshal(req))
	if err != nil {
		return nil, err
	}
	return DecodeCallResponse(b)
}

func (s *Server) call(w http.ResponseWriter, r *http.Request, party string) {
	body, err := readBody(w, r, MaxCallRequest)
	if err != nil {
		s.bad(w, party, "call", fmt.Errorf("%w: call request larger than %d bytes or cut short: %v", ErrMalformed, MaxCallRequest, err))
		return
	}
	req, err := DecodeCallRequest(body)
	if err != nil {
		s.bad(w, party, "call", err)
		return
	}
	res, err := s.h.PeerCall(r.Context(), party, req)
	var refused *CallRefused
	if errors.As(err, &refused) {
		s.log.Debug("call operation refused", "peer", party, "op", req.Op, "err", err)
		http.Error(w, refused.Msg, http.StatusConflict)
		return
	}
	if err != nil {
		s.fail(w, party, "call", err)
		return
	}
	writeCBOR(w, marshal(res))
}
