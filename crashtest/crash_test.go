package crashtest

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/keychain"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/server"
)

var (
	kills   = flag.Int("crash.kills", 20, "SIGKILLs in one run")
	parties = flag.Int("crash.parties", 3, "parties (2 or more)")
	binary  string // the hotline binary under test
)

func TestMain(m *testing.M) {
	flag.Parse()
	dir, err := os.MkdirTemp("", "hotline-crashtest-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "hotline")
	build := exec.Command("go", "build", "-o", binary, "github.com/hotline-project/hotline/cmd/hotline")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "crashtest: build hotline:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one `hotline serve` process: a party, or one of its replicas.
type proc struct {
	*devnet.Process
	token string
}

func (p *proc) start(t *testing.T) {
	t.Helper()
	if err := p.Start(context.Background(), 30*time.Second); err != nil {
		t.Fatalf("%v (log: %s); its last lines:\n%s", err, p.logPath(), p.logTail(20))
	}
}

// logTail returns the last n lines of the process's log, which goes with
// the test's temporary directory.
func (p *proc) logTail(n int) string {
	b, _ := os.ReadFile(p.logPath())
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

func (p *proc) signal(t *testing.T, sig syscall.Signal) {
	t.Helper()
	if err := p.Stop(sig); sig == syscall.SIGTERM && err != nil {
		t.Fatalf("%s did not shut down cleanly on SIGTERM: %v (log: %s)", p.Dir, err, p.logPath())
	}
}

func (p *proc) logPath() string { return p.Dir + ".log" }

func (p *proc) client() *client.Client { return client.New(p.API, p.token) }

// runAsProcesses stops the in-process nodes of a started network and runs
// each party (each of its replicas, if it has several) as a `hotline
// serve` process instead, logging to DIR/NAME.log; the processes are
// killed when the test ends.
func runAsProcesses(t *testing.T, net *devnet.Network) []*proc {
	t.Helper()
	if err := net.Stop(context.Background()); err != nil {
		t.Fatal(err)
	}
	var procs []*proc
	t.Cleanup(func() {
		for _, p := range procs {
			p.Stop(syscall.SIGKILL)
		}
	})
	for _, party := range net.Parties {
		dirs := party.Replicas
		if len(dirs) == 0 {
			dirs = []string{party.Dir}
		}
		for _, dir := range dirs {
			log, err := os.Create(dir + ".log")
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { log.Close() })
			dp, err := devnet.NewProcess(binary, party.Name, dir, log)
			if err != nil {
				t.Fatal(err)
			}
			p := &proc{Process: dp, token: party.Token}
			p.start(t)
			procs = append(procs, p)
		}
	}
	return procs
}

// accepted is every message a node reported durable to its operator.
type accepted struct {
	mu  sync.Mutex
	ids map[entry.ID]string // id -> channel name
}

func (a *accepted) add(id entry.ID, ch string) {
	a.mu.Lock()
	a.ids[id] = ch
	a.mu.Unlock()
}

func TestCrash_NothingAcceptedIsLost(t *testing.T) {
	if *parties < 2 {
		t.Fatal("-crash.parties must be 2 or more")
	}
	ctx := context.Background()
	dir := t.TempDir()
	net, err := devnet.Prepare(dir, devnet.Options{Parties: *parties})
	if err != nil {
		t.Fatal(err)
	}
	// Set the channels up in-process, then run every node as a process.
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	manifest := net.Manifest()
	procs := runAsProcesses(t, net)

	tr := startTraffic(t, procs, manifest)
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 1))
	for k := range *kills {
		time.Sleep(time.Duration(100+rng.IntN(400)) * time.Millisecond)
		p := procs[rng.IntN(len(procs))]
		p.signal(t, syscall.SIGKILL)
		time.Sleep(time.Duration(rng.IntN(300)) * time.Millisecond)
		p.start(t)
		t.Logf("kill %d: %s", k+1, p.Party)
	}
	tr.finish()

	// Wait until every node holds every feed of every channel it is in,
	// as far as its author wrote it, and holds every receipt.
	waitConverged(t, procs, manifest)
	verifyExports(t, procs, manifest)

	lost, dups, verified := checkStores(t, procs, manifest, tr.acc)
	summary := fmt.Sprintf("crashtest: parties=%d kills=%d sends=%d failed-sends=%d accepted=%d verified-on-every-node=%d lost=%d duplicated=%d",
		*parties, *kills, tr.attempts.Load(), tr.failures.Load(), len(tr.acc.ids), verified, lost, dups)
	fmt.Println(summary)
	t.Log(summary)
	if lost != 0 || dups != 0 || verified != len(tr.acc.ids) {
		t.Fatal("the delivery guarantee does not hold")
	}
	if len(tr.acc.ids) == 0 {
		t.Fatal("no message was accepted: the test tested nothing")
	}
}

