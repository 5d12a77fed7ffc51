package devnet

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/postgres/pgtest"
)

// MustStart starts a dev network of n parties in a temporary directory and
// stops it when the test ends.
func MustStart(tb testing.TB, n int) *Network {
	tb.Helper()
	return mustStartWith(tb, Options{Parties: n, SyncInterval: 200 * time.Millisecond})
}

// onPostgres runs the whole suite with every party's store on PostgreSQL,
// each on a database of its own, instead of SQLite: .ci/run runs the
// package a second time with HOTLINE_DEVNET_STORE=postgres.
var onPostgres = os.Getenv("HOTLINE_DEVNET_STORE") == "postgres"

// onSQLiteOnly skips a test that is about the SQLite store itself when the
// suite runs on PostgreSQL, saying why.
func onSQLiteOnly(tb testing.TB, why string) {
	tb.Helper()
	if onPostgres {
		tb.Skip("on SQLite only: " + why)
	}
}

// mustStartWith prepares a network with opts in a temporary directory,
// starts it and stops it when the test ends. With HOTLINE_DEVNET_STORE set
// to postgres, every party not already put on PostgreSQL gets a database.
func mustStartWith(tb testing.TB, opts Options) *Network {
	tb.Helper()
	if onPostgres {
		admin := pgtest.DSN(tb)
		configure := opts.Configure
		opts.Configure = func(party string, cfg *config.Config) {
			if configure != nil {
				configure(party, cfg)
			}
			if cfg.Store.DSN != "" || cfg.Store.DSNFile != "" {
				return
			}
			dsn, drop, err := pgtest.Create(admin)
			if err != nil {
				tb.Fatal(err)
			}
			tb.Cleanup(func() { drop() })
			cfg.Store.DSN = dsn
		}
	}
	net, err := Prepare(tb.TempDir(), opts)
	if err != nil {
		tb.Fatal(err)
	}
	mustRun(tb, net)
	return net
}

// mustRun starts a prepared network and stops it when the test ends.
func mustRun(tb testing.TB, net *Network) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := net.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { net.Stop(context.Background()) })
}

func clientOf(p *Party) *client.Client { return client.New(p.Server.APIURL(), p.Token) }

// eventually polls cond until it returns true, failing the test after 20s.
func eventually(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func findEntry(tb testing.TB, c *client.Client, ch, id string) *node.EntryView {
	tb.Helper()
	log, err := c.Log(context.Background(), ch)
	if err != nil {
		tb.Fatal(err)
	}
	for i := range log {
		if log[i].ID == id {
			return &log[i]
		}
	}
	return nil
}

func TestNetwork_SendDeliverAck(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))

	// dev.json describes the network as DESIGN.md says.
	var m Manifest
	b, err := os.ReadFile(filepath.Join(net.Dir, "dev.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if len(m.Parties) != 2 || m.Parties[0].Name != "alpha" || m.Parties[1].API == "" || len(m.Channels) != len(hotline.Levels) {
		t.Fatalf("dev.json = %s", b)
	}
	for _, c := range m.Channels {
		if !slices.Equal(c.Members, []string{"alpha", "bravo"}) {
			t.Fatalf("channel %s members %v", c.Name, c.Members)
		}
	}

	ack := "10m"
	sent, err := alpha.Send(ctx, "alpha-bravo-strategic", api.SendRequest{Text: "Request call at 0900Z", Lang: "en", AckWithin: &ack})
	if err != nil {
		t.Fatal(err)
	}
	// Bravo holds the message; alpha holds bravo's signed receipt for it.
	eventually(t, "bravo holds the message", func() bool {
		e := findEntry(t, bravo, "alpha-bravo-strategic", sent.ID)
		return e != nil && e.Text == "Request call at 0900Z" && e.Author == "alpha" && e.Operator == Operator
	})
	eventually(t, "alpha sees it delivered", func() bool {
		e := findEntry(t, alpha, "alpha-bravo-strategic", sent.ID)
		return e != nil && e.Delivered != nil && !e.DeliveredTo["bravo"].IsZero()
	})
	e := findEntry(t, alpha, "alpha-bravo-strategic", sent.ID)
	if e.Acked || e.Overdue || e.Deadline == nil || e.DeliverySeen == nil || e.Deadline.Sub(*e.DeliverySeen) != 10*time.Minute {
		t.Fatalf("before ack: %+v", e)
	}
	// The delivered state is backed by a receipt entry in bravo's feed.
	log, _ := alpha.Log(ctx, "alpha-bravo-strategic")
	if !slices.ContainsFunc(log, func(v node.EntryView) bool {
		return v.Kind == "receipt" && v.Author == "bravo" && slices.ContainsFunc(v.Holds, func(h node.RefView) bool { return h.Party == "alpha" && h.Seq >= sent.Seq })
	}) {
		t.Fatal("no bravo receipt covering the message in alpha's log")
	}

	if _, err := bravo.Mark(ctx, "alpha-bravo-strategic", sent.ID[:12], "ack", "Agreed, 0900Z"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha sees it acknowledged", func() bool {
		e := findEntry(t, alpha, "alpha-bravo-strategic", sent.ID)
		return e != nil && e.Acked && len(e.AckedBy) == 1 && e.AckedBy[0].Party == "bravo" && e.AckedBy[0].Operator == Operator && e.AckedBy[0].Reply == "Agreed, 0900Z"
	})

	// Both nodes show the same channel in the same order.
	eventually(t, "both logs agree", func() bool {
		la, _ := alpha.Log(ctx, "alpha-bravo-strategic")
		lb, _ := bravo.Log(ctx, "alpha-bravo-strategic")
		return slices.EqualFunc(la, lb, func(a, b node.EntryView) bool { return a.ID == b.ID })
	})
}

// evidenceFiles returns the decoded evidence files of every equivocation
// p keeps, newest first, as the API streams them.
func evidenceFiles(tb testing.TB, p *Party) []*audit.Evidence {
	tb.Helper()
	ctx := context.Background()
	c := clientOf(p)
	page, err := c.Evidence(ctx, client.EvidenceQuery{Kind: "equivocation", Limit: 1000})
	if err != nil {
		tb.Fatal(err)
	}
	var out []*audit.Evidence
	for _, ev := range page.Evidence {
		body, err := c.EvidenceFile(ctx, ev.N)
		if err != nil {
			tb.Fatal(err)
		}
		b, err := io.ReadAll(body)
		body.Close()
		if err != nil {
			tb.Fatal(err)
		}
		doc, err := audit.DecodeEvidence(b)
		if err != nil {
			tb.Fatalf("evidence %d: %v", ev.N, err)
		}
		out = append(out, doc)
	}
	return out
}
