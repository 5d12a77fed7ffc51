package node

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"golang.org/x/time/rate"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/peer"
)

// CallOptions configure the calls a node carries (package conference).
type CallOptions struct {
	// Dir keeps each call's recordings and this party's account of it.
	Dir   string
	Media conference.MediaOptions
	// Operators may join this party's calls in any role a call names for
	// it (the duty officers who run the link); others join only as the
	// role their roster entry has, or as the party's interpreter when
	// that role is "interpreter".
	Operators []string
	// Linger is how long a call stays open here after the last of this
	// party's people left; zero means 5 s.
	Linger time.Duration
	// RecordWait is how long the requester waits, after its own people
	// left, for the other parties' accounts before it writes the held
	// record without them; zero means 10 minutes.
	RecordWait time.Duration
}

// Joining a call.
const (
	// JoinLead is how long before its accepted time a call can be joined.
	JoinLead = 10 * time.Minute
	// JoinGrace is how long past its planned end a call can still be
	// joined while its record is not written.
	JoinGrace = time.Hour
	// InterpreterRole is the role interpreters join as.
	InterpreterRole = "interpreter"
	// OperatorRole is the role an operator the party allows joins as,
	// as itself, when the roster gives it none.
	OperatorRole = "operator"
	// callGiveUp is how long after its people left a party keeps asking
	// the requester to take its account, and waits for the record.
	callGiveUp = 24 * time.Hour
)

// CallJoin is an operator's request to join a call.
type CallJoin struct {
	// As is the directory role to join as; empty: the operator's role
	// in the roster.
	As          string
	Interpreter bool
	Listen      string // conference.ListenOriginal (default) or ListenInterpretation
	SDP         string // the participant's WebRTC offer
}

// CallJoined is a join's answer.
type CallJoined struct {
	Participant string `json:"participant"`
	SDP         string `json:"sdp"`
	Role        string `json:"role"`
	Recording   bool   `json:"recording"`
}

// CallLive is a call as it is now on this node.
type CallLive struct {
	Call  CallView           `json:"call"`
	Open  bool               `json:"open"` // joinable now
	Why   string             `json:"why,omitempty"`
	Live  *conference.Status `json:"live,omitempty"`
	Roles []string           `json:"roles"` // this party's roles the call names
}

func callKey(ch entry.ChannelID, call entry.ID) conference.Key {
	return conference.Key{Channel: ch.String(), Call: call.String()}
}

// callFor resolves a call request and its view.
func (n *Node) callFor(ctx context.Context, ch *hotline.Channel, st *hotline.Stored) (*CallView, error) {
	if st.Kind != entry.KindCall {
		return nil, hotline.Errorf(hotline.EINVALID, "entry %s is a %s, not a call request", st.ID(), st.Kind)
	}
	calls, err := n.channelCalls(ctx, ch)
	if err != nil {
		return nil, err
	}
	for i := range calls {
		if calls[i].Entry == st.ID().String() {
			return &calls[i], nil
		}
	}
	return nil, hotline.Errorf(hotline.EINVALID, "entry %s is not a call request", st.ID())
}

// resolveCall resolves a channel reference and a call request's id (or
// prefix) to the request and its view.
func (n *Node) resolveCall(ctx context.Context, ref, call string) (*hotline.Channel, *hotline.Stored, *CallView, error) {
	ch, st, err := n.resolveEntry(ctx, ref, call)
	if err != nil {
		return nil, nil, nil, err
	}
	v, err := n.callFor(ctx, ch, st)
	return ch, st, v, err
}

// joinable says whether call v can be joined at now, and if not why.
func joinable(v *CallView, now time.Time) (bool, string) {
	switch {
	case v.Held != nil:
		return false, "the call has ended: its record was written at " + v.Held.Time.Format(time.RFC3339)
	case v.State != CallAccepted:
		return false, fmt.Sprintf("the call is %s, not accepted: it can be joined once every party accepted a time", v.State)
	case now.Before(v.Time.Add(-JoinLead)):
		return false, fmt.Sprintf("the call starts at %s: it can be joined from %s before", v.Time.Format(time.RFC3339), JoinLead)
	case now.After(v.Time.Add(time.Duration(v.Minutes)*time.Minute + JoinGrace)):
		return false, fmt.Sprintf("the call has ended: it was planned for %s to %s", v.Time.Format(time.RFC3339),
			v.Time.Add(time.Duration(v.Minutes)*time.Minute).Format(time.RFC3339))
	}
	return true, ""
}

