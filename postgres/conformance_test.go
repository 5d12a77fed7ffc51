package postgres_test

import (
	"context"
	"testing"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/postgres/pgtest"
	"github.com/hotline-project/hotline/storetest"
)

func open(t testing.TB, dsn string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestConformance runs the store conformance suite on a real PostgreSQL,
// a database per test.
func TestConformance(t *testing.T) {
	pgtest.DSN(t)
	storetest.Run(t, storetest.Backend{
		Place: pgtest.Database,
		Open:  func(t testing.TB, place string) hotline.Store { return open(t, place) },
	})
}
