package crashtest

import (
	"context"
	"flag"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
)

var rotations = flag.Int("crash.rotations", 8, "key rotations, each cut short by a SIGKILL at a random moment, in TestCrash_KilledWhileRotating")

// Alpha rotates its keys again and again while traffic runs, and is
// killed with SIGKILL a random few milliseconds into each rotation:
// before its next keys are on disk, after, before or after the key
// entries commit, before or after they replace the old keys. Each time it
// comes back with the keys its store says it has (finishing a rotation
// that committed), its peer link follows, and nothing accepted is lost.
func TestCrash_KilledWhileRotating(t *testing.T) {
	ctx := context.Background()
	net, err := devnet.Prepare(t.TempDir(), devnet.Options{Parties: 2})
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	m := net.Manifest()
	procs := runAsProcesses(t, net)
	alpha := procs[0]
	if alpha.Party != "alpha" {
		t.Fatalf("the first process is %s", alpha.Party)
	}
	tr := startTraffic(t, procs, m)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 3))
	committed := 0
	for k := range *rotations {
		// The last rotation's TLS key is in use before the next begins.
		waitUntil(t, "alpha's last rotation is over", func() bool {
			s, err := alpha.client().KeyStatus(ctx)
			return err == nil && s.PendingTLS == ""
		})
		before, err := alpha.client().KeyStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		go alpha.client().RotateKey(ctx) // its answer may be lost to the kill
		time.Sleep(time.Duration(rng.IntN(80)) * time.Millisecond)
		alpha.signal(t, syscall.SIGKILL)
		alpha.start(t) // fails the test if the node does not come back
		after, err := alpha.client().KeyStatus(ctx)
		if err != nil {
			t.Fatal(err)
		}
		d, err := config.Open(alpha.Dir)
		if err != nil {
			t.Fatal(err)
		}
		if d.Key.VerifierKey() != after.Key {
			t.Fatalf("rotation %d: alpha's directory holds key %s, its node signs with %s", k+1, d.Key.VerifierKey(), after.Key)
		}
		if after.Key != before.Key {
			committed++
		}
		t.Logf("kill %d: the rotation %s", k+1, map[bool]string{true: "had committed", false: "had not committed"}[after.Key != before.Key])
	}
	tr.finish()
	waitConverged(t, procs, m)
	verifyExports(t, procs, m)
	lost, dups, verified := checkStores(t, procs, m, tr.acc)
	t.Logf("%d of %d rotations committed before the kill; %d messages accepted, %d verified on every node", committed, *rotations, len(tr.acc.ids), verified)
	if lost != 0 || dups != 0 || verified != len(tr.acc.ids) {
		t.Fatal("the delivery guarantee does not hold across the rotations")
	}
}
