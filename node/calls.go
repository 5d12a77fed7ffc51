package node

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// CallRequest is what an operator proposes: a call, when, with whom.
type CallRequest struct {
	Purpose      string
	Times        []time.Time
	Minutes      int
	Participants []entry.Participant // by party and directory role
	Level        string              // "" means the channel's level
}

// RequestCall writes a call request to a channel. With counter set (an
// entry id or prefix of another party's request), it answers that request
// by proposing other times. Every participant must be a role in its
// party's newest directory in the channel.
func (n *Node) RequestCall(ctx context.Context, operator, ref string, in CallRequest, counter string) (*entry.Entry, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, err
	}
	c := &entry.Call{Action: entry.CallPropose, Purpose: in.Purpose, Minutes: uint32(max(0, min(in.Minutes, entry.MaxCallMinutes+1))), Level: in.Level}
	if c.Level == "" {
		c.Level = ch.Definition.Level
	}
	if _, err := hotline.ParseLevel(c.Level); err != nil {
		return nil, err
	}
	now := n.now()
	for _, t := range in.Times {
		if !t.After(now) {
			return nil, hotline.Errorf(hotline.EINVALID, "proposed time %s is not in the future", t.UTC().Format(time.RFC3339))
		}
		c.Times = append(c.Times, t.UnixMilli())
	}
	slices.Sort(c.Times)
	c.Times = slices.Compact(c.Times)
	c.Participants = slices.Clone(in.Participants)
	slices.SortFunc(c.Participants, func(a, b entry.Participant) int {
		if d := strings.Compare(a.Party, b.Party); d != 0 {
			return d
		}
		return strings.Compare(a.Role, b.Role)
	})
	c.Participants = slices.Compact(c.Participants)
	if counter != "" {
		st, err := n.findEntry(ctx, ch, counter)
		if err != nil {
			return nil, err
		}
		re := st.Ref()
		c.Re = &re
	}
	if err := c.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	for _, p := range c.Participants {
		if !ch.IsMember(p.Party) {
			return nil, hotline.Errorf(hotline.EINVALID, "participant %s/%s: %s is not a member of channel %s", p.Party, p.Role, p.Party, ch.Label)
		}
		dir, err := n.directoryOf(ctx, ch, p.Party)
		if err != nil {
			return nil, err
		}
		if dir == nil {
			return nil, hotline.Errorf(hotline.EINVALID, "%s has published no directory in channel %s: a call request is addressed to a role in it (see hotline directory)", p.Party, ch.Label)
		}
		if _, ok := dir.Role(p.Role); !ok {
			var roles []string
			for _, cp := range dir.Counterparts {
				roles = append(roles, cp.Role)
			}
			return nil, hotline.Errorf(hotline.EINVALID, "%s lists no role %q in channel %s; its roles are: %s", p.Party, p.Role, ch.Label, strings.Join(roles, ", "))
		}
	}
	return n.writeCall(ctx, operator, ch, c)
}

// AnswerCall accepts (at one of the proposed times) or declines (with a
// reason) another party's call request.
func (n *Node) AnswerCall(ctx context.Context, operator, ref, request string, accept bool, at time.Time, reason string) (*entry.Entry, error) {
	ch, st, err := n.resolveEntry(ctx, ref, request)
	if err != nil {
		return nil, err
	}
	re := st.Ref()
	c := &entry.Call{Action: entry.CallDecline, Re: &re, Reason: reason}
	if accept {
		c = &entry.Call{Action: entry.CallAccept, Re: &re, Times: []int64{at.UnixMilli()}}
	}
	if err := c.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	return n.writeCall(ctx, operator, ch, c)
}

