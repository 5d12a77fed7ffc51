// Package sqlite implements hotline.Store on one SQLite file, with the
// pure-Go modernc.org/sqlite driver so the binary stays static and cgo-free.
//
// The database runs in WAL mode with synchronous=FULL: a commit returns
// only after the WAL is fsynced, which is what lets a node tell an operator
// that a message is safe. Writes are grouped by the node's single writer, so
// one fsync covers many entries. Reads use a separate pool of read-only
// connections and never wait for writes. The queries are package
// sqlstore's, shared with package postgres; this package keeps the file,
// its pragmas, its schema history and its writer's prepared statements.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"

	_ "modernc.org/sqlite" // registers the "sqlite" driver

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/sqlstore"
)

// Store is a hotline.Store on SQLite: the SQL of package sqlstore on one
// writing connection and a pool of read-only ones.
type Store struct {
	*sqlstore.Store
	write *sql.DB // one connection: all writes are serialised
	read  *sql.DB // read-only pool
	// What Append runs, prepared on the writer's connection (see wtx).
	wstmts writerStmts
}

var _ hotline.Store = (*Store)(nil)

// Open opens (creating if needed) the store at path and migrates its
// schema to the current version.
func Open(ctx context.Context, path string) (*Store, error) {
	// A new store is the node user's alone: SQLite gives its WAL and
	// shared-memory files the mode of the database file.
	if f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
		f.Close()
	}
	dsn := func(extra string) string {
		q := url.Values{}
		for _, p := range []string{"busy_timeout(10000)", "foreign_keys(1)", "synchronous(FULL)", "journal_mode(WAL)"} {
			q.Add("_pragma", p)
		}
		if extra != "" {
			q.Add("_pragma", extra)
		}
		q.Set("_txlock", "immediate")
		return "file:" + path + "?" + q.Encode()
	}
	w, err := sql.Open("sqlite", dsn(""))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetConnMaxIdleTime(0)
	s := &Store{write: w}
	if err := s.migrate(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	r, err := sql.Open("sqlite", dsn("query_only(1)"))
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Keep every connection of the pool open: a connection closed when
	// idle is opened again (and its statements prepared again) at the next
	// burst of requests.
	r.SetMaxOpenConns(max(4, 2*runtime.GOMAXPROCS(0)))
	r.SetMaxIdleConns(max(4, 2*runtime.GOMAXPROCS(0)))
	s.read = r
	s.Store, err = sqlstore.New(ctx, sqlstore.Backend{
		Read: r, Write: w,
		BeginRead: func(ctx context.Context) (sqlstore.Tx, error) {
			return r.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
		},
		BeginWrite: func(ctx context.Context) (sqlstore.Tx, error) {
			t, err := w.BeginTx(ctx, nil)
			if err != nil {
				return nil, err
			}
			return &wtx{Tx: t, stmts: &s.wstmts, db: w}, nil
		},
		Err: storeErr,
	})
	if err == nil {
		err = s.completeTrees(ctx)
	}
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	return s, nil
}

// Close closes the store, checkpointing the WAL into the main file.
func (s *Store) Close() error {
	if s.Store != nil {
		s.Store.Close()
	}
	s.wstmts.close()
	err := s.read.Close()
	if _, cerr := s.write.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`); cerr != nil && err == nil {
		err = cerr
	}
	if cerr := s.write.Close(); cerr != nil && err == nil {
		err = cerr
	}
	return err
}

func (s *Store) migrate(ctx context.Context) error {
	var v int
	if err := s.write.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this hotline (%d): upgrade hotline", v, len(migrations))
	}
	for ; v < len(migrations); v++ {
		tx, err := s.write.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := tx.ExecContext(ctx, migrations[v]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
		if hook := migrationHooks[v+1]; hook != nil {
			if err := hook(ctx, tx); err != nil {
				tx.Rollback()
				return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
			}
		}
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`PRAGMA user_version = %d`, v+1)); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	return nil
}

// SetMaxSize caps the store at about maxBytes (0: no cap beyond the
// disk's) and returns the cap in effect, which is never below the store's
// present size. A write that would pass the cap fails as a full disk
// does: with EUNAVAILABLE, writing nothing. Raising the cap, or freeing
// disk space, lets writes succeed again without a restart.
func (s *Store) SetMaxSize(ctx context.Context, maxBytes int64) (int64, error) {
	var pageSize int64
	if err := s.write.QueryRowContext(ctx, `PRAGMA page_size`).Scan(&pageSize); err != nil {
		return 0, fmt.Errorf("store size cap: %w", err)
	}
	pages := int64(1 << 32) // SQLite's own maximum
	if maxBytes > 0 {
		pages = max(1, maxBytes/pageSize)
	}
	var got int64
	if err := s.write.QueryRowContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, pages)).Scan(&got); err != nil {
		return 0, fmt.Errorf("store size cap: %w", err)
	}
	return got * pageSize, nil
}

// SchemaVersion returns the schema version of the open store.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.read.QueryRowContext(ctx, `PRAGMA user_version`).Scan(&v)
	return v, err
}

// storeErr classifies a write failure: a full disk, a read-only file or a
// lock held too long is EUNAVAILABLE (the operator can act on it and the
// node recovers when it clears); anything else is internal.
func storeErr(op string, err error) error {
	msg := err.Error()
	for _, s := range []string{"SQLITE_FULL", "database or disk is full", "SQLITE_BUSY", "database is locked", "SQLITE_READONLY", "SQLITE_IOERR", "disk I/O error"} {
		if strings.Contains(msg, s) {
			return fmt.Errorf("%s: %w", op, &hotline.Error{Code: hotline.EUNAVAILABLE,
				Message: "the node cannot write to its store (" + s + "); nothing was written: free space or fix the store and retry"})
		}
	}
	return fmt.Errorf("%s: %w", op, err)
}

// completeTrees builds the Merkle trees of a store written before they
// existed (schema version 3), once: a marker then spares every later
// open the scan of the entries.
func (s *Store) completeTrees(ctx context.Context) error {
	var done string
	err := s.write.QueryRowContext(ctx, `SELECT value FROM meta WHERE key = 'trees'`).Scan(&done)
	if err == nil {
		return nil
	}
	if !errors.Is(err, sql.ErrNoRows) {
		return err
	}
	if err := s.BackfillTrees(ctx); err != nil {
		return err
	}
	_, err = s.write.ExecContext(ctx, `INSERT INTO meta (key, value) VALUES ('trees', 'complete')`)
	return err
}
