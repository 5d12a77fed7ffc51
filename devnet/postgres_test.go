package devnet

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/postgres/pgtest"
)

// A party whose store is on PostgreSQL talks to one on SQLite as any two
// parties do: messages both ways, each receipted, a restart that loses
// nothing, and an archive that verifies offline and holds the same
// channel as the other side's.
func TestPostgres_APartyOnPostgreSQLTalksToOneOnSQLite(t *testing.T) {
	net := startAlphaOn(t, pgtest.Database(t))
	ctx := context.Background()
	const ch = "alpha-bravo-theatre"
	send := func(from *Party, text string) *api.EntryRef {
		t.Helper()
		ref, err := clientOf(from).Send(ctx, ch, api.SendRequest{Text: text, Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		return ref
	}
	delivered := func(from *Party, id string) {
		t.Helper()
		eventually(t, from.Name+"'s "+id[:8]+" delivered", func() bool {
			e := findEntry(t, clientOf(from), ch, id)
			return e != nil && e.Delivered != nil
		})
	}
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	var sent []string
	for i := range 20 {
		sent = append(sent, send(alpha, fmt.Sprint("from PostgreSQL ", i)).ID, send(bravo, fmt.Sprint("from SQLite ", i)).ID)
	}
	delivered(alpha, sent[len(sent)-2])
	delivered(bravo, sent[len(sent)-1])

	// alpha restarts on the same database and goes on.
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	if err := net.StartParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	after := send(alpha, "after the restart")
	delivered(alpha, after.ID)
	for _, id := range sent {
		if findEntry(t, clientOf(alpha), ch, id) == nil {
			t.Fatalf("alpha lost %s in the restart", id)
		}
	}

	// Both hold the same channel in the same order, and alpha's archive
	// verifies offline.
	eventually(t, "both logs agree", func() bool {
		la, _ := clientOf(alpha).Log(ctx, ch)
		lb, _ := clientOf(bravo).Log(ctx, ch)
		return len(la) > 40 && slices.EqualFunc(la, lb, func(a, b node.EntryView) bool { return a.ID == b.ID })
	})
	time.Sleep(1500 * time.Millisecond) // let a checkpoint cover everything
	r, err := VerifyExport(ctx, alpha, ch)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK || r.Verified < 41 {
		t.Fatalf("alpha's archive: %d verified, failures %+v", r.Verified, r.Failures)
	}
}

// startAlphaOn starts alpha and bravo, alpha with its store on the
// PostgreSQL database dsn names and bravo on SQLite.
func startAlphaOn(t *testing.T, dsn string) *Network {
	t.Helper()
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond,
		Configure: func(party string, cfg *config.Config) {
			if party == "alpha" {
				cfg.Store.DSN = dsn
			}
		}})
	if _, ok := net.Party("alpha").Server.Store.(*postgres.Store); !ok {
		t.Fatalf("alpha's store is a %T, not PostgreSQL", net.Party("alpha").Server.Store)
	}
	return net
}

// holdsAll reports whether party p's log of channel ch holds every entry
// of ids.
func holdsAll(ctx context.Context, p *Party, ch string, ids []string) bool {
	log, err := clientOf(p).Log(ctx, ch)
	if err != nil {
		return false
	}
	held := make(map[string]bool, len(log))
	for _, e := range log {
		held[e.ID] = true
	}
	for _, id := range ids {
		if !held[id] {
			return false
		}
	}
	return true
}
