package node

import (
	"bytes"
	"context"
	"errors"
	"slices"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// This file holds the rules of the coordination entries (calls,
// escalations, directories) and of channel policies. The same checks run on
// an operator's request before it is signed and on a peer's entry before it
// is stored, so both sides agree on what a valid entry is.

// checkPolicy checks a channel definition's policy: an escalation target
// must be a channel this node knows, active, at a higher level, with the
// same members and keys; track2 channels never escalate.
func (n *Node) checkPolicy(d *entry.Definition) error {
	p := d.Policy
	if p == nil || p.EscalateTo == nil {
		return nil
	}
	if hotline.Level(d.Level) == hotline.Track2 {
		return hotline.Errorf(hotline.EINVALID, "track2 channels never escalate: drop the escalation target")
	}
	t, ok := n.channel(*p.EscalateTo)
	if !ok {
		return hotline.Errorf(hotline.EINVALID, "escalation target %s is not a channel this node knows", p.EscalateTo)
	}
	if t.State != hotline.ChannelActive {
		return hotline.Errorf(hotline.EINVALID, "escalation target %s is %s, not active", t.Definition.Name, t.State)
	}
	if slices.Index(hotline.Levels, t.Level()) >= slices.Index(hotline.Levels, hotline.Level(d.Level)) {
		return hotline.Errorf(hotline.EINVALID, "escalation target %s is at %s level, not above %s", t.Definition.Name, t.Level(), d.Level)
	}
	if !slices.Equal(t.Definition.Members, d.Members) {
		var have []string
		for _, m := range t.Definition.Members {
			have = append(have, m.Party)
		}
		return hotline.Errorf(hotline.EINVALID, "escalation target %s has members %v: an escalation target must have exactly the same members and keys", t.Definition.Name, have)
	}
	return nil
}

// callRequest returns the call request re of ch, checking it is one.
func (b *batch) callRequest(ctx context.Context, ch *hotline.Channel, re entry.Ref) (*entry.Call, error) {
	e, body, err := b.lookup(ctx, ch, re)
	if err != nil {
		return nil, err
	}
	c, ok := body.(*entry.Call)
	if e.Kind != entry.KindCall || !ok || c.Action != entry.CallPropose {
		return nil, reject("bad_reference", "%s is not a call request", re)
	}
	return c, nil
}

// checkCall checks a call entry by author in ch.
func (b *batch) checkCall(ctx context.Context, ch *hotline.Channel, author string, c *entry.Call) error {
	if ch.State != hotline.ChannelActive {
		return reject("invalid", "call entry in channel %s, which is not active", ch.Definition.Name)
	}
	var req *entry.Call
	if c.Re != nil {
		var err error
		if req, err = b.callRequest(ctx, ch, *c.Re); err != nil {
			return err
		}
	}
	answer := func() error {
		if c.Re.Party == author {
			return reject("invalid", "a call %s must answer another party's request, not %s's own", c.Action, author)
		}
		return nil
	}
	switch c.Action {
	case entry.CallPropose:
		if _, err := hotline.ParseLevel(c.Level); err != nil {
			return reject("invalid", "call request: %s", hotline.ErrorMessage(err))
		}
		for _, p := range c.Participants {
			if !ch.IsMember(p.Party) {
				return reject("invalid", "call participant %s/%s: %s is not a member of channel %s", p.Party, p.Role, p.Party, ch.Definition.Name)
			}
		}
		if req != nil {
			return answer()
		}
	case entry.CallAccept:
		if !slices.Contains(req.Times, c.Times[0]) {
			return reject("invalid", "call acceptance names a time the request %s did not propose", c.Re)
		}
		return answer()
	case entry.CallDecline:
		return answer()
	case entry.CallLapse:
		if c.Re.Party != author {
			return reject("invalid", "only the requester records its call request as unanswered")
		}
	case entry.CallReadout:
		if c.Record != nil {
			_, body, err := b.lookup(ctx, ch, *c.Record)
			if err != nil {
				return err
			}
			if h, ok := body.(*entry.Call); !ok || h.Action != entry.CallHeld || h.Draft != nil || *h.Re != *c.Re {
				return reject("bad_reference", "a readout refers to %s, which is not the held record of call %s", c.Record, c.Re)
			}
		}
		if c.Joint() {
			if c.Sigs[0].Party != author {
				return reject("invalid", "a draft joint readout carries its author's signature only")
			}
			if _, err := entry.VerifyJoint(c, ch.ID, b.n.keysOf(ch)); err != nil {
				return reject("bad_signature", "%s", trimPrefix(err))
			}
		}
	case entry.CallHeld:
		return b.checkHeld(ctx, ch, author, c)
	case entry.CallCosign:
		_, body, err := b.lookup(ctx, ch, *c.Draft)
		if err != nil {
			return err
		}
		d, ok := body.(*entry.Call)
		if !ok || d.Action != entry.CallReadout || !d.Joint() {
			return reject("bad_reference", "%s is not a draft joint readout", c.Draft)
		}
		if *d.Re != *c.Re || d.Text != c.Text || d.Lang != c.Lang {
			return reject("invalid", "a co-signature must carry the draft's call, text and language unchanged")
		}
		if !slices.ContainsFunc(c.Sigs, func(s entry.PartySig) bool { return s.Party == author }) ||
			!slices.ContainsFunc(c.Sigs, func(s entry.PartySig) bool { return s.Party == d.Sigs[0].Party }) {
			return reject("invalid", "a co-signature carries the draft author's signature and its own")
		}
		for _, s := range c.Sigs {
			if !ch.IsMember(s.Party) {
				return reject("invalid", "joint readout signed by %s, not a member of channel %s", s.Party, ch.Definition.Name)
			}
		}
		if _, err := entry.VerifyJoint(c, ch.ID, b.n.keysOf(ch)); err != nil {
			return reject("bad_signature", "%s", trimPrefix(err))
		}
	}
	return nil
}

// checkHeld checks a held record, or a co-signature of one: the record
// is the requester's, its sections are members', and the signatures hold.
func (b *batch) checkHeld(ctx context.Context, ch *hotline.Channel, author string, c *entry.Call) error {
	for _, s := range c.Held.Sections {
		if !ch.IsMember(s.Party) {
			return reject("invalid", "held record has a section of %s, not a member of channel %s", s.Party, ch.Definition.Name)
		}
	}
	for _, s := range c.Sigs {
		if !ch.IsMember(s.Party) {
			return reject("invalid", "held record signed by %s, not a member of channel %s", s.Party, ch.Definition.Name)
		}
	}
	if c.Draft == nil {
		if c.Re.Party != author || c.Sigs[0].Party != author {
			return reject("invalid", "a held record is written and signed by the call's requester %s alone", c.Re.Party)
		}
	} else {
		_, body, err := b.lookup(ctx, ch, *c.Draft)
		if err != nil {
			return err
		}
		d, ok := body.(*entry.Call)
		if !ok || d.Action != entry.CallHeld || d.Draft != nil {
			return reject("bad_reference", "%s is not a held record", c.Draft)
		}
		x, _ := entry.Marshal(d.Held)
		y, _ := entry.Marshal(c.Held)
		if *d.Re != *c.Re || !bytes.Equal(x, y) {
			return reject("invalid", "a co-signature must carry the held record's call and record unchanged")
		}
		if !slices.ContainsFunc(c.Sigs, func(s entry.PartySig) bool { return s.Party == author }) ||
			!slices.ContainsFunc(c.Sigs, func(s entry.PartySig) bool { return s.Party == d.Re.Party }) {
			return reject("invalid", "a co-signature carries the requester's signature and its own")
		}
	}
	if _, err := entry.VerifyJoint(c, ch.ID, b.n.keysOf(ch)); err != nil {
		return reject("bad_signature", "%s", trimPrefix(err))
	}
	return nil
}

// checkEscalation checks an escalation entry by author in ch: the source
// channel must be one this node knows, with the same members, whose agreed
// escalation target is ch, and the entry escalated must be one of the
// author's own messages or call requests in it that this node holds.
func (b *batch) checkEscalation(ctx context.Context, ch *hotline.Channel, author string, v *entry.Escalation) error {
	if ch.State != hotline.ChannelActive {
		return reject("invalid", "escalation in channel %s, which is not active", ch.Definition.Name)
	}
	src, ok := b.channel(v.Source)
	if !ok {
		return reject("unknown_channel", "escalation from channel %s, which this node does not know", v.Source)
	}
	if p := src.Definition.Policy; p == nil || p.EscalateTo == nil || *p.EscalateTo != ch.ID {
		return reject("invalid", "escalation from channel %s, whose agreed escalation target is not %s", src.Definition.Name, ch.Definition.Name)
	}
	if !slices.Equal(src.Definition.Members, ch.Definition.Members) {
		return reject("invalid", "escalation from channel %s, whose members differ from %s's", src.Definition.Name, ch.Definition.Name)
	}
	if !src.IsMember(v.Entry.Party) {
		return reject("invalid", "escalated entry %s is not by a member", v.Entry)
	}
	if v.Entry.Party != author {
		return reject("invalid", "escalation of %s, which is not the author's own: a party escalates what it is owed an answer for", v.Entry)
	}
	e, _, err := b.lookup(ctx, src, v.Entry)
	if err != nil {
		return err
	}
	if e.Kind != entry.KindMessage && e.Kind != entry.KindCall {
		return reject("invalid", "escalation of %s, a %s: only messages and call requests are escalated", v.Entry, e.Kind)
	}
	return nil
}

// checkDirectory checks the levels a directory names.
func checkDirectory(d *entry.Directory) error {
	for _, c := range d.Counterparts {
		if _, err := hotline.ParseLevel(c.Level); err != nil {
			return reject("invalid", "counterpart %s: %s", c.Role, hotline.ErrorMessage(err))
		}
	}
	return nil
}

// asOperatorError turns a peer-rule rejection into an error for the
// operator whose request broke the rule.
func asOperatorError(err error) error {
	var r *rejection
	if errors.As(err, &r) {
		return hotline.Errorf(hotline.EINVALID, "%s", r.msg)
	}
	return err
}
