package account

import (
	"fmt"
	"sync"
	"time"
)

// Throttle slows password guessing down without letting anyone lock an
// officer out. Failures are counted per source address, per source and
// account name, and per account name (any name tried, existing or not):
//
//   - a source with MaxFailures recent failures waits before its next
//     attempt, ThrottleBase at first, doubling with each further failure
//     up to ThrottleMax;
//   - an account name with AccountFailures recent failures from all
//     sources together makes every source that has failed on it wait
//     too, so guessing from many addresses is slowed as well;
//   - a source with no recent failures is never made to wait: the right
//     password (and code) from the officer's own desk always works.
//
// Failures are forgotten ThrottleWindow after the last one; a success
// forgets its source's. Nothing here depends on whether a name exists,
// so the answers reveal no names. The counts live in memory, in maps of
// bounded size (the oldest entries go first).
type Throttle struct {
	now func() time.Time

	mu       sync.Mutex
	sources  map[string]*failures
	pairs    map[pair]*failures
	accounts map[string]*failures
}

type pair struct{ source, name string }

type failures struct {
	count int
	last  time.Time
}

// Throttle parameters.
const (
	MaxFailures     = 5                // failures of one source before it waits
	AccountFailures = 20               // failures on one name, from all sources, before failing sources wait
	ThrottleBase    = 30 * time.Second // the first wait
	ThrottleMax     = 15 * time.Minute // the longest wait
	ThrottleWindow  = time.Hour        // failures are forgotten this long after the last
	maxTracked      = 10000            // entries per map
)

// NewThrottle returns a throttle on the clock now (nil: time.Now).
func NewThrottle(now func() time.Time) *Throttle {
	if now == nil {
		now = time.Now
	}
	return &Throttle{now: now, sources: make(map[string]*failures), pairs: make(map[pair]*failures), accounts: make(map[string]*failures)}
}

// ThrottledError refuses an attempt from a source that must wait.
type ThrottledError struct{ Until time.Time }

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("too many failed attempts from this address: try again after %s", e.Until.UTC().Format("15:04:05 UTC"))
}

// waitFor is how long a source waits after n failures (threshold: the
// failures allowed before waiting).
func waitFor(n, threshold int) time.Duration {
	if n < threshold {
		return 0
	}
	d := ThrottleBase
	for i := threshold; i < n && d < ThrottleMax; i++ {
		d *= 2
	}
	return min(d, ThrottleMax)
}

// get returns m's live entry for k (a stale one is reset), adding one if
// asked and making room by dropping the oldest.
func get[K comparable](m map[K]*failures, k K, now time.Time, add bool) *failures {
	f := m[k]
	if f != nil && now.Sub(f.last) > ThrottleWindow {
		f.count = 0
	}
	if f == nil && add {
		if len(m) >= maxTracked {
			var oldest K
			var at time.Time
			for k, f := range m {
				if at.IsZero() || f.last.Before(at) {
					oldest, at = k, f.last
				}
			}
			delete(m, oldest)
		}
		f = &failures{last: now}
		m[k] = f
	}
	return f
}

// begin admits an attempt on name from source, or refuses it with a
// *ThrottledError. The attempt counts as a failure until done(true) says
// it succeeded, so that guesses sent in parallel are all counted.
func (t *Throttle) begin(source, name string, now time.Time) (done func(ok bool), err error) {
	if t == nil {
		return func(bool) {}, nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	src := get(t.sources, source, now, false)
	pr := get(t.pairs, pair{source, name}, now, false)
	acct := get(t.accounts, name, now, false)
	var until time.Time
	if src != nil {
		if u := src.last.Add(waitFor(src.count, MaxFailures)); src.count >= MaxFailures && u.After(until) {
			until = u
		}
	}
	if pr != nil && pr.count > 0 && acct != nil && acct.count >= AccountFailures {
		if u := acct.last.Add(waitFor(acct.count, AccountFailures)); u.After(until) {
			until = u
		}
	}
	if now.Before(until) {
		return nil, &ThrottledError{Until: until}
	}
	for _, f := range []*failures{get(t.sources, source, now, true), get(t.pairs, pair{source, name}, now, true), get(t.accounts, name, now, true)} {
		f.count++
		f.last = now
	}
	return func(ok bool) {
		if !ok {
			return
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		delete(t.sources, source)
		delete(t.pairs, pair{source, name})
		if f := t.accounts[name]; f != nil && f.count > 0 {
			f.count-- // this attempt was not a failure
		}
	}, nil
}
