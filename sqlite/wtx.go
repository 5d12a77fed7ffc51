package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"
)

// dbtx is what the store's writing helpers run statements on: a plain
// transaction (migrations) or a writer transaction (wtx).
type dbtx interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// maxWriterStmts bounds the writer's prepared statements: the queries an
// Append runs are a fixed set, far fewer than this.
const maxWriterStmts = 64

// writerStmts are the statements the writer has prepared on its one
// connection, by query: each is parsed once for the store's life, where
// it was parsed again for every row an Append wrote.
type writerStmts struct {
	mu sync.Mutex
	m  map[string]*sql.Stmt
}

func (w *writerStmts) get(query string) *sql.Stmt {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.m[query]
}

func (w *writerStmts) close() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, st := range w.m {
		st.Close()
	}
	w.m = nil
}

// wtx is a transaction on the writer's connection that runs each query
// through the statement the writer prepared for it, when it has one, and
// notes the ones it had not, to be prepared once the transaction is over
// (the writer's one connection is busy until then).
type wtx struct {
	*sql.Tx
	stmts  *writerStmts
	missed []string
}

func (t *wtx) stmt(ctx context.Context, query string) *sql.Stmt {
	if st := t.stmts.get(query); st != nil {
		return t.Tx.StmtContext(ctx, st)
	}
	if !slices.Contains(t.missed, query) {
		t.missed = append(t.missed, query)
	}
	return nil
}

// ExecContext implements dbtx.
func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext implements dbtx.
func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext implements dbtx.
func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// PrepareContext implements dbtx.
func (t *wtx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st, nil
	}
	return t.Tx.PrepareContext(ctx, query)
}

// learn prepares, on the writer's connection, what the transaction ran
// unprepared. Call it once the transaction has ended.
func (t *wtx) learn(ctx context.Context, db *sql.DB) {
	if len(t.missed) == 0 {
		return
	}
	t.stmts.mu.Lock()
	defer t.stmts.mu.Unlock()
	if t.stmts.m == nil {
		t.stmts.m = make(map[string]*sql.Stmt)
	}
	for _, q := range t.missed {
		if len(t.stmts.m) >= maxWriterStmts {
			return
		}
		if st, err := db.PrepareContext(ctx, q); err == nil {
			t.stmts.m[q] = st
		}
	}
}