// calls returns the call service, or an error if the node carries none.
func (n *Node) calls() (*conference.Service, error) {
	if n.conf == nil {
		return nil, hotline.Errorf(hotline.EUNAVAILABLE, "this node carries no calls (it runs without a call directory)")
	}
	return n.conf, nil
}

// ownRoles returns the roles call v names for this party.
func (n *Node) ownRoles(v *CallView) []string {
	var out []string
	for _, p := range v.Participants {
		if p.Party == n.self {
			out = append(out, p.Role)
		}
	}
	return out
}

// LiveCall returns a call and, while this party's people are on it, who
// is on it and how its links are.
func (n *Node) LiveCall(ctx context.Context, ref, call string) (*CallLive, error) {
	ch, st, v, err := n.resolveCall(ctx, ref, call)
	if err != nil {
		return nil, err
	}
	out := &CallLive{Call: *v, Roles: n.ownRoles(v)}
	if out.Roles == nil {
		out.Roles = []string{}
	}
	out.Open, out.Why = joinable(v, n.now())
	if n.conf != nil {
		out.Live = n.conf.Status(callKey(ch.ID, st.ID()))
	}
	return out, nil
}

// JoinCall connects an operator to a call the parties accepted, as one
// of the roles it names for this party (or as the party's interpreter),
// from a few minutes before its time until its record is written.
func (n *Node) JoinCall(ctx context.Context, operator, ref, call string, in CallJoin) (*CallJoined, error) {
	svc, err := n.calls()
	if err != nil {
		return nil, err
	}
	ch, st, v, err := n.resolveCall(ctx, ref, call)
	if err != nil {
		return nil, err
	}
	if ok, why := joinable(v, n.now()); !ok {
		return nil, hotline.Errorf(hotline.ECONFLICT, "call %s: %s", v.Entry[:8], why)
	}
	op, err := n.store.Operator(ctx, operator)
	switch {
	case hotline.ErrorCode(err) == hotline.ENOTFOUND:
		op = hotline.Operator{Name: operator} // a token without an account: no roster role
	case err != nil:
		return nil, err
	}
	allowed := slices.Contains(n.callOpts.Operators, operator)
	roles := n.ownRoles(v)
	role := in.As
	switch {
	case in.Interpreter:
		if role != "" && role != InterpreterRole {
			return nil, hotline.Errorf(hotline.EINVALID, "an interpreter joins as %q, not %q", InterpreterRole, role)
		}
		role = InterpreterRole
		if !allowed && !strings.EqualFold(op.Role, InterpreterRole) {
			return nil, hotline.Errorf(hotline.EUNAUTHORIZED, "%s may not join as %s's interpreter: the roster gives %s the role %q; the node's call.operators may join in any role", operator, n.self, operator, op.Role)
		}
	default:
		// Each party decides for its own people: an operator joins as a
		// role the call names for the party that the roster gives it,
		// or, if it is one the party allows (call.operators), as any role
		// the call names or as itself (its roster role, or "operator"):
		// the duty officer who connects the call, a note-taker.
		self := op.Role
		if entry.CheckName("role", self) != nil {
			self = OperatorRole // a roster role in words ("duty director"): the record names roles as directories do
		}
		if role == "" {
			role = self
		}
		named := slices.Contains(roles, role)
		switch {
		case named && (allowed || strings.EqualFold(op.Role, role)):
		case allowed && role == self:
		case !named:
			return nil, hotline.Errorf(hotline.EUNAUTHORIZED, "call %s names %s's roles %s; %s may not join as %q", v.Entry[:8], n.self, quoteList(roles), operator, role)
		default:
			return nil, hotline.Errorf(hotline.EUNAUTHORIZED, "%s may not join as %q: the roster gives %s the role %q; the node's call.operators may join in any role", operator, role, operator, op.Role)
		}
	}
	listen := in.Listen
	if listen == "" {
		listen = conference.ListenOriginal
	}
	if listen != conference.ListenOriginal && listen != conference.ListenInterpretation {
		return nil, hotline.Errorf(hotline.EINVALID, "listen: %q is neither %s nor %s", listen, conference.ListenOriginal, conference.ListenInterpretation)
	}
	if in.SDP == "" || len(in.SDP) > conference.MaxSDPBytes {
		return nil, hotline.Errorf(hotline.EINVALID, "give the participant's WebRTC offer (at most %d bytes)", conference.MaxSDPBytes)
	}
	k := callKey(ch.ID, st.ID())
	record := ch.Definition.Policy != nil && ch.Definition.Policy.RecordCalls
	id, ans, err := svc.Join(ctx, k, conference.RoomOptions{Parties: parties(ch), Record: record},
		conference.Member{Party: n.self, Role: role, Operator: operator, Interpreter: in.Interpreter}, listen, in.SDP)
	switch {
	case errors.Is(err, conference.ErrBadSDP):
		return nil, hotline.Errorf(hotline.EINVALID, "%v", err)
	case errors.Is(err, conference.ErrFull):
		return nil, hotline.Errorf(hotline.EBUSY, "%v", err)
	case errors.Is(err, conference.ErrEnded):
		return nil, hotline.Errorf(hotline.ECONFLICT, "%v", err)
	case err != nil:
		return nil, err
	}
	// The parties whose names sort before this one's link to it: tell
	// them this party's people are on.
	for _, p := range parties(ch) {
		if p < n.self {
			go n.callOp(p, &peer.CallRequest{Op: peer.CallRing, Channel: ch.ID, Call: st.ID()})
		}
	}
	return &CallJoined{Participant: id, SDP: ans, Role: role, Recording: record}, nil
}

