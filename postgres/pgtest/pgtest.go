// Package pgtest gives tests a database of their own on a real PostgreSQL
// server: the one HOTLINE_POSTGRES_DSN names, where the tests may create
// and drop databases. .ci/run starts a throwaway server and sets it.
// Without it the tests skip, saying so, unless HOTLINE_REQUIRE_POSTGRES is
// set (CI sets it), which makes a missing server a failure.
package pgtest

import (
	"context"
	"crypto/rand"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/hotline-project/hotline/postgres"
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
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if dsn, err = postgres.CreateDatabase(ctx, admin, name); err != nil {
		return "", nil, err
	}
	drop = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		return postgres.DropDatabase(ctx, admin, name)
	}
	return dsn, drop, nil
}
