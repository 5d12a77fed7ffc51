package hotline

import (
	"context"
	"time"
)

// Lease is the record, in the store a party's replicas share, of which
// replica is the party's writer. Its epoch grows by one at every takeover;
// a store fenced at an epoch (Fence) refuses every write transaction once
// the lease has passed to a later epoch, so a deposed writer that has not
// noticed yet can never append, and a feed can never fork.
//
// Times are the database server's, so the replicas' clocks do not matter.
type Lease interface {
	// Acquire takes the lease for ttl if it has expired, and returns the
	// new epoch; ok is false, with the current holder, while another
	// replica (or an earlier run of this one) holds it.
	Acquire(ctx context.Context, me LeaseHolder, ttl time.Duration) (h LeaseHolder, ok bool, err error)
	// Renew extends the lease of epoch by ttl from now; ok is false once
	// the lease has passed to a later epoch.
	Renew(ctx context.Context, epoch int64, ttl time.Duration) (ok bool, err error)
	// Release ends the lease of epoch now, so that a standby takes over
	// without waiting for it to expire.
	Release(ctx context.Context, epoch int64) error
	// Holder returns the replica that holds, or last held, the lease.
	Holder(ctx context.Context) (LeaseHolder, error)
	// Fence makes every later write transaction check, in the same
	// transaction, that the lease is still at epoch; once it is not, they
	// fail with EUNAVAILABLE and write nothing. Zero turns the check off.
	Fence(epoch int64)
}

// LeaseHolder is a replica as the lease records it.
type LeaseHolder struct {
	Name string // the replica's name (replica.name)
	API  string // its operator API address, host:port
	Peer string // its peer link address, host:port
	// Epoch is the lease's epoch: the takeovers so far.
	Epoch int64
	// Left is how long the lease has to run; zero or less once expired.
	Left time.Duration
}

// Live reports whether the lease has yet to expire.
func (h LeaseHolder) Live() bool { return h.Left > 0 }
