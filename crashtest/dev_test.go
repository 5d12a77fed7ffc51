package crashtest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/node"
)

// The newcomer's failover, as the README tells it: hotline dev --replicas
// 2 starts its own PostgreSQL, alpha's writer is killed with kill -9, and
// sends through the other replica go on; every message is delivered,
// receipted and in a verified export, and dev restarts the killed one.
func TestDev_ReplicasKeepSendingAfterKill9(t *testing.T) {
	if bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(bins) == 0 {
		msg := "no PostgreSQL server programs under /usr/lib/postgresql/*/bin (apt-get install postgresql): hotline dev --replicas cannot start its own"
		if os.Getenv("HOTLINE_REQUIRE_POSTGRES") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	dir := t.TempDir()
	errFile, err := os.Create(filepath.Join(t.TempDir(), "dev.stderr"))
	if err != nil {
		t.Fatal(err)
	}
	defer errFile.Close()
	stderr := func() string { b, _ := os.ReadFile(errFile.Name()); return string(b) }
	dev := exec.Command(binary, "dev", "--replicas", "2", "--dir", dir)
	dev.Stdout, dev.Stderr = os.Stderr, errFile
	if err := dev.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	var devErr error
	go func() { devErr = dev.Wait(); close(exited) }()
	t.Cleanup(func() {
		dev.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(time.Minute):
			dev.Process.Kill()
		}
		if m := regexp.MustCompile(`data in (\S+)\)`).FindStringSubmatch(stderr()); m != nil && filepath.IsAbs(m[1]) && !strings.HasPrefix(m[1], dir) {
			os.RemoveAll(m[1]) // the cluster run as the postgres user, outside dir
		}
	})

	var m devnet.Manifest
	read := func() bool {
		b, err := os.ReadFile(filepath.Join(dir, "dev.json"))
		return err == nil && json.Unmarshal(b, &m) == nil && len(m.Parties) == 2 && len(m.Parties[0].Replicas) == 2
	}
	for deadline := time.Now().Add(3 * time.Minute); !read(); time.Sleep(100 * time.Millisecond) {
		select {
		case <-exited:
			t.Fatalf("hotline dev exited: %v\n%s", devErr, stderr())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no dev.json with two replicas per party after 3 minutes:\n%s", stderr())
		}
	}
	alpha, bravo := m.Parties[0], m.Parties[1]
	ch := alpha.Name + "-" + bravo.Name + "-strategic"
	ctx := context.Background()

	st, err := client.New(alpha.Replicas[0].API, alpha.Token).Replica(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var active, other devnet.ManifestReplica
	for _, r := range alpha.Replicas {
		if "http://"+st.Active == r.API {
			active = r
		} else {
			other = r
		}
	}
	if active.Pid == 0 || other.Pid == 0 {
		t.Fatalf("the writer %q is not one of alpha's replicas %+v", st.Active, alpha.Replicas)
	}
	through := client.New(other.API, alpha.Token)
	var sent []string
	send := func(text string) {
		t.Helper()
		ref, err := through.Send(ctx, ch, api.SendRequest{Text: text})
		if err != nil {
			t.Fatalf("send %q through the replica that was not killed: %v", text, err)
		}
		sent = append(sent, ref.ID)
	}
	send("before the kill")
	if err := syscall.Kill(active.Pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// Once it is gone: a request that reaches it as it dies has an
	// unknown outcome, and is answered so.
	for syscall.Kill(active.Pid, 0) == nil {
		time.Sleep(10 * time.Millisecond)
	}
	for i := range 3 {
		send(fmt.Sprintf("after the kill %d", i+1))
	}
	// A client given both replicas, the dead one first, goes on through
	// the other.
	both := client.New(active.API+","+other.API, alpha.Token)
	ref, err := both.Send(ctx, ch, api.SendRequest{Text: "through whichever replica answers"})
	if err != nil {
		t.Fatalf("send through a list of replicas, the first dead: %v", err)
	}
	sent = append(sent, ref.ID)
	// A replica took the lease over at a later epoch: the other one, or the
	// killed one, which dev restarted within a second and which may win
	// the race when the old lease lapses.
	if now, err := through.Replica(ctx); err != nil || now.Active == "" || now.Epoch <= st.Epoch {
		t.Fatalf("after the kill: %+v, %v; want a writer at an epoch after %d", now, err, st.Epoch)
	}

	// Every message reaches bravo and is receipted by it.
	bc := client.New(bravo.API, bravo.Token)
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		delivered := 0
		_, err := through.EachEntry(ctx, ch, "0", node.MaxPageLimit, "", func(e node.EntryView) error {
			for _, id := range sent {
				if e.ID == id && len(e.DeliveredTo) == 1 {
					delivered++
				}
			}
			return nil
		})
		if err == nil && delivered == len(sent) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d messages delivered and receipted a minute after the kill (%v)", delivered, len(sent), err)
		}
	}
	for _, c := range []*client.Client{through, bc} {
		rc, err := c.Export(ctx, ch)
		if err != nil {
			t.Fatal(err)
		}
		a, err := audit.Decode(rc, nil)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		if r := audit.Verify(a); !r.OK {
			t.Fatalf("export from %s does not verify: %+v", c.Base, r.Failures)
		}
	}

	// dev restarts the killed replica, as a standby, and says so in dev.json.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		if read() && m.Parties[0].Replicas[0].Pid != active.Pid && m.Parties[0].Replicas[1].Pid != active.Pid {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the killed replica was not restarted within a minute:\n%s", stderr())
		}
	}
	if err := dev.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
		if devErr != nil {
			t.Fatalf("hotline dev did not stop cleanly: %v\n%s", devErr, stderr())
		}
	case <-time.After(time.Minute):
		t.Fatal("hotline dev did not stop within a minute of SIGTERM")
	}
}
