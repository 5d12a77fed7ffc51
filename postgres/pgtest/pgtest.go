// Package pgtest gives tests a database of their own on a real PostgreSQL
// server: the one HOTLINE_POSTGRES_DSN names, where the tests may create
// and drop databases. .ci/run starts a throwaway server and sets it.
// Without it the tests skip, saying so, unless HOTLINE_REQUIRE_POSTGRES is
// set (CI sets it), which makes a missing server a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // registers the "pgx" driver
)

// DSN returns the server's DSN, or skips the test (fails it, when
// HOTLINE_REQUIRE_POSTGRES is set) if there is none.
func DSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("HOTLINE_POSTGRES_DSN")
	if dsn == "" {
		msg := "no PostgreSQL server: set HOTLINE_POSTGRES_DSN to one where tests may create databases (.ci/run starts one)"
		if os.Getenv("HOTLINE_REQUIRE_POSTGRES") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return dsn
}

// Database creates an empty database for the test, dropped when the test
// ends, and returns its DSN.
func Database(t testing.TB) string {
	t.Helper()
	dsn, drop, err := Create(DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := drop(); err != nil {
			t.Error(err)
		}
	})
	return dsn
}

// Create creates an empty database on the server admin names, and
// returns its DSN and a function that drops it.
func Create(admin string) (dsn string, drop func() error, err error) {
	var b [6]byte
	rand.Read(b[:])
	name := fmt.Sprintf("hotline_test_%x", b)
	db, err := sql.Open("pgx", admin)
	if err != nil {
		return "", nil, err
	}
	defer db.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := db.ExecContext(ctx, `CREATE DATABASE `+name); err != nil {
		return "", nil, fmt.Errorf("create a test database on the server HOTLINE_POSTGRES_DSN names: %w", err)
	}
	drop = func() error {
		db, err := sql.Open("pgx", admin)
		if err != nil {
			return err
		}
		defer db.Close()
		if _, err := db.Exec(`DROP DATABASE IF EXISTS ` + name + ` WITH (FORCE)`); err != nil {
			return fmt.Errorf("drop test database %s: %w", name, err)
		}
		return nil
	}
	return WithDatabase(admin, name), drop, nil
}

// WithDatabase returns dsn naming database name instead of its own.
func WithDatabase(dsn, name string) string {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err == nil {
			u.Path = "/" + name
			return u.String()
		}
	}
	return dsn + " dbname=" + name
}
