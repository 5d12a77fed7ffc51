package node

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// Channels returns every channel this node knows, by level then name.
func (n *Node) Channels() []hotline.Channel {
	n.mu.RLock()
	out := make([]hotline.Channel, 0, len(n.channels))
	for _, c := range n.channels {
		out = append(out, *c)
	}
	n.mu.RUnlock()
	order := func(l string) int { return slices.Index(hotline.Levels, hotline.Level(l)) }
	slices.SortFunc(out, func(a, b hotline.Channel) int {
		if d := order(a.Definition.Level) - order(b.Definition.Level); d != 0 {
			return d
		}
		if c := strings.Compare(a.Label, b.Label); c != 0 {
			return c
		}
		return slices.Compare(a.ID[:], b.ID[:])
	})
	return out
}

// ResolveChannel finds a channel by its label at this node (its name,
// unless a channel already had that name here: see hotline.Channel), by
// full id, or by a unique id prefix of at least 8 hex digits. A label
// always names the channel that holds it, so a name the operator knows
// keeps naming the same channel whatever other parties propose.
func (n *Node) ResolveChannel(ref string) (*hotline.Channel, error) {
	if ref == "" {
		return nil, hotline.Errorf(hotline.EINVALID, "no channel named: give a channel id or name")
	}
	n.mu.RLock()
	id, ok := n.labels[ref]
	if ok {
		c := *n.channels[id]
		n.mu.RUnlock()
		return &c, nil
	}
	var byPrefix []hotline.Channel
	for id, c := range n.channels {
		hexID := id.String()
		if hexID == ref {
			c := *c
			n.mu.RUnlock()
			return &c, nil
		}
		if len(ref) >= 8 && strings.HasPrefix(hexID, ref) {
			byPrefix = append(byPrefix, *c)
		}
	}
	n.mu.RUnlock()
	switch len(byPrefix) {
	case 0:
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no channel %q on this node (see hotline channel list)", ref)
	case 1:
		return &byPrefix[0], nil
	}
	return nil, hotline.Errorf(hotline.ECONFLICT, "%q names %d channels; use the channel id (see hotline channel list)", ref, len(byPrefix))
}

// ChannelOptions are a proposed channel's settings beyond its name, level
// and members; every member agrees to them by accepting.
type ChannelOptions struct {
	// Policy is the acknowledgement, escalation and notice policy; nil
	// means the level's defaults and no escalation target.
	Policy *entry.Policy
	// Catalog names the phrase catalog by its hash or a unique prefix of
	// at least 8 hex digits; "" means the default catalog, "none" none.
	Catalog string
	// Lang is the channel's default language; "" means English.
	Lang string
}

// Propose writes a proposal for a new channel among this party and others.
// The channel becomes active once every other member accepts.
func (n *Node) Propose(ctx context.Context, operator, name, level string, others []string, opt ChannelOptions) (*hotline.Channel, error) {
	policy := opt.Policy
	if err := entry.CheckName("channel", name); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%v", trimPrefix(err))
	}
	if _, err := hotline.ParseLevel(level); err != nil {
		return nil, err
	}
	members := []entry.Member{{Party: n.self, Key: n.key.Load().VerifierKey()}}
	for _, p := range others {
		if p == n.self || slices.ContainsFunc(members, func(m entry.Member) bool { return m.Party == p }) {
			continue
		}
		_, key, ok := n.keyOf(p)
		if !ok {
			return nil, hotline.Errorf(hotline.EINVALID, "party %q is not pinned on this node; pin it first with hotline peer add", p)
		}
		members = append(members, entry.Member{Party: p, Key: key})
	}
	if len(members) < 2 {
		return nil, hotline.Errorf(hotline.EINVALID, "a channel needs at least one other party")
	}
	if len(members) > entry.MaxMembers {
		return nil, hotline.Errorf(hotline.EINVALID, "a channel has at most %d members", entry.MaxMembers)
	}
	slices.SortFunc(members, func(a, b entry.Member) int { return strings.Compare(a.Party, b.Party) })
	def := &entry.Definition{Name: name, Level: level, Proposer: n.self, Members: members, Created: n.now().UnixMilli(), Policy: policy, Lang: opt.Lang}
	if opt.Catalog != "none" {
		cat, err := n.findCatalog(opt.Catalog)
		if err != nil {
			return nil, err
		}
		h := cat.Hash()
		def.Catalog = &h
		if def.Lang != "" {
			if _, ok := cat.Languages[def.Lang]; !ok {
				return nil, &hotline.Error{Code: hotline.EINVALID, Field: "lang", Message: fmt.Sprintf("the catalog has no language %q; it has %s", def.Lang, strings.Join(cat.Langs(), ", "))}
			}
		}
	}
	if err := CheckLang(def.Lang, false); err != nil {
		return nil, err
	}
	if policy != nil {
		if err := policy.Check(); err != nil {
			return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
		}
		if err := n.checkPolicy(def); err != nil {
			return nil, err
		}
	}
	rand.Read(def.Nonce[:])
	id := def.ChannelID()
	r := n.submit(ctx, &writeReq{local: &localWrite{
		channel: id, kind: entry.KindConfig, operator: operator, newChannel: def,
		body: &entry.Config{Action: entry.ActionPropose, Definition: def},
		check: func(b *batch, _ *hotline.Channel) error {
			// Names are local labels: one already in use here, by a
			// channel of this party's or another's invitation, is refused
			// rather than made ambiguous.
			if n.labelTaken(b)(name) {
				return &hotline.Error{Code: hotline.ECONFLICT, Field: "name", Message: fmt.Sprintf("a channel named %s exists on this node already (see hotline channel list --all); choose another name", name)}
			}
			return nil
		},
	}})
	if r.err != nil {
		return nil, r.err
	}
	c, _ := n.channel(id)
	return c, nil
}