// Readout writes this party's readout of a call. With joint set, it is a
// draft joint readout carrying this party's signature, for the other
// members to co-sign.
func (n *Node) Readout(ctx context.Context, operator, ref, request, text, lang string, joint bool) (*entry.Entry, error) {
	ch, st, err := n.resolveEntry(ctx, ref, request)
	if err != nil {
		return nil, err
	}
	re := st.Ref()
	c := &entry.Call{Action: entry.CallReadout, Re: &re, Text: text, Lang: lang}
	// A readout of a call that was held refers to its record.
	if v, err := n.callFor(ctx, ch, st); err == nil && v.Held != nil {
		if id, err := entry.ParseID(v.Held.Entry); err == nil {
			if rec, err := n.store.Entry(ctx, id); err == nil {
				r := rec.Ref()
				c.Record = &r
			}
		}
	}
	if joint {
		sig, err := entry.SignJoint(n.self, n.signing(), ch.ID, re.ID, lang, text)
		if err != nil {
			return nil, signerUnavailable(err)
		}
		c.Sigs = []entry.PartySig{sig}
	}
	if err := c.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	return n.writeCall(ctx, operator, ch, c)
}

// Cosign co-signs a draft joint readout (or the newest co-signature of
// it): the entry written carries the one text with every signature
// gathered so far and this party's.
func (n *Node) Cosign(ctx context.Context, operator, ref, draft string) (*entry.Entry, error) {
	ch, st, err := n.resolveEntry(ctx, ref, draft)
	if err != nil {
		return nil, err
	}
	body, err := entry.DecodeBody(st.Entry)
	if err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "entry %s: %v", st.ID(), trimPrefix(err))
	}
	d, ok := body.(*entry.Call)
	if !ok || !d.Joint() {
		return nil, hotline.Errorf(hotline.EINVALID, "entry %s is not a joint readout", st.ID())
	}
	draftRef := st.Ref()
	if d.Action == entry.CallCosign {
		draftRef = *d.Draft // co-signing a co-signature adds to the same draft
	}
	if slices.ContainsFunc(d.Sigs, func(s entry.PartySig) bool { return s.Party == n.self }) {
		return nil, hotline.Errorf(hotline.ECONFLICT, "%s has already signed this joint readout", n.self)
	}
	sig, err := entry.SignJoint(n.self, n.signing(), ch.ID, d.Re.ID, d.Lang, d.Text)
	if err != nil {
		return nil, signerUnavailable(err)
	}
	c := &entry.Call{Action: entry.CallCosign, Re: d.Re, Draft: &draftRef, Text: d.Text, Lang: d.Lang,
		Sigs: append(slices.Clone(d.Sigs), sig)}
	slices.SortFunc(c.Sigs, func(a, b entry.PartySig) int { return strings.Compare(a.Party, b.Party) })
	if err := c.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	return n.writeCall(ctx, operator, ch, c)
}

// writeCall checks a call entry by the same rules a peer applies, then
// writes it.
func (n *Node) writeCall(ctx context.Context, operator string, ch *hotline.Channel, c *entry.Call) (*entry.Entry, error) {
	r := n.submit(ctx, &writeReq{local: &localWrite{channel: ch.ID, kind: entry.KindCall, operator: operator, body: c,
		check: func(b *batch, ch *hotline.Channel) error {
			if err := activeOnly(b, ch); err != nil {
				return err
			}
			return asOperatorError(b.checkCall(ctx, ch, n.self, c))
		}}})
	return r.entry, r.err
}

// PublishDirectory writes this party's directory of counterparts to a
// channel; it replaces the one published there before.
func (n *Node) PublishDirectory(ctx context.Context, operator, ref string, d *entry.Directory) (*entry.Entry, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, err
	}
	if err := d.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	if err := checkDirectory(d); err != nil {
		return nil, asOperatorError(err)
	}
	r := n.submit(ctx, &writeReq{local: &localWrite{channel: ch.ID, kind: entry.KindDirectory, operator: operator, body: d, check: activeOnly}})
	return r.entry, r.err
}

// PartyDirectory is one party's newest directory in a channel.
type PartyDirectory struct {
	Party        string              `json:"party"`
	Entry        string              `json:"entry"`
	Seq          uint64              `json:"seq"`
	Time         time.Time           `json:"time"`
	Counterparts []entry.Counterpart `json:"counterparts"`
}

