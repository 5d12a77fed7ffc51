package node

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/escalation"
)

// The deadline watcher follows every entry with a deadline this node
// holds (a message asking for an acknowledgement, a call request) until it
// is answered. When a deadline passes it announces the entry overdue; for
// this party's own entries it records an unanswered call request with a
// signed lapse entry and runs the escalation ladder; for the other
// parties' entries it runs the reminder ladder for this party's operators.
//
// What is durable: the watched entries (written with the entry itself) and
// every ladder step that ran (recorded once it completed). A node that
// restarts resumes each ladder from its first unrecorded step, so a step
// that completed is never repeated and a step that fell due while the node
// was down runs at once. A step that was in flight when the node died runs
// again: webhook calls and e-mails carry the same delivery id each time so
// a receiver can drop the repeat, and escalation entries are recognised
// in the store and not written twice.

// Item is the deadline state of one watched entry, as derived from the
// signed log and this node's clock.
type Item struct {
	Channel      string     `json:"channel"`
	ChannelName  string     `json:"channel_name"`
	Level        string     `json:"level"`
	Entry        string     `json:"entry"`
	Author       string     `json:"author"`
	Operator     string     `json:"operator,omitempty"`
	Seq          uint64     `json:"seq"`
	Kind         entry.Kind `json:"kind"`
	Text         string     `json:"text"`                 // message text or call purpose
	Precedence   string     `json:"precedence,omitempty"` // a message's: flash, immediate, priority or routine
	Role         string     `json:"role"`                 // "sent": this party waits; "received": this party owes the answer
	Pending      []string   `json:"pending"`              // parties that owe an answer
	DeliverySeen *time.Time `json:"delivery_seen"`        // when this node held every receipt; the deadline counts from here
	Deadline     *time.Time `json:"deadline"`             // null until delivered
	Overdue      bool       `json:"overdue"`
	Lapsed       bool       `json:"lapsed,omitempty"` // call requests: recorded as unanswered
	Steps        []StepView `json:"steps,omitempty"`  // ladder steps that ran

	answered bool
	msg      *entry.Message // a message's body, for TextIn
	ch       *hotline.Channel
	st       *hotline.Stored
	done     map[int]bool
}

// StepView is a ladder step that ran.
type StepView struct {
	Ladder string    `json:"ladder"`
	Step   int       `json:"step"` // from 1
	Time   time.Time `json:"time"`
	Detail string    `json:"detail"`
}

// wakeDeadlines tells the deadline watcher to look again.
func (n *Node) wakeDeadlines() {
	select {
	case n.dlWake <- struct{}{}:
	default:
	}
}

