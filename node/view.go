package node

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/phrase"
	"github.com/hotline-project/hotline/release"
)

// MarkView is one read or acknowledgement of a message.
type MarkView struct {
	Party    string    `json:"party"`
	Operator string    `json:"operator"`
	Time     time.Time `json:"time"`
	Reply    string    `json:"reply,omitempty"`
}

// RefView is a reference to another entry.
type RefView struct {
	Party string `json:"party"`
	Seq   uint64 `json:"seq"`
	ID    string `json:"id"`
}

// MessageState is a message's delivery, read and acknowledgement state.
type MessageState struct {
	AckWithinSeconds *float64             `json:"ack_within_seconds,omitempty"`
	Delivered        *time.Time           `json:"delivered"` // when the last receiving member signed its receipt, by its clock; null until all have
	DeliveredTo      map[string]time.Time `json:"delivered_to"`
	// DeliverySeen is when this node held every member's receipt, by its
	// own clock. The deadline counts from here, so it never depends on
	// another party's clock being right.
	DeliverySeen *time.Time `json:"delivery_seen,omitempty"`
	Pending      []string   `json:"pending,omitempty"` // members that have not receipted it yet
	Deadline     *time.Time `json:"deadline,omitempty"`
	Read         bool       `json:"read"`
	ReadBy       []MarkView `json:"read_by,omitempty"`
	Acked        bool       `json:"acked"` // every other member has acknowledged
	AckedBy      []MarkView `json:"acked_by,omitempty"`
	Overdue      bool       `json:"overdue"`
}

// EntryView is an entry with the state derived from the signed log. Every
// state field is backed by a signed entry: delivered by the receiving
// party's receipt, read and acked by its read and ack entries.
type EntryView struct {
	ID      string `json:"id"`
	Channel string `json:"channel"`
	// Cursor is the entry's position in channel order, for asking for
	// the entries after or before it.
	Cursor string `json:"cursor"`
	// Stored is the entry's place in this node's storage order, for
	// following a live log (see hotline.PageQuery.StoredAfter).
	Stored   int64      `json:"stored"`
	Author   string     `json:"author"`
	Operator string     `json:"operator,omitempty"`
	Seq      uint64     `json:"seq"`
	Kind     entry.Kind `json:"kind"`
	Time     time.Time  `json:"time"`     // author's clock
	Received time.Time  `json:"received"` // this node's clock, when it stored the entry
	// FutureDated is set when the entry is dated later than it arrived
	// here by more than the node's clock.tolerance_ahead; PastDated when
	// it is dated earlier than it arrived by more than
	// clock.tolerance_behind (backdated, or held up on the way). Author
	// times are shown, never trusted: deadlines and notice lead times
	// count from this node's receipt time.
	FutureDated bool `json:"future_dated,omitempty"`
	PastDated   bool `json:"past_dated,omitempty"`
	// Disputed says why the entry is not to be trusted: its author
	// revoked the key that signed it, from a point before it.
	Disputed string `json:"disputed,omitempty"`
	// Releases are the personal signatures a message carries, each
	// checked against its party's roster when the node stored it: who
	// released it, and with which key.
	Releases []ReleaseView `json:"releases,omitempty"`
	// Cosigned is set when the entry is covered by a checkpoint of its
	// feed that its author signed and every other member cosigned: from
	// then on it cannot be rewritten without the rewrite being provable.
	Cosigned bool      `json:"cosigned"`
	Text     string    `json:"text"`
	Lang     string    `json:"lang,omitempty"`
	Refs     []RefView `json:"refs,omitempty"`
	// Precedence of a message: flash, immediate, priority or routine.
	Precedence string `json:"precedence,omitempty"`

	// Messages only: nil for other kinds, so these fields appear only on
	// messages (with delivered null until delivered).
	*MessageState

	// Receipts, reads and acks.
	Holds  []RefView `json:"holds,omitempty"`
	Target *RefView  `json:"target,omitempty"`
	// From is set on a cumulative read: it marks every message of the
	// target's feed from this seq up to the target.
	From uint64 `json:"from,omitempty"`

	// Phrase messages: the phrase, with Text rendered in the reader's
	// language from the same signed values.
	Phrase *PhraseView `json:"phrase,omitempty"`
	// Messages: the translations beside the original, the author's
	// unofficial ones first, then later ones in the order written.
	Translations []TranslationView `json:"translations,omitempty"`
	// Translation entries: the message translated.
	Of *RefView `json:"of,omitempty"`

	// Channel configuration entries: the proposal or the acceptance.
	Config *ConfigView `json:"config,omitempty"`

	// Call, escalation and directory entries.
	Call         *CallEntryView      `json:"call,omitempty"`
	Escalation   *EscalationView     `json:"escalation,omitempty"`
	Counterparts []entry.Counterpart `json:"counterparts,omitempty"`
}

