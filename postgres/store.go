// Package postgres implements hotline.Store on PostgreSQL, through pgx,
// for a party that keeps its store on a database server it already runs
// with replicas and failover. It keeps the same tables, Merkle trees and
// exports as package sqlite, byte for byte, and passes the same
// conformance suite (package storetest).
//
// A commit returns when PostgreSQL reports it durable: with
// synchronous_commit on (the default), fsynced on the server, and with a
// synchronous standby configured, on two machines. The node's single
// writer groups writes, so one commit covers many entries.
package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/sqlstore"
)

// Store is a hotline.Store on PostgreSQL: the SQL of package sqlstore on
// one connection pool. PostgreSQL's MVCC gives reads their snapshot
// without waiting for writes.
type Store struct {
	*sqlstore.Store
	db    *sql.DB
	fence atomic.Int64 // the lease epoch write transactions check; 0: none (lease.go)
}

var _ hotline.Store = (*Store)(nil)

// Open connects to the database dsn names (a URL or key=value string, as
// libpq takes; several hosts with target_session_attrs=read-write follow a
// promoted standby) and migrates its schema to the current version.
func Open(ctx context.Context, dsn string) (*Store, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, fmt.Errorf("open store: %w", err)
	}
	db.SetMaxOpenConns(16)
	db.SetMaxIdleConns(16)
	s := &Store{db: db}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	p := pool{db}
	read := func(ctx context.Context) (sqlstore.Tx, error) {
		return p.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	}
	write := func(ctx context.Context) (sqlstore.Tx, error) {
		t, err := p.BeginTx(ctx, nil)
		if err != nil {
			return nil, err
		}
		if err := s.checkFence(ctx, t); err != nil {
			t.Rollback()
			return nil, err
		}
		return t, nil
	}
	if s.Store, err = sqlstore.New(ctx, sqlstore.Backend{Read: p, Write: p, BeginRead: read, BeginWrite: write, Err: storeErr}); err != nil {
		db.Close()
		return nil, fmt.Errorf("open store: %w", err)
	}
	return s, nil
}

// CreateDatabase creates the empty database name on the server admin
// names (a DSN of a role that may create databases), and returns the DSN
// of the new database.
func CreateDatabase(ctx context.Context, admin, name string) (string, error) {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return "", fmt.Errorf("database name %q: use lower-case letters, digits and _", name)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", fmt.Errorf("create database %s on %s: %w", name, Redact(admin), err)
	}
	return WithDatabase(admin, name), nil
}

// DropDatabase drops the database name on the server admin names, ending
// its sessions.
func DropDatabase(ctx context.Context, admin, name string) error {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789_") != "" {
		return fmt.Errorf("database name %q: use lower-case letters, digits and _", name)
	}
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, `DROP DATABASE IF EXISTS `+name+` WITH (FORCE)`); err != nil {
		return fmt.Errorf("drop database %s: %w", name, err)
	}
	return nil
}

// WithDatabase returns dsn naming database name instead of its own.
func WithDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		if u, err := url.Parse(dsn); err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	return dsn + " dbname=" + name
}

// Redact returns dsn with its password replaced, for logs and messages.
func Redact(dsn string) string {
	if cfg, err := pgconn.ParseConfig(dsn); err == nil && cfg.Password != "" {
		if u, err := url.Parse(dsn); err == nil && u.User != nil {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			return u.String()
		}
		return strings.ReplaceAll(dsn, cfg.Password, "xxxxx")
	}
	return dsn
}

// Close closes the store's connections.
func (s *Store) Close() error {
	s.Store.Close()
	return s.db.Close()
}

// migrate brings the schema to the current version, under an advisory
// lock, so that replicas starting together migrate it once. A database
// already at the current version is only read, so a store opens on a
// read-only standby too.
func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer conn.Close()
	version := func() (int, error) {
		var exists bool
		if err := conn.QueryRowContext(ctx, `SELECT to_regclass('schema_version') IS NOT NULL`).Scan(&exists); err != nil || !exists {
			return 0, err
		}
		var v int
		err := conn.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
		if errors.Is(err, sql.ErrNoRows) {
			return 0, nil
		}
		if err != nil {
			return 0, fmt.Errorf("read schema version: %w", err)
		}
		return v, nil
	}
	v, err := version()
	if err != nil || v == len(migrations) {
		return err
	}
	const lock = 0x686f746c696e65 // "hotline"
	if _, err := conn.ExecContext(ctx, `SELECT pg_advisory_lock($1)`, lock); err != nil {
		return fmt.Errorf("lock the schema: %w", err)
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `SELECT pg_advisory_unlock($1)`, lock)
	if v, err = version(); err != nil { // another replica may have migrated meanwhile
		return err
	}
	if v > len(migrations) {
		return fmt.Errorf("schema version %d is newer than this hotline (%d): upgrade hotline", v, len(migrations))
	}
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL);
		INSERT INTO schema_version (version) SELECT 0 WHERE NOT EXISTS (SELECT 1 FROM schema_version)`); err != nil {
		return fmt.Errorf("create the schema version: %w", err)
	}
	for ; v < len(migrations); v++ {
		t, err := conn.BeginTx(ctx, nil)
		if err != nil {
			return err
		}
		if _, err := t.ExecContext(ctx, migrations[v]); err != nil {
			t.Rollback()
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
		if _, err := t.ExecContext(ctx, `UPDATE schema_version SET version = $1`, v+1); err != nil {
			t.Rollback()
			return err
		}
		if err := t.Commit(); err != nil {
			return fmt.Errorf("migrate to schema version %d: %w", v+1, err)
		}
	}
	return nil
}

// SchemaVersion returns the schema version of the open store.
func (s *Store) SchemaVersion(ctx context.Context) (int, error) {
	var v int
	err := s.db.QueryRowContext(ctx, `SELECT version FROM schema_version`).Scan(&v)
	return v, err
}

// storeErr classifies a write failure: a full disk, a read-only server (a
// standby), a lost connection or a server shutting down is EUNAVAILABLE
// (the node recovers when it clears); anything else is internal.
func storeErr(op string, err error) error {
	var pe *pgconn.PgError
	unavailable := ""
	switch {
	case errors.As(err, &pe):
		switch {
		case pe.Code == "53100" || pe.Code == "53200" || pe.Code == "53300":
			unavailable = "the database server is out of disk, memory or connections"
		case pe.Code == "25006":
			unavailable = "the database is read-only (a standby)"
		case strings.HasPrefix(pe.Code, "08") || strings.HasPrefix(pe.Code, "57P"):
			unavailable = "the connection to the database was lost"
		}
	case pgconn.SafeToRetry(err) || pgconn.Timeout(err) || errors.Is(err, sql.ErrConnDone) || errors.Is(err, context.DeadlineExceeded):
		unavailable = "the database did not answer"
	}
	if unavailable != "" {
		return fmt.Errorf("%s: %w", op, &hotline.Error{Code: hotline.EUNAVAILABLE,
			Message: "the node cannot write to its store (" + unavailable + "); nothing was written: fix the database and retry"})
	}
	return fmt.Errorf("%s: %w", op, err)
}