// Pending returns every watched entry still unanswered, by precedence
// (FLASH first), then soonest deadline first (entries not yet delivered,
// so without a deadline, last); see
// PendingList for a page of them.
func (n *Node) Pending(ctx context.Context) ([]Item, error) {
	l, err := n.PendingList(ctx, PendingQuery{})
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// TextIn returns an item's text for a reader of lang: a standard phrase
// rendered from its signed values in lang when the channel's catalog has
// that language, else the text as signed.
func (n *Node) TextIn(it *Item, lang string) string {
	if it.msg == nil || it.msg.Phrase == nil || it.ch == nil || it.ch.Definition.Catalog == nil {
		return it.Text
	}
	cat, ok := n.catalogs.Get(*it.ch.Definition.Catalog)
	if !ok || cat.Hash() != it.msg.Phrase.Catalog || cat.Languages[lang] == nil {
		return it.Text
	}
	if text, err := cat.Render(it.msg.Phrase, lang); err == nil {
		return text
	}
	return it.Text
}

// evaluate derives a watched entry's state. It returns nil for an entry
// whose channel this node no longer knows.
func (n *Node) evaluate(ctx context.Context, w hotline.Watch, now time.Time) (*Item, error) {
	ch, ok := n.channel(w.Channel)
	if !ok {
		return nil, nil
	}
	st, err := n.store.Entry(ctx, w.Entry.ID)
	if err != nil {
		return nil, err
	}
	it := &Item{Channel: ch.ID.String(), ChannelName: ch.Label, Level: ch.Definition.Level,
		Entry: st.ID().String(), Author: st.Author, Operator: st.Operator, Seq: st.Seq, Kind: st.Kind,
		Role: "received", ch: ch, st: st, done: make(map[int]bool)}
	if st.Author == n.self {
		it.Role = "sent"
	}
	if st.Body == nil {
		it.answered = true // redacted: nothing left to answer
		return it, nil
	}
	body, err := entry.DecodeBody(st.Entry)
	if err != nil {
		return nil, fmt.Errorf("watched entry %s: %w", st.ID(), err)
	}
	ans, err := n.store.Answers(ctx, ch.ID, st.Ref())
	if err != nil {
		return nil, err
	}
	var within time.Duration
	answeredBy := make(map[string]bool)
	switch b := body.(type) {
	case *entry.Message:
		it.Text, it.msg, it.Precedence = b.Text, b, cmp.Or(b.Precedence, entry.Routine)
		within = time.Duration(b.AckWithin) * time.Millisecond
		for _, m := range ans.Marks {
			if m.Kind == entry.KindAck {
				answeredBy[m.Party] = true
			}
		}
	case *entry.Call:
		it.Text = b.Purpose
		within = ch.Definition.Policy.CallReplyWithin()
		for _, m := range ans.Marks {
			if m.Kind != entry.KindCall {
				continue
			}
			switch m.Action {
			case entry.CallAccept, entry.CallDecline, entry.CallPropose:
				answeredBy[m.Party] = true
			case entry.CallLapse:
				it.Lapsed = it.Lapsed || m.Party == st.Author
			}
		}
	default:
		it.answered = true
		return it, nil
	}
	for _, m := range ch.Definition.Members {
		if m.Party != st.Author && !answeredBy[m.Party] && (it.Role == "sent" || m.Party == n.self) {
			it.Pending = append(it.Pending, m.Party)
		}
	}
	it.answered = len(it.Pending) == 0
	var seen time.Time
	held := 0
	for _, r := range ans.Receipts {
		if r.Receiver != st.Author && ch.IsMember(r.Receiver) {
			held++
			if r.Held.After(seen) {
				seen = r.Held
			}
		}
	}
	if held == len(ch.Definition.Members)-1 && within > 0 {
		dl := seen.Add(within)
		it.DeliverySeen, it.Deadline = &seen, &dl
		it.Overdue = !it.answered && now.After(dl)
	}
	steps, err := n.store.LadderSteps(ctx, st.ID())
	if err != nil {
		return nil, err
	}
	for _, s := range steps {
		it.Steps = append(it.Steps, StepView{Ladder: s.Ladder, Step: s.Step + 1, Time: s.Time, Detail: s.Detail})
		if s.Ladder == it.ladderName() {
			it.done[s.Step] = true
		}
	}
	return it, nil
}

func (it *Item) ladderName() string {
	if it.Role == "sent" {
		return escalation.EscalationLadder
	}
	return escalation.ReminderLadder
}

// ladderOf returns the ladder this node runs for an entry of ch: the
// escalation ladder for its own (sent), the reminder ladder for the
// others'.
func (n *Node) ladderOf(ch *hotline.Channel, sent bool) escalation.Ladder {
	if sent {
		return n.ladders.Escalation[ch.Level()]
	}
	return n.ladders.Reminder[ch.Level()]
}

// deadlineLoop is the deadline watcher. It looks at every open watch when
// woken by a write that may answer one, when a step finishes, and when the
// next deadline or step falls due.
func (n *Node) deadlineLoop() {
	announced := make(map[entry.ID]bool) // overdue events sent
	running := make(map[entry.ID]bool)   // a step is running
	stepDone := make(chan entry.ID)
	for {
		start := time.Now()
		next := n.lookAtDeadlines(announced, running, stepDone)
		lastLook := time.Now()
		took := lastLook.Sub(start)
		n.metrics.deadlineLook.Observe(took.Seconds())
		// A look costs what writes touched since the last (see watches);
		// a flood of writes, each waking the watcher, must not keep it
		// looking all the time: after a look, writes wait at least as
		// long as it took.
		gap := max(200*time.Millisecond, took)
		wait := time.Minute
		if !next.IsZero() {
			wait = min(wait, max(next.Sub(n.now()), 0))
		}
		t := time.NewTimer(wait)
		select {
		case <-n.ctx.Done():
			t.Stop()
			for len(running) > 0 { // let in-flight steps see the cancellation
				delete(running, <-stepDone)
			}
			return
		case <-n.dlWake:
			// Coalesce bursts of writes (a catch-up) into one look.
			if d := gap - time.Since(lastLook); d > 0 {
				select {
				case <-time.After(d):
				case <-n.ctx.Done():
				}
			}
		case id := <-stepDone:
			delete(running, id)
			n.watches.stepRan(id)
		case <-t.C:
		}
		t.Stop()
	}
}

// lookAtDeadlines brings the open watches up to date (evaluating again
// only what writes touched, see watches), closes the answered, announces
// the overdue, starts due steps, and returns when the next thing falls due
// (zero: nothing). An entry is read in full only to be announced or acted
// on.
func (n *Node) lookAtDeadlines(announced, running map[entry.ID]bool, stepDone chan<- entry.ID) time.Time {
	ctx := n.ctx
	t, cached := n.watches.take()
	now := n.now()
	all, changes, evaluated, err := n.refresh(ctx, t, cached, now)
	if err != nil {
		if ctx.Err() == nil {
			n.log.Error("deadline watcher: read watches", "err", err)
		}
		n.watches.forget()
		return now.Add(5 * time.Second)
	}
	n.watches.apply(all, changes)
	for id, st := range changes {
		if st != nil {
			continue
		}
		if err := n.store.CloseWatch(ctx, id); err != nil {
			n.log.Error("deadline watcher: close watch", "entry", id, "err", err)
		}
		delete(announced, id)
	}
	// Time alone is worked out from the states, under the watches' lock
	// and without reading the store; what must be announced or acted on
	// is listed, and done after.
	var next time.Time
	due := func(t time.Time) {
		if next.IsZero() || t.Before(next) {
			next = t
		}
	}
	type action struct {
		id       entry.ID
		st       watchState
		announce bool
		lapse    bool
		step     int // -1: none
	}
	var act []action
	overdue := map[string]int{"sent": 0, "received": 0}
	n.watches.each(func(id entry.ID, st watchState) {
		if st.deadline.IsZero() {
			return
		}
		a := action{id: id, st: st, step: -1}
		over := st.overdue(now)
		if over {
			overdue[st.role()]++
			a.announce = !announced[id]
		} else {
			due(st.deadline)
		}
		if !running[id] {
			a.lapse = st.kind == entry.KindCall && st.sent && over && !st.lapsed
			if ch, ok := n.channel(st.channel); ok {
				for i, s := range n.ladderOf(ch, st.sent) {
					if i < 64 && st.steps&(1<<i) != 0 {
						continue
					}
					if at := st.deadline.Add(s.After); at.After(now) {
						due(at)
					} else {
						a.step = i
					}
					break
				}
			}
		}
		if a.announce || a.lapse || a.step >= 0 {
			act = append(act, a)
		}
	})
	for _, a := range act {
		// The entry in full, read once for what is done with it.
		evaluated++
		it0, err := n.evaluate(ctx, a.st.watch(), now)
		if err != nil || it0 == nil || it0.answered {
			if err != nil && ctx.Err() == nil {
				n.log.Error("deadline watcher: evaluate", "entry", a.id, "err", err)
			}
			continue // answered meanwhile: the next look closes it
		}
		item := overdueAt(it0, now)
		it := &item
		if a.announce {
			announced[a.id] = true
			n.events.publish(Event{Type: EventOverdue, Channel: a.st.channel, Entry: a.id, Author: it.Author, Seq: it.Seq, Kind: it.Kind,
				Detail: fmt.Sprintf("%s %s/%d in %s is overdue: no answer from %s since %s", it.Kind, it.Author, it.Seq, it.ChannelName, strings.Join(it.Pending, ", "), it.Deadline.Format(time.RFC3339))})
		}
		if a.lapse {
			// Recorded before any step runs, so the record of an
			// unanswered request never waits on a webhook.
			if err := n.recordLapse(ctx, it); err != nil {
				n.log.Error("record unanswered call request", "entry", it.Entry, "err", err)
			}
		}
		if a.step >= 0 {
			i, s := a.step, n.ladderOf(it.ch, a.st.sent)[a.step]
			running[a.id] = true
			go func() {
				n.runStep(it, i, s)
				stepDone <- a.id
			}()
		}
	}
	n.metrics.deadlineEvaluations.Add(float64(evaluated))
	for role, c := range overdue {
		n.metrics.overdue.WithLabelValues(role).Set(float64(c))
	}
	return next
}

// recordLapse writes the signed record that this party's call request got
// no answer by its deadline.
func (n *Node) recordLapse(ctx context.Context, it *Item) error {
	re := it.st.Ref()
	r := n.submit(ctx, &writeReq{local: &localWrite{channel: it.ch.ID, kind: entry.KindCall,
		body: &entry.Call{Action: entry.CallLapse, Re: &re}}})
	return r.err
}

// runStep runs step i of it's ladder and records it. A step that fails
// for good is recorded as failed, with an alarm, and the ladder goes on:
// a broken webhook must not hold back the e-mail after it.
func (n *Node) runStep(it *Item, i int, s escalation.Step) {
	ctx := n.ctx
	ladder := it.ladderName()
	detail, err := n.doStep(ctx, it, i, s)
	if ctx.Err() != nil {
		return // shutting down: the step runs again after the restart
	}
	outcome := "ok"
	switch {
	case err != nil:
		outcome = "failed"
		detail = "failed: " + err.Error()
		n.events.publish(Event{Type: EventAlarm, Channel: it.ch.ID, Entry: it.st.ID(), Author: it.Author, Seq: it.Seq, Kind: it.Kind,
			Detail: fmt.Sprintf("%s ladder step %d (%s) for %s/%d in %s failed: %v", ladder, i+1, s.Action, it.Author, it.Seq, it.ChannelName, err)})
		n.log.Error("ladder step failed", "ladder", ladder, "step", i+1, "action", s.Action, "entry", it.Entry, "err", err)
	case strings.HasPrefix(detail, "skipped"):
		outcome = "skipped"
	}
	n.metrics.ladderSteps.WithLabelValues(ladder, s.Action, outcome).Inc()
	err = n.store.AddLadderStep(ctx, hotline.LadderStep{Entry: it.st.ID(), Ladder: ladder, Step: i, Time: n.now(), Detail: detail})
	if err != nil && hotline.ErrorCode(err) != hotline.ECONFLICT {
		n.log.Error("record ladder step", "ladder", ladder, "step", i+1, "entry", it.Entry, "err", err)
	}
	n.log.Info("ladder step", "ladder", ladder, "step", i+1, "action", s.Action, "entry", it.Entry, "detail", detail)
}

func (n *Node) doStep(ctx context.Context, it *Item, i int, s escalation.Step) (string, error) {
	p := n.payload(it, i)
	switch s.Action {
	case escalation.Alert:
		n.events.publish(Event{Type: EventAlert, Channel: it.ch.ID, Entry: it.st.ID(), Author: it.Author, Seq: it.Seq, Kind: it.Kind, Detail: p.Subject()})
		return "operators alerted", nil
	case escalation.Webhook:
		if err := n.poster.Post(ctx, s.URL, s.Secret, p); err != nil {
			return "", err
		}
		return "webhook " + s.URL + " called", nil
	case escalation.Email:
		if n.mailer == nil {
			return "", fmt.Errorf("no SMTP server is configured")
		}
		if err := n.mailer.Send(ctx, s.To, p.Subject(), p.Text(), p.Delivery+"@"+n.self+".hotline"); err != nil {
			return "", err
		}
		return "e-mail sent to " + strings.Join(s.To, ", "), nil
	case escalation.Escalate:
		return n.escalate(ctx, it)
	}
	return "", fmt.Errorf("unknown action %q", s.Action)
}

func (n *Node) payload(it *Item, i int) *escalation.Payload {
	ev := escalation.EventOverdue
	switch {
	case it.Role == "received":
		ev = escalation.EventReminder
	case it.Kind == entry.KindCall:
		ev = escalation.EventUnanswered
	}
	ladder := it.ladderName()
	return &escalation.Payload{
		Event: ev, Delivery: fmt.Sprintf("%s/%s/%d", it.Entry, ladder, i+1), Ladder: ladder, Step: i + 1, Party: n.self,
		Channel: escalation.ChannelInfo{ID: it.Channel, Name: it.ChannelName, Level: it.Level},
		Entry: escalation.EntryInfo{ID: it.Entry, Author: it.Author, Operator: it.Operator, Seq: it.Seq, Kind: string(it.Kind),
			Time: it.st.AuthorTime(), Text: it.Text},
		Deadline: *it.Deadline, Pending: slices.Clone(it.Pending), Sent: n.now(),
	}
}

// escalate posts a signed escalation entry for it into its channel's
// agreed escalation target, unless one by this party is already there.
func (n *Node) escalate(ctx context.Context, it *Item) (string, error) {
	p := it.ch.Definition.Policy
	if p == nil || p.EscalateTo == nil {
		return "skipped: channel " + it.ChannelName + " has no agreed escalation target", nil
	}
	target, ok := n.channel(*p.EscalateTo)
	if !ok {
		return "", fmt.Errorf("escalation target %s is not known to this node", p.EscalateTo)
	}
	ans, err := n.store.Answers(ctx, it.ch.ID, it.st.Ref())
	if err != nil {
		return "", err
	}
	for _, m := range ans.Marks {
		if m.Kind == entry.KindEscalation && m.Party == n.self {
			return "escalated to " + target.Label + " (entry already written)", nil
		}
	}
	// The text goes to the other parties: it names the channel by its
	// agreed name, not this node's label.
	text := fmt.Sprintf("%s %s/%d in %s (%s level) is unanswered by %s since %s", it.Kind, it.Author, it.Seq, it.ch.Definition.Name, it.Level,
		strings.Join(it.Pending, ", "), it.Deadline.UTC().Format(time.RFC3339))
	if it.Text != "" {
		text += ": " + clip(it.Text, 500)
	}
	body := &entry.Escalation{Source: it.ch.ID, Entry: it.st.Ref(), Deadline: it.Deadline.UnixMilli(), Text: text}
	r := n.submit(ctx, &writeReq{local: &localWrite{channel: target.ID, kind: entry.KindEscalation, body: body,
		check: func(b *batch, ch *hotline.Channel) error {
			return asOperatorError(b.checkEscalation(ctx, ch, n.self, body))
		}}})
	if r.err != nil {
		return "", r.err
	}
	return fmt.Sprintf("escalated to %s as %s/%d", target.Label, n.self, r.entry.Seq), nil
}

// clip shortens s to at most max bytes on a rune boundary, marking the cut.
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	for max > 0 && !utf8.RuneStart(s[max]) {
		max--
	}
	return s[:max] + "…"
}

// Ladders returns the ladders this node runs, by level.
func (n *Node) Ladders() escalation.Ladders { return n.ladders }