// traffic is messages sent from every process to every channel its party
// is a member of, as fast as its node answers.
type traffic struct {
	acc                *accepted
	attempts, failures atomic.Int64
	stop               chan struct{}
	senders            sync.WaitGroup
}

// startTraffic starts four senders per process. Each attempt has its own
// text, so a send whose answer was lost to a kill is never confused with
// a retry.
func startTraffic(t *testing.T, procs []*proc, m devnet.Manifest) *traffic {
	tr := &traffic{acc: &accepted{ids: make(map[entry.ID]string)}, stop: make(chan struct{})}
	for _, p := range procs {
		var chans []string
		for _, c := range m.Channels {
			if slices.Contains(c.Members, p.Party) && (c.Level == "policy" || c.Level == "frontline") {
				chans = append(chans, c.Name)
			}
		}
		for w := range 4 {
			tr.senders.Go(func() {
				cl := p.client()
				for i := 0; ; i++ {
					select {
					case <-tr.stop:
						return
					default:
					}
					ch := chans[i%len(chans)]
					tr.attempts.Add(1)
					zero := "0"
					ref, err := cl.Send(context.Background(), ch, api.SendRequest{Text: fmt.Sprintf("%s sender %d attempt %d", filepath.Base(p.Dir), w, i), AckWithin: &zero})
					if err != nil {
						tr.failures.Add(1)
						time.Sleep(20 * time.Millisecond)
						continue
					}
					id, err := entry.ParseID(ref.ID)
					if err != nil {
						t.Error(err)
						return
					}
					tr.acc.add(id, ch)
				}
			})
		}
	}
	return tr
}

// finish stops the senders and waits for them.
func (tr *traffic) finish() {
	close(tr.stop)
	tr.senders.Wait()
}

// checkStores stops every process with SIGTERM (a clean shutdown), opens
// each party's store (SQLite or PostgreSQL) and checks the guarantee.
func checkStores(t *testing.T, procs []*proc, m devnet.Manifest, acc *accepted) (lost, dups, verified int) {
	t.Helper()
	ctx := context.Background()
	for _, p := range procs {
		p.signal(t, syscall.SIGTERM)
	}
	stores := make(map[string]hotline.Store)
	dirs := make(map[string]*config.Dir)
	for _, p := range procs {
		if stores[p.Party] != nil {
			continue // another replica of the party: the same store
		}
		d, err := config.Open(p.Dir)
		if err != nil {
			t.Fatal(err)
		}
		dirs[p.Party] = d
		st, err := server.OpenStore(ctx, d)
		if err != nil {
			t.Fatalf("%s's store after SIGTERM: %v", p.Party, err)
		}
		t.Cleanup(func() { st.Close() })
		stores[p.Party] = st
	}
	return checkGuarantee(t, stores, dirs, m, acc)
}

// verifyExports exports every channel from every member node, killed
// many times over, and verifies each archive offline: every Merkle tree,
// checkpoint and cosignature written across the crashes must hold.
func verifyExports(t *testing.T, procs []*proc, m devnet.Manifest) {
	t.Helper()
	ctx := context.Background()
	checked := 0
	for _, c := range m.Channels {
		for _, p := range procs {
			if !slices.Contains(c.Members, p.Party) {
				continue
			}
			rc, err := p.client().Export(ctx, c.Name)
			if err != nil {
				t.Fatalf("export %s from %s: %v", c.Name, p.Party, err)
			}
			a, err := audit.Decode(rc, nil)
			rc.Close()
			if err != nil {
				t.Fatalf("export of %s from %s: %v", c.Name, p.Party, err)
			}
			if r := audit.Verify(a); !r.OK {
				t.Fatalf("export of %s from %s does not verify after the crashes: %+v", c.Name, p.Party, r.Failures)
			}
			checked++
		}
	}
	t.Logf("%d exports verified offline after the crashes", checked)
}

// waitConverged polls each node's API until, for every channel, every
// member holds the same entries as every other member and the newest entry
// of every author is receipted by all other members.
func waitConverged(t *testing.T, procs []*proc, m devnet.Manifest) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		why := converged(procs, m)
		if why == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nodes did not converge within 2 minutes of the last kill: %s", why)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// converged reads each member's log a page at a time and compares a