// Directory returns every member's newest directory in a channel, by
// party; members that published none are left out.
func (n *Node) Directory(ctx context.Context, ref string) (*hotline.Channel, []PartyDirectory, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, nil, err
	}
	var out []PartyDirectory
	for _, m := range ch.Definition.Members {
		st, d, err := n.latestDirectory(ctx, ch, m.Party)
		if err != nil {
			return nil, nil, err
		}
		if d != nil {
			out = append(out, PartyDirectory{Party: m.Party, Entry: st.ID().String(), Seq: st.Seq, Time: st.AuthorTime(), Counterparts: d.Counterparts})
		}
	}
	return ch, out, nil
}

// directoryOf returns party's newest directory in ch, or nil.
func (n *Node) directoryOf(ctx context.Context, ch *hotline.Channel, party string) (*entry.Directory, error) {
	_, d, err := n.latestDirectory(ctx, ch, party)
	return d, err
}

// latestDirectory returns party's newest directory entry in ch and its
// body; both nil if it published none (or it was redacted).
func (n *Node) latestDirectory(ctx context.Context, ch *hotline.Channel, party string) (*hotline.Stored, *entry.Directory, error) {
	st, err := n.store.Latest(ctx, hotline.Feed{Channel: ch.ID, Party: party}, entry.KindDirectory)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND || (err == nil && st.Body == nil) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	body, err := entry.DecodeBody(st.Entry)
	if err != nil {
		return nil, nil, err
	}
	return st, body.(*entry.Directory), nil
}

// Call states in the agenda.
const (
	CallRequested  = "requested"  // waiting for answers
	CallAccepted   = "accepted"   // every other member accepted, at Time
	CallDeclined   = "declined"   // a member declined
	CallCountered  = "countered"  // a member proposed other times (see the counter-proposal)
	CallUnanswered = "unanswered" // the requester recorded that no answer came in time
)

// CallAnswer is one member's answer to a call request.
type CallAnswer struct {
	Party    string     `json:"party"`
	Operator string     `json:"operator,omitempty"`
	Action   string     `json:"action"`
	Time     *time.Time `json:"time,omitempty"`    // accept: the time accepted
	Reason   string     `json:"reason,omitempty"`  // decline
	Counter  string     `json:"counter,omitempty"` // propose: the counter-proposal's entry id
	Written  time.Time  `json:"written"`           // author's clock
}

// ReadoutView is one readout of a call.
type ReadoutView struct {
	Entry  string    `json:"entry"`
	Party  string    `json:"party"`
	Text   string    `json:"text"`
	Lang   string    `json:"lang,omitempty"`
	Joint  bool      `json:"joint"`
	Signed []string  `json:"signed,omitempty"` // joint: parties whose signatures it carries (all checked)
	Time   time.Time `json:"time"`
	Record string    `json:"record,omitempty"` // the held record of the call it refers to
}

// CallView is one call request with its answers and readouts.
type CallView struct {
	Channel      string            `json:"channel"`
	ChannelName  string            `json:"channel_name"`
	Entry        string            `json:"entry"`
	Requester    string            `json:"requester"`
	Operator     string            `json:"operator,omitempty"`
	Purpose      string            `json:"purpose"`
	Level        string            `json:"level"`
	Times        []time.Time       `json:"times"`
	Minutes      int               `json:"minutes"`
	Participants []ParticipantView `json:"participants"`
	Counters     string            `json:"counters,omitempty"` // the request this one answers
	State        string            `json:"state"`
	Time         *time.Time        `json:"time,omitempty"` // accepted time
	Deadline     *time.Time        `json:"deadline,omitempty"`
	Answers      []CallAnswer      `json:"answers,omitempty"`
	Readouts     []ReadoutView     `json:"readouts,omitempty"`
	Joint        *ReadoutView      `json:"joint,omitempty"` // the most-signed joint readout
	Held         *HeldView         `json:"held,omitempty"`  // the record of the call, once held
}

// HeldView is the record of a held call: the requester's, with the
// co-signatures gathered for it.
type HeldView struct {
	Entry  string    `json:"entry"`  // the requester's record
	Signed []string  `json:"signed"` // parties whose signatures this node holds for it (each checked)
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Time   time.Time `json:"time"` // when the record was written (author's clock)
}

// ParticipantView is a participant with the counterpart its party's
// directory names for the role.
type ParticipantView struct {
	Party   string `json:"party"`
	Role    string `json:"role"`
	Name    string `json:"name,omitempty"`
	Address string `json:"address,omitempty"`
}

