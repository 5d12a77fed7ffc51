package node

import (
	"testing"

	"github.com/hotline-project/hotline/entry"
)

// TestIDRing: the ring answers for the newest recentIDs seqs it was
// given, in a feed it started following at any seq, and for nothing else.
func TestIDRing(t *testing.T) {
	id := func(seq uint64) entry.ID {
		var x entry.ID
		x[0], x[1] = byte(seq), byte(seq>>8)
		return x
	}
	var r idRing
	const start, end = 1000, 1000 + 3*recentIDs + 17 // a node that restarts mid-feed
	for seq := uint64(start); seq <= end; seq++ {
		r.add(seq, id(seq))
		for _, probe := range []uint64{0, start - 1, seq - recentIDs, seq - recentIDs + 1, seq, seq + 1} {
			got, ok := r.at(probe)
			want := probe >= start && probe <= seq && probe > seq-recentIDs && probe != 0
			if ok != want || (ok && got != id(probe)) {
				t.Fatalf("after %d: at(%d) = %v, %v; want held %v", seq, probe, got[:2], ok, want)
			}
		}
	}
	var empty *idRing
	if _, ok := empty.at(1); ok {
		t.Fatal("a feed never seen answers")
	}
}
