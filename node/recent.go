package node

import (
	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// The writer checks every reference an entry makes (its causal refs, the
// feeds a receipt holds, the message a read or an answer names) against
// the ids it holds. Nearly all name entries just written, so the writer
// keeps the newest ids of each feed in memory and asks the store only for
// older ones, and then for the id alone (Store.IDAt).

// recentIDs is how many of each feed's newest ids the writer keeps, and
// maxRecentFeeds how many feeds it keeps them for: about 8 KiB a feed,
// 32 MiB at most.
const (
	recentIDs      = 256
	maxRecentFeeds = 4096
)

// idRing holds the ids of a feed's seqs from..top, at most recentIDs of
// them.
type idRing struct {
	ids       [recentIDs]entry.ID
	from, top uint64
}

// add records the id of the feed's next seq.
func (r *idRing) add(seq uint64, id entry.ID) {
	if r.top == 0 || seq != r.top+1 {
		r.from = seq
	}
	r.ids[seq%recentIDs], r.top = id, seq
	r.from = max(r.from, seq-min(seq, recentIDs-1))
}

// at returns the id of seq if the ring still holds it.
func (r *idRing) at(seq uint64) (entry.ID, bool) {
	if r == nil || seq < r.from || seq > r.top || seq == 0 {
		return entry.ID{}, false
	}
	return r.ids[seq%recentIDs], true
}

// recentID returns the id of seq of feed f if the writer keeps it. Only
// the writer calls it.
func (n *Node) recentID(f hotline.Feed, seq uint64) (entry.ID, bool) {
	return n.recent[f].at(seq)
}

// keepRecent records what a committed batch wrote. Only the writer calls
// it.
func (n *Node) keepRecent(writes []hotline.Write) {
	for _, w := range writes {
		e := w.Entry
		if e == nil {
			continue
		}
		f := hotline.Feed{Channel: e.Channel, Party: e.Author}
		r := n.recent[f]
		if r == nil {
			if len(n.recent) >= maxRecentFeeds {
				continue
			}
			r = new(idRing)
			n.recent[f] = r
		}
		r.add(e.Seq, e.ID())
	}
}