// parties returns the members of ch: every one is a party of its calls.
func parties(ch *hotline.Channel) []string {
	out := make([]string, len(ch.Definition.Members))
	for i, m := range ch.Definition.Members {
		out[i] = m.Party
	}
	return out
}

func quoteList(ss []string) string {
	if len(ss) == 0 {
		return "none"
	}
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// participant checks that participant id of a call is operator's.
func (n *Node) participant(ctx context.Context, operator, ref, call, id string) (*conference.Service, conference.Key, error) {
	svc, err := n.calls()
	if err != nil {
		return nil, conference.Key{}, err
	}
	ch, st, err := n.resolveEntry(ctx, ref, call)
	if err != nil {
		return nil, conference.Key{}, err
	}
	k := callKey(ch.ID, st.ID())
	m, ok := svc.Participant(k, id)
	if !ok || m.Operator != operator {
		return nil, k, hotline.Errorf(hotline.ENOTFOUND, "%s has no participant %s on call %s", operator, id, st.ID().String()[:8])
	}
	return svc, k, nil
}

// LeaveCall takes an operator's participant off a call.
func (n *Node) LeaveCall(ctx context.Context, operator, ref, call, id string) error {
	svc, k, err := n.participant(ctx, operator, ref, call, id)
	if err != nil {
		return err
	}
	svc.Leave(k, id)
	return nil
}

// ListenCall switches what an operator's participant hears.
func (n *Node) ListenCall(ctx context.Context, operator, ref, call, id, listen string) error {
	svc, k, err := n.participant(ctx, operator, ref, call, id)
	if err != nil {
		return err
	}
	if !svc.Listen(k, id, listen) {
		return hotline.Errorf(hotline.EINVALID, "listen: %q is neither %s nor %s", listen, conference.ListenOriginal, conference.ListenInterpretation)
	}
	return nil
}

// callOp sends a call operation to party's node.
func (n *Node) callOp(party string, req *peer.CallRequest) (*peer.CallResponse, error) {
	p := n.peers[party]
	if p == nil {
		return nil, fmt.Errorf("%s is not pinned", party)
	}
	ctx, cancel := context.WithTimeout(n.ctx, 15*time.Second)
	defer cancel()
	return p.client.Call(ctx, req)
}

// callHost is the node as its call service sees it.
type callHost struct{ n *Node }

// Offer implements conference.Host.
func (h callHost) Offer(ctx context.Context, party string, k conference.Key, sdp string) (string, error) {
	ch, call, err := parseKey(k)
	if err != nil {
		return "", err
	}
	res, err := h.n.callOp(party, &peer.CallRequest{Op: peer.CallOffer, Channel: ch, Call: call, SDP: sdp})
	if err != nil {
		return "", err
	}
	return res.SDP, nil
}

// Ended implements conference.Host.
func (h callHost) Ended(k conference.Key, _ conference.Section) {
	select {
	case h.n.callWake <- k:
	default:
		go func() {
			select {
			case h.n.callWake <- k:
			case <-h.n.ctx.Done():
			}
		}()
	}
}

func parseKey(k conference.Key) (entry.ChannelID, entry.ID, error) {
	ch, err := entry.ParseChannelID(k.Channel)
	if err != nil {
		return ch, entry.ID{}, err
	}
	id, err := entry.ParseID(k.Call)
	return ch, id, err
}

// PeerCall implements peer.Handler: a call operation from party.
func (n *Node) PeerCall(ctx context.Context, party string, req *peer.CallRequest) (*peer.CallResponse, error) {
	refuse := func(format string, args ...any) (*peer.CallResponse, error) {
		return nil, &peer.CallRefused{Msg: fmt.Sprintf(format, args...)}
	}
	if n.conf == nil {
		return refuse("%s carries no calls", n.self)
	}
	if err := n.admitCallOp(party); err != nil {
		return nil, err
	}
	ch, ok := n.channel(req.Channel)
	if !ok || !ch.IsMember(party) || ch.State != hotline.ChannelActive {
		return refuse("no active channel %s shared with %s", req.Channel, party)
	}
	st, err := n.store.Entry(ctx, req.Call)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND || err == nil && st.Channel != ch.ID {
		return refuse("no call request %s in channel %s", req.Call, req.Channel)
	}
	if err != nil {
		return nil, err
	}
	v, err := n.callFor(ctx, ch, st)
	if err != nil {
		return refuse("%s", hotline.ErrorMessage(err))
	}
	k := callKey(ch.ID, st.ID())
	switch req.Op {
	case peer.CallSection:
		if st.Author != n.self {
			return refuse("%s did not request call %s: send its section to %s", n.self, req.Call, st.Author)
		}
		if v.Held != nil {
			return refuse("the record of call %s is written", req.Call)
		}
		if v.State != CallAccepted {
			return refuse("call %s is %s, not accepted: it cannot have been held", req.Call, v.State)
		}
		var sec conference.Section
		if err := json.Unmarshal(req.Section, &sec); err != nil {
			return nil, fmt.Errorf("%w: call section: %v", peer.ErrMalformed, err)
		}
		if sec.Party != party {
			return refuse("a section of %s sent by %s", sec.Party, party)
		}
		hs := heldSection(sec)
		if err := (&entry.Held{Start: hs.Start, End: hs.End, Sections: []entry.HeldSection{hs}}).Check(); err != nil {
			return refuse("call section: %v", err)
		}
		if err := n.conf.SaveReceived(k, sec); err != nil {
			return nil, err
		}
		n.log.Debug("call section received", "call", k, "from", party)
		callHost{n}.Ended(k, sec)
		return &peer.CallResponse{}, nil
	}
	if ok, why := joinable(v, n.now()); !ok {
		return refuse("call %s: %s", req.Call, why)
	}
	switch req.Op {
	case peer.CallRing:
		n.conf.Ring(k, party)
		return &peer.CallResponse{}, nil
	default: // offer
		ans, err := n.conf.AcceptLink(ctx, k, party, req.SDP)
		switch {
		case errors.Is(err, conference.ErrEnded), errors.Is(err, conference.ErrBadSDP):
			return refuse("%v", err)
		case err != nil:
			return nil, err
		}
		return &peer.CallResponse{SDP: ans}, nil
	}
}

// What a party may ask of this node's calls: a call's own traffic is an
// offer every two seconds at most while a link is down, a ring per join
// and a section per session. Past this, call operations are answered 429.
const (
	callOpsPerSecond = 5
	callOpsBurst     = 20
)

// admitCallOp takes one call operation from party's allowance; a refusal
// is a *peer.BusyError (429), counted as the call_operations limit.
func (n *Node) admitCallOp(party string) error {
	n.callOpsMu.Lock()
	l := n.callOps[party]
	if l == nil {
		l = rate.NewLimiter(callOpsPerSecond, callOpsBurst)
		n.callOps[party] = l // parties are the pinned ones: bounded
	}
	ok := l.Allow()
	n.callOpsMu.Unlock()
	if ok {
		return nil
	}
	n.metrics.quotaRefused.WithLabelValues(party, "call_operations").Inc()
	return &peer.BusyError{RetryAfter: time.Second, Msg: fmt.Sprintf("%s asks more than %d call operations a second of this node; retry shortly", party, callOpsPerSecond)}
}

// heldSection converts a section for the held record.
func heldSection(s conference.Section) entry.HeldSection {
	out := entry.HeldSection{Party: s.Party, Start: s.Start.UnixMilli(), End: s.End.UnixMilli()}
	for _, a := range s.Attendance {
		out.Attendance = append(out.Attendance, entry.Attendance{Role: a.Role, Operator: a.Operator, Interpreter: a.Interpreter,
			Joined: a.Joined.UnixMilli(), Left: a.Left.UnixMilli()})
	}
	for _, r := range s.Recordings {
		sum, _ := hex.DecodeString(r.SHA256)
		out.Recordings = append(out.Recordings, entry.RecordingHash{File: r.File, SHA256: sum, Bytes: r.Bytes, Millis: int64(r.Seconds * 1000)})
	}
	for _, q := range s.Quality {
		out.Quality = append(out.Quality, entry.CallQuality{From: q.Party, Received: q.Received, Lost: q.Lost,
			JitterUs: int64(q.JitterMs * 1000), RTTUs: int64(q.RTTMs * 1000), LatencyUs: int64(q.LatencyMs * 1000), Breaks: int64(q.Breaks)})
	}
	return out
}

// callLoop settles the calls that ended here: the requester writes the
// held record once every party it linked to sent its account (or
// RecordWait passed); the others send theirs to the requester; a held
// record from another party is co-signed when this party's section in it
// is the account this node kept.
func (n *Node) callLoop() {
	pending := map[conference.Key]bool{}
	for _, k := range n.conf.Calls() {
		pending[k] = true
	}
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		for k := range pending {
			if n.settleCall(k) {
				delete(pending, k)
				n.conf.MarkSettled(k) // the next start need not look at it
			}
		}
		select {
		case k := <-n.callWake:
			pending[k] = true
		case ref := <-n.heldIn:
			n.cosignHeld(ref) // if it could not, the call's settling tries again
		case <-tick.C:
		case <-n.ctx.Done():
			return
		}
	}
}