// PhraseView is a standard phrase as the reader sees it.
type PhraseView struct {
	Catalog string            `json:"catalog"` // hash, hex
	Code    string            `json:"code"`
	Title   string            `json:"title"`
	Fields  []PhraseFieldView `json:"fields"`
	// Original is the text as signed, in the author's language.
	Original     string `json:"original"`
	OriginalLang string `json:"original_lang"`
	// ShortNotice is set on a notice (a launch notice, say) that reached
	// this node less than the channel's agreed lead time before the time
	// it gives notice of: the lead time counts from this node's receipt,
	// whatever the author's clock says.
	ShortNotice *ShortNotice `json:"short_notice,omitempty"`
}

// ShortNotice is how much notice a phrase really gave, counted from its
// arrival at this node, against the lead time the channel agreed.
type ShortNotice struct {
	Field         string  `json:"field"`          // the time field given notice of
	LeadSeconds   float64 `json:"lead_seconds"`   // from receipt here to that time (negative: it had passed)
	AgreedSeconds float64 `json:"agreed_seconds"` // the channel's notice lead time
}

// PhraseFieldView is one field value of a phrase.
type PhraseFieldView struct {
	Name  string `json:"name"`
	Label string `json:"label"`
	Value string `json:"value"` // canonical, as signed
}

// TranslationView is a translation of a message. Stage "author" is the
// author's own unofficial translation, carried in the message itself.
type TranslationView struct {
	Lang       string    `json:"lang"`
	Text       string    `json:"text"`
	Stage      string    `json:"stage"`
	Translator string    `json:"translator,omitempty"`
	Party      string    `json:"party"`
	Operator   string    `json:"operator,omitempty"`
	Time       time.Time `json:"time"`
	ID         string    `json:"id,omitempty"` // the translation entry
}

// StageAuthor marks the author's own unofficial translation.
const StageAuthor = "author"

// CallEntryView is the content of a call entry.
type CallEntryView struct {
	Action       string              `json:"action"`
	Re           *RefView            `json:"re,omitempty"`
	Purpose      string              `json:"purpose,omitempty"`
	Times        []time.Time         `json:"times,omitempty"`
	Minutes      int                 `json:"minutes,omitempty"`
	Participants []entry.Participant `json:"participants,omitempty"`
	Level        string              `json:"level,omitempty"`
	Reason       string              `json:"reason,omitempty"`
	Draft        *RefView            `json:"draft,omitempty"`
	Signed       []string            `json:"signed,omitempty"` // joint readouts: the parties whose signatures it carries
	Text         string              `json:"text,omitempty"`   // readouts
	Held         *HeldRecordView     `json:"held,omitempty"`   // held records and their co-signatures
	Record       *RefView            `json:"record,omitempty"` // readouts: the held record of the call
}

// ConfigView is the content of a channel configuration entry: a proposal
// names the channel, its level and members; an acceptance names the
// party whose proposal it accepts.
type ConfigView struct {
	Action   string   `json:"action"` // "propose" or "accept"
	Name     string   `json:"name,omitempty"`
	Level    string   `json:"level,omitempty"`
	Members  []string `json:"members,omitempty"`
	Proposer string   `json:"proposer,omitempty"`
}

// EscalationView is the content of an escalation entry.
type EscalationView struct {
	Source   string    `json:"source"` // channel id
	Entry    RefView   `json:"entry"`
	Deadline time.Time `json:"deadline"`
	Text     string    `json:"text"`
}

