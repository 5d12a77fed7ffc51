package crashtest

import (
	"context"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/postgres/pgtest"
)

var replicaKills = flag.Int("crash.replica-kills", 20, "SIGKILLs of a party's writer in the replica crash test")

// replicated prepares and sets up a network of parties, each on a
// PostgreSQL database of its own with replicas replica directories, and
// runs every replica as a process.
func replicated(t *testing.T, parties, replicas int) ([]*proc, devnet.Manifest) {
	t.Helper()
	admin := pgtest.DSN(t)
	dsns := make(map[string]string)
	for _, name := range devnet.Names[:parties] {
		dsn, drop, err := pgtest.Create(admin)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		dsns[name] = dsn
	}
	net, err := devnet.Prepare(t.TempDir(), devnet.Options{Parties: parties, Replicas: replicas,
		Configure: func(party string, cfg *config.Config) {
			cfg.Store.DSN = dsns[party]
			cfg.Sync.RetryMax = config.Duration{Duration: 2 * time.Second}
		}})
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	m := net.Manifest()
	return runAsProcesses(t, net), m
}

// readyAs reads a replica's /readyz: "active", "standby", or "" when it
// does not answer ready.
func readyAs(p *proc) string {
	c := http.Client{Timeout: time.Second}
	resp, err := c.Get(p.API + "/readyz")
	if err != nil {
		return ""
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	switch {
	case resp.StatusCode != http.StatusOK:
		return ""
	case strings.HasPrefix(string(b), "ready standby"):
		return "standby"
	default:
		return "active"
	}
}

// writer waits up to a minute for one of party's replicas to be its
// writer, and returns it.
func writer(t *testing.T, procs []*proc, party string) *proc {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, p := range procs {
			if p.Party == party && p.Running() && readyAs(p) == "active" {
				return p
			}
		}
	}
	t.Fatalf("no replica of %s became the writer within a minute", party)
	return nil
}

// With traffic running between two parties, each as two replicas, the
// writer of one is killed with SIGKILL again and again: a standby takes
// over each time, and every message a replica reported accepted is in
// every member's store, once, in unforked feeds, receipted.
func TestReplicas_KilledWritersLoseNothing(t *testing.T) {
	procs, m := replicated(t, 2, 2)
	tr := startTraffic(t, procs, m)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 2))
	var failovers []time.Duration
	for k := range *replicaKills {
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		party := devnet.Names[rng.IntN(2)]
		w := writer(t, procs, party)
		killed := time.Now()
		w.signal(t, syscall.SIGKILL)
		next := writer(t, procs, party)
		took := time.Since(killed)
		failovers = append(failovers, took)
		t.Logf("kill %d: %s's writer %s; %s took over in %s", k+1, party, w.Dir, next.Dir, took.Round(time.Millisecond))
		w.start(t) // as systemd would: it comes back as a standby
	}
	tr.finish()
	waitConverged(t, procs, m)
	verifyExports(t, procs, m)
	lost, dups, verified := checkStores(t, procs, m, tr.acc)
	slices.Sort(failovers)
	pct := func(q float64) time.Duration { return failovers[min(len(failovers)-1, int(q*float64(len(failovers))))] }
	summary := fmt.Sprintf("crashtest-replicas: parties=2 replicas=2 kills=%d sends=%d failed-sends=%d accepted=%d verified-on-every-node=%d lost=%d duplicated=%d failover-p50=%s failover-p99=%s failover-max=%s",
		len(failovers), tr.attempts.Load(), tr.failures.Load(), len(tr.acc.ids), verified, lost, dups,
		pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), failovers[len(failovers)-1].Round(time.Millisecond))
	fmt.Println(summary)
	t.Log(summary)
	if lost != 0 || dups != 0 || verified != len(tr.acc.ids) {
		t.Fatal("the delivery guarantee does not hold across replicas")
	}
	if len(tr.acc.ids) == 0 {
		t.Fatal("no message was accepted: the test tested nothing")
	}
}

// A writer paused with SIGSTOP loses its lease to a standby, which goes
// on writing the party's feeds. When the paused writer resumes, the
// request it had taken meanwhile writes nothing (the commit checks the
// lease's epoch), the replica exits, and no feed forks.
func TestReplicas_APausedWriterCannotFork(t *testing.T) {
	procs, m := replicated(t, 2, 2)
	ctx := context.Background()
	paused := writer(t, procs, "alpha")
	var standby *proc
	for _, p := range procs {
		if p.Party == "alpha" && p != paused {
			standby = p
		}
	}
	ch := m.Channels[1].Name // policy
	acc := &accepted{ids: make(map[entry.ID]string)}
	send := func(p *proc, text string) error {
		zero := "0"
		ref, err := p.client().Send(ctx, ch, api.SendRequest{Text: text, AckWithin: &zero})
		if err != nil {
			return err
		}
		id, err := entry.ParseID(ref.ID)
		if err != nil {
			t.Fatal(err)
		}
		acc.add(id, ch)
		return nil
	}
	if err := send(paused, "before the pause"); err != nil {
		t.Fatal(err)
	}

	if err := paused.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	// An operator's request reaches the paused writer and waits there.
	inFlight := make(chan error, 1)
	go func() { inFlight <- send(paused, "taken by the paused writer") }()
	time.Sleep(100 * time.Millisecond)
	if w := writer(t, procs, "alpha"); w != standby {
		t.Fatalf("%s took over; want the standby %s", w.Dir, standby.Dir)
	}
	for i := range 5 {
		if err := send(standby, fmt.Sprintf("after the takeover %d", i)); err != nil {
			t.Fatalf("send through the new writer: %v", err)
		}
	}

	if err := paused.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-inFlight:
		if err == nil {
			t.Fatal("the deposed writer reported a message accepted")
		}
		t.Logf("the request the deposed writer had taken: %v", err)
	case <-time.After(time.Minute):
		t.Fatal("the request to the deposed writer was never answered")
	}
	select {
	case <-paused.Exited():
		t.Logf("the deposed writer exited: %v", paused.Err())
	case <-time.After(30 * time.Second):
		t.Fatal("the deposed writer did not exit after it resumed")
	}
	if err := send(standby, "after the deposed writer exited"); err != nil {
		t.Fatal(err)
	}
	paused.start(t) // back, as a standby
	if w := writer(t, procs, "alpha"); w != standby {
		t.Fatalf("%s is the writer after the deposed one came back; want %s", w.Dir, standby.Dir)
	}
	waitConverged(t, procs, m)
	messages := 0
	if _, err := standby.client().EachEntry(ctx, ch, "0", node.MaxPageLimit, "", func(e node.EntryView) error {
		if e.Kind == entry.KindMessage {
			messages++
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if messages != 7 {
		t.Fatalf("%s holds %d messages; want the 7 accepted (the deposed writer's must not be there)", ch, messages)
	}
	lost, dups, verified := checkStores(t, procs, m, acc)
	if lost != 0 || dups != 0 || verified != len(acc.ids) || verified != 7 {
		t.Fatalf("lost %d, duplicated %d, verified %d of %d accepted (want 7)", lost, dups, verified, len(acc.ids))
	}
}