// settleCall moves call k on towards its held record; it returns true
// when nothing is left for this node to do.
func (n *Node) settleCall(k conference.Key) bool {
	chID, callID, err := parseKey(k)
	if err != nil {
		return true
	}
	ch, ok := n.channel(chID)
	if !ok {
		return true
	}
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	st, err := n.store.Entry(ctx, callID)
	if err != nil {
		return hotline.ErrorCode(err) == hotline.ENOTFOUND
	}
	if n.conf.Status(k) != nil {
		return false // this party's people are still on it
	}
	own, err := n.conf.Sections(k)
	if err != nil {
		n.log.Error("call sections unreadable", "call", k, "err", err)
		return true
	}
	v, err := n.callFor(ctx, ch, st)
	if err != nil {
		return true
	}
	if st.Author != n.self {
		if v.Held != nil {
			// Co-signed here, unless a stop came between storing the
			// record and co-signing it.
			if id, err := entry.ParseID(v.Held.Entry); err == nil && !slices.Contains(v.Held.Signed, n.self) {
				return n.cosignHeld(heldRef{channel: ch.ID, id: id})
			}
			return true
		}
		if len(own) == 0 {
			return true
		}
		if last := conference.Merge(n.self, own).End; n.now().Sub(last) > callGiveUp {
			n.log.Warn("the requester wrote no record of a call this party held; given up", "call", k, "requester", st.Author, "left", last)
			return true
		}
		if n.conf.SentCount(k) >= len(own) {
			return false // waiting for the record, to co-sign it
		}
		b, _ := json.Marshal(conference.Merge(n.self, own))
		if _, err := n.callOp(st.Author, &peer.CallRequest{Op: peer.CallSection, Channel: chID, Call: callID, Section: b}); err != nil {
			n.log.Info("call section not yet taken by the requester; retried", "call", k, "requester", st.Author, "err", err)
			var se *peer.StatusError
			return errors.As(err, &se) && se.Code == 409
		}
		n.conf.MarkSent(k, len(own))
		return false
	}
	if v.Held != nil {
		return true
	}
	received, err := n.conf.Received(k)
	if err != nil {
		n.log.Error("call sections unreadable", "call", k, "err", err)
		return true
	}
	if len(own) == 0 && len(received) == 0 {
		return true
	}
	var sections []conference.Section
	var left time.Time
	if len(own) > 0 {
		m := conference.Merge(n.self, own)
		sections, left = append(sections, m), m.End
	}
	waiting := []string{}
	for _, s := range sections {
		for _, q := range s.Quality {
			if !slices.ContainsFunc(received, func(r conference.Section) bool { return r.Party == q.Party }) {
				waiting = append(waiting, q.Party)
			}
		}
	}
	if len(waiting) > 0 && n.now().Sub(left) < n.callOpts.RecordWait {
		return false
	}
	sections = append(sections, received...)
	if err := n.writeHeld(ctx, ch, st, sections, waiting); err != nil {
		n.log.Error("held record of a call not written; retried", "call", k, "err", err)
		return false
	}
	return true
}