// Unread counts the messages of a channel from other parties that nobody
// at this party has read or acknowledged yet.
func (n *Node) Unread(ctx context.Context, ref string) (int, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return 0, err
	}
	return n.store.Unread(ctx, ch.ID, n.Self())
}

// Page limits: a page of a channel's log holds DefaultPageLimit entries
// unless asked for fewer or more, and never more than MaxPageLimit.
const (
	DefaultPageLimit = 100
	MaxPageLimit     = 1000
)

// LogPage is a page of a channel's log in channel order.
type LogPage struct {
	Entries []EntryView
	// Earlier and Later report whether the channel holds entries before
	// the first and after the last of Entries.
	Earlier, Later bool
	// Prev and Next are the cursors of the first and last entries: the
	// page before is the one Before Prev, the page after the one After
	// Next. For an empty page read after a cursor, Next is that cursor.
	// A page read by storage order (StoredAfter) has neither.
	Prev, Next string
	// Stored is the newest point of the channel's storage order when the
	// page was read: a reader following the log asks for what was stored
	// after it (or after the last entry's Stored, while Later is set).
	Stored int64
}

// Log returns a page of a channel's log with each entry's state; phrases
// are rendered in lang, or the channel's language if lang is "" or not in
// the catalog. A limit of 0 means DefaultPageLimit; more than
// MaxPageLimit is an error.
//
// Channel order (see hotline.Position) is a deterministic causal order:
// two nodes holding the same entries show them in the same order,
// whatever order they arrived in; no timestamp is used. A page costs what
// it shows, whatever the channel holds.
func (n *Node) Log(ctx context.Context, ref, lang string, q hotline.PageQuery) (*hotline.Channel, *LogPage, error) {
	if q.Limit == 0 {
		q.Limit = DefaultPageLimit
	}
	if q.Limit < 0 || q.Limit > MaxPageLimit {
		return nil, nil, hotline.Errorf(hotline.EINVALID, "a page holds 1 to %d entries, not %d", MaxPageLimit, q.Limit)
	}
	if (q.After != nil && q.Before != nil) || (q.StoredAfter != nil && (q.After != nil || q.Before != nil)) {
		return nil, nil, hotline.Errorf(hotline.EINVALID, "ask for the entries after a cursor, before one, or stored after a point, not several")
	}
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return nil, nil, err
	}
	p, err := n.store.Page(ctx, ch.ID, q)
	if err != nil {
		return nil, nil, err
	}
	views, err := n.pageViews(ctx, ch, p, lang)
	if err != nil {
		return nil, nil, err
	}
	out := &LogPage{Entries: views, Earlier: p.Earlier, Later: p.Later, Stored: p.Stored}
	switch {
	case q.StoredAfter != nil:
	case len(p.Entries) > 0:
		out.Prev, out.Next = p.Entries[0].Position().String(), p.Entries[len(p.Entries)-1].Position().String()
	case q.After != nil:
		out.Next = q.After.String()
	}
	return ch, out, nil
}

// Cursor returns the cursor of one entry of a channel, named by its id or
// a unique prefix of it.
func (n *Node) Cursor(ctx context.Context, ref, target string) (string, error) {
	_, st, err := n.resolveEntry(ctx, ref, target)
	if err != nil {
		return "", err
	}
	return st.Position().String(), nil
}

// FirstUnread returns the cursor of the first message of a channel that
// nobody at this party has read or acknowledged, or "" if there is none.
func (n *Node) FirstUnread(ctx context.Context, ref string) (string, error) {
	ch, err := n.ResolveChannel(ref)
	if err != nil {
		return "", err
	}
	pos, ok, err := n.store.FirstUnread(ctx, ch.ID, n.Self())
	if err != nil || !ok {
		return "", err
	}
	return pos.String(), nil
}

