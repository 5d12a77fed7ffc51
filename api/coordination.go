package api

import (
	"cmp"
	"fmt"
	"net/http"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/escalation"
	"github.com/hotline-project/hotline/node"
)

// PolicyRequest is a channel's proposed acknowledgement and escalation
// policy. Durations are Go durations ("5m", "48h").
type PolicyRequest struct {
	// AckWithin is the default acknowledgement deadline; "0" means
	// messages need none unless their sender asks; absent means the
	// level's default.
	AckWithin *string `json:"ack_within,omitempty"`
	// CallWithin is how long members have to answer a call request;
	// absent means 48h.
	CallWithin *string `json:"call_within,omitempty"`
	// EscalateTo names the higher-level channel, with the same members,
	// that unanswered entries escalate into.
	EscalateTo string `json:"escalate_to,omitempty"`
	// NoticeLead is how long before the event a notice (a launch notice)
	// must be sent; absent means 24h.
	NoticeLead *string `json:"notice_lead,omitempty"`
	// AckByPrecedence is the acknowledgement time of messages above
	// routine, by precedence (flash, immediate, priority); a precedence
	// left out gets its objective (10m, 30m, 3h), never longer than
	// ack_within.
	AckByPrecedence map[string]string `json:"ack_by_precedence,omitempty"`
	// Release requires messages at or above a precedence to be released
	// by operators other than their drafter, with their personal keys.
	Release *ReleaseRule `json:"release,omitempty"`
	// RecordCalls has each party's node record the calls held in the
	// channel, on its own side, with each recording's SHA-256 in the
	// call's held record.
	RecordCalls bool `json:"record_calls,omitempty"`
}

// ReleaseRule is a channel's release authority: every message at or
// above Precedence (routine: every message) is held as a draft until
// Releasers operators other than its drafter release it.
type ReleaseRule struct {
	Precedence string `json:"precedence"`
	Releasers  int    `json:"releasers"`
}

// PolicyView is a channel's agreed policy in API responses.
type PolicyView struct {
	Agreed            bool    `json:"agreed"` // false: the level's defaults apply
	AckWithinSeconds  float64 `json:"ack_within_seconds"`
	CallWithinSeconds float64 `json:"call_within_seconds"`
	EscalateTo        string  `json:"escalate_to,omitempty"` // channel id
	NoticeLeadSeconds float64 `json:"notice_lead_seconds"`
	// AckByPrecedenceSeconds is the default acknowledgement time of a
	// message of each precedence, routine included.
	AckByPrecedenceSeconds map[string]float64 `json:"ack_by_precedence_seconds"`
	// Release is the channel's release rule, if it has one.
	Release *ReleaseRule `json:"release,omitempty"`
	// RecordCalls: the parties agreed to record their calls.
	RecordCalls bool `json:"record_calls"`
}

func policyView(c *hotline.Channel) PolicyView {
	p := c.Definition.Policy
	v := PolicyView{Agreed: p != nil, AckWithinSeconds: node.DefaultAckWithin(c).Seconds(), CallWithinSeconds: p.CallReplyWithin().Seconds(),
		NoticeLeadSeconds: p.NoticeLeadTime().Seconds()}
	if p != nil && p.EscalateTo != nil {
		v.EscalateTo = p.EscalateTo.String()
	}
	v.RecordCalls = p != nil && p.RecordCalls
	if p != nil && p.Release != nil {
		v.Release = &ReleaseRule{Precedence: p.Release.Precedence, Releasers: int(p.Release.Releasers)}
	}
	v.AckByPrecedenceSeconds = make(map[string]float64, len(entry.Precedences))
	for _, prec := range entry.Precedences {
		v.AckByPrecedenceSeconds[prec] = p.AckFor(prec, node.DefaultAckWithin(c)).Seconds()
	}
	return v
}

func parseDuration(what string, s *string) (int64, error) {
	d, err := time.ParseDuration(*s)
	if err != nil {
		return 0, hotline.Errorf(hotline.EINVALID, "%s %q is not a duration: write it like 90s, 10m or 24h", what, *s)
	}
	if d < 0 {
		return 0, hotline.Errorf(hotline.EINVALID, "%s %s is negative", what, d)
	}
	return d.Milliseconds(), nil
}

