package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-project/hotline"
)

var _ hotline.Lease = (*Store)(nil)

// leaseCols are a holder's columns, with the time left in milliseconds
// by the server's clock (NULL for a lease released, which expires at
// -infinity).
const leaseCols = `epoch, holder, api, peer,
	CASE WHEN isfinite(expires) THEN (EXTRACT(EPOCH FROM (expires - clock_timestamp())) * 1000)::BIGINT END`

// Acquire implements hotline.Lease.
func (s *Store) Acquire(ctx context.Context, me hotline.LeaseHolder, ttl time.Duration) (hotline.LeaseHolder, bool, error) {
	h, err := scanHolder(s.db.QueryRowContext(ctx, `UPDATE replica_lease
		SET epoch = epoch + 1, holder = $1, api = $2, peer = $3, expires = clock_timestamp() + $4 * INTERVAL '1 millisecond'
		WHERE id = 1 AND expires <= clock_timestamp() RETURNING `+leaseCols, me.Name, me.API, me.Peer, ttl.Milliseconds()))
	if err == nil {
		return h, true, nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return h, false, storeErr("acquire the lease", err)
	}
	h, err = s.Holder(ctx)
	return h, false, err
}

// Renew implements hotline.Lease.
func (s *Store) Renew(ctx context.Context, epoch int64, ttl time.Duration) (bool, error) {
	res, err := s.db.ExecContext(ctx, `UPDATE replica_lease SET expires = clock_timestamp() + $2 * INTERVAL '1 millisecond'
		WHERE id = 1 AND epoch = $1`, epoch, ttl.Milliseconds())
	if err != nil {
		return false, storeErr("renew the lease", err)
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// Release implements hotline.Lease.
func (s *Store) Release(ctx context.Context, epoch int64) error {
	if _, err := s.db.ExecContext(ctx, `UPDATE replica_lease SET expires = '-infinity' WHERE id = 1 AND epoch = $1`, epoch); err != nil {
		return storeErr("release the lease", err)
	}
	return nil
}

// Holder implements hotline.Lease.
func (s *Store) Holder(ctx context.Context) (hotline.LeaseHolder, error) {
	h, err := scanHolder(s.db.QueryRowContext(ctx, `SELECT `+leaseCols+` FROM replica_lease WHERE id = 1`))
	if err != nil {
		return h, storeErr("read the lease", err)
	}
	return h, nil
}

func scanHolder(row *sql.Row) (hotline.LeaseHolder, error) {
	var h hotline.LeaseHolder
	var left sql.NullInt64 // NULL for an expiry of -infinity
	if err := row.Scan(&h.Epoch, &h.Name, &h.API, &h.Peer, &left); err != nil {
		return h, err
	}
	h.Left = time.Duration(left.Int64) * time.Millisecond
	if !left.Valid {
		h.Left = -1
	}
	return h, nil
}

// Fence implements hotline.Lease.
func (s *Store) Fence(epoch int64) { s.fence.Store(epoch) }

// FenceStall bounds how long a fenced write transaction may sit idle
// between its statements: longer, and the server ends it, writing
// nothing. A writer paused (SIGSTOP, a frozen VM) in the middle of a
// transaction would otherwise hold its share lock on the lease row, and
// the takeover waiting for that lock, for as long as it stays paused.
const FenceStall = 2 * time.Second

// checkFence runs first in every write transaction of a fenced store. It
// takes a share lock on the lease row, which a takeover's update waits
// for: either this transaction commits before the takeover, or it sees
// the new epoch and writes nothing. It also sets FenceStall for the
// transaction.
func (s *Store) checkFence(ctx context.Context, t *tx) error {
	want := s.fence.Load()
	if want == 0 {
		return nil
	}
	var got int64
	var stall string
	if err := t.QueryRowContext(ctx, `SELECT set_config('idle_in_transaction_session_timeout', ?, true), epoch FROM replica_lease WHERE id = 1 FOR SHARE`,
		fmt.Sprint(FenceStall.Milliseconds())).Scan(&stall, &got); err != nil {
		return storeErr("check the lease", err)
	}
	if got != want {
		return &hotline.Error{Code: hotline.EUNAVAILABLE, Message: fmt.Sprintf(
			"this replica is no longer the party's writer (its lease, epoch %d, passed to epoch %d); nothing was written: retry, and the request goes to the new writer", want, got)}
	}
	return nil
}