// pageViews builds the views of a page of a channel's log.
func (n *Node) pageViews(ctx context.Context, ch *hotline.Channel, p *hotline.Page, lang string) ([]EntryView, error) {
	receipts := indexReceipts(p.Receipts)
	marks := make(map[entry.ID][]hotline.MarkRow)
	for _, m := range p.Marks {
		marks[m.Target.ID] = append(marks[m.Target.ID], m)
	}
	now := n.now()
	rd := &reader{lang: lang, translations: make(map[entry.ID][]TranslationView), noticeLead: ch.Definition.Policy.NoticeLeadTime()}
	rosters := map[string]*entry.Roster{}
	rd.roster = func(party string) *entry.Roster {
		if r, ok := rosters[party]; ok {
			return r
		}
		var r *entry.Roster
		if st, err := n.store.Latest(ctx, hotline.Feed{Channel: ch.ID, Party: party}, entry.KindRoster); err == nil {
			if body, err := entry.DecodeBody(st.Entry); err == nil {
				r = body.(*entry.Roster)
			}
		}
		rosters[party] = r
		return r
	}
	if ch.Definition.Catalog != nil {
		rd.catalog, _ = n.catalogs.Get(*ch.Definition.Catalog)
	}
	if rd.catalog == nil || rd.catalog.Languages[lang] == nil {
		rd.lang = ChannelLang(ch)
	}
	slices.SortFunc(p.Translations, func(a, b *hotline.Stored) int { return cmpPosition(a.Position(), b.Position()) })
	for _, st := range p.Translations {
		if st.Body == nil {
			continue
		}
		body, err := entry.DecodeBody(st.Entry)
		if err != nil {
			return nil, fmt.Errorf("stored entry %s: %w", st.ID(), err)
		}
		t := body.(*entry.Translation)
		rd.translations[t.Of.ID] = append(rd.translations[t.Of.ID], TranslationView{Lang: t.Lang, Text: t.Text, Stage: t.Stage,
			Translator: t.Translator, Party: st.Author, Operator: st.Operator, Time: st.AuthorTime(), ID: st.ID().String()})
	}
	cosigned, err := n.cosignedSizes(ctx, ch)
	if err != nil {
		return nil, err
	}
	views := make([]EntryView, 0, len(p.Entries))
	for _, st := range p.Entries {
		v, err := n.view(ch, st, receipts, marks, now, rd)
		if err != nil {
			return nil, err
		}
		v.Cosigned = int64(st.Seq) <= cosigned[st.Author]
		views = append(views, v)
	}
	return views, nil
}

func cmpPosition(a, b hotline.Position) int {
	switch {
	case a.Less(b):
		return -1
	case b.Less(a):
		return 1
	}
	return 0
}

// receiptIndex holds, per receiver and feed, the cumulative receipts in
// the receiver's feed order (and so in increasing seq held).
type receiptIndex map[[2]string][]hotline.ReceiptRow

func indexReceipts(rows []hotline.ReceiptRow) receiptIndex {
	idx := make(receiptIndex)
	for _, r := range rows {
		k := [2]string{r.Receiver, r.Party}
		idx[k] = append(idx[k], r)
	}
	return idx
}

// deliveredAt returns the first receipt by receiver covering party's
// entry seq.
func (idx receiptIndex) deliveredAt(receiver, party string, seq uint64) (hotline.ReceiptRow, bool) {
	rows := idx[[2]string{receiver, party}]
	i := sort.Search(len(rows), func(i int) bool { return rows[i].Seq >= seq })
	if i == len(rows) {
		return hotline.ReceiptRow{}, false
	}
	return rows[i], true
}

// Default clock tolerances: how far an entry's time may be ahead of, or
// behind, its arrival at this node before it is flagged.
const (
	DefaultClockAhead  = 5 * time.Minute
	DefaultClockBehind = time.Hour
)

// ReleaseView is an operator's personal signature on a message.
type ReleaseView struct {
	Operator string `json:"operator"`
	Role     string `json:"role,omitempty"` // as the author's roster in the channel says
	Key      string `json:"key"`            // release.KeyID: its type and a hash
}

func refView(r entry.Ref) RefView { return RefView{Party: r.Party, Seq: r.Seq, ID: r.ID.String()} }

// reader is who a log is shown to: the language phrases are rendered in,
// with the channel's catalog, and the translations of each message.
type reader struct {
	lang         string
	catalog      *phrase.Catalog
	translations map[entry.ID][]TranslationView
	noticeLead   time.Duration // the channel's agreed notice lead time
	// roster returns a party's newest roster in the channel (nil: none),
	// read once per page; nil where views are built one at a time.
	roster func(party string) *entry.Roster
}