func (s *Server) policy(level string, req *PolicyRequest) (*entry.Policy, error) {
	if req == nil {
		return nil, nil
	}
	l, err := hotline.ParseLevel(level)
	if err != nil {
		return nil, err
	}
	p := &entry.Policy{AckWithin: l.DefaultAckWithin().Milliseconds()}
	if req.AckWithin != nil {
		if p.AckWithin, err = parseDuration("ack_within", req.AckWithin); err != nil {
			return nil, err
		}
	}
	if req.CallWithin != nil {
		if p.CallWithin, err = parseDuration("call_within", req.CallWithin); err != nil {
			return nil, err
		}
	}
	if req.NoticeLead != nil {
		if p.NoticeLead, err = parseDuration("notice_lead", req.NoticeLead); err != nil {
			return nil, err
		}
	}
	if len(req.AckByPrecedence) > 0 {
		p.PrecedenceAck = &entry.PrecedenceAck{}
		for prec, d := range req.AckByPrecedence {
			var field *int64
			switch prec {
			case entry.Flash:
				field = &p.PrecedenceAck.Flash
			case entry.Immediate:
				field = &p.PrecedenceAck.Immediate
			case entry.Priority:
				field = &p.PrecedenceAck.Priority
			default:
				return nil, &hotline.Error{Code: hotline.EINVALID, Field: "policy.ack_by_precedence",
					Message: fmt.Sprintf("ack_by_precedence: %q is not flash, immediate or priority (routine takes ack_within)", prec)}
			}
			if *field, err = parseDuration("ack_by_precedence."+prec, &d); err != nil {
				return nil, err
			}
		}
		if *p.PrecedenceAck == (entry.PrecedenceAck{}) {
			p.PrecedenceAck = nil // every one 0: their objectives
		}
	}
	if r := req.Release; r != nil {
		p.Release = &entry.ReleaseRule{Precedence: cmp.Or(r.Precedence, entry.Routine), Releasers: int64(r.Releasers)}
		if err := p.Check(); err != nil {
			return nil, &hotline.Error{Code: hotline.EINVALID, Field: "policy.release", Message: fmt.Sprintf("release: give a precedence (flash, immediate, priority or routine) and 1 to %d releasers", entry.MaxReleasers)}
		}
	}
	p.RecordCalls = req.RecordCalls
	if req.EscalateTo != "" {
		t, err := s.n.ResolveChannel(req.EscalateTo)
		if err != nil {
			return nil, hotline.Errorf(hotline.ErrorCode(err), "escalate_to: %s", hotline.ErrorMessage(err))
		}
		p.EscalateTo = &t.ID
	}
	return p, nil
}

// StepView is a ladder step in API responses (webhook secrets are never
// shown).
type StepView struct {
	AfterSeconds float64  `json:"after_seconds"`
	Action       string   `json:"action"`
	URL          string   `json:"url,omitempty"`
	To           []string `json:"to,omitempty"`
}

// EscalationView is GET /api/v1/channels/{channel}/escalation: the
// channel's agreed policy and the ladders this node runs for it.
type EscalationView struct {
	Channel    ChannelView  `json:"channel"`
	EscalateTo *ChannelView `json:"escalate_to,omitempty"`
	Escalation []StepView   `json:"escalation"` // for this party's unanswered entries
	Reminder   []StepView   `json:"reminder"`   // for what this party owes
}

func stepViews(l escalation.Ladder) []StepView {
	out := []StepView{}
	for _, s := range l {
		out = append(out, StepView{AfterSeconds: s.After.Seconds(), Action: s.Action, URL: s.URL, To: s.To})
	}
	return out
}

func (s *Server) escalation(w http.ResponseWriter, r *http.Request, _ string) error {
	c, err := s.n.ResolveChannel(r.PathValue("channel"))
	if err != nil {
		return err
	}
	ls := s.n.Ladders()
	v := EscalationView{Channel: channelView(c), Escalation: stepViews(ls.Escalation[c.Level()]), Reminder: stepViews(ls.Reminder[c.Level()])}
	if p := c.Definition.Policy; p != nil && p.EscalateTo != nil {
		if t, err := s.n.ResolveChannel(p.EscalateTo.String()); err == nil {
			tv := channelView(t)
			v.EscalateTo = &tv
		}
	}
	return writeJSON(w, http.StatusOK, v)
}

func (s *Server) directory(w http.ResponseWriter, r *http.Request, _ string) error {
	c, dirs, err := s.n.Directory(r.Context(), r.PathValue("channel"))
	if err != nil {
		return err
	}
	if dirs == nil {
		dirs = []node.PartyDirectory{}
	}
	return writeJSON(w, http.StatusOK, map[string]any{"channel": channelView(c), "directories": dirs})
}

// DirectoryRequest is the body of PUT /api/v1/channels/{channel}/directory:
// this party's counterparts, replacing those it published before.
type DirectoryRequest struct {
	Counterparts []CounterpartRequest `json:"counterparts"`
}

// CounterpartRequest is one counterpart in a DirectoryRequest.
type CounterpartRequest struct {
	Level      string   `json:"level"`
	Role       string   `json:"role"`
	Name       string   `json:"name"`
	Address    string   `json:"address,omitempty"`
	Languages  []string `json:"languages,omitempty"`
	Alternates []string `json:"alternates,omitempty"`
}

func (s *Server) publishDirectory(w http.ResponseWriter, r *http.Request, op string) error {
	var req DirectoryRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	d := &entry.Directory{Counterparts: []entry.Counterpart{}}
	for _, c := range req.Counterparts {
		d.Counterparts = append(d.Counterparts, entry.Counterpart(c))
	}
	e, err := s.n.PublishDirectory(r.Context(), op, r.PathValue("channel"), d)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, entryRef(e))
}