// Calls returns the call requests of one channel, or of every channel when
// ref is "", by first proposed time.
func (n *Node) Calls(ctx context.Context, ref string) ([]CallView, error) {
	var chans []hotline.Channel
	if ref == "" {
		chans = n.Channels()
	} else {
		ch, err := n.ResolveChannel(ref)
		if err != nil {
			return nil, err
		}
		chans = []hotline.Channel{*ch}
	}
	var out []CallView
	for i := range chans {
		cs, err := n.channelCalls(ctx, &chans[i])
		if err != nil {
			return nil, err
		}
		out = append(out, cs...)
	}
	sortCalls(out)
	return out, nil
}

// sortCalls orders call requests by their first proposed time.
func sortCalls(calls []CallView) {
	slices.SortStableFunc(calls, func(a, b CallView) int { return a.Times[0].Compare(b.Times[0]) })
}

// channelCalls reads ch's call and directory entries through the kind
// index, and each request's delivery from the receipts index: it costs
// what the calls are, not the channel's history.
func (n *Node) channelCalls(ctx context.Context, ch *hotline.Channel) ([]CallView, error) {
	entries, err := n.store.EntriesOfKind(ctx, ch.ID, entry.KindCall, entry.KindDirectory)
	if err != nil {
		return nil, err
	}
	return callsOf(ch, entries, func(st *hotline.Stored) (time.Time, bool, error) {
		ans, err := n.store.Answers(ctx, ch.ID, st.Ref())
		if err != nil {
			return time.Time{}, false, err
		}
		var seen time.Time
		for _, m := range ch.Definition.Members {
			i := slices.IndexFunc(ans.Receipts, func(r hotline.ReceiptRow) bool { return r.Receiver == m.Party })
			switch {
			case m.Party == st.Author:
			case i < 0:
				return time.Time{}, false, nil
			case ans.Receipts[i].Held.After(seen):
				seen = ans.Receipts[i].Held
			}
		}
		return seen, true, nil
	})
}