func (n *Node) view(ch *hotline.Channel, st *hotline.Stored, receipts receiptIndex, marks map[entry.ID][]hotline.MarkRow, now time.Time, rd *reader) (EntryView, error) {
	v := EntryView{ID: st.ID().String(), Channel: ch.ID.String(), Cursor: st.Position().String(), Stored: st.Local, Author: st.Author, Operator: st.Operator,
		Seq: st.Seq, Kind: st.Kind, Time: st.AuthorTime(), Received: st.Received,
		FutureDated: st.AuthorTime().Sub(st.Received) > n.clockAhead,
		PastDated:   st.Received.Sub(st.AuthorTime()) > n.clockBehind,
		Disputed:    n.disputed(ch, st.Author, st.Seq)}
	for _, r := range st.Refs {
		v.Refs = append(v.Refs, refView(r))
	}
	if st.Body == nil {
		v.Text = "(body redacted)"
		return v, nil
	}
	body, err := entry.DecodeBody(st.Entry)
	if err != nil {
		return v, fmt.Errorf("stored entry %s: %w", st.ID(), err)
	}
	switch b := body.(type) {
	case *entry.Message:
		v.Text, v.Lang, v.Precedence = b.Text, b.Lang, cmp.Or(b.Precedence, entry.Routine)
		if b.Phrase != nil {
			rd.phrase(&v, b)
		}
		for _, u := range b.Unofficial {
			v.Translations = append(v.Translations, TranslationView{Lang: u.Lang, Text: u.Text, Stage: StageAuthor, Party: st.Author, Operator: st.Operator, Time: st.AuthorTime()})
		}
		v.Translations = append(v.Translations, rd.translations[st.ID()]...)
		for _, r := range b.Releases {
			rv := ReleaseView{Operator: r.Operator, Key: release.KeyID(&r.Key)}
			if rd != nil && rd.roster != nil {
				if rk, ok := rd.roster(st.Author).Lookup(r.Operator, &r.Key); ok {
					rv.Role = rk.Role
				}
			}
			v.Releases = append(v.Releases, rv)
		}
		n.messageState(ch, st, b, &v, receipts, marks[st.ID()], now)
	case *entry.Translation:
		of := refView(b.Of)
		v.Of, v.Lang = &of, b.Lang
		v.Text = fmt.Sprintf("%s translation (%s) by %s of %s/%d: %s", b.Stage, b.Lang, b.Translator, b.Of.Party, b.Of.Seq, b.Text)
	case *entry.Receipt:
		var parts []string
		for _, h := range b.Holds {
			v.Holds = append(v.Holds, refView(h))
			parts = append(parts, fmt.Sprintf("%s up to %d", h.Party, h.Seq))
		}
		v.Text = "holds " + strings.Join(parts, ", ")
	case *entry.Mark:
		t := refView(b.Target)
		v.Target = &t
		verb := map[entry.Kind]string{entry.KindRead: "read", entry.KindAck: "acknowledged"}[st.Kind]
		v.Text = fmt.Sprintf("%s %s/%d", verb, b.Target.Party, b.Target.Seq)
		if b.From != 0 {
			v.From = b.From
			v.Text = fmt.Sprintf("%s %s/%d to %d", verb, b.Target.Party, b.From, b.Target.Seq)
		}
		if b.Reply != "" {
			v.Text += ": " + b.Reply
		}
	case *entry.Call:
		v.Call = callEntryView(b)
		v.Text, v.Lang = callText(st.Author, b), b.Lang
	case *entry.Escalation:
		v.Escalation = &EscalationView{Source: b.Source.String(), Entry: refView(b.Entry), Deadline: time.UnixMilli(b.Deadline).UTC(), Text: b.Text}
		v.Text = "escalates: " + b.Text
	case *entry.Directory:
		v.Counterparts = b.Counterparts
		var roles []string
		for _, c := range b.Counterparts {
			roles = append(roles, fmt.Sprintf("%s (%s, %s)", c.Role, c.Name, c.Level))
		}
		v.Text = "publishes its counterparts: " + strings.Join(roles, "; ")
	case *entry.KeyChange:
		v.Text = fmt.Sprintf("changes its key: its later entries are signed by %s (TLS key %s)", b.Key, b.TLS)
	case *entry.Roster:
		var who []string
		for _, k := range b.Keys {
			w := k.Operator
			if k.Role != "" {
				w += " (" + k.Role + ")"
			}
			if k.Until != 0 {
				w += " until " + time.UnixMilli(k.Until).UTC().Format(time.RFC3339)
			}
			if !slices.Contains(who, w) {
				who = append(who, w)
			}
		}
		v.Text = "publishes the personal keys its operators release messages with: " + strings.Join(who, "; ")
	case *entry.Config:
		v.Config = &ConfigView{Action: string(b.Action)}
		if b.Action == entry.ActionPropose {
			v.Config.Name, v.Config.Level = b.Definition.Name, b.Definition.Level
			for _, m := range b.Definition.Members {
				v.Config.Members = append(v.Config.Members, m.Party)
			}
			v.Text = fmt.Sprintf("proposes %s channel %s with %s", b.Definition.Level, b.Definition.Name, strings.Join(v.Config.Members, ", "))
		} else {
			v.Config.Proposer = b.Proposal.Party
			v.Text = fmt.Sprintf("accepts the channel proposed by %s", b.Proposal.Party)
		}
	}
	return v, nil
}

