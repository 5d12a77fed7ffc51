package hostile

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/sqlite"
)

var (
	scale  = flag.Int("hostile.scale", 1, "multiplies the size of every attack (CI runs 1)")
	binary string // the hotline binary under attack
)

// Bounds every attack must leave the target within, measured from outside
// its process.
const (
	maxRSS        = 256 << 20        // the node's resident memory at its highest
	maxHonestP99  = time.Second      // an honest peer's message, sent to delivered
	honestTimeout = 30 * time.Second // one honest message never delivered fails the test
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "hotline-hostile-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hotline")
	build := exec.Command("go", "build", "-o", binary, "github.com/hotline-project/hotline/cmd/hotline")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "hostile: build hotline:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// scene is three parties: alpha, taken over by the attacker, which speaks
// with alpha's real keys while alpha's own node stays down; bravo, the
// target; and charlie, an honest party that keeps talking to bravo
// throughout. Bravo and charlie run as `hotline serve` processes. Besides
// the dev network's channels (alpha-bravo-* and all-parties-policy), bravo
// and charlie share bravo-charlie-policy.
type scene struct {
	t        *testing.T
	net      *devnet.Network
	attacker *Attacker
	bravo    *Target
	charlie  *Target
	chans    map[string]entry.ChannelID // by name
}

// newScene sets the network up; configure adjusts each party's
// configuration before its first start.
func newScene(t *testing.T, configure func(party string, cfg *config.Config)) *scene {
	t.Helper()
	ctx := context.Background()
	net, err := devnet.Prepare(t.TempDir(), devnet.Options{Parties: 3, SyncInterval: 200 * time.Millisecond, Configure: configure})
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	bravoNode, charlieNode := net.Party("bravo").Server.Node, net.Party("charlie").Server.Node
	bc, err := bravoNode.Propose(ctx, devnet.Operator, "bravo-charlie-policy", "policy", []string{"charlie"}, node.ChannelOptions{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "charlie holds the proposal of bravo-charlie-policy", func() bool {
		c, err := charlieNode.ResolveChannel(bc.ID.String())
		return err == nil && c.State == hotline.ChannelInvited
	})
	if _, err := charlieNode.Accept(ctx, devnet.Operator, bc.ID.String()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bravo-charlie-policy is active", func() bool {
		c, err := bravoNode.ResolveChannel(bc.ID.String())
		return err == nil && c.State == hotline.ChannelActive
	})
	s := &scene{t: t, net: net, chans: make(map[string]entry.ChannelID)}
	for _, c := range bravoNode.Channels() {
		s.chans[c.Label] = c.ID
	}
	if err := net.Stop(ctx); err != nil {
		t.Fatal(err)
	}

	// The attacker takes over alpha's feeds as alpha's node wrote them.
	alphaDir := mustOpen(t, net.Party("alpha").Dir)
	bravoDir := mustOpen(t, net.Party("bravo").Dir)
	s.attacker = New(alphaDir, "bravo", bravoDir.Config.Peer.Listen, bravoDir.TLS.Fingerprint())
	t.Cleanup(s.attacker.Close)
	st, err := sqlite.Open(ctx, alphaDir.StorePath())
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range s.chans {
		feed, err := st.Feed(ctx, hotline.Feed{Channel: id, Party: "alpha"}, 1, 1<<20)
		if err != nil {
			t.Fatal(err)
		}
		var es []*entry.Entry
		for _, f := range feed {
			es = append(es, f.Entry)
		}
		s.attacker.Adopt(id, es)
	}
	st.Close()

	for _, name := range []string{"bravo", "charlie"} {
		p := net.Party(name)
		tg := NewTarget(binary, mustOpen(t, p.Dir), p.Token, filepath.Join(net.Dir, name+".log"))
		if err := tg.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(tg.Kill)
		if name == "bravo" {
			s.bravo = tg
		} else {
			s.charlie = tg
		}
	}
	return s
}

