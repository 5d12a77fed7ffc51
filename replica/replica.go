// Package replica makes one of a party's node processes its writer when
// several share one PostgreSQL store. They compete for a lease in the
// database (hotline.Lease); the holder runs the node and renews the lease
// while healthy, and the others are standbys: they forward operators'
// requests to the writer and tell peers to use another endpoint. When the
// writer stops renewing (killed, hung, cut off from the database), its
// lease lapses and a standby takes it at the next epoch.
//
// Safety does not rest on timing: the store checks the epoch in every
// write transaction (hotline.Lease.Fence), so a deposed writer that has not
// yet noticed writes nothing. Timing bounds only how long a failover
// takes: at most replica.lease after the writer's last renewal, plus one
// replica.renew for a standby to notice, plus the node's start.
package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-project/hotline"
)

// Role is what a replica is doing.
type Role string

// Roles.
const (
	Standby Role = "standby" // waiting for the lease; forwarding to the writer
	Active  Role = "active"  // holding the lease: the party's writer
	// Single is a node whose store is its own (SQLite): no replicas, no
	// lease.
	Single Role = "single"
)

// Config configures a replica.
type Config struct {
	Lease hotline.Lease
	// Me is this replica as the lease records it: name and addresses.
	Me hotline.LeaseHolder
	// TTL is how long the lease runs without a renewal; Renew is how often
	// the writer renews it and a standby checks on it.
	TTL, Renew time.Duration
	Log        *slog.Logger
	// Registry receives the replica's metrics.
	Registry prometheus.Registerer
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Replica is one node process of a party whose replicas share a store.
type Replica struct {
	cfg Config
	now func() time.Time

	mu        sync.Mutex
	role      Role
	epoch     int64               // held, while active
	holder    hotline.LeaseHolder // the writer as last read (this one, while active)
	readAt    time.Time           // when holder was read
	renewedAt time.Time           // the last renewal, while active

	metrics *metrics
}

// New returns a replica, a standby until it acquires the lease.
func New(cfg Config) *Replica {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	r := &Replica{cfg: cfg, now: cfg.Now, role: Standby}
	r.metrics = newMetrics(r, cfg.Registry)
	return r
}

// Status is a replica's view of its party's replicas, as the API shows it.
type Status struct {
	Name string `json:"name"` // this replica
	Role Role   `json:"role"`
	// Epoch is the lease's epoch: this replica's while it is active.
	Epoch int64 `json:"epoch"`
	// Active is the writer's operator API address ("" while none holds
	// the lease), and ActiveName its name.
	Active     string `json:"active"`
	ActiveName string `json:"active_name,omitempty"`
	// LeaseAge is how long ago the writer last renewed its lease, as far
	// as this replica knows, in seconds.
	LeaseAge float64 `json:"lease_age_seconds"`
}

// Status returns the replica's status.
func (r *Replica) Status() Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := Status{Name: r.cfg.Me.Name, Role: r.role, Epoch: r.holder.Epoch}
	if r.role == Active || r.holder.Live() && r.now().Sub(r.readAt) < r.holder.Left {
		s.Active, s.ActiveName = r.holder.API, r.holder.Name
	}
	s.LeaseAge = r.leaseAge().Seconds()
	return s
}

// leaseAge is how long ago the writer renewed, as this replica knows it;
// r.mu is held.
func (r *Replica) leaseAge() time.Duration {
	if r.role == Active {
		return r.now().Sub(r.renewedAt)
	}
	if r.readAt.IsZero() {
		return 0
	}
	return r.now().Sub(r.readAt) + r.cfg.TTL - r.holder.Left
}

// Writer returns the writer's operator API address, as last read, and
// whether a replica holds the lease.
func (r *Replica) Writer() (api string, ok bool) {
	s := r.Status()
	return s.Active, s.Active != ""
}

// Role returns the replica's role.
func (r *Replica) Role() Role {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.role
}