// phrase renders a phrase message for the reader. Without the catalog
// (it cannot happen for a channel this node accepted) the author's text
// stands.
func (rd *reader) phrase(v *EntryView, m *entry.Message) {
	p := m.Phrase
	pv := &PhraseView{Catalog: hex.EncodeToString(p.Catalog[:]), Code: p.Code, Original: m.Text, OriginalLang: m.Lang}
	v.Phrase = pv
	for _, f := range p.Fields {
		pv.Fields = append(pv.Fields, PhraseFieldView{Name: f.Name, Label: f.Name, Value: f.Value})
	}
	if rd.catalog == nil || rd.catalog.Hash() != p.Catalog {
		return
	}
	tpl, ok := rd.catalog.Template(p.Code)
	if !ok {
		return
	}
	pv.Title = phrase.Label(tpl.Title, rd.lang)
	if tpl.Notice != "" && rd.noticeLead > 0 {
		for _, f := range p.Fields {
			at, err := time.Parse(time.RFC3339, f.Value)
			if f.Name != tpl.Notice || err != nil {
				continue
			}
			if lead := at.Sub(v.Received); lead < rd.noticeLead {
				pv.ShortNotice = &ShortNotice{Field: f.Name, LeadSeconds: lead.Seconds(), AgreedSeconds: rd.noticeLead.Seconds()}
			}
		}
	}
	for i := range pv.Fields {
		if f, ok := tpl.Field(pv.Fields[i].Name); ok {
			pv.Fields[i].Label = phrase.Label(f.Label, rd.lang)
		}
	}
	if text, err := rd.catalog.Render(p, rd.lang); err == nil {
		v.Text, v.Lang = text, rd.lang
	}
}

// messageState fills in delivery, read, ack and deadline state. The
// deadline runs from the moment this node held the last receiving
// member's receipt, by this node's clock: a message is not overdue before
// it is delivered, and a peer's clock cannot move the deadline.
func (n *Node) messageState(ch *hotline.Channel, st *hotline.Stored, m *entry.Message, ev *EntryView, receipts receiptIndex, ms []hotline.MarkRow, now time.Time) {
	v := &MessageState{}
	ev.MessageState = v
	v.DeliveredTo = make(map[string]time.Time)
	var last, seen time.Time
	allDelivered := true
	for _, mem := range ch.Definition.Members {
		if mem.Party == st.Author {
			continue
		}
		r, ok := receipts.deliveredAt(mem.Party, st.Author, st.Seq)
		if !ok {
			allDelivered = false
			v.Pending = append(v.Pending, mem.Party)
			continue
		}
		v.DeliveredTo[mem.Party] = r.Time
		if r.Time.After(last) {
			last = r.Time
		}
		if r.Held.After(seen) {
			seen = r.Held
		}
	}
	if allDelivered {
		v.Delivered, v.DeliverySeen = &last, &seen
	}
	ackers := make(map[string]bool)
	for _, mk := range ms {
		if mk.Kind != entry.KindRead && mk.Kind != entry.KindAck {
			continue
		}
		mv := MarkView{Party: mk.Party, Operator: mk.Operator, Time: mk.Time, Reply: mk.Reply}
		if mk.Kind == entry.KindAck {
			v.AckedBy = append(v.AckedBy, mv)
			ackers[mk.Party] = true
		} else {
			v.ReadBy = append(v.ReadBy, mv)
		}
	}
	v.Read = len(v.ReadBy) > 0 || len(v.AckedBy) > 0
	v.Acked = len(ackers) == len(ch.Definition.Members)-1
	if m.AckWithin > 0 {
		secs := float64(m.AckWithin) / 1000
		v.AckWithinSeconds = &secs
		if v.DeliverySeen != nil {
			dl := v.DeliverySeen.Add(time.Duration(m.AckWithin) * time.Millisecond)
			v.Deadline = &dl
			v.Overdue = !v.Acked && now.After(dl)
		}
	}
}

