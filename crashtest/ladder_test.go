package crashtest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/escalation"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/postgres/pgtest"
)

// TestCrash_LadderStepsRunOnce kills the sender's node with SIGKILL in the
// middle of an escalation ladder and restarts it: every step runs exactly
// once, the ones already done are not repeated and the ones still due are
// not skipped. With replicas, the killed one is the sender's writer, and
// a standby carries the ladder on.
func TestCrash_LadderStepsRunOnce(t *testing.T) {
	t.Run("one node on SQLite", func(t *testing.T) { testLadderStepsRunOnce(t, false) })
	t.Run("replicas on PostgreSQL", func(t *testing.T) { testLadderStepsRunOnce(t, true) })
}

func testLadderStepsRunOnce(t *testing.T, replicas bool) {
	ctx := context.Background()
	secret := []byte("crash-test-webhook-secret-bytes")
	var mu sync.Mutex
	deliveries := map[string]int{}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !escalation.CheckSignature(secret, body, r.Header.Get(escalation.SignatureHeader)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var p escalation.Payload
		json.Unmarshal(body, &p)
		mu.Lock()
		deliveries[p.Delivery]++
		mu.Unlock()
	}))
	defer hook.Close()
	count := func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		out := map[string]int{}
		for k, v := range deliveries {
			out[k] = v
		}
		return out
	}
	dir := t.TempDir()
	secretFile := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secretFile, secret, 0o600); err != nil {
		t.Fatal(err)
	}
	const gap = 6 * time.Second // between the first step and the rest
	opts := devnet.Options{Parties: 2}
	var dsn string
	if replicas {
		var drop func() error
		var err error
		if dsn, drop, err = pgtest.Create(pgtest.DSN(t)); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { drop() })
		opts.Replicas = 2
	}
	opts.Configure = func(party string, cfg *config.Config) {
		if party == "alpha" {
			cfg.Store.DSN = dsn
			cfg.Escalation["theatre"] = []config.Step{
				{Action: escalation.Webhook, URL: hook.URL, SecretFile: secretFile},
				{After: config.Duration{Duration: gap}, Action: escalation.Webhook, URL: hook.URL, SecretFile: secretFile},
				{After: config.Duration{Duration: gap}, Action: escalation.Escalate},
				{After: config.Duration{Duration: gap}, Action: escalation.Webhook, URL: hook.URL, SecretFile: secretFile},
			}
		}
	}
	net, err := devnet.Prepare(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	procs := runAsProcesses(t, net)
	alpha, bravo := procs[0], procs[len(procs)-1].client()
	ac := alpha.client()
	if replicas {
		alpha = writer(t, procs, "alpha")
		for _, p := range procs {
			if p.Party == "alpha" && p != alpha {
				ac = p.client() // through the standby, which takes over
			}
		}
	}
	within := "1s"
	msg, err := ac.Send(ctx, "alpha-bravo-theatre", api.SendRequest{Text: "Request you clear the area", AckWithin: &within})
	if err != nil {
		t.Fatal(err)
	}
	first := msg.ID + "/escalation/1"
	waitUntil(t, "the first step is recorded", func() bool {
		items, err := ac.Pending(ctx)
		return err == nil && len(items) == 1 && len(items[0].Steps) == 1 && count()[first] == 1
	})
	alpha.signal(t, syscall.SIGKILL)
	alpha.start(t)
	waitUntil(t, "the ladder finishes after the restart", func() bool {
		items, err := ac.Pending(ctx)
		return err == nil && len(items) == 1 && len(items[0].Steps) == 4
	})
	got := count()
	for _, step := range []string{"1", "2", "4"} {
		if got[msg.ID+"/escalation/"+step] != 1 {
			t.Errorf("webhook step %s ran %d times, want once (all: %v)", step, got[msg.ID+"/escalation/"+step], got)
		}
	}
	var log []node.EntryView
	waitUntil(t, "the escalation entry reaches bravo", func() bool {
		log, err = bravo.Log(ctx, "alpha-bravo-policy")
		return err == nil && len(escalations(log, msg.ID)) > 0
	})
	if n := len(escalations(log, msg.ID)); n != 1 {
		t.Errorf("%d escalation entries for the message, want 1", n)
	}
}

func escalations(log []node.EntryView, id string) []node.EntryView {
	var out []node.EntryView
	for _, e := range log {
		if e.Kind == entry.KindEscalation && e.Escalation.Entry.ID == id {
			out = append(out, e)
		}
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
