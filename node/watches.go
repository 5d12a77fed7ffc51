package node

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// watches is the deadline watcher's view of the open watches: each one's
// state as last derived from the store, and what writes have touched
// since. A look evaluates again only what was touched (a new watch, an
// answer, a receipt of an entry not yet delivered, a ladder step that
// ran); the passing of time (overdue, a step falling due) is worked out
// from the cached state, without reading the store. So a look, and the
// watch page's Pending, cost what changed, not every open watch.
//
// A cached *Item is never changed once stored: a new evaluation replaces
// it, so a ladder step running with an older one is unaffected.
type watches struct {
	mu       sync.Mutex
	loaded   bool // items holds every open watch
	items    map[entry.ID]*Item
	inflight touched // taken by the look under way, until it stores its result
	touched
}

// touched is what writes changed since the last look.
type touched struct {
	all   bool // re-read every open watch (a channel changed)
	added map[entry.ID]hotline.Watch
	ids   map[entry.ID]bool       // answers, marks and ladder steps of these entries
	feeds map[hotline.Feed]uint64 // receipts: entries of the feed up to this seq
}

// touch records what a committed batch changed for the watcher.
func (ws *watches) touch(writes []hotline.Write) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	for _, w := range writes {
		if w.Channel != nil {
			ws.all = true
		}
		e := w.Entry
		if e == nil {
			continue
		}
		if w.Watch {
			if ws.added == nil {
				ws.added = make(map[entry.ID]hotline.Watch)
			}
			ws.added[e.ID()] = hotline.Watch{Channel: e.Channel, Entry: e.Ref(), Kind: e.Kind}
		}
		if w.Mark != nil {
			ws.touchID(w.Mark.Target.ID)
		}
		for _, r := range w.Receipts {
			if ws.feeds == nil {
				ws.feeds = make(map[hotline.Feed]uint64)
			}
			f := hotline.Feed{Channel: e.Channel, Party: r.Party}
			ws.feeds[f] = max(ws.feeds[f], r.Seq)
		}
	}
}

// touchID records that entry id's answers or ladder steps changed.
func (ws *watches) touchID(id entry.ID) {
	if ws.ids == nil {
		ws.ids = make(map[entry.ID]bool)
	}
	ws.ids[id] = true
}

// stepRan records that a ladder step of id ran.
func (ws *watches) stepRan(id entry.ID) {
	ws.mu.Lock()
	ws.touchID(id)
	ws.mu.Unlock()
}

// take returns what was touched since the last look, and whether the
// cache holds every open watch; until the look stores its result, Pending
// still sees what it took as touched.
func (ws *watches) take() (touched, map[entry.ID]*Item, bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	t := ws.touched
	ws.inflight, ws.touched = t, touched{}
	return t, maps.Clone(ws.items), ws.loaded && !t.all
}

// peek returns a copy of the cached items and of everything touched that
// no look has stored yet: for Pending, which reads without looking.
func (ws *watches) peek() (touched, map[entry.ID]*Item, bool) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	t := touched{all: ws.all || ws.inflight.all, added: maps.Clone(ws.added), ids: maps.Clone(ws.ids), feeds: maps.Clone(ws.feeds)}
	for id, w := range ws.inflight.added {
		if t.added == nil {
			t.added = make(map[entry.ID]hotline.Watch)
		}
		t.added[id] = w
	}
	for id := range ws.inflight.ids {
		if t.ids == nil {
			t.ids = make(map[entry.ID]bool)
		}
		t.ids[id] = true
	}
	for f, seq := range ws.inflight.feeds {
		if t.feeds == nil {
			t.feeds = make(map[hotline.Feed]uint64)
		}
		t.feeds[f] = max(t.feeds[f], seq)
	}
	return t, maps.Clone(ws.items), ws.loaded && !t.all
}

// store replaces the cache with a look's result.
func (ws *watches) store(items map[entry.ID]*Item) {
	ws.mu.Lock()
	ws.items, ws.loaded, ws.inflight = items, true, touched{}
	ws.mu.Unlock()
}

// forget makes the next look read every open watch again: a look failed
// part-way.
func (ws *watches) forget() {
	ws.mu.Lock()
	ws.all, ws.inflight = true, touched{}
	ws.mu.Unlock()
}

// refresh brings items up to date with what t says was touched: it
// evaluates each touched watch again, drops the answered ones (reporting
// them in closed) and keeps the rest. With cached false it reads every
// open watch instead. The number of evaluations is returned.
func (n *Node) refresh(ctx context.Context, t touched, items map[entry.ID]*Item, cached bool, now time.Time) (out map[entry.ID]*Item, closed []entry.ID, evaluated int, err error) {
	var todo []hotline.Watch
	if !cached {
		ws, err := n.store.OpenWatches(ctx)
		if err != nil {
			return nil, nil, 0, err
		}
		items, todo = make(map[entry.ID]*Item, len(ws)), ws
	} else {
		for id, w := range t.added {
			if items[id] == nil {
				todo = append(todo, w)
			}
		}
		for id, it := range items {
			f := hotline.Feed{Channel: it.st.Channel, Party: it.Author}
			if upTo, ok := t.feeds[f]; t.ids[id] || (ok && it.Deadline == nil && it.Seq <= upTo) {
				todo = append(todo, hotline.Watch{Channel: it.st.Channel, Entry: it.st.Ref(), Kind: it.Kind})
			}
		}
	}
	for _, w := range todo {
		it, err := n.evaluate(ctx, w, now)
		if err != nil {
			n.log.Error("deadline watcher: evaluate", "entry", w.Entry.ID, "err", err)
			continue
		}
		evaluated++
		if it == nil || it.answered {
			delete(items, w.Entry.ID)
			closed = append(closed, w.Entry.ID)
			continue
		}
		items[w.Entry.ID] = it
	}
	return items, closed, evaluated, nil
}

// overdueAt returns a copy of it as it stands at now: overdue once its
// deadline has passed unanswered.
func overdueAt(it *Item, now time.Time) Item {
	c := *it
	c.Overdue = !c.answered && c.Deadline != nil && now.After(*c.Deadline)
	return c
}
