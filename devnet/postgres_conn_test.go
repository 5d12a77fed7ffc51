package devnet

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/postgres/pgtest"
)

// A node on PostgreSQL whose connections to the database are cut (the
// server restarts, a proxy drops them) fails the writes in flight
// cleanly, loses none it reported accepted, and writes again at once.
func TestPostgres_CutConnectionsLoseNothing(t *testing.T) {
	dsn := pgtest.Database(t)
	net := startAlphaOn(t, dsn)
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	const ch = "alpha-bravo-theatre"

	admin, err := sql.Open("pgx", pgtest.DSN(t))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close()
	var dbname string
	if i := strings.LastIndex(dsn, "/"); i >= 0 {
		dbname, _, _ = strings.Cut(dsn[i+1:], "?")
	}

	var mu sync.Mutex
	var accepted []string
	var failed atomic.Int64
	var otherErr atomic.Pointer[error] // a failure that is not EUNAVAILABLE
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				ref, err := clientOf(alpha).Send(ctx, ch, api.SendRequest{Text: fmt.Sprintf("sender %d message %d", w, i)})
				if err != nil {
					failed.Add(1)
					if hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
						otherErr.Store(&err)
					}
					continue
				}
				mu.Lock()
				accepted = append(accepted, ref.ID)
				mu.Unlock()
			}
		})
	}
	// Cut every connection alpha holds to its database, three times.
	for range 3 {
		time.Sleep(300 * time.Millisecond)
		var n int
		if err := admin.QueryRow(`SELECT COUNT(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()`, dbname).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			t.Fatal("alpha held no connection to its database")
		}
	}
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d sends accepted, %d failed while connections were cut", len(accepted), failed.Load())
	if len(accepted) == 0 {
		t.Fatal("no send was accepted")
	}
	if err := otherErr.Load(); err != nil {
		t.Fatalf("a send failed otherwise than as unavailable: %v", *err)
	}

	// Every send reported accepted is held by alpha and delivered to
	// bravo; and alpha writes again.
	after, err := clientOf(alpha).Send(ctx, ch, api.SendRequest{Text: "after the cuts"})
	if err != nil {
		t.Fatalf("a send after the cuts: %v", err)
	}
	eventually(t, "every accepted message delivered", func() bool {
		return holdsAll(ctx, bravo, ch, append(accepted, after.ID))
	})
}
