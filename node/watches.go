package node

import (
	"bytes"
	"cmp"
	"context"
	"slices"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// watches is the deadline watcher's view of the open watches: for each,
// a compact state as last derived from the store (see watchState), and
// what writes have touched since. A look evaluates again only what was
// touched (a new watch, an answer, a receipt of an entry not yet
// delivered, a ladder step that ran); the passing of time (a deadline, a
// step falling due) is worked out from the states. An entry is read in
// full again only to be shown (a page of Pending), announced overdue or
// acted on (a ladder step): so a look costs what changed, and the memory
// held is a hundred bytes or so per open watch, whatever its text.
type watches struct {
	mu       sync.Mutex
	loaded   bool // states holds every open watch
	states   map[entry.ID]watchState
	inflight touched // taken by the look under way, until it stores its result
	touched
	// receipted is, per feed and receiver, the seq its receipts covered
	// when last seen: a new receipt changes only the entries past it.
	receipted map[receiptKey]uint64
}

type receiptKey struct {
	feed     hotline.Feed
	receiver string
}

// seqRange is the seqs from, exclusive, to to, inclusive.
type seqRange struct{ from, to uint64 }

// watchState is what the watcher keeps of one open, unanswered watch.
type watchState struct {
	channel  entry.ChannelID
	ref      entry.Ref
	kind     entry.Kind
	sent     bool      // this party's own entry: it waits; else it owes the answer
	deadline time.Time // zero until this node holds every member's receipt
	lapsed   bool      // a call request already recorded as unanswered
	prec     uint8     // a message's precedence rank (entry.PrecedenceRank); call requests rank as routine
	steps    uint64    // bit i: step i of its ladder ran
}

// stateOf compacts an evaluated item.
func stateOf(it *Item) watchState {
	ws := watchState{channel: it.st.Channel, ref: it.st.Ref(), kind: it.Kind, sent: it.Role == "sent", lapsed: it.Lapsed,
		prec: uint8(entry.PrecedenceRank(it.Precedence))}
	if it.Deadline != nil {
		ws.deadline = *it.Deadline
	}
	for i := range it.done {
		if i < 64 {
			ws.steps |= 1 << i
		}
	}
	return ws
}

func (ws watchState) watch() hotline.Watch {
	return hotline.Watch{Channel: ws.channel, Entry: ws.ref, Kind: ws.kind}
}

func (ws watchState) role() string {
	if ws.sent {
		return "sent"
	}
	return "received"
}

func (ws watchState) overdue(now time.Time) bool {
	return !ws.deadline.IsZero() && now.After(ws.deadline)
}

// touched is what writes changed since the last look.
type touched struct {
	all   bool // re-read every open watch (a channel changed)
	added map[entry.ID]hotline.Watch
	ids   map[entry.ID]bool           // answers, marks and ladder steps of these entries
	feeds map[hotline.Feed][]seqRange // receipts: entries of the feed newly covered by a receiver
}

// merge adds what u touched to t.
func (t *touched) merge(u touched) {
	t.all = t.all || u.all
	for id, w := range u.added {
		if t.added == nil {
			t.added = make(map[entry.ID]hotline.Watch)
		}
		t.added[id] = w
	}
	for id := range u.ids {
		t.touchID(id)
	}
	for f, rs := range u.feeds {
		if t.feeds == nil {
			t.feeds = make(map[hotline.Feed][]seqRange)
		}
		t.feeds[f] = append(t.feeds[f], rs...)
	}
}

// covers reports whether a receipt touched seq of feed f.
func (t *touched) covers(f hotline.Feed, seq uint64) bool {
	for _, r := range t.feeds[f] {
		if seq > r.from && seq <= r.to {
			return true
		}
	}
	return false
}

func (t *touched) touchID(id entry.ID) {
	if t.ids == nil {
		t.ids = make(map[entry.ID]bool)
	}
	t.ids[id] = true
}

// touch records what a committed batch changed for the watcher.
func (ws *watches) touch(writes []hotline.Write) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if ws.receipted == nil {
		ws.receipted = make(map[receiptKey]uint64)
	}
	var t touched
	for _, w := range writes {
		if w.Channel != nil {
			t.all = true
		}
		e := w.Entry
		if e == nil {
			continue
		}
		if w.Watch {
			t.merge(touched{added: map[entry.ID]hotline.Watch{e.ID(): {Channel: e.Channel, Entry: e.Ref(), Kind: e.Kind}}})
		}
		if w.Mark != nil {
			t.touchID(w.Mark.Target.ID)
		}
		for _, r := range w.Receipts {
			f := hotline.Feed{Channel: e.Channel, Party: r.Party}
			k := receiptKey{f, r.Receiver}
			if from := ws.receipted[k]; r.Seq > from {
				ws.receipted[k] = r.Seq
				t.merge(touched{feeds: map[hotline.Feed][]seqRange{f: {{from, r.Seq}}}})
			}
		}
	}
	ws.touched.merge(t)
}