// digest of the ids in channel order: nodes that hold the same entries
// list them in the same order, so equal digests mean equal logs, and the
// check holds one page in memory whatever the logs' size.
func converged(procs []*proc, m devnet.Manifest) string {
	ctx := context.Background()
	for _, c := range m.Channels {
		var first []byte
		firstCount := 0
		for _, p := range procs {
			if !slices.Contains(c.Members, p.Party) {
				continue
			}
			h, n := sha256.New(), 0
			var why string
			_, err := p.client().EachEntry(ctx, c.Name, "0", node.MaxPageLimit, "", func(e node.EntryView) error {
				io.WriteString(h, e.ID)
				n++
				if e.Kind == "message" && len(e.DeliveredTo) < len(c.Members)-1 {
					why = fmt.Sprintf("%s: %s/%d not yet receipted by every member at %s", c.Name, e.Author, e.Seq, p.Party)
					return errNotYet
				}
				return nil
			})
			if why != "" {
				return why
			}
			if err != nil {
				return err.Error()
			}
			switch sum := h.Sum(nil); {
			case first == nil:
				first, firstCount = sum, n
			case !bytes.Equal(first, sum):
				return fmt.Sprintf("%s: %s holds %d entries, another member %d (or other ones)", c.Name, p.Party, n, firstCount)
			}
		}
	}
	return ""
}

var errNotYet = errors.New("not converged yet")

// checkGuarantee checks every node's store: each member's copy of each feed
// is the author's feed exactly (same ids at the same seqs, gap-free from 1,
// every entry verifying), and every accepted message is in it once.
func checkGuarantee(t *testing.T, stores map[string]hotline.Store, dirs map[string]*config.Dir, m devnet.Manifest, acc *accepted) (lost, dups, verified int) {
	held := make(map[entry.ID]int) // accepted id -> members holding it
	for _, c := range m.Channels {
		chID, _ := entry.ParseChannelID(c.ID)
		for _, author := range c.Members {
			authorFeed := feed(t, stores[author], chID, author)
			keys := signingKeys(t, stores[author], chID, author, authorFeed)
			for _, member := range c.Members {
				copyFeed := authorFeed
				if member != author {
					copyFeed = feed(t, stores[member], chID, author)
				}
				if len(copyFeed) != len(authorFeed) {
					t.Errorf("%s: %s holds %d of %s's %d entries", c.Name, member, len(copyFeed), author, len(authorFeed))
				}
				seen := make(map[entry.ID]bool)
				for i, e := range copyFeed {
					if e.Seq != uint64(i+1) {
						t.Errorf("%s: %s's copy of %s's feed has seq %d at position %d", c.Name, member, author, e.Seq, i+1)
					}
					if i < len(authorFeed) && e.ID() != authorFeed[i].ID() {
						t.Errorf("%s: %s's copy of %s/%d differs from the author's", c.Name, member, author, e.Seq)
					}
					if i >= len(keys) {
						t.Errorf("%s: %s holds %s/%d, beyond the author's own feed", c.Name, member, author, e.Seq)
					} else if err := e.Verify(keys[i]); err != nil {
						t.Errorf("%s: %s holds %s/%d that does not verify: %v", c.Name, member, author, e.Seq, err)
					}
					if seen[e.ID()] {
						dups++
					}
					seen[e.ID()] = true
					if _, ok := acc.ids[e.ID()]; ok {
						held[e.ID()]++
					}
				}
			}
		}
	}
	for id, ch := range acc.ids {
		members := 0
		for _, c := range m.Channels {
			if c.Name == ch {
				members = len(c.Members)
			}
		}
		switch n := held[id]; {
		case n < members:
			lost++
			t.Errorf("accepted message %s in %s is held by %d of %d members", id, ch, n, members)
		case n > members:
			dups++
		default:
			verified++
		}
	}
	return lost, dups, verified
}

func feed(t *testing.T, st hotline.Store, ch entry.ChannelID, party string) []*hotline.Stored {
	t.Helper()
	var out []*hotline.Stored
	for from := uint64(1); ; {
		got, err := st.Feed(context.Background(), hotline.Feed{Channel: ch, Party: party}, from, 1000)
		if err != nil {
			t.Fatal(errors.Join(fmt.Errorf("read %s's feed", party), err))
		}
		out = append(out, got...)
		if len(got) < 1000 {
			return out
		}
		from = got[len(got)-1].Seq + 1
	}
}

// signingKeys returns the key that signs each entry of author's feed
// (index seq-1): the key the channel's definition names for author, as
// the feed's key entries move it on.
func signingKeys(t *testing.T, st hotline.Store, ch entry.ChannelID, author string, f []*hotline.Stored) []ed25519.PublicKey {
	t.Helper()
	chans, err := st.Channels(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var key keychain.Key
	for _, c := range chans {
		if c.ID == ch {
			m, _ := c.Definition.Member(author)
			if key, err = keychain.ParseKey(m.Key, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	out := make([]ed25519.PublicKey, len(f))
	for i, e := range f {
		out[i] = key.Pub
		if e.Kind == entry.KindKey {
			body, err := entry.DecodeBody(e.Entry)
			if err != nil {
				t.Fatal(err)
			}
			c, err := keychain.ParseChange(e.Entry, body.(*entry.KeyChange), key.Verifier)
			if err != nil {
				t.Fatalf("%s's key entry %d: %v", author, e.Seq, err)
			}
			key = c.New
		}
	}
	return out
}
