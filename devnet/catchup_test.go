package devnet

import (
	"context"
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
)

var catchupEntries = flag.Int("catchup.entries", 10000, "messages in the catch-up test's backlog (DESIGN figure: 100000)")

// TestCatchUp_LongPartition builds a backlog on one side of a partition,
// heals it, and checks that everything replicates in verified batches while
// the receiving node keeps answering its operators, with catch-up progress
// visible in the link status.
func TestCatchUp_LongPartition(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	fn := startFaulty(t, 2, Options{})
	ctx := context.Background()
	alpha, bravo := fn.Party("alpha"), fn.Party("bravo")
	fn.partition("alpha", "bravo")

	n := *catchupEntries
	start := time.Now()
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clientOf(alpha)
			for i := next.Add(1); i <= int64(n); i = next.Add(1) {
				if _, err := c.Send(ctx, "alpha-bravo-theatre", api.SendRequest{Text: fmt.Sprintf("backlog %d", i)}); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	t.Logf("backlog of %d messages written in %s", n, time.Since(start).Round(time.Millisecond))

	var peakHeap uint64
	var sawProgress atomic.Bool
	stop := make(chan struct{})
	sampled := make(chan struct{})
	go func() { // sample memory and catch-up progress while replication runs
		defer close(sampled)
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			var ms runtime.MemStats
			runtime.ReadMemStats(&ms)
			peakHeap = max(peakHeap, ms.HeapInuse)
			l := linkTo(t, bravo, "alpha")
			if l.Incoming > 0 && l.Incoming < n {
				sawProgress.Store(true)
			}
		}
	}()
	start = time.Now()
	fn.heal("alpha", "bravo")

	// Bravo's operators are served while it catches up.
	var during int
	for {
		chans, err := clientOf(bravo).Channels(ctx)
		if err != nil || len(chans) == 0 {
			t.Fatalf("bravo's API during catch-up: %v", err)
		}
		if _, err := clientOf(bravo).Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: fmt.Sprintf("during catch-up %d", during)}); err != nil {
			t.Fatalf("bravo's operator could not send during catch-up: %v", err)
		}
		during++
		if linkTo(t, alpha, "bravo").Backlog == 0 && linkTo(t, bravo, "alpha").Incoming == 0 && during > 3 {
			break
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatal("catch-up did not finish in 5 minutes")
		}
		time.Sleep(100 * time.Millisecond)
	}
	elapsed := time.Since(start)
	close(stop) // sample memory only while replicating, not while this test reads whole logs
	<-sampled
	eventually(t, "bravo holds the whole backlog", func() bool {
		log, err := clientOf(bravo).Log(ctx, "alpha-bravo-theatre")
		if err != nil {
			return false
		}
		msgs := 0
		for _, e := range log {
			if e.Author == "alpha" && e.Kind == "message" {
				msgs++
			}
		}
		return msgs == n
	})
	t.Logf("catch-up of %d messages: %s (%.0f entries/s); %d operator sends served meanwhile; peak heap in use %d MiB (both nodes)",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), during, peakHeap>>20)
	if !sawProgress.Load() {
		t.Error("catch-up progress never showed in bravo's link status")
	}
	eventually(t, "alpha holds bravo's receipts for the whole backlog", func() bool {
		log, err := clientOf(alpha).Log(ctx, "alpha-bravo-theatre")
		if err != nil {
			return false
		}
		for _, e := range log {
			if e.Kind == "message" && e.Delivered == nil {
				return false
			}
		}
		return true
	})
}