func mustOpen(t *testing.T, dir string) *config.Dir {
	t.Helper()
	d, err := config.Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// waitFor polls cond until it holds, for up to a minute.
func waitFor(tb testing.TB, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out waiting until %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// attackerTo returns another attacker with alpha's keys, aimed at target.
func (s *scene) attackerTo(target *Target) *Attacker {
	a := New(mustOpen(s.t, s.net.Party("alpha").Dir), target.Party, target.Dir.Config.Peer.Listen, target.Dir.TLS.Fingerprint())
	s.t.Cleanup(a.Close)
	return a
}

// honest is charlie talking to bravo while an attack goes on: a message
// every interval in each of the channels given, each timed from charlie's
// send until bravo holds it.
type honest struct {
	s      *scene
	chans  []string
	stop   chan struct{}
	done   sync.WaitGroup
	mu     sync.Mutex
	lat    Latencies
	failed []string
}

func (s *scene) startHonest(interval time.Duration, chans ...string) *honest {
	h := &honest{s: s, chans: chans, stop: make(chan struct{})}
	for _, ch := range chans {
		h.done.Add(1)
		go h.run(ch, interval)
	}
	return h
}

func (h *honest) run(ch string, interval time.Duration) {
	defer h.done.Done()
	ctx := context.Background()
	charlie, bravo := h.s.charlie.Client(), h.s.bravo.Client()
	for i := 0; ; i++ {
		select {
		case <-h.stop:
			return
		case <-time.After(interval):
		}
		zero := "0"
		start := time.Now()
		ref, err := charlie.Send(ctx, ch, api.SendRequest{Text: fmt.Sprintf("honest %s %d", ch, i), Lang: "en", AckWithin: &zero})
		if err != nil {
			h.fail("charlie could not send to %s: %v", ch, err)
			continue
		}
		if !h.delivered(ctx, bravo, ch, ref.ID, start) {
			h.fail("charlie's message %d in %s never reached bravo within %s", i, ch, honestTimeout)
		}
	}
}

// delivered polls bravo until it holds entry id of channel ch, and
// records the latency. It asks for the entry's proof, which costs bravo
// one look-up by id: not found until bravo holds the entry, then a proof
// or "no checkpoint covers it yet".
func (h *honest) delivered(ctx context.Context, bravo *client.Client, ch, id string, start time.Time) bool {
	for time.Since(start) < honestTimeout {
		_, err := bravo.Proof(ctx, ch, id)
		if err == nil || strings.Contains(hotline.ErrorMessage(err), "no checkpoint covers") {
			h.mu.Lock()
			h.lat = append(h.lat, time.Since(start))
			h.mu.Unlock()
			return true
		}
		time.Sleep(10 * time.Millisecond)
	}
	return false
}

func (h *honest) fail(format string, args ...any) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.failed = append(h.failed, fmt.Sprintf(format, args...))
}

// finish stops the honest traffic and checks it: every message delivered,
// p99 within the bound. It returns the sample.
func (h *honest) finish(t *testing.T) Latencies {
	t.Helper()
	close(h.stop)
	h.done.Wait()
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, f := range h.failed {
		t.Error(f)
	}
	if len(h.lat) < 3 {
		t.Fatalf("only %d honest messages were timed: the test measured nothing", len(h.lat))
	}
	if p99 := h.lat.Percentile(99); p99 > maxHonestP99 {
		t.Errorf("honest messages during the attack: p99 %s, bound %s (p50 %s, %d messages)", p99, maxHonestP99, h.lat.Percentile(50), len(h.lat))
	}
	return h.lat
}

// checkMemory fails the test if the target's memory ever passed the bound.
func checkMemory(t *testing.T, tg *Target) int64 {
	t.Helper()
	_, peak, err := tg.Memory()
	if err != nil {
		t.Fatal(err)
	}
	if peak > maxRSS {
		t.Errorf("%s's resident memory reached %d MiB, bound %d MiB", tg.Party, peak>>20, maxRSS>>20)
	}
	if !tg.Running() {
		t.Fatalf("%s's process died under the attack (log: %s)", tg.Party, tg.Log)
	}
	return peak
}

// record logs one line of the figures docs/RELIABILITY.md reports.
func record(t *testing.T, attack, bound, measured string) {
	t.Logf("FIGURE | %s | %s | %s |", attack, bound, measured)
}

// members returns the pinned members alpha, bravo and charlie as a
// proposal names them.
func (s *scene) members(names ...string) []entry.Member {
	var out []entry.Member
	for _, n := range names {
		d := mustOpen(s.t, s.net.Party(n).Dir)
		out = append(out, entry.Member{Party: n, Key: d.Key.VerifierKey()})
	}
	return out
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
