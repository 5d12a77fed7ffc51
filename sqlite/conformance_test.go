package sqlite

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/storetest"
)

// TestConformance runs the store conformance suite on SQLite files.
func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Backend{
		Place: func(t testing.TB) string { return filepath.Join(t.TempDir(), "hotline.db") },
		Open:  func(t testing.TB, place string) hotline.Store { return open(t, place) },
	})
}

// A store opened again is at the current schema version.
func TestStore_ReopenedAtTheCurrentSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hotline.db")
	open(t, path).Close()
	s := open(t, path)
	defer s.Close()
	if v, err := s.SchemaVersion(context.Background()); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(migrations))
	}
}