// stepRan records that a ladder step of id ran.
func (ws *watches) stepRan(id entry.ID) {
	ws.mu.Lock()
	ws.touchID(id)
	ws.mu.Unlock()
}

// take returns what was touched since the last look, and whether the
// states hold every open watch; until the look applies its result,
// Pending still sees what it took as touched.
func (ws *watches) take() (touched, bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	t := ws.touched
	ws.inflight, ws.touched = t, touched{}
	return t, ws.loaded && !t.all
}

// peek returns everything touched that no look has applied yet, and
// whether the states hold every open watch: for Pending, which reads
// without looking.
func (ws *watches) peek() (touched, bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var t touched
	t.merge(ws.touched)
	t.merge(ws.inflight)
	return t, ws.loaded && !t.all
}

// todo lists the states t says must be evaluated again, and the new
// watches it names, under the lock: an in-memory scan, no store reads.
func (ws *watches) todo(t touched) []hotline.Watch {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	var todo []hotline.Watch
	for id, w := range t.added {
		if _, ok := ws.states[id]; !ok {
			todo = append(todo, w)
		}
	}
	for id, st := range ws.states {
		f := hotline.Feed{Channel: st.channel, Party: st.ref.Party}
		if t.ids[id] || (st.deadline.IsZero() && t.covers(f, st.ref.Seq)) {
			todo = append(todo, st.watch())
		}
	}
	return todo
}

// apply stores a look's result: the states it evaluated again and those
// it closed, or, from a look that read every open watch, all of them.
func (ws *watches) apply(all map[entry.ID]watchState, changes map[entry.ID]*watchState) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if all != nil {
		ws.states, ws.loaded = all, true
	}
	for id, st := range changes {
		if st == nil {
			delete(ws.states, id)
		} else {
			ws.states[id] = *st
		}
	}
	ws.inflight = touched{}
}

// each calls fn with every state, under the lock: fn must not block.
func (ws *watches) each(fn func(id entry.ID, st watchState)) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for id, st := range ws.states {
		fn(id, st)
	}
}

// forget makes the next look read every open watch again: a look failed
// part-way.
func (ws *watches) forget() {
	ws.mu.Lock()
	ws.all, ws.inflight = true, touched{}
	ws.mu.Unlock()
}

// refresh evaluates again what t says was touched and returns the
// changes (nil for a watch answered or gone), or, with cached false, reads
// every open watch and returns them all. It reads the store but changes
// nothing: the caller applies the result, or only looks at it.
func (n *Node) refresh(ctx context.Context, t touched, cached bool, now time.Time) (all map[entry.ID]watchState, changes map[entry.ID]*watchState, evaluated int, err error) {
	var todo []hotline.Watch
	if !cached {
		ws, err := n.store.OpenWatches(ctx)
		if err != nil {
			return nil, nil, 0, err
		}
		all, todo = make(map[entry.ID]watchState, len(ws)), ws
	} else {
		todo = n.watches.todo(t)
	}
	changes = make(map[entry.ID]*watchState, len(todo))
	for _, w := range todo {
		it, err := n.evaluate(ctx, w, now)
		if err != nil {
			if ctx.Err() != nil {
				return nil, nil, evaluated, ctx.Err() // shutting down, or the caller left
			}
			n.log.Error("deadline watcher: evaluate", "entry", w.Entry.ID, "err", err)
			continue
		}
		evaluated++
		if it == nil || it.answered {
			changes[w.Entry.ID] = nil
			continue
		}
		st := stateOf(it)
		if all != nil {
			all[w.Entry.ID] = st
		} else {
			changes[w.Entry.ID] = &st
		}
	}
	return all, changes, evaluated, nil
}

