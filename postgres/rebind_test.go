package postgres_test

import (
	"testing"

	"github.com/hotline-project/hotline/postgres"
)

func TestRebind(t *testing.T) {
	for q, want := range map[string]string{
		`SELECT a FROM t WHERE b = ? AND c IN (?, ?)`:     `SELECT a FROM t WHERE b = $1 AND c IN ($2, $3)`,
		`WHERE x = ?1 AND y = ?2 AND (?3 = '' OR z = ?3)`: `WHERE x = $1 AND y = $2 AND ($3 = '' OR z = $3)`,
		`SELECT 1`:           `SELECT 1`,
		`VALUES (?,?),(?,?)`: `VALUES ($1,$2),($3,$4)`,
	} {
		if got := postgres.Rebind(q); got != want {
			t.Errorf("rebind(%q) = %q, want %q", q, got, want)
		}
		if got := postgres.Rebind(q); got != want { // from the cache
			t.Errorf("rebind(%q) again = %q", q, got)
		}
	}
}
