package audit

import (
	"crypto/ed25519"
	"fmt"
	"time"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// CallInfo is one call request in an archive with every signed answer.
type CallInfo struct {
	ID        string       `json:"id"`
	Requester string       `json:"requester"`
	Operator  string       `json:"operator,omitempty"`
	Time      time.Time    `json:"time"` // requester's clock, signed
	Purpose   string       `json:"purpose"`
	Level     string       `json:"level"`
	Times     []time.Time  `json:"times"`
	Answers   []CallAnswer `json:"answers"`
}

// CallAnswer is one signed entry about a call request: an acceptance, a
// decline, a counter-proposal, the requester's record that it went
// unanswered, or a readout.
type CallAnswer struct {
	Party  string     `json:"party"`
	Action string     `json:"action"`
	Entry  string     `json:"entry"` // party/seq
	Time   time.Time  `json:"time"`  // signer's clock
	At     *time.Time `json:"at,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Text   string     `json:"text,omitempty"`
}

// JointReadout is a readout text signed by several parties, each
// signature checked against the key the channel pins for its party.
type JointReadout struct {
	Entry  string   `json:"entry"` // the entry carrying the signatures, party/seq
	Call   string   `json:"call"`  // the call request's id
	Text   string   `json:"text"`
	Lang   string   `json:"lang,omitempty"`
	Signed []string `json:"signed"`
	All    bool     `json:"all_members"` // every member signed
}

// EscalationInfo is a signed escalation entry: its author reported an
// entry of another channel unanswered past its deadline.
type EscalationInfo struct {
	Entry    string    `json:"entry"` // party/seq
	Source   string    `json:"source_channel"`
	Target   string    `json:"escalated_entry"` // party/seq in the source channel
	Deadline time.Time `json:"deadline"`
	Text     string    `json:"text"`
}

// checkCalls checks, for a call entry, that what it names is a call
// request (or a joint readout draft) of the archive, and the signatures of
// a joint readout.
func (v *verifier) checkCall(where string, def *entry.Definition, ch entry.ChannelID, e *entry.Entry, c *entry.Call) {
	if c.Re != nil {
		if rb, ok := v.bodies[c.Re.ID].(*entry.Call); v.byID[c.Re.ID] != nil && (!ok || rb.Action != entry.CallPropose) {
			v.fail(where, "answers %s, which is not a call request", c.Re)
		}
	}
	if !c.Joint() {
		return
	}
	// A party signs with the key its feed is at, or, if it rotated since
	// it signed, an earlier key of its feed.
	keysOf := func(party string) []ed25519.PublicKey {
		m, ok := def.Member(party)
		if !ok {
			return nil
		}
		var out []ed25519.PublicKey
		if _, pub, err := identity.ParseVerifierKey(m.Key); err == nil {
			out = append(out, pub)
		}
		for _, kc := range v.r.KeyChanges {
			if kc.Party == party {
				if _, pub, err := identity.ParseVerifierKey(kc.New); err == nil {
					out = append(out, pub)
				}
			}
		}
		return out
	}
	if _, err := entry.VerifyJoint(c, ch, keysOf); err != nil {
		v.fail(where, "joint readout: %v", err)
	}
}

// reportCalls lists the call requests with their answers, the joint
// readouts and the escalations.
func (v *verifier) reportCalls(def *entry.Definition, entries []*entry.Entry) {
	idx := map[entry.ID]int{}
	for _, e := range entries {
		switch b := v.bodies[e.ID()].(type) {
		case *entry.Call:
			if b.Action == entry.CallPropose {
				ci := CallInfo{ID: e.ID().String(), Requester: e.Author, Operator: e.Operator, Time: e.AuthorTime(), Purpose: b.Purpose, Level: b.Level, Answers: []CallAnswer{}}
				for _, t := range b.Times {
					ci.Times = append(ci.Times, time.UnixMilli(t).UTC())
				}
				idx[e.ID()] = len(v.r.Calls)
				v.r.Calls = append(v.r.Calls, ci)
			}
			if b.Re == nil {
				continue
			}
			if i, ok := idx[b.Re.ID]; ok {
				a := CallAnswer{Party: e.Author, Action: b.Action, Entry: e.Ref().String(), Time: e.AuthorTime(), Reason: b.Reason, Text: b.Text}
				if b.Action == entry.CallAccept {
					at := time.UnixMilli(b.Times[0]).UTC()
					a.At = &at
				}
				v.r.Calls[i].Answers = append(v.r.Calls[i].Answers, a)
			}
			if b.Joint() {
				j := JointReadout{Entry: e.Ref().String(), Call: b.Re.ID.String(), Text: b.Text, Lang: b.Lang}
				for _, s := range b.Sigs {
					j.Signed = append(j.Signed, s.Party)
				}
				j.All = len(j.Signed) == len(def.Members)
				v.r.JointReadouts = append(v.r.JointReadouts, j)
			}
		case *entry.Escalation:
			v.r.Escalations = append(v.r.Escalations, EscalationInfo{Entry: e.Ref().String(), Source: b.Source.String(),
				Target: fmt.Sprintf("%s/%d", b.Entry.Party, b.Entry.Seq), Deadline: time.UnixMilli(b.Deadline).UTC(), Text: b.Text})
		}
	}
}
