package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"sync/atomic"

	"github.com/hotline-project/hotline"
)

// Every API request looks up its operator's token, and every send the
// operator's language. Both are cached here, and the cache is only as old
// as the access epoch: a counter that triggers bump in the same
// transaction as any change to operators or tokens (schema version 10),
// whichever process commits it. A look-up first reads the epoch, in a read
// that began after the look-up did, so a revoked token or a disabled
// operator stops working at once, even when the CLI changed the file
// while the node runs. Concurrent look-ups share one read of the epoch
// (see sharedRead): under load, a burst of requests costs one or two
// single-row reads instead of two queries each.

// accessCacheSize bounds each of the caches: more distinct tokens or
// operators than this in one epoch empty it and start again.
const accessCacheSize = 1024

// accessCache holds look-ups valid at one access epoch. Unknown tokens
// are not kept, so made-up ones cannot fill it.
type accessCache struct {
	epochs sharedRead

	mu        sync.Mutex
	epoch     int64
	tokens    map[[32]byte]string
	operators map[string]*hotline.Operator // nil: no such operator

	queries atomic.Int64 // look-ups that went to the tables, for tests
}

// accessEpoch returns the access epoch, read after it was called, and
// empties the cache if the epoch moved.
func (s *Store) accessEpoch(ctx context.Context) (int64, error) {
	e, err := s.access.epochs.get(ctx, func(ctx context.Context) (int64, error) {
		var e int64
		if err := s.readEpoch.QueryRowContext(ctx).Scan(&e); err != nil {
			return 0, storeErr("read access epoch", err)
		}
		return e, nil
	})
	if err != nil {
		return 0, err
	}
	c := &s.access
	c.mu.Lock()
	if c.epoch != e {
		c.epoch, c.tokens, c.operators = e, nil, nil
	}
	c.mu.Unlock()
	return e, nil
}

// cached answers a look-up from the cache field of c that pick gives,
// valid at the current access epoch, or from load, whose answer it keeps
// unless it is an error (misses are not kept).
func cached[K comparable, V any](ctx context.Context, s *Store, pick func(*accessCache) *map[K]V, key K, load func() (V, error)) (V, error) {
	var zero V
	e, err := s.accessEpoch(ctx)
	if err != nil {
		return zero, err
	}
	c := &s.access
	c.mu.Lock()
	v, ok := (*pick(c))[key]
	c.mu.Unlock()
	if ok {
		return v, nil
	}
	c.queries.Add(1)
	if v, err = load(); err != nil {
		return zero, err
	}
	// load ran after the epoch was read, so it saw that epoch's state or
	// a newer one; kept under an older epoch, it is dropped at the next
	// look-up, which reads the newer epoch.
	c.mu.Lock()
	if m := pick(c); c.epoch == e {
		if *m == nil || len(*m) >= accessCacheSize {
			*m = make(map[K]V)
		}
		(*m)[key] = v
	}
	c.mu.Unlock()
	return v, nil
}

// OperatorByToken implements hotline.Store.
func (s *Store) OperatorByToken(ctx context.Context, tokenHash [32]byte) (string, error) {
	return cached(ctx, s, func(c *accessCache) *map[[32]byte]string { return &c.tokens }, tokenHash, func() (string, error) {
		var op string
		err := s.operatorByToken.QueryRowContext(ctx, tokenHash[:]).Scan(&op)
		if errors.Is(err, sql.ErrNoRows) {
			return "", hotline.Errorf(hotline.ENOTFOUND, "no such token")
		}
		if err != nil {
			return "", storeErr("look up token", err)
		}
		return op, nil
	})
}

// Operator implements hotline.Store. Unlike a token, a name without an
// account is kept too (as nil): operators who have only API tokens have
// none, and their every send looks the name up for its language.
func (s *Store) Operator(ctx context.Context, name string) (hotline.Operator, error) {
	op, err := cached(ctx, s, func(c *accessCache) *map[string]*hotline.Operator { return &c.operators }, name, func() (*hotline.Operator, error) {
		ops, err := scanOperators(s.operatorByName.QueryContext(ctx, name))
		if err != nil || len(ops) == 0 {
			return nil, err
		}
		return &ops[0], nil
	})
	if err != nil {
		return hotline.Operator{}, err
	}
	if op == nil {
		return hotline.Operator{}, hotline.Errorf(hotline.ENOTFOUND, "no operator %q on this node", name)
	}
	return *op, nil
}

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