// callsOf derives ch's call requests, with their answers and readouts,
// from its call and directory entries (and maybe others, skipped) in a
// causal order; seen says when this node held every member's receipt of
// a request, which its deadline counts from.
func callsOf(ch *hotline.Channel, entries []*hotline.Stored, seen func(*hotline.Stored) (time.Time, bool, error)) ([]CallView, error) {
	dirs := make(map[string]*entry.Directory)
	byID := make(map[entry.ID]*CallView)
	var order []entry.ID
	for _, st := range entries {
		if st.Body == nil || (st.Kind != entry.KindCall && st.Kind != entry.KindDirectory) {
			continue
		}
		body, err := entry.DecodeBody(st.Entry)
		if err != nil {
			return nil, fmt.Errorf("stored entry %s: %w", st.ID(), err)
		}
		if d, ok := body.(*entry.Directory); ok {
			dirs[st.Author] = d
			continue
		}
		c := body.(*entry.Call)
		if c.Action == entry.CallPropose {
			v := &CallView{Channel: ch.ID.String(), ChannelName: ch.Label, Entry: st.ID().String(), Requester: st.Author,
				Operator: st.Operator, Purpose: c.Purpose, Level: c.Level, Minutes: int(c.Minutes), State: CallRequested}
			for _, t := range c.Times {
				v.Times = append(v.Times, time.UnixMilli(t).UTC())
			}
			for _, p := range c.Participants {
				pv := ParticipantView{Party: p.Party, Role: p.Role}
				if cp, ok := dirs[p.Party].Role(p.Role); ok {
					pv.Name, pv.Address = cp.Name, cp.Address
				}
				v.Participants = append(v.Participants, pv)
			}
			at, ok, err := seen(st)
			if err != nil {
				return nil, err
			}
			if ok {
				dl := at.Add(ch.Definition.Policy.CallReplyWithin())
				v.Deadline = &dl
			}
			byID[st.ID()] = v
			order = append(order, st.ID())
		}
		if c.Re == nil {
			continue
		}
		v := byID[c.Re.ID]
		if v == nil {
			continue
		}
		switch c.Action {
		case entry.CallPropose:
			v.Answers = append(v.Answers, CallAnswer{Party: st.Author, Operator: st.Operator, Action: c.Action, Counter: st.ID().String(), Written: st.AuthorTime()})
			byID[st.ID()].Counters = v.Entry
		case entry.CallAccept:
			t := time.UnixMilli(c.Times[0]).UTC()
			v.Answers = append(v.Answers, CallAnswer{Party: st.Author, Operator: st.Operator, Action: c.Action, Time: &t, Written: st.AuthorTime()})
		case entry.CallDecline:
			v.Answers = append(v.Answers, CallAnswer{Party: st.Author, Operator: st.Operator, Action: c.Action, Reason: c.Reason, Written: st.AuthorTime()})
		case entry.CallLapse:
			v.Answers = append(v.Answers, CallAnswer{Party: st.Author, Operator: st.Operator, Action: c.Action, Written: st.AuthorTime()})
		case entry.CallHeld:
			if c.Draft == nil && v.Held == nil && st.Author == v.Requester {
				v.Held = &HeldView{Entry: st.ID().String(), Signed: []string{st.Author}, Start: time.UnixMilli(c.Held.Start).UTC(),
					End: time.UnixMilli(c.Held.End).UTC(), Time: st.AuthorTime()}
			} else if c.Draft != nil && v.Held != nil && c.Draft.ID.String() == v.Held.Entry {
				for _, s := range c.Sigs {
					if !slices.Contains(v.Held.Signed, s.Party) {
						v.Held.Signed = append(v.Held.Signed, s.Party)
					}
				}
				slices.Sort(v.Held.Signed)
			}
		case entry.CallReadout, entry.CallCosign:
			r := ReadoutView{Entry: st.ID().String(), Party: st.Author, Text: c.Text, Lang: c.Lang, Joint: c.Joint(), Time: st.AuthorTime()}
			if c.Record != nil {
				r.Record = c.Record.ID.String()
			}
			for _, s := range c.Sigs {
				r.Signed = append(r.Signed, s.Party)
			}
			if c.Action == entry.CallReadout {
				v.Readouts = append(v.Readouts, r)
			}
			if r.Joint && (v.Joint == nil || len(r.Signed) > len(v.Joint.Signed) ||
				(len(r.Signed) == len(v.Joint.Signed) && cmp.Or(r.Time.Compare(v.Joint.Time), strings.Compare(r.Party, v.Joint.Party)) < 0)) {
				v.Joint = &r // the most signed; of those, the first written
			}
		}
	}
	out := make([]CallView, 0, len(order))
	for _, id := range order {
		v := byID[id]
		v.State = callState(ch, v)
		// Shown by when each was written, then by party: the same order
		// whichever causal order the entries came in (the agenda read
		// through the indexes, or derived from the whole log), and at
		// every member's node. The state above took each member's answers
		// in its feed's order.
		slices.SortStableFunc(v.Answers, func(a, b CallAnswer) int {
			return cmp.Or(a.Written.Compare(b.Written), strings.Compare(a.Party, b.Party))
		})
		slices.SortStableFunc(v.Readouts, func(a, b ReadoutView) int {
			return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Party, b.Party))
		})
		out = append(out, *v)
	}
	return out, nil
}

// callState derives a call's state from its answers: the newest answer of
// each member counts.
func callState(ch *hotline.Channel, v *CallView) string {
	last := make(map[string]CallAnswer)
	lapsed := false
	for _, a := range v.Answers {
		if a.Action == entry.CallLapse {
			lapsed = true
			continue
		}
		last[a.Party] = a
	}
	accepted := 0
	var at *time.Time
	for _, a := range last {
		switch a.Action {
		case entry.CallDecline:
			return CallDeclined
		case entry.CallPropose:
			return CallCountered
		case entry.CallAccept:
			if at == nil || a.Time.Equal(*at) {
				accepted++
				at = a.Time
			}
		}
	}
	if accepted == len(ch.Definition.Members)-1 {
		v.Time = at
		return CallAccepted
	}
	if lapsed {
		return CallUnanswered
	}
	return CallRequested
}
