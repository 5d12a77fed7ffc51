package api

import (
	"net/http"

	"github.com/hotline-project/hotline/node"
)

// JoinBody is the body of POST .../calls/{entry}/join.
type JoinBody struct {
	// SDP is the participant's WebRTC offer, with its ICE candidates
	// gathered (no trickle).
	SDP string `json:"sdp"`
	// As is the directory role to join as; empty: the operator's role
	// in the roster.
	As string `json:"as,omitempty"`
	// Interpreter joins as the party's interpreter.
	Interpreter bool `json:"interpreter,omitempty"`
	// Listen is original (default) or interpretation.
	Listen string `json:"listen,omitempty"`
}

// ListenBody is the body of PUT .../participants/{id}.
type ListenBody struct {
	Listen string `json:"listen"`
}

func (s *Server) liveCall(w http.ResponseWriter, r *http.Request, _ string) error {
	v, err := s.n.LiveCall(r.Context(), r.PathValue("channel"), r.PathValue("entry"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) joinCall(w http.ResponseWriter, r *http.Request, op string) error {
	var req JoinBody
	if err := decode(r, &req); err != nil {
		return err
	}
	out, err := s.n.JoinCall(r.Context(), op, r.PathValue("channel"), r.PathValue("entry"),
		node.CallJoin{As: req.As, Interpreter: req.Interpreter, Listen: req.Listen, SDP: req.SDP})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, out)
}

func (s *Server) leaveCall(w http.ResponseWriter, r *http.Request, op string) error {
	if err := s.n.LeaveCall(r.Context(), op, r.PathValue("channel"), r.PathValue("entry"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) listenCall(w http.ResponseWriter, r *http.Request, op string) error {
	var req ListenBody
	if err := decode(r, &req); err != nil {
		return err
	}
	if err := s.n.ListenCall(r.Context(), op, r.PathValue("channel"), r.PathValue("entry"), r.PathValue("id"), req.Listen); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
