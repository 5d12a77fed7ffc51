package storecache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Each caller of a shared read gets a value from a read that began after
// it called, and concurrent callers share reads.
func TestSharedRead_FreshAndShared(t *testing.T) {
	var sr sharedRead
	var started atomic.Int64
	read := func(context.Context) (int64, error) {
		v := started.Add(1)
		time.Sleep(200 * time.Microsecond)
		return v, nil
	}
	const callers, calls = 32, 50
	var wg sync.WaitGroup
	errs := make(chan error, callers)
	for range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range calls {
				before := started.Load()
				v, err := sr.get(context.Background(), read)
				if err != nil {
					errs <- err
					return
				}
				if v <= before {
					errs <- fmt.Errorf("got the value of read %d, which began before the call (reads begun then: %d)", v, before)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if n := started.Load(); n >= callers*calls {
		t.Fatalf("%d calls ran %d reads: none shared", callers*calls, n)
	}

	// A caller that runs the read itself runs it to the end though it
	// gives up, since others may wait for it. (On sr the last read's
	// goroutine may still be winding up, and a caller that finds it would
	// wait and give up: a fresh sharedRead has none.)
	var fresh sharedRead
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := fresh.get(ctx, read); err != nil {
		t.Fatalf("a cancelled caller that runs the read itself: %v", err)
	}
}
