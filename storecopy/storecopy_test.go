package storecopy_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/postgres/pgtest"
	"github.com/hotline-project/hotline/storecopy"
)

// A party that ran on SQLite moves to PostgreSQL: its stopped node's store
// is copied and checked, the node starts on the copy with everything it
// held, and it goes on talking to the other party.
func TestCopy_ANodeMovesToPostgreSQL(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	net, err := devnet.Prepare(t.TempDir(), devnet.Options{Parties: 2, SyncInterval: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer net.Stop(context.Background())
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	cl := func(p *devnet.Party) *client.Client { return client.New(p.Server.APIURL(), p.Token) }
	const ch = "alpha-bravo-theatre"
	var last *api.EntryRef
	for i := range 30 {
		if last, err = cl(alpha).Send(ctx, ch, api.SendRequest{Text: fmt.Sprint("before the move ", i)}); err != nil {
			t.Fatal(err)
		}
		if _, err := cl(bravo).Send(ctx, ch, api.SendRequest{Text: fmt.Sprint("reply ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	waitDelivered(t, cl(alpha), ch, last.ID)
	before, err := cl(alpha).Log(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}

	d, err := config.Open(alpha.Dir)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := storecopy.Copy(ctx, d.StorePath(), dsn, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Entries < 60 || rep.Feeds < 2 || rep.Rows["entries"] < 60 {
		t.Fatalf("copied %+v", rep)
	}
	// A second copy into the same database is refused.
	if _, err := storecopy.Copy(ctx, d.StorePath(), dsn, io.Discard); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Fatalf("a copy into a database that holds a store: %v, want ECONFLICT", err)
	}
	if err := os.WriteFile(filepath.Join(d.Path, "store.dsn"), []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := d.UseStoreDSNFile("store.dsn"); err != nil {
		t.Fatal(err)
	}
	if err := net.StartParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	if _, ok := alpha.Server.Store.(*postgres.Store); !ok {
		t.Fatalf("alpha restarted on a %T", alpha.Server.Store)
	}
	after, err := cl(alpha).Log(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Fatalf("alpha holds %d entries of the channel after the move, %d before", len(after), len(before))
	}
	for i := range before {
		if before[i].ID != after[i].ID || before[i].Cursor != after[i].Cursor {
			t.Fatalf("entry %d: %s at %s before the move, %s at %s after", i, before[i].ID, before[i].Cursor, after[i].ID, after[i].Cursor)
		}
	}
	next, err := cl(alpha).Send(ctx, ch, api.SendRequest{Text: "after the move"})
	if err != nil {
		t.Fatal(err)
	}
	if next.Seq <= last.Seq {
		t.Fatalf("alpha's feed went back: seq %d after %d", next.Seq, last.Seq)
	}
	waitDelivered(t, cl(alpha), ch, next.ID)

	time.Sleep(1500 * time.Millisecond) // let a checkpoint cover everything
	r, err := devnet.VerifyExport(ctx, alpha, ch)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK {
		t.Fatalf("alpha's archive after the move: %+v", r.Failures)
	}
}

func waitDelivered(t *testing.T, c *client.Client, ch, id string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		log, err := c.Log(context.Background(), ch)
		if err == nil {
			for _, e := range log {
				if e.ID == id && e.Delivered != nil {
					return
				}
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s not delivered after 20s", id)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