// CallRequestBody is the body of POST /api/v1/channels/{channel}/calls.
type CallRequestBody struct {
	Purpose      string              `json:"purpose"`
	Times        []time.Time         `json:"times"` // RFC 3339
	Minutes      int                 `json:"minutes"`
	Participants []entry.Participant `json:"participants"` // {"party","role"}
	Level        string              `json:"level,omitempty"`
	Counter      string              `json:"counter,omitempty"` // the request this one answers with other times
}

func (s *Server) requestCall(w http.ResponseWriter, r *http.Request, op string) error {
	var req CallRequestBody
	if err := decode(r, &req); err != nil {
		return err
	}
	e, err := s.n.RequestCall(r.Context(), op, r.PathValue("channel"), node.CallRequest{
		Purpose: req.Purpose, Times: req.Times, Minutes: req.Minutes, Participants: req.Participants, Level: req.Level,
	}, req.Counter)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, entryRef(e))
}

// CallAnswerBody is the body of the accept and decline calls.
type CallAnswerBody struct {
	Time   *time.Time `json:"time,omitempty"`   // accept: one of the proposed times
	Reason string     `json:"reason,omitempty"` // decline
}

func (s *Server) answerCall(accept bool) func(w http.ResponseWriter, r *http.Request, op string) error {
	return func(w http.ResponseWriter, r *http.Request, op string) error {
		var req CallAnswerBody
		if err := decode(r, &req); err != nil {
			return err
		}
		var at time.Time
		if accept {
			if req.Time == nil {
				return hotline.Errorf(hotline.EINVALID, "time is required: give one of the proposed times")
			}
			at = *req.Time
		}
		e, err := s.n.AnswerCall(r.Context(), op, r.PathValue("channel"), r.PathValue("entry"), accept, at, req.Reason)
		if err != nil {
			return err
		}
		return writeJSON(w, http.StatusCreated, entryRef(e))
	}
}

// ReadoutBody is the body of POST .../calls/{entry}/readout.
type ReadoutBody struct {
	Text  string `json:"text"`
	Lang  string `json:"lang,omitempty"`
	Joint bool   `json:"joint,omitempty"` // a draft joint readout for the other members to co-sign
}

func (s *Server) readout(w http.ResponseWriter, r *http.Request, op string) error {
	var req ReadoutBody
	if err := decode(r, &req); err != nil {
		return err
	}
	e, err := s.n.Readout(r.Context(), op, r.PathValue("channel"), r.PathValue("entry"), req.Text, req.Lang, req.Joint)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, entryRef(e))
}

func (s *Server) cosign(w http.ResponseWriter, r *http.Request, op string) error {
	e, err := s.n.Cosign(r.Context(), op, r.PathValue("channel"), r.PathValue("entry"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, entryRef(e))
}

// List limits: a list endpoint answers ListLimit items unless asked for
// fewer or more, and never more than MaxListLimit; offset and the answer's
// next page through the rest.
const (
	ListLimit    = 500
	MaxListLimit = 5000
)

// window reads the offset and limit parameters and returns the part of a
// list of n items they select, and the offset of the next page (0: none).
func window(r *http.Request, n int) (from, to, next int, err error) {
	if from, err = intParam(r, "offset", 0, 0, 1<<31-1); err != nil {
		return 0, 0, 0, err
	}
	limit, err := intParam(r, "limit", ListLimit, 1, MaxListLimit)
	if err != nil {
		return 0, 0, 0, err
	}
	from = min(from, n)
	to = min(n, from+limit)
	if to < n {
		next = to
	}
	return from, to, next, nil
}

func (s *Server) calls(w http.ResponseWriter, r *http.Request, _ string) error {
	cs, err := s.n.Calls(r.Context(), r.URL.Query().Get("channel"))
	if err != nil {
		return err
	}
	from, to, next, err := window(r, len(cs))
	if err != nil {
		return err
	}
	out := map[string]any{"calls": append([]node.CallView{}, cs[from:to]...), "total": len(cs)}
	if next > 0 {
		out["next"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) pending(w http.ResponseWriter, r *http.Request, _ string) error {
	q := node.PendingQuery{Role: r.URL.Query().Get("role")}
	if q.Role != "" && q.Role != "sent" && q.Role != "received" {
		return &hotline.Error{Code: hotline.EINVALID, Field: "role", Message: fmt.Sprintf("role %q: give sent (what this party waits for) or received (what it owes)", q.Role)}
	}
	var err error
	if q.Offset, err = intParam(r, "offset", 0, 0, 1<<31-1); err != nil {
		return err
	}
	if q.Limit, err = intParam(r, "limit", ListLimit, 1, MaxListLimit); err != nil {
		return err
	}
	l, err := s.n.PendingList(r.Context(), q)
	if err != nil {
		return err
	}
	out := map[string]any{"items": append([]node.Item{}, l.Items...), "now": time.Now().UTC(), "total": l.Total}
	if next := q.Offset + q.Limit; next < l.Total {
		out["next"] = next
	}
	return writeJSON(w, http.StatusOK, out)
}