func callEntryView(c *entry.Call) *CallEntryView {
	v := &CallEntryView{Action: c.Action, Purpose: c.Purpose, Minutes: int(c.Minutes), Participants: c.Participants, Level: c.Level, Reason: c.Reason, Text: c.Text}
	if c.Re != nil {
		r := refView(*c.Re)
		v.Re = &r
	}
	if c.Draft != nil {
		r := refView(*c.Draft)
		v.Draft = &r
	}
	for _, t := range c.Times {
		v.Times = append(v.Times, time.UnixMilli(t).UTC())
	}
	for _, s := range c.Sigs {
		v.Signed = append(v.Signed, s.Party)
	}
	if c.Held != nil {
		v.Held = heldRecordView(c.Held)
	}
	if c.Record != nil {
		r := refView(*c.Record)
		v.Record = &r
	}
	return v
}

// callText is the one-line text of a call entry in a channel log.
func callText(author string, c *entry.Call) string {
	var times []string
	for _, t := range c.Times {
		times = append(times, time.UnixMilli(t).UTC().Format("2006-01-02 15:04Z"))
	}
	re := ""
	if c.Re != nil {
		re = fmt.Sprintf("%s/%d", c.Re.Party, c.Re.Seq)
	}
	switch c.Action {
	case entry.CallPropose:
		s := fmt.Sprintf("requests a %s-level call (%d min) at %s: %s", c.Level, c.Minutes, strings.Join(times, " or "), c.Purpose)
		if c.Re != nil {
			s = "counter-proposes to " + re + ": " + s
		}
		return s
	case entry.CallAccept:
		return fmt.Sprintf("accepts call %s at %s", re, times[0])
	case entry.CallDecline:
		return fmt.Sprintf("declines call %s: %s", re, c.Reason)
	case entry.CallLapse:
		return fmt.Sprintf("records call request %s as unanswered", re)
	case entry.CallReadout:
		if c.Joint() {
			return fmt.Sprintf("proposes a joint readout of call %s: %s", re, c.Text)
		}
		return fmt.Sprintf("readout of call %s: %s", re, c.Text)
	case entry.CallCosign:
		var signed []string
		for _, s := range c.Sigs {
			signed = append(signed, s.Party)
		}
		return fmt.Sprintf("co-signs the joint readout of call %s (signed by %s): %s", re, strings.Join(signed, ", "), c.Text)
	case entry.CallHeld:
		var on []string
		for _, s := range c.Held.Sections {
			on = append(on, fmt.Sprintf("%s (%d joined)", s.Party, len(s.Attendance)))
		}
		span := fmt.Sprintf("%s to %s", time.UnixMilli(c.Held.Start).UTC().Format("2006-01-02 15:04:05Z"), time.UnixMilli(c.Held.End).UTC().Format("15:04:05Z"))
		if c.Draft != nil {
			var signed []string
			for _, s := range c.Sigs {
				signed = append(signed, s.Party)
			}
			return fmt.Sprintf("co-signs the record of call %s, held %s (signed by %s)", re, span, strings.Join(signed, ", "))
		}
		return fmt.Sprintf("records call %s as held %s: %s", re, span, strings.Join(on, ", "))
	}
	return c.Action
}
