package storecache

import (
	"sync"

	"github.com/hotline-project/hotline"
)

// A node pushes each entry to its peers right after it commits, reading it
// back with Store.Feed: most reads of a feed are of its newest entries. A
// store keeps those in memory as its Append commits them (Append is the
// only way entries enter a store), and reads rows only for older ones.

// TailLen is how many of each feed's newest entries are kept, and
// MaxTailBytes what all of them may take together: past it the kept
// entries are dropped and Feed reads rows until they are kept again.
const (
	TailLen      = 256
	MaxTailBytes = 16 << 20
)

// Tails holds the newest entries of the feeds appended to since the store
// opened. The zero value is empty and ready.
type Tails struct {
	mu    sync.Mutex
	feeds map[hotline.Feed]*tail
	bytes int
}

// tail is a ring of a feed's newest entries, seqs from..top.
type tail struct {
	ring      [TailLen]*hotline.Stored
	from, top uint64
}

func storedSize(st *hotline.Stored) int {
	return len(st.HeaderBytes) + len(st.Sig) + len(st.Body) + 256 // and the structs around them, roughly
}

// Add records entries just committed, each the next of its feed.
func (t *Tails) Add(entries []*hotline.Stored) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, st := range entries {
		f := hotline.Feed{Channel: st.Channel, Party: st.Author}
		tl := t.feeds[f]
		if tl == nil {
			if t.feeds == nil {
				t.feeds = make(map[hotline.Feed]*tail)
			}
			tl = &tail{from: st.Seq}
			t.feeds[f] = tl
		} else if st.Seq != tl.top+1 {
			// Cannot happen (feeds are gap-free); should it, the feed
			// is read from rows again.
			delete(t.feeds, f)
			continue
		}
		if old := tl.ring[st.Seq%TailLen]; old != nil && tl.top-tl.from+1 == TailLen {
			t.bytes -= storedSize(old)
			tl.from++
		}
		tl.ring[st.Seq%TailLen], tl.top = st, st.Seq
		t.bytes += storedSize(st)
		if t.bytes > MaxTailBytes {
			t.feeds, t.bytes = nil, 0
		}
	}
}

// Feed answers Store.Feed(f, from, limit) if the kept entries cover it.
func (t *Tails) Feed(f hotline.Feed, from uint64, limit int) ([]*hotline.Stored, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tl := t.feeds[f]
	if tl == nil || from < tl.from || limit <= 0 {
		return nil, false
	}
	var out []*hotline.Stored
	for seq := from; seq <= tl.top && len(out) < limit; seq++ {
		out = append(out, tl.ring[seq%TailLen])
	}
	return out, true
}

// Bytes returns what the kept entries take, as counted against
// MaxTailBytes.
func (t *Tails) Bytes() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bytes
}
