package storecache

import (
	"context"
	"sync"
)

// sharedRead lets concurrent callers share reads of one value, while each
// still gets a value read after it asked: a caller that finds a read in
// flight (which may have begun before it asked) waits for the next one,
// which all such callers share. At most one read runs at a time.
type sharedRead struct {
	mu      sync.Mutex
	running bool
	next    *readResult // the read that starts when the running one ends
}

// readResult is the outcome of one shared read.
type readResult struct {
	done  chan struct{}
	value int64
	err   error
}

// get returns a value read after get was called.
func (s *sharedRead) get(ctx context.Context, read func(context.Context) (int64, error)) (int64, error) {
	s.mu.Lock()
	if !s.running {
		s.running = true
		s.mu.Unlock()
		r := &readResult{done: make(chan struct{})}
		s.run(ctx, r, read)
		return r.value, r.err
	}
	r := s.next
	if r == nil {
		r = &readResult{done: make(chan struct{})}
		s.next = r
	}
	s.mu.Unlock()
	select {
	case <-r.done:
		return r.value, r.err
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// run performs r, then hands the next read, if callers wait for one, to
// a goroutine of its own, so that no caller does another's read.
func (s *sharedRead) run(ctx context.Context, r *readResult, read func(context.Context) (int64, error)) {
	// Others may wait on this read: one caller's cancellation must not
	// fail them.
	r.value, r.err = read(context.WithoutCancel(ctx))
	close(r.done)
	s.mu.Lock()
	next := s.next
	s.next = nil
	s.running = next != nil
	s.mu.Unlock()
	if next != nil {
		go s.run(context.WithoutCancel(ctx), next, read)
	}
}
