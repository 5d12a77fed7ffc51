package sqlite

import (
	"context"
	"database/sql"
	"slices"
	"sync"
)

// maxWriterStmts bounds the writer's prepared statements: the queries an
// Append runs are a fixed set, far fewer than this.
const maxWriterStmts = 64

// writerStmts are the statements the writer has prepared on its one
// connection, by query: each is parsed once for the store's life, where
// it was parsed again for every row an Append wrote.
type writerStmts struct {
	mu     sync.Mutex
	m      map[string]*sql.Stmt
	closed bool
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
	w.m, w.closed = nil, true
}

// wtx is a transaction on the writer's connection that runs each query
// through the statement the writer prepared for it, when it has one, and
// notes the ones it had not, to be prepared once the transaction is over
// (the writer's one connection is busy until then).
type wtx struct {
	*sql.Tx
	stmts  *writerStmts
	db     *sql.DB // the writer's
	missed []string
}

// Commit commits the transaction and prepares what it ran unprepared.
func (t *wtx) Commit() error {
	err := t.Tx.Commit()
	t.learn(context.Background(), t.db)
	return err
}

// Rollback rolls the transaction back, if it is still open, and prepares
// what it ran unprepared.
func (t *wtx) Rollback() error {
	err := t.Tx.Rollback()
	t.learn(context.Background(), t.db)
	return err
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

// ExecContext implements sqlstore.DB.
func (t *wtx) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return t.Tx.ExecContext(ctx, query, args...)
}

// QueryContext implements sqlstore.DB.
func (t *wtx) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return t.Tx.QueryContext(ctx, query, args...)
}

// QueryRowContext implements sqlstore.DB.
func (t *wtx) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := t.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return t.Tx.QueryRowContext(ctx, query, args...)
}

// PrepareContext implements sqlstore.DB.
func (t *wtx) PrepareContext(ctx context.Context, query string) (*sql.Stmt, error) {
	if st := t.stmt(ctx, query); st != nil {
		return st, nil
	}
	return t.Tx.PrepareContext(ctx, query)
}

// learn prepares, on the writer's connection, what the transaction ran
// unprepared. Call it once the transaction has ended. It holds no lock
// while it prepares: preparing waits for the writer's one connection,
// which another transaction may hold while it looks up its statements.
func (t *wtx) learn(ctx context.Context, db *sql.DB) {
	missed := t.missed
	t.missed = nil
	for _, q := range missed {
		t.stmts.mu.Lock()
		_, known := t.stmts.m[q]
		full := len(t.stmts.m) >= maxWriterStmts
		t.stmts.mu.Unlock()
		if full {
			return
		}
		if known {
			continue
		}
		st, err := db.PrepareContext(ctx, q)
		if err != nil {
			continue
		}
		t.stmts.mu.Lock()
		if _, known := t.stmts.m[q]; known || len(t.stmts.m) >= maxWriterStmts || t.stmts.closed {
			st.Close()
		} else {
			if t.stmts.m == nil {
				t.stmts.m = make(map[string]*sql.Stmt)
			}
			t.stmts.m[q] = st
		}
		t.stmts.mu.Unlock()
	}
}