// writeHeld writes the held record of call st from sections, signed.
func (n *Node) writeHeld(ctx context.Context, ch *hotline.Channel, st *hotline.Stored, sections []conference.Section, missing []string) error {
	h := &entry.Held{}
	slices.SortFunc(sections, func(a, b conference.Section) int { return strings.Compare(a.Party, b.Party) })
	for _, s := range sections {
		if !ch.IsMember(s.Party) {
			continue
		}
		hs := heldSection(s)
		if len(h.Sections) == 0 || hs.Start < h.Start {
			h.Start = hs.Start
		}
		h.End = max(h.End, hs.End)
		h.Sections = append(h.Sections, hs)
	}
	re := st.Ref()
	sig, err := entry.SignBytes(n.signing(), entry.HeldStatement(ch.ID, re.ID, h))
	if err != nil {
		return signerUnavailable(err)
	}
	c := &entry.Call{Action: entry.CallHeld, Re: &re, Held: h, Sigs: []entry.PartySig{{Party: n.self, Sig: sig}}}
	if err := c.Check(); err != nil {
		return err
	}
	e, err := n.writeCall(ctx, "", ch, c)
	if err != nil {
		return err
	}
	n.log.Info("call held: record written", "call", st.ID().String()[:8], "entry", e.ID().String()[:8], "sections", len(h.Sections), "missing", missing)
	return nil
}