// Accept writes this party's acceptance of a channel it was invited to.
func (n *Node) Accept(ctx context.Context, operator, ref string) (*hotline.Channel, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, err
	}
	cfg := &entry.Config{Action: entry.ActionAccept}
	r := n.submit(ctx, &writeReq{local: &localWrite{
		channel: ch.ID, kind: entry.KindConfig, operator: operator, body: cfg,
		check: func(b *batch, ch *hotline.Channel) error {
			if ch.State != hotline.ChannelInvited {
				return hotline.Errorf(hotline.ECONFLICT, "channel %s is %s: only a channel this party was invited to can be accepted", ch.Label, ch.State)
			}
			if ch.Definition.Catalog != nil {
				if _, err := n.Catalog(ch); err != nil {
					return hotline.Errorf(hotline.ECONFLICT, "%s; accept the channel once it does", hotline.ErrorMessage(err))
				}
			}
			proposer := hotline.Feed{Channel: ch.ID, Party: ch.Definition.Proposer}
			id, ok, err := b.idAt(ctx, proposer, 1)
			if err != nil || !ok {
				return fmt.Errorf("proposal of channel %s missing from the store: %v", ch.ID, err)
			}
			cfg.Proposal = &entry.Ref{Party: ch.Definition.Proposer, Seq: 1, ID: id}
			return nil
		},
	}})
	if r.err != nil {
		return nil, r.err
	}
	c, _ := n.channel(ch.ID)
	return c, nil
}

// MessageInput is what an operator sends: free text, or a phrase.
type MessageInput struct {
	Text string
	// Lang is the language of Text, or the one a phrase is written in;
	// "" means the operator's language, else the channel's.
	Lang string
	// Phrase, when set, is sent instead of Text.
	Phrase *PhraseInput
	// Unofficial are the author's own translations of Text.
	Unofficial []entry.Rendering
	// AckWithin is the acknowledgement deadline; nil means the channel's
	// agreed default (its policy, else its level's), zero means no
	// acknowledgement is requested.
	AckWithin *time.Duration
	// Precedence is entry.Flash, Immediate or Priority; "" or
	// entry.Routine is ROUTINE. Without AckWithin, it sets the deadline
	// (entry.Policy.AckFor).
	Precedence string
}

