package devnet

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/faultnet"
	"github.com/hotline-project/hotline/postgres/pgtest"
	"github.com/hotline-project/hotline/replica"
	"github.com/hotline-project/hotline/server"
)

// alpha runs as two replicas on PostgreSQL, bravo as one node on SQLite.
// The standby forwards operators to the writer and reports itself; when
// the writer stops cleanly it hands the lease over, the standby takes
// over, and bravo's link moves to the new writer's endpoint.
func TestReplicas_AStandbyForwardsAndTakesOverACleanStop(t *testing.T) {
	dsn := pgtest.Database(t)
	net := mustStartWith(t, Options{Parties: 2, Replicas: 2, SyncInterval: 200 * time.Millisecond,
		Configure: func(party string, cfg *config.Config) {
			if party == "alpha" {
				cfg.Store.DSN = dsn
			}
		}})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	if len(alpha.Replicas) != 2 || len(bravo.Replicas) != 0 && !onPostgres {
		t.Fatalf("replica directories: alpha %v, bravo %v", alpha.Replicas, bravo.Replicas)
	}
	standby, err := server.Start(ctx, alpha.Replicas[1], server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Close(context.Background()) })
	if standby.Replica().Role() != replica.Standby || standby.ActiveNode() != nil {
		t.Fatalf("the second replica is %s", standby.Replica().Role())
	}
	writerAPI := strings.TrimPrefix(alpha.Server.APIURL(), "http://")
	sc := client.New(standby.APIURL(), alpha.Token)
	st, err := sc.Replica(ctx)
	if err != nil || st.Role != replica.Standby || st.Active != writerAPI || st.Epoch < 1 {
		t.Fatalf("standby's status: %+v, %v; want standby, the writer at %s", st, err, writerAPI)
	}
	if st, err := clientOf(alpha).Replica(ctx); err != nil || st.Role != replica.Active || st.Active != writerAPI {
		t.Fatalf("writer's status: %+v, %v", st, err)
	}
	bravoRole := replica.Single
	if onPostgres {
		bravoRole = replica.Active // its only replica running
	}
	if st, err := clientOf(bravo).Replica(ctx); err != nil || st.Role != bravoRole {
		t.Fatalf("bravo's status: %+v, %v; want %s", st, err, bravoRole)
	}
	resp, err := http.Get(standby.APIURL() + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(string(body), "ready standby") {
		t.Fatalf("standby's /readyz: %d %q", resp.StatusCode, body)
	}
	if _, err := sc.Identity(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.New(standby.APIURL(), "hl_wrong").Replica(ctx); err == nil {
		t.Fatal("the standby reported itself to a wrong token")
	}

	const ch = "alpha-bravo-policy"
	send := func(c *client.Client, text string) string {
		t.Helper()
		ref, err := c.Send(ctx, ch, api.SendRequest{Text: text})
		if err != nil {
			t.Fatalf("send %q: %v", text, err)
		}
		return ref.ID
	}
	ids := []string{send(sc, "through the standby")}
	metrics := scrape(t, standby.MetricsURL())
	for _, want := range []string{`hotline_replica_active 0`, `hotline_replica_forwarded_requests_total{method="POST",outcome="forwarded"} 1`} {
		if !strings.Contains(metrics, want) {
			t.Errorf("standby's metrics lack %s", want)
		}
	}

	// The writer stops cleanly: it releases the lease, the standby takes
	// it, and bravo's link finds the new writer.
	if err := net.StopParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the standby takes over", func() bool { return standby.Replica().Role() == replica.Active })
	ids = append(ids, send(sc, "through the new writer"))
	eventually(t, "bravo holds what the new writer sent", func() bool { return holdsAll(ctx, bravo, ch, ids) })
	if !strings.Contains(scrape(t, standby.MetricsURL()), "hotline_replica_failovers_total 1") {
		t.Error("the takeover is not counted in hotline_replica_failovers_total")
	}

	// The first replica comes back, as a standby, and forwards to the new writer.
	if err := net.StartParty(ctx, alpha); err != nil {
		t.Fatal(err)
	}
	if alpha.Server.Replica().Role() != replica.Standby {
		t.Fatalf("the restarted replica is %s, not a standby", alpha.Server.Replica().Role())
	}
	ids = append(ids, send(clientOf(alpha), "through the first replica, now a standby"))
	eventually(t, "bravo holds everything", func() bool { return holdsAll(ctx, bravo, ch, ids) })
}

// alpha's writer loses its connections to the database (a partition
// between them): it cannot renew its lease, the standby, which still
// reaches the database, takes over once the lease lapses, and the cut-off
// writer stops on its own. Operators sending through the standby wait
// through the failover and lose nothing.
func TestReplicas_AWriterCutOffFromTheDatabaseIsReplaced(t *testing.T) {
	dsn := pgtest.Database(t)
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	proxy, err := faultnet.Listen(u.Host)
	if err != nil {
		t.Fatal(err)
	}
	defer proxy.Close()
	viaProxy := *u
	viaProxy.Host = proxy.Addr()
	net := mustStartWith(t, Options{Parties: 2, Replicas: 2, SyncInterval: 200 * time.Millisecond,
		Configure: func(party string, cfg *config.Config) {
			if party == "alpha" {
				cfg.Store.DSN = viaProxy.String() // the first replica reaches the database through the proxy
			}
		}})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	second, err := config.Open(alpha.Replicas[1])
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(second.Path, "store.dsn"), []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := second.UseStoreDSNFile("store.dsn"); err != nil { // the second one directly
		t.Fatal(err)
	}
	standby, err := server.Start(ctx, second.Path, server.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { standby.Close(context.Background()) })

	const ch = "alpha-bravo-frontline"
	sc := client.New(standby.APIURL(), alpha.Token)
	var ids []string
	send := func(text string) {
		t.Helper()
		ref, err := sc.Send(ctx, ch, api.SendRequest{Text: text})
		if err != nil {
			t.Fatalf("send %q through the standby: %v", text, err)
		}
		ids = append(ids, ref.ID)
	}
	send("before the cut")
	proxy.Partition()
	select {
	case <-alpha.Server.Done():
		if !errors.Is(alpha.Server.Err(), replica.ErrLost) {
			t.Fatalf("the cut-off writer stopped with %v; want a lost lease", alpha.Server.Err())
		}
	case <-time.After(time.Minute):
		t.Fatal("the cut-off writer did not stop within a minute")
	}
	eventually(t, "the standby takes over", func() bool { return standby.Replica().Role() == replica.Active })
	send("after the cut")
	eventually(t, "bravo holds everything", func() bool { return holdsAll(ctx, bravo, ch, ids) })
	proxy.Heal()
}
