package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/storecache"
	"github.com/hotline-project/hotline/storetest"
)

// Feed answers from the entries Append keeps exactly what the table
// answers (read through a second store on the file, which appended
// nothing), wherever the range starts, and the kept entries stay within
// their bound.
func TestTails_FeedAnswersAsTheTableDoes(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	defer s.Close()
	// A second store on the file keeps no entries of its own: its Feed
	// reads the table.
	table := open(t, path)
	defer table.Close()
	ch := storetest.ThreeParties(t, s)
	c := storetest.NewChatter(t, ch.ID)
	alpha := hotline.Feed{Channel: ch.ID, Party: "alpha"}
	same := func(from uint64, limit int) {
		t.Helper()
		got, err := s.Feed(ctx, alpha, from, limit)
		if err != nil {
			t.Fatal(err)
		}
		want, err := table.Feed(ctx, alpha, from, limit)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) {
			t.Fatalf("Feed(from %d, limit %d): %d entries, the table %d", from, limit, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			if g.ID() != w.ID() || g.Local != w.Local || !g.Received.Equal(w.Received) || g.Depth != w.Depth {
				t.Fatalf("Feed(from %d, limit %d)[%d]: %s local %d received %v depth %d; the table: %s local %d received %v depth %d",
					from, limit, i, g.ID(), g.Local, g.Received, g.Depth, w.ID(), w.Local, w.Received, w.Depth)
			}
		}
	}
	top := uint64(0)
	for batch := range 40 {
		var ws []hotline.Write
		for i := range 7 {
			ws = append(ws, hotline.Write{Entry: c.Message("alpha", fmt.Sprintf("m%d.%d", batch, i), "bravo")})
			top++
		}
		ws = append(ws, hotline.Write{Entry: c.Write("bravo", entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{c.Head("alpha").Ref()}}, "alpha")})
		if err := s.Append(ctx, time.Now(), ws); err != nil {
			t.Fatal(err)
		}
		for _, from := range []uint64{1, top - min(top-1, 70), top - min(top-1, storecache.TailLen-1), top - min(top-1, 5), top, top + 1} {
			for _, limit := range []int{1, 5, 100} {
				same(from, limit)
			}
		}
	}
	if kept, ok := s.Tails().Feed(alpha, top-storecache.TailLen+1, storecache.TailLen); !ok || len(kept) != storecache.TailLen {
		t.Fatalf("kept %d of alpha's newest entries (%v), want %d", len(kept), ok, storecache.TailLen)
	}
	if _, ok := s.Tails().Feed(alpha, top-storecache.TailLen, 1); ok {
		t.Fatalf("kept more than %d entries of a feed", storecache.TailLen)
	}

	// Entries large enough to pass the byte bound empty the kept ones;
	// Feed still answers, from the table.
	big := strings.Repeat("x", 60_000)
	for i := range storecache.MaxTailBytes/60_000 + 10 {
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: c.Message("alpha", fmt.Sprint(i, big))}}); err != nil {
			t.Fatal(err)
		}
		top++
	}
	bytes := s.Tails().Bytes()
	if bytes > storecache.MaxTailBytes {
		t.Fatalf("kept entries take %d bytes, bound %d", bytes, storecache.MaxTailBytes)
	}
	same(top-3, 10)
	same(1, 10)
}
