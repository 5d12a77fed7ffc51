package node

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/release"
)

// This file holds release authority: in a channel whose policy requires
// it, a message is held as a draft until enough operators other than its
// drafter release it with their personal keys; then the party signs it,
// with their signatures in it, and sends it. Nothing of a draft leaves
// the node before that.

// Sent is what Send did: wrote Entry, or, in a channel whose policy
// requires the message to be released, held it as Draft.
type Sent struct {
	Entry *entry.Entry
	Draft *DraftView
}

// DraftView is a draft as operators see it.
type DraftView struct {
	ID          string    `json:"id"`
	Channel     string    `json:"channel"`
	ChannelName string    `json:"channel_name"`
	Drafter     string    `json:"drafter"`
	Created     time.Time `json:"created"`
	Updated     time.Time `json:"updated"`
	// AgeSeconds is how long the draft has waited, as of the answer.
	AgeSeconds float64 `json:"age_seconds"`
	State      string  `json:"state"`
	Text       string  `json:"text"`
	Lang       string  `json:"lang,omitempty"`
	Precedence string  `json:"precedence,omitempty"`
	// Required is how many operators other than the drafter must release
	// it; Releasers, those who have.
	Required  int                  `json:"required"`
	Releasers []string             `json:"releasers"`
	History   []hotline.DraftEvent `json:"history"`
	Entry     string               `json:"entry,omitempty"` // the message it became
	// Message is the draft's message, canonically encoded: a releaser's
	// client shows its text and computes what it signs from it and the
	// channel (entry.ReleaseStatement), rather than sign bytes it is
	// handed. Challenge is the SHA-256 of that statement, a passkey
	// assertion's challenge.
	Message   []byte `json:"message"`
	Challenge []byte `json:"challenge"`
}

// holdDraft saves msg, by operator in ch, as a draft awaiting release.
func (n *Node) holdDraft(ctx context.Context, operator string, ch *hotline.Channel, msg *entry.Message) (*DraftView, error) {
	if ch.State != hotline.ChannelActive {
		return nil, activeOnly(nil, ch)
	}
	body, err := entry.EncodeBody(msg)
	if err != nil {
		return nil, err
	}
	var id [12]byte
	rand.Read(id[:])
	now := n.now()
	d := hotline.Draft{ID: hex.EncodeToString(id[:]), Channel: ch.ID, Drafter: operator, Created: now, Updated: now, State: hotline.DraftAwaiting,
		Message: body, History: []hotline.DraftEvent{{Time: now, Operator: operator, Action: "drafted"}}}
	if err := n.store.PutDraft(ctx, d); err != nil {
		return nil, err
	}
	n.log.Info("message held as a draft until it is released", "draft", d.ID, "channel", ch.Label, "drafter", operator, "releasers", ch.Definition.Policy.ReleasersFor(msg.Precedence))
	n.draftEvent(&d, operator)
	return n.draftView(&d)
}

// Drafts returns up to limit drafts in state (awaiting when ""), oldest
// first.
func (n *Node) Drafts(ctx context.Context, state string, limit int) ([]DraftView, error) {
	if state == "" {
		state = hotline.DraftAwaiting
	}
	if !slices.Contains([]string{hotline.DraftAwaiting, hotline.DraftReleased, hotline.DraftReturned, hotline.DraftWithdrawn}, state) {
		return nil, hotline.Errorf(hotline.EINVALID, "draft state %q: give awaiting, released, returned or withdrawn", state)
	}
	ds, err := n.store.Drafts(ctx, state, limit)
	if err != nil {
		return nil, err
	}
	out := make([]DraftView, 0, len(ds))
	for i := range ds {
		v, err := n.draftView(&ds[i])
		if err != nil {
			return nil, err
		}
		out = append(out, *v)
	}
	return out, nil
}

// Draft returns one draft.
func (n *Node) Draft(ctx context.Context, id string) (*DraftView, error) {
	d, err := n.store.Draft(ctx, id)
	if err != nil {
		return nil, err
	}
	return n.draftView(d)
}

func (n *Node) draftView(d *hotline.Draft) (*DraftView, error) {
	m, ch, err := n.draftMessage(d)
	if err != nil {
		return nil, err
	}
	challenge, err := release.Challenge(d.Channel, m)
	if err != nil {
		return nil, err
	}
	v := &DraftView{ID: d.ID, Channel: d.Channel.String(), ChannelName: ch.Label, Drafter: d.Drafter, Created: d.Created.UTC(), Updated: d.Updated.UTC(),
		AgeSeconds: n.now().Sub(d.Created).Seconds(), State: d.State, Text: m.Text, Lang: m.Lang, Precedence: m.Precedence,
		Required: ch.Definition.Policy.ReleasersFor(m.Precedence), Releasers: []string{}, History: d.History, Message: d.Message, Challenge: challenge}
	for _, r := range d.Releases {
		v.Releasers = append(v.Releasers, r.Operator)
	}
	if d.Entry != (entry.ID{}) {
		v.Entry = d.Entry.String()
	}
	return v, nil
}