// cosignHeld co-signs another party's held record when this party's
// section in it is the account this node kept (or it has none and kept
// none); otherwise it raises an alarm. It returns false when it could
// not do either for now (the store or the signer failed): to be tried
// again.
func (n *Node) cosignHeld(ref heldRef) bool {
	ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
	defer cancel()
	ch, ok := n.channel(ref.channel)
	if !ok {
		return true
	}
	st, err := n.store.Entry(ctx, ref.id)
	if err != nil {
		return hotline.ErrorCode(err) == hotline.ENOTFOUND
	}
	body, err := entry.DecodeBody(st.Entry)
	if err != nil {
		return true
	}
	c := body.(*entry.Call)
	if reqSt, err := n.store.Entry(ctx, c.Re.ID); err == nil {
		if v, err := n.callFor(ctx, ch, reqSt); err == nil && v.Held != nil && slices.Contains(v.Held.Signed, n.self) {
			return true // co-signed already
		}
	}
	own, err := n.conf.Sections(callKey(ch.ID, c.Re.ID))
	if err != nil {
		n.log.Error("call sections unreadable", "err", err)
		return true
	}
	theirs, has := c.Held.Section(n.self)
	agree := len(own) == 0 && !has
	if len(own) > 0 && has {
		mine := heldSection(conference.Merge(n.self, own))
		a, _ := entry.Marshal(&mine)
		b, _ := entry.Marshal(theirs)
		agree = bytes.Equal(a, b)
	}
	if !agree {
		detail := fmt.Sprintf("%s's held record of call %s does not carry this party's account of it as this node kept it: not co-signed", st.Author, c.Re.ID.String()[:8])
		n.log.Warn(detail, "entry", st.ID())
		n.events.publish(Event{Type: EventAlarm, Channel: ch.ID, Entry: st.ID(), Author: st.Author, Seq: st.Seq, Detail: detail})
		return true
	}
	sig, err := entry.SignBytes(n.signing(), entry.HeldStatement(ch.ID, c.Re.ID, c.Held))
	if err != nil {
		n.log.Error("held record not co-signed yet: signer unavailable", "err", err)
		return false
	}
	draft := st.Ref()
	co := &entry.Call{Action: entry.CallHeld, Re: c.Re, Draft: &draft, Held: c.Held, Sigs: append(slices.Clone(c.Sigs), entry.PartySig{Party: n.self, Sig: sig})}
	slices.SortFunc(co.Sigs, func(a, b entry.PartySig) int { return strings.Compare(a.Party, b.Party) })
	if _, err := n.writeCall(ctx, "", ch, co); err != nil {
		n.log.Error("held record not co-signed yet", "entry", st.ID(), "err", err)
		return false
	}
	n.log.Info("call held: record co-signed", "call", c.Re.ID.String()[:8], "record", st.ID().String()[:8])
	return true
}

