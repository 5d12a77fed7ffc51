package postgres

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// The store's queries are written with ? placeholders (?N for a numbered
// one), as the SQLite store's are; PostgreSQL wants $N. rebind converts a
// query once and remembers it: the store's queries are a fixed set, far
// fewer than maxRebound, past which they are converted each time.

const maxRebound = 1024

var (
	rebound  sync.Map // query → the query with $N placeholders
	nRebound atomic.Int64
)

func rebind(q string) string {
	if r, ok := rebound.Load(q); ok {
		return r.(string)
	}
	var b strings.Builder
	n := 0
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c != '?' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(q) && q[j] >= '0' && q[j] <= '9' {
			j++
		}
		if j > i+1 { // ?N
			b.WriteByte('$')
			b.WriteString(q[i+1 : j])
			i = j - 1
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	r := b.String()
	if nRebound.Add(1) <= maxRebound {
		rebound.Store(q, r)
	}
	return r
}

// pool is the connection pool, taking ? placeholders.
type pool struct{ *sql.DB }

// ExecContext implements sqlstore.DB.
func (p pool) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return p.DB.ExecContext(ctx, rebind(q), args...)
}

// QueryContext implements sqlstore.DB.
func (p pool) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return p.DB.QueryContext(ctx, rebind(q), args...)
}

// QueryRowContext implements sqlstore.DB.
func (p pool) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return p.DB.QueryRowContext(ctx, rebind(q), args...)
}

// PrepareContext implements sqlstore.DB.
func (p pool) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return p.DB.PrepareContext(ctx, rebind(q))
}

// BeginTx begins a transaction taking ? placeholders. A read-only one
// reads one snapshot (REPEATABLE READ), as the SQLite store's reads do: a
// page and its index rows agree.
func (p pool) BeginTx(ctx context.Context, opts *sql.TxOptions) (*tx, error) {
	if opts != nil && opts.ReadOnly && opts.Isolation == sql.LevelDefault {
		o := *opts
		o.Isolation = sql.LevelRepeatableRead
		opts = &o
	}
	t, err := p.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	return &tx{t}, nil
}

// tx is a transaction, taking ? placeholders.
type tx struct{ *sql.Tx }

// ExecContext implements sqlstore.DB.
func (t *tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	return t.Tx.ExecContext(ctx, rebind(q), args...)
}

// QueryContext implements sqlstore.DB.
func (t *tx) QueryContext(ctx context.Context, q string, args ...any) (*sql.Rows, error) {
	return t.Tx.QueryContext(ctx, rebind(q), args...)
}

// QueryRowContext implements sqlstore.DB.
func (t *tx) QueryRowContext(ctx context.Context, q string, args ...any) *sql.Row {
	return t.Tx.QueryRowContext(ctx, rebind(q), args...)
}

// PrepareContext implements sqlstore.DB.
func (t *tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	return t.Tx.PrepareContext(ctx, rebind(q))
}
