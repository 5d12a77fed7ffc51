// Package storecache is what a store keeps in memory in front of its
// tables, the same for every backend: the operator look-ups every request
// makes, valid while an access epoch holds (Access), and the newest
// entries of each feed, which a node pushes right after writing them
// (Tails).
package storecache

import (
	"context"
	"sync"
	"sync/atomic"

	"github.com/hotline-project/hotline"
)

// Every API request looks up its operator's token, and every send the
// operator's language. Access caches both, only as long as the store's
// access epoch holds: a counter that triggers bump in the same transaction
// as any change to operators or tokens, whichever process commits it. A
// look-up first reads the epoch, in a read that began after the look-up
// did, so a revoked token or a disabled operator stops working at once,
// even when the CLI changed the store while the node runs. Concurrent
// look-ups share one read of the epoch (see sharedRead): under load, a
// burst of requests costs one or two single-row reads instead of two
// queries each.

// AccessSize bounds each of the caches: more distinct tokens or operators
// than this in one epoch empty it and start again.
const AccessSize = 1024

// Access holds look-ups valid at one access epoch. Unknown tokens are not
// kept, so made-up ones cannot fill it. The zero value is ready once
// ReadEpoch is set.
type Access struct {
	// ReadEpoch reads the store's access epoch.
	ReadEpoch func(context.Context) (int64, error)

	epochs sharedRead

	mu        sync.Mutex
	epoch     int64
	tokens    map[[32]byte]string
	operators map[string]*hotline.Operator // nil: no such operator

	queries atomic.Int64
}

// Queries returns how many look-ups went to the tables.
func (a *Access) Queries() int64 { return a.queries.Load() }

// Held returns how many tokens and operators the cache holds.
func (a *Access) Held() (tokens, operators int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	return len(a.tokens), len(a.operators)
}

// current returns the access epoch, read after it was called, and empties
// the cache if the epoch moved.
func (a *Access) current(ctx context.Context) (int64, error) {
	e, err := a.epochs.get(ctx, a.ReadEpoch)
	if err != nil {
		return 0, err
	}
	a.mu.Lock()
	if a.epoch != e {
		a.epoch, a.tokens, a.operators = e, nil, nil
	}
	a.mu.Unlock()
	return e, nil
}

// OperatorByToken returns the operator of a token by its hash, from the
// cache or from load, which looks it up in the store; load's errors (not
// found among them) are returned and not kept.
func (a *Access) OperatorByToken(ctx context.Context, hash [32]byte, load func() (string, error)) (string, error) {
	return cached(ctx, a, func(a *Access) *map[[32]byte]string { return &a.tokens }, hash, load)
}

// Operator returns an operator's account, from the cache or from load,
// which returns nil for a name without an account. Unlike a token, such a
// name is kept too: operators who have only API tokens have no account,
// and their every send looks the name up for its language.
func (a *Access) Operator(ctx context.Context, name string, load func() (*hotline.Operator, error)) (hotline.Operator, error) {
	op, err := cached(ctx, a, func(a *Access) *map[string]*hotline.Operator { return &a.operators }, name, load)
	if err != nil {
		return hotline.Operator{}, err
	}
	if op == nil {
		return hotline.Operator{}, hotline.Errorf(hotline.ENOTFOUND, "no operator %q on this node", name)
	}
	return *op, nil
}

// cached answers a look-up from the cache field of a that pick gives,
// valid at the current access epoch, or from load, whose answer it keeps
// unless it is an error.
func cached[K comparable, V any](ctx context.Context, a *Access, pick func(*Access) *map[K]V, key K, load func() (V, error)) (V, error) {
	var zero V
	e, err := a.current(ctx)
	if err != nil {
		return zero, err
	}
	a.mu.Lock()
	v, ok := (*pick(a))[key]
	a.mu.Unlock()
	if ok {
		return v, nil
	}
	a.queries.Add(1)
	if v, err = load(); err != nil {
		return zero, err
	}
	// load ran after the epoch was read, so it saw that epoch's state or
	// a newer one; kept under an older epoch, it is dropped at the next
	// look-up, which reads the newer epoch.
	a.mu.Lock()
	if m := pick(a); a.epoch == e {
		if *m == nil || len(*m) >= AccessSize {
			*m = make(map[K]V)
		}
		(*m)[key] = v
	}
	a.mu.Unlock()
	return v, nil
}