// heldRef names a held record another party wrote.
type heldRef struct {
	channel entry.ChannelID
	id      entry.ID
}

// HeldRecordView is a held record in API responses.
type HeldRecordView struct {
	Start    time.Time         `json:"start"`
	End      time.Time         `json:"end"`
	Sections []HeldSectionView `json:"sections"`
}

// HeldSectionView is one party's section of a held record.
type HeldSectionView struct {
	Party      string                   `json:"party"`
	Start      time.Time                `json:"start"`
	End        time.Time                `json:"end"`
	Attendance []conference.Attendance  `json:"attendance"`
	Recordings []conference.Recording   `json:"recordings"`
	Quality    []conference.LinkQuality `json:"quality"`
}

func heldRecordView(h *entry.Held) *HeldRecordView {
	ms := func(t int64) time.Time { return time.UnixMilli(t).UTC() }
	v := &HeldRecordView{Start: ms(h.Start), End: ms(h.End), Sections: []HeldSectionView{}}
	for _, s := range h.Sections {
		sv := HeldSectionView{Party: s.Party, Start: ms(s.Start), End: ms(s.End), Attendance: []conference.Attendance{},
			Recordings: []conference.Recording{}, Quality: []conference.LinkQuality{}}
		for _, a := range s.Attendance {
			sv.Attendance = append(sv.Attendance, conference.Attendance{Member: conference.Member{Party: s.Party, Role: a.Role,
				Operator: a.Operator, Interpreter: a.Interpreter}, Joined: ms(a.Joined), Left: ms(a.Left)})
		}
		for _, r := range s.Recordings {
			sv.Recordings = append(sv.Recordings, conference.Recording{File: r.File, SHA256: hex.EncodeToString(r.SHA256), Bytes: r.Bytes, Seconds: float64(r.Millis) / 1000})
		}
		for _, q := range s.Quality {
			lq := conference.LinkQuality{Party: q.From, Received: q.Received, Lost: q.Lost, JitterMs: float64(q.JitterUs) / 1000,
				RTTMs: float64(q.RTTUs) / 1000, LatencyMs: float64(q.LatencyUs) / 1000, Breaks: int(q.Breaks)}
			if exp := q.Received + q.Lost; exp > 0 {
				lq.LossRate = float64(q.Lost) / float64(exp)
			}
			sv.Quality = append(sv.Quality, lq)
		}
		v.Sections = append(v.Sections, sv)
	}
	return v
}
