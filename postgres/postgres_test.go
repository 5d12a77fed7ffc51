package postgres_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/postgres/pgtest"
	"github.com/hotline-project/hotline/storetest"
)

// Replicas of a party start together on one database: they migrate its
// schema once, under an advisory lock, and all open it.
func TestOpen_ReplicasMigrateOnce(t *testing.T) {
	dsn := pgtest.Database(t)
	var wg sync.WaitGroup
	stores := make([]*postgres.Store, 4)
	errs := make([]error, 4)
	for i := range stores {
		wg.Go(func() { stores[i], errs[i] = postgres.Open(context.Background(), dsn) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
		defer stores[i].Close()
	}
	if v, err := stores[0].SchemaVersion(context.Background()); err != nil || v != len(postgres.Migrations) {
		t.Fatalf("schema version %d, %v; want %d", v, err, len(postgres.Migrations))
	}
}

// A change to tokens or operators made through another connection (the
// CLI, or another replica) takes effect at the next look-up.
func TestAccess_ChangesFromAnotherReplicaTakeEffectAtOnce(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	node, other := open(t, dsn), open(t, dsn)
	defer node.Close()
	defer other.Close()
	tok := sha256.Sum256([]byte("hl_duty"))
	if err := other.AddOperatorToken(ctx, "duty", tok); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if op, err := node.OperatorByToken(ctx, tok); err != nil || op != "duty" {
			t.Fatalf("look-up: %q, %v", op, err)
		}
	}
	if q := node.Access().Queries(); q != 1 {
		t.Fatalf("3 look-ups ran %d queries; want 1 (then cached)", q)
	}
	if err := other.PutOperator(ctx, hotline.Operator{Name: "duty", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	if err := other.SetOperatorDisabled(ctx, "duty", true); err != nil {
		t.Fatal(err)
	}
	if _, err := node.OperatorByToken(ctx, tok); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("token of an operator disabled elsewhere: %v, want ENOTFOUND", err)
	}
	if op, err := node.Operator(ctx, "duty"); err != nil || !op.Disabled {
		t.Fatalf("operator disabled elsewhere: %+v, %v", op, err)
	}
	if err := other.SetOperatorDisabled(ctx, "duty", false); err != nil {
		t.Fatal(err)
	}
	if _, err := other.RevokeOperatorToken(ctx, fmt.Sprintf("%x", tok[:8])); err != nil {
		t.Fatal(err)
	}
	if _, err := node.OperatorByToken(ctx, tok); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("token revoked elsewhere: %v, want ENOTFOUND", err)
	}
}

// A database that refuses writes (a standby, or one set read-only) makes
// Append fail with EUNAVAILABLE, writing nothing; writes succeed again
// once it accepts them.
func TestAppend_AReadOnlyDatabaseIsUnavailable(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	s := open(t, dsn)
	ch := storetest.ThreeParties(t, s)
	c := storetest.NewChatter(t, ch.ID)
	first := c.Message("alpha", "before")
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: first}}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	admin, err := sql.Open("pgx", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	setReadOnly := func(on bool) {
		if _, err := admin.Exec(fmt.Sprintf(`ALTER DATABASE %s SET default_transaction_read_only = %v`, dbName(t, admin), on)); err != nil {
			t.Fatal(err)
		}
	}
	setReadOnly(true)
	s, err = postgres.Open(ctx, dsn) // the schema is current: opening reads only
	if err != nil {
		t.Fatal(err)
	}
	second := c.Message("alpha", "while read-only")
	err = s.Append(ctx, time.Now(), []hotline.Write{{Entry: second}})
	if hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
		t.Fatalf("append to a read-only database: %v, want EUNAVAILABLE", err)
	}
	s.Close()
	setReadOnly(false)
	s = open(t, dsn)
	defer s.Close()
	got, err := s.Feed(ctx, hotline.Feed{Channel: ch.ID, Party: "alpha"}, 1, 10)
	if err != nil || len(got) != 1 || got[0].ID() != first.ID() {
		t.Fatalf("after the refused append: %d entries, %v", len(got), err)
	}
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: second}}); err != nil {
		t.Fatalf("append once writable again: %v", err)
	}
	if id, ok, err := s.IDAt(ctx, hotline.Feed{Channel: ch.ID, Party: "alpha"}, 2); err != nil || !ok || id != second.ID() {
		t.Fatalf("the second entry: %v, %v", ok, err)
	}
}

func dbName(t *testing.T, db *sql.DB) string {
	t.Helper()
	var name string
	if err := db.QueryRow(`SELECT current_database()`).Scan(&name); err != nil {
		t.Fatal(err)
	}
	return name
}