// overdueAt returns a copy of it as it stands at now: overdue once its
// deadline has passed unanswered.
func overdueAt(it *Item, now time.Time) Item {
	c := *it
	c.Overdue = !c.answered && c.Deadline != nil && now.After(*c.Deadline)
	return c
}

// PendingQuery selects part of the unanswered entries.
type PendingQuery struct {
	// Role is "sent" (what this party waits for), "received" (what it
	// owes) or "" for both.
	Role string
	// ByLevel orders by level, strategic first, after precedence and
	// before deadline (see Pending).
	ByLevel bool
	// Offset and Limit select a page of them; Limit 0 means all.
	Offset, Limit int
}

// PendingList is a page of the unanswered entries, with counts over all.
type PendingList struct {
	Items   []Item // the page, in full
	Total   int    // entries of the role asked for, in all
	Overdue int    // of those, overdue now
	Flash   int    // of those, FLASH messages
	// Channels sums up every unanswered entry by channel id, whatever
	// the role asked for.
	Channels map[string]ChannelPending
}

// ChannelPending is what waits for an answer in one channel.
type ChannelPending struct {
	Soonest *time.Time // the soonest deadline
	Overdue int
}

// PendingList returns a page of what waits for an answer: it orders the
// watcher's states (bringing up to date only what writes touched since its
// last look) and reads in full only the page asked for.
func (n *Node) PendingList(ctx context.Context, q PendingQuery) (*PendingList, error) {
	t, cached := n.watches.peek()
	now := n.now()
	all, changes, _, err := n.refresh(ctx, t, cached, now)
	if err != nil {
		return nil, err
	}
	out := &PendingList{Channels: make(map[string]ChannelPending)}
	var sel []watchState
	add := func(st watchState) {
		id := st.channel.String()
		c := out.Channels[id]
		if !st.deadline.IsZero() && (c.Soonest == nil || st.deadline.Before(*c.Soonest)) {
			d := st.deadline
			c.Soonest = &d
		}
		if st.overdue(now) {
			c.Overdue++
		}
		out.Channels[id] = c
		if q.Role == "" || q.Role == st.role() {
			sel = append(sel, st)
			if st.overdue(now) {
				out.Overdue++
			}
			if st.prec == 0 {
				out.Flash++
			}
		}
	}
	if all != nil {
		for _, st := range all {
			add(st)
		}
	} else {
		// The watcher's states, with what was evaluated here over them.
		n.watches.each(func(id entry.ID, st watchState) {
			if _, changed := changes[id]; !changed {
				add(st)
			}
		})
		for _, st := range changes {
			if st != nil {
				add(*st)
			}
		}
	}
	rank := func(st watchState) int {
		if !q.ByLevel {
			return 0
		}
		if ch, ok := n.channel(st.channel); ok {
			return levelRank(ch.Definition.Level)
		}
		return len(hotline.Levels)
	}
	slices.SortFunc(sel, func(a, b watchState) int {
		if c := cmp.Compare(a.prec, b.prec); c != 0 {
			return c // FLASH first, whatever its level
		}
		if c := cmp.Compare(rank(a), rank(b)); c != 0 {
			return c
		}
		switch {
		case a.deadline.IsZero() != b.deadline.IsZero():
			if a.deadline.IsZero() {
				return 1
			}
			return -1
		case !a.deadline.Equal(b.deadline):
			return a.deadline.Compare(b.deadline)
		}
		return bytes.Compare(a.ref.ID[:], b.ref.ID[:])
	})
	out.Total = len(sel)
	from := min(max(q.Offset, 0), len(sel))
	to := len(sel)
	if q.Limit > 0 {
		to = min(to, from+q.Limit)
	}
	for _, st := range sel[from:to] {
		it, err := n.evaluate(ctx, st.watch(), now)
		if err != nil {
			return nil, err
		}
		if it == nil || it.answered {
			continue // answered since: the next look closes it
		}
		out.Items = append(out.Items, overdueAt(it, now))
	}
	return out, nil
}

// levelRank orders levels from the top (strategic) down.
func levelRank(level string) int {
	if i := slices.Index(hotline.Levels, hotline.Level(level)); i >= 0 {
		return i
	}
	return len(hotline.Levels)
}