// Send writes a message to a channel and returns once it is durable; in a
// channel whose policy requires the message to be released, it holds it
// as a draft instead (see ReleaseDraft).
func (n *Node) Send(ctx context.Context, operator, ref string, in MessageInput) (*Sent, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, err
	}
	preferred, err := n.OperatorLang(ctx, operator)
	if err != nil {
		return nil, err
	}
	var msg *entry.Message
	if in.Precedence == entry.Routine {
		in.Precedence = ""
	}
	ack := ch.Definition.Policy.AckFor(in.Precedence, DefaultAckWithin(ch))
	if in.Phrase != nil {
		if in.Text != "" || len(in.Unofficial) > 0 {
			return nil, hotline.Errorf(hotline.EINVALID, "a message is a phrase or free text, not both: the phrase's text comes from the catalog")
		}
		m, tpl, err := n.composePhrase(ch, in.Phrase, in.Lang, preferred)
		if err != nil {
			return nil, err
		}
		msg = m
		if !tpl.Ack {
			ack = 0
		}
	} else {
		if in.Lang == "" {
			in.Lang = cmp.Or(preferred, ChannelLang(ch))
		}
		if err := CheckLang(in.Lang, true); err != nil {
			return nil, err
		}
		slices.SortFunc(in.Unofficial, func(a, b entry.Rendering) int { return strings.Compare(a.Lang, b.Lang) })
		msg = &entry.Message{Text: in.Text, Lang: in.Lang, Unofficial: in.Unofficial}
	}
	if in.AckWithin != nil {
		ack = *in.AckWithin
	}
	if ack < 0 || ack > entry.MaxAckWithin {
		return nil, hotline.Errorf(hotline.EINVALID, "acknowledgement deadline %s is out of range: give 0 (none) up to %s", ack, entry.MaxAckWithin)
	}
	if ack%time.Millisecond != 0 {
		ack = ack.Truncate(time.Millisecond)
	}
	msg.AckWithin = ack.Milliseconds()
	msg.Precedence = in.Precedence
	if err := msg.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	if ch.Definition.Policy.ReleasersFor(msg.Precedence) > 0 {
		if err := asOperatorError(n.checkMessage(ch, n.now(), msg)); err != nil {
			return nil, err
		}
		d, err := n.holdDraft(ctx, operator, ch, msg)
		if err != nil {
			return nil, err
		}
		return &Sent{Draft: d}, nil
	}
	r := n.submit(ctx, &writeReq{local: &localWrite{
		channel: ch.ID, kind: entry.KindMessage, operator: operator, body: msg,
		check: func(b *batch, ch *hotline.Channel) error {
			if err := activeOnly(b, ch); err != nil {
				return err
			}
			// The notice lead time counts from the entry's own time.
			return asOperatorError(n.checkMessage(ch, b.now, msg))
		},
	}})
	if r.err != nil {
		return nil, r.err
	}
	return &Sent{Entry: r.entry}, nil
}

// DefaultAckWithin is the acknowledgement deadline a message in ch gets
// when its sender sets none: the channel's agreed policy, else its level's
// default.
func DefaultAckWithin(ch *hotline.Channel) time.Duration {
	if p := ch.Definition.Policy; p != nil {
		return time.Duration(p.AckWithin) * time.Millisecond
	}
	return ch.Level().DefaultAckWithin()
}

func activeOnly(_ *batch, ch *hotline.Channel) error {
	if ch.State != hotline.ChannelActive {
		return hotline.Errorf(hotline.ECONFLICT, "channel %s is %s, not active: every member must accept it first", ch.Label, ch.State)
	}
	return nil
}

// Mark writes a read or ack entry for a message of another party.
func (n *Node) Mark(ctx context.Context, operator, ref, target string, kind entry.Kind, reply string) (*entry.Entry, error) {
	if kind != entry.KindRead && kind != entry.KindAck {
		return nil, hotline.Errorf(hotline.EINVALID, "mark kind must be read or ack")
	}
	ch, st, err := n.resolveEntry(ctx, ref, target)
	if err != nil {
		return nil, err
	}
	if err := isMessage(st, "read or acknowledged"); err != nil {
		return nil, err
	}
	if st.Author == n.self {
		return nil, hotline.Errorf(hotline.EINVALID, "entry %s was sent by this party; only the receiving side acknowledges", st.ID())
	}
	mark := &entry.Mark{Target: st.Ref(), Reply: reply}
	if err := mark.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	r := n.submit(ctx, &writeReq{local: &localWrite{channel: ch.ID, kind: kind, operator: operator, body: mark, check: activeOnly}})
	return r.entry, r.err
}

// MaxReadTargets is how many entries one ReadUpTo names at most.
const MaxReadTargets = MaxPageLimit