func (n *Node) draftMessage(d *hotline.Draft) (*entry.Message, *hotline.Channel, error) {
	ch, ok := n.channel(d.Channel)
	if !ok {
		return nil, nil, hotline.Errorf(hotline.ENOTFOUND, "draft %s is for channel %s, which this node does not hold", d.ID, d.Channel)
	}
	var m entry.Message
	if err := entry.Unmarshal(d.Message, &m); err != nil {
		return nil, nil, fmt.Errorf("draft %s: %w", d.ID, err)
	}
	return &m, ch, nil
}

// awaiting loads draft id for an action by operator: it must await
// release. The caller holds draftMu.
func (n *Node) awaiting(ctx context.Context, id string) (*hotline.Draft, error) {
	d, err := n.store.Draft(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.State != hotline.DraftAwaiting {
		return nil, hotline.Errorf(hotline.ECONFLICT, "draft %s is %s: it no longer awaits release", id, d.State)
	}
	return d, nil
}

// ReleaseDraft adds operator's personal signature r to draft id. The
// drafter cannot release their own draft; the key must be one of the
// operator's registered keys, and the signature must verify over the
// draft's message. With enough releases, the message is signed and sent,
// with the draft marked sent in the same transaction, and, first, a
// roster entry if the channel's newest one lacks a releaser's key.
func (n *Node) ReleaseDraft(ctx context.Context, operator, id string, r entry.Release) (*DraftView, error) {
	n.draftMu.Lock()
	defer n.draftMu.Unlock()
	d, err := n.awaiting(ctx, id)
	if err != nil {
		return nil, err
	}
	if operator == d.Drafter {
		return nil, hotline.Errorf(hotline.EINVALID, "%s drafted this message and cannot release it: an operator other than the drafter releases it", operator)
	}
	if slices.ContainsFunc(d.Releases, func(x entry.Release) bool { return x.Operator == operator }) {
		return nil, hotline.Errorf(hotline.ECONFLICT, "%s has already released draft %s", operator, id)
	}
	r.Operator = operator
	if err := n.registeredKey(ctx, operator, &r.Key); err != nil {
		return nil, err
	}
	m, ch, err := n.draftMessage(d)
	if err != nil {
		return nil, err
	}
	if err := release.Verify(d.Channel, m, &r); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	now := n.now()
	d.Releases = append(d.Releases, r)
	slices.SortFunc(d.Releases, func(a, b entry.Release) int { return strings.Compare(a.Operator, b.Operator) })
	d.History = append(d.History, hotline.DraftEvent{Time: now, Operator: operator, Action: "released"})
	d.Updated = now
	if len(d.Releases) < ch.Definition.Policy.ReleasersFor(m.Precedence) {
		if err := n.store.PutDraft(ctx, *d); err != nil {
			return nil, err
		}
		n.draftEvent(d, operator)
		return n.draftView(d)
	}
	// Released: the message, with every release, goes out now.
	m.Releases = d.Releases
	if err := m.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	d.State = hotline.DraftReleased
	d.History = append(d.History, hotline.DraftEvent{Time: now, Operator: operator, Action: "sent"})
	wr := n.submit(ctx, &writeReq{local: &localWrite{
		channel: d.Channel, kind: entry.KindMessage, operator: d.Drafter, body: m, draft: d,
		check: func(b *batch, ch *hotline.Channel) error {
			if err := activeOnly(b, ch); err != nil {
				return err
			}
			if err := asOperatorError(n.checkMessage(ch, b.now, m)); err != nil {
				return err
			}
			return b.publishRoster(ctx, ch)
		},
	}})
	if wr.err != nil {
		return nil, fmt.Errorf("%w (nothing was sent, and your release was not recorded: release it again)", wr.err)
	}
	d.Entry = wr.entry.ID()
	n.draftEvent(d, operator)
	n.log.Info("draft released and sent", "draft", d.ID, "entry", wr.entry.ID(), "drafter", d.Drafter, "releasers", len(d.Releases))
	return n.draftView(d)
}

// draftEvent tells operators' views that a draft changed.
func (n *Node) draftEvent(d *hotline.Draft, by string) {
	n.events.publish(Event{Type: EventDraft, Channel: d.Channel, Operator: by, Detail: "draft " + d.ID + " " + d.State})
}

// registeredKey checks that k is one of operator's personal keys, not
// removed.
func (n *Node) registeredKey(ctx context.Context, operator string, k *entry.PersonalKey) error {
	op, err := n.store.Operator(ctx, operator)
	if err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND {
		return err
	}
	for _, ok := range op.Keys {
		if ok.Key.Equal(k) && ok.Removed.IsZero() {
			return nil
		}
	}
	return hotline.Errorf(hotline.EINVALID, "the key is not one of %s's registered personal keys (hotline operator key add, or a passkey registered in the console)", operator)
}

// ReturnDraft sends draft id back to its drafter with a comment; it is
// not sent. An operator other than the drafter returns it.
func (n *Node) ReturnDraft(ctx context.Context, operator, id, comment string) (*DraftView, error) {
	if strings.TrimSpace(comment) == "" || len(comment) > entry.MaxTextBytes {
		return nil, hotline.Errorf(hotline.EINVALID, "say why the draft goes back: a comment of 1 to %d bytes", entry.MaxTextBytes)
	}
	return n.closeDraft(ctx, operator, id, hotline.DraftReturned, comment, func(d *hotline.Draft) error {
		if operator == d.Drafter {
			return hotline.Errorf(hotline.EINVALID, "the drafter withdraws a draft rather than return it")
		}
		return nil
	})
}

// WithdrawDraft withdraws draft id; only its drafter may.
func (n *Node) WithdrawDraft(ctx context.Context, operator, id string) (*DraftView, error) {
	return n.closeDraft(ctx, operator, id, hotline.DraftWithdrawn, "", func(d *hotline.Draft) error {
		if operator != d.Drafter {
			return hotline.Errorf(hotline.EINVALID, "only the drafter, %s, withdraws a draft; return it with a comment instead", d.Drafter)
		}
		return nil
	})
}

func (n *Node) closeDraft(ctx context.Context, operator, id, state, comment string, allowed func(*hotline.Draft) error) (*DraftView, error) {
	n.draftMu.Lock()
	defer n.draftMu.Unlock()
	d, err := n.awaiting(ctx, id)
	if err != nil {
		return nil, err
	}
	if err := allowed(d); err != nil {
		return nil, err
	}
	now := n.now()
	d.State, d.Updated = state, now
	d.History = append(d.History, hotline.DraftEvent{Time: now, Operator: operator, Action: state, Comment: comment})
	if err := n.store.PutDraft(ctx, *d); err != nil {
		return nil, err
	}
	n.log.Info("draft "+state, "draft", d.ID, "by", operator)
	n.draftEvent(d, operator)
	return n.draftView(d)
}

// publishRoster appends this party's roster to ch first, in the batch,
// unless its newest roster there is the roster as it stands (every
// operator's keys and role, removed keys with their end).
func (b *batch) publishRoster(ctx context.Context, ch *hotline.Channel) error {
	n := b.n
	cur, err := b.roster(ctx, ch, n.self)
	if err != nil {
		return err
	}
	ops, err := n.store.Operators(ctx)
	if err != nil {
		return err
	}
	r := &entry.Roster{Keys: []entry.RosterKey{}}
	for _, op := range ops {
		for _, k := range op.Keys {
			rk := entry.RosterKey{Operator: op.Name, Role: op.Role, Key: k.Key, From: k.Added.UnixMilli()}
			if !k.Removed.IsZero() {
				rk.Until = k.Removed.UnixMilli()
			}
			r.Keys = append(r.Keys, rk)
		}
	}
	entry.SortRoster(r.Keys)
	if err := r.Check(); err != nil {
		return err
	}
	if cur != nil {
		a, _ := entry.EncodeBody(cur)
		c, _ := entry.EncodeBody(r)
		if bytes.Equal(a, c) {
			return nil
		}
	}
	_, err = b.appendLocal(&localWrite{channel: ch.ID, kind: entry.KindRoster, body: r})
	return err
}

// roster returns party's newest roster in ch, in this batch or stored;
// nil if it published none.
func (b *batch) roster(ctx context.Context, ch *hotline.Channel, party string) (*entry.Roster, error) {
	for i := len(b.writes) - 1; i >= 0; i-- {
		if e := b.writes[i].Entry; e != nil && e.Channel == ch.ID && e.Author == party && e.Kind == entry.KindRoster {
			body, err := entry.DecodeBody(e)
			if err != nil {
				return nil, err
			}
			return body.(*entry.Roster), nil
		}
	}
	st, err := b.n.store.Latest(ctx, hotline.Feed{Channel: ch.ID, Party: party}, entry.KindRoster)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	body, err := entry.DecodeBody(st.Entry)
	if err != nil {
		return nil, err
	}
	return body.(*entry.Roster), nil
}

// checkReleases checks a message's personal signatures against its
// author's roster in ch, and the channel's release rule.
func (b *batch) checkReleases(ctx context.Context, ch *hotline.Channel, e *entry.Entry, m *entry.Message) error {
	required := ch.Definition.Policy.ReleasersFor(m.Precedence)
	if len(m.Releases) == 0 && required == 0 {
		return nil
	}
	roster, err := b.roster(ctx, ch, e.Author)
	if err != nil {
		return err
	}
	if _, err := release.Check(ch.ID, m, e.Operator, roster, e.AuthorTime(), required); err != nil {
		return reject("release", "entry %s/%d: %v", e.Author, e.Seq, err)
	}
	return nil
}

// checkRoster checks a roster's keys parse.
func checkRoster(r *entry.Roster) error {
	for i := range r.Keys {
		if err := release.CheckKey(&r.Keys[i].Key); err != nil {
			return reject("invalid", "roster key of %s: %v", r.Keys[i].Operator, err)
		}
	}
	return nil
}
