package sqlite

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/storetest"
)

// BenchmarkAppend measures what storing costs per entry, in batches as the
// link's writer makes them under load: 15 of alpha's messages and one of
// bravo's receipts, which covers them. Entries are signed beforehand, so
// only the store is timed.
//
//	go test ./sqlite -run '^$' -bench Append -benchtime 20000x
func BenchmarkAppend(b *testing.B) {
	ctx := context.Background()
	s := open(b, filepath.Join(b.TempDir(), "hotline.db"))
	defer s.Close()
	ch := storetest.ThreeParties(b, s)
	c := storetest.NewChatter(b, ch.ID)
	const perBatch = 16
	var batches [][]hotline.Write
	for len(batches)*perBatch < b.N {
		var ws []hotline.Write
		var last *entry.Entry
		for i := range perBatch - 1 {
			last = c.Message("alpha", fmt.Sprint("m", i), "bravo")
			ws = append(ws, hotline.Write{Entry: last})
		}
		rc := c.Write("bravo", entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{last.Ref()}}, "alpha")
		ws = append(ws, hotline.Write{Entry: rc, Receipts: []hotline.ReceiptRow{{Receiver: "bravo", Party: "alpha", Seq: last.Seq, ReceiptSeq: rc.Seq, Time: time.Now()}}})
		batches = append(batches, ws)
	}
	b.ResetTimer()
	for _, ws := range batches {
		if err := s.Append(ctx, time.Now(), ws); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(len(batches)*perBatch), "ns/entry")
}