// ReadUpTo marks as read, for this party, every message of other parties
// from the first to the last of targets in each author's feed (entry ids
// or unique prefixes): a screenful of a channel in one request. It writes
// one cumulative read entry per feed and returns them; a feed's span may
// not pass entry.MaxReadSpan seqs.
func (n *Node) ReadUpTo(ctx context.Context, operator, ref string, targets []string) ([]*entry.Entry, error) {
	if len(targets) == 0 || len(targets) > MaxReadTargets {
		return nil, hotline.Errorf(hotline.EINVALID, "name 1 to %d messages to mark read, not %d", MaxReadTargets, len(targets))
	}
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, err
	}
	last := make(map[string]*hotline.Stored) // by author: the newest named
	first := make(map[string]uint64)
	for _, t := range targets {
		st, err := n.findEntry(ctx, ch, t)
		if err != nil {
			return nil, err
		}
		if err := isMessage(st, "read or acknowledged"); err != nil {
			return nil, err
		}
		if st.Author == n.self {
			return nil, hotline.Errorf(hotline.EINVALID, "entry %s was sent by this party; only the receiving side marks it read", st.ID())
		}
		if l := last[st.Author]; l == nil || l.Seq < st.Seq {
			last[st.Author] = st
		}
		if f, ok := first[st.Author]; !ok || st.Seq < f {
			first[st.Author] = st.Seq
		}
	}
	for author, to := range last {
		if span := to.Seq - first[author] + 1; span > entry.MaxReadSpan {
			return nil, hotline.Errorf(hotline.EINVALID, "the messages named span %d seqs of %s's feed; one read covers at most %d: mark them a screen at a time", span, author, entry.MaxReadSpan)
		}
	}
	var out []*entry.Entry
	for _, author := range slices.Sorted(maps.Keys(last)) {
		mark := &entry.Mark{Target: last[author].Ref()}
		if f := first[author]; f < mark.Target.Seq {
			mark.From = f
		}
		r := n.submit(ctx, &writeReq{local: &localWrite{channel: ch.ID, kind: entry.KindRead, operator: operator, body: mark, check: activeOnly}})
		if r.err != nil {
			return out, r.err
		}
		out = append(out, r.entry)
	}
	return out, nil
}

// resolveEntry finds a channel (as ResolveChannel) and one of its entries
// (as findEntry).
func (n *Node) resolveEntry(ctx context.Context, ref, target string) (*hotline.Channel, *hotline.Stored, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, nil, err
	}
	st, err := n.findEntry(ctx, ch, target)
	if err != nil {
		return nil, nil, err
	}
	return ch, st, nil
}

// isMessage refuses an operator's action on an entry that is not a
// message; what says what only messages can be.
func isMessage(st *hotline.Stored, what string) error {
	if st.Kind != entry.KindMessage {
		return hotline.Errorf(hotline.EINVALID, "entry %s is a %s, not a message: only messages can be %s", st.ID(), st.Kind, what)
	}
	return nil
}

// findEntry finds an entry of ch by full id or unique id prefix (8+ hex).
func (n *Node) findEntry(ctx context.Context, ch *hotline.Channel, ref string) (*hotline.Stored, error) {
	ref = strings.ToLower(ref)
	if id, err := entry.ParseID(ref); err == nil {
		st, err := n.store.Entry(ctx, id)
		if err == nil && st.Channel != ch.ID {
			return nil, hotline.Errorf(hotline.ENOTFOUND, "entry %s is not in channel %s", ref, ch.Label)
		}
		return st, err
	}
	if _, err := hex.DecodeString(ref[:len(ref)&^1]); err != nil || len(ref) < 8 {
		return nil, hotline.Errorf(hotline.EINVALID, "entry id %q: give the full id or at least 8 of its hex digits", ref)
	}
	found, err := n.store.EntriesByPrefix(ctx, ch.ID, ref, 2)
	switch {
	case err != nil:
		return nil, err
	case len(found) > 1:
		return nil, hotline.Errorf(hotline.ECONFLICT, "entry id prefix %q is ambiguous; give more digits", ref)
	case len(found) == 0:
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no entry %q in channel %s", ref, ch.Label)
	}
	return found[0], nil
}

// trimPrefix drops the package prefix of a format error for operators.
func trimPrefix(err error) string {
	s := err.Error()
	for _, p := range []string{"entry: malformed: ", "entry: too large: ", "entry: "} {
		if rest, ok := strings.CutPrefix(s, p); ok {
			return rest
		}
	}
	return s
}
