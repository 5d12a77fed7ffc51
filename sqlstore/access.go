package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/hotline-project/hotline"
)

// Token and operator look-ups go through the store's cache
// (storecache.Access), valid while the access epoch holds: triggers bump
// it in the same transaction as any change to operators or tokens.

// readAccessEpoch reads the access epoch.
func (s *Store) readAccessEpoch(ctx context.Context) (int64, error) {
	var e int64
	if err := s.readEpoch.QueryRowContext(ctx).Scan(&e); err != nil {
		return 0, s.storeErr("read access epoch", err)
	}
	return e, nil
}

// OperatorByToken implements hotline.Store.
func (s *Store) OperatorByToken(ctx context.Context, tokenHash [32]byte) (string, error) {
	return s.access.OperatorByToken(ctx, tokenHash, func() (string, error) {
		var op string
		err := s.operatorByToken.QueryRowContext(ctx, tokenHash[:]).Scan(&op)
		if errors.Is(err, sql.ErrNoRows) {
			return "", hotline.Errorf(hotline.ENOTFOUND, "no such token")
		}
		if err != nil {
			return "", s.storeErr("look up token", err)
		}
		return op, nil
	})
}

// Operator implements hotline.Store.
func (s *Store) Operator(ctx context.Context, name string) (hotline.Operator, error) {
	return s.access.Operator(ctx, name, func() (*hotline.Operator, error) {
		ops, err := scanOperators(s.operatorByName.QueryContext(ctx, name))
		if err != nil || len(ops) == 0 {
			return nil, err
		}
		return &ops[0], nil
	})
}