// TryAcquire makes one attempt at the lease. On success the store is
// fenced at the new epoch and the replica is active.
func (r *Replica) TryAcquire(ctx context.Context) (bool, error) {
	start := r.now()
	h, ok, err := r.cfg.Lease.Acquire(ctx, r.cfg.Me, r.cfg.TTL)
	if err != nil {
		return false, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	prev := r.holder
	r.holder, r.readAt = h, start
	if !ok {
		return false, nil
	}
	r.cfg.Lease.Fence(h.Epoch)
	r.role, r.epoch, r.renewedAt = Active, h.Epoch, start
	r.metrics.takeovers.Inc()
	if prev.Name != "" && prev.Name != r.cfg.Me.Name {
		r.metrics.failovers.Inc()
	}
	r.cfg.Log.Info("this replica is now the party's writer", "replica", r.cfg.Me.Name, "epoch", h.Epoch, "previous", prev.Name)
	return true, nil
}

// Campaign waits, as a standby, until this replica acquires the lease,
// checking every Renew (and keeping the writer's address fresh for
// forwarding). It returns nil once active, or ctx's error.
func (r *Replica) Campaign(ctx context.Context) error {
	t := time.NewTicker(r.cfg.Renew)
	defer t.Stop()
	var failing bool
	for {
		ok, err := r.TryAcquire(ctx)
		switch {
		case ok:
			return nil
		case err != nil && !failing:
			r.cfg.Log.Warn("standby cannot read the lease; retrying", "err", err)
		case err == nil && failing:
			r.cfg.Log.Info("standby reads the lease again")
		}
		failing = err != nil
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// ErrLost is Hold's answer once the lease is lost.
var ErrLost = errors.New("replica: lost the lease")

// Hold renews the lease every Renew while this replica is active. It
// returns an error wrapping ErrLost once the lease passed to another
// replica, or could not be renewed for TTL (it may have lapsed by now);
// the store is fenced, so nothing more is written either way. It returns
// nil when ctx ends: Release then hands the lease on.
func (r *Replica) Hold(ctx context.Context) error {
	r.mu.Lock()
	epoch, renewed := r.epoch, r.renewedAt
	r.mu.Unlock()
	t := time.NewTicker(r.cfg.Renew)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		start := r.now()
		// A renewal that outlives the lease is no renewal.
		rctx, cancel := context.WithTimeout(ctx, r.cfg.TTL-start.Sub(renewed))
		ok, err := r.cfg.Lease.Renew(rctx, epoch, r.cfg.TTL)
		cancel()
		switch {
		case err == nil && ok:
			renewed = start
			r.mu.Lock()
			r.renewedAt, r.holder.Left, r.readAt = start, r.cfg.TTL, start
			r.mu.Unlock()
			continue
		case err == nil:
			r.depose()
			return fmt.Errorf("%w: another replica took it over (this one held epoch %d)", ErrLost, epoch)
		case ctx.Err() != nil:
			return nil
		}
		r.metrics.renewFailures.Inc()
		if since := r.now().Sub(renewed); since >= r.cfg.TTL {
			r.depose()
			return fmt.Errorf("%w: could not renew it for %s, its whole term (%v)", ErrLost, since.Round(time.Millisecond), err)
		}
		r.cfg.Log.Warn("could not renew the lease; retrying", "err", err, "since_renewal", r.now().Sub(renewed).Round(time.Millisecond))
	}
}

// Release ends this replica's lease, if it holds one, so that a standby
// takes over at once rather than when it lapses. Call it once the node
// has stopped writing.
func (r *Replica) Release(ctx context.Context) {
	r.mu.Lock()
	epoch, active := r.epoch, r.role == Active
	r.mu.Unlock()
	if !active {
		return
	}
	r.depose()
	if err := r.cfg.Lease.Release(ctx, epoch); err != nil {
		r.cfg.Log.Warn("could not release the lease; a standby takes over when it lapses", "err", err)
		return
	}
	r.cfg.Log.Info("released the lease", "epoch", epoch)
}

// Forwarded counts an operator request a standby forwarded to the writer.
// A method the API does not use counts as "other": the label's values
// stay bounded whatever a client sends.
func (r *Replica) Forwarded(method, outcome string) {
	switch method {
	case "GET", "HEAD", "POST", "PUT", "DELETE":
	default:
		method = "other"
	}
	r.metrics.forwarded.WithLabelValues(method, outcome).Inc()
}

// depose makes the replica a standby again, after its lease ended.
func (r *Replica) depose() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.role = Standby
	r.holder.Left = 0
}
