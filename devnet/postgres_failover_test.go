package devnet

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
)

// pgCluster is a PostgreSQL server the test runs itself.
type pgCluster struct {
	t    *testing.T
	bin  string
	data string
	port int
	as   []string // runs a command as the cluster's owner
}

func (c *pgCluster) run(name string, args ...string) {
	c.t.Helper()
	argv := append(append(clone(c.as), filepath.Join(c.bin, name)), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		c.t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

func clone(s []string) []string { return append([]string(nil), s...) }

func (c *pgCluster) start() {
	c.t.Helper()
	c.run("pg_ctl", "-D", c.data, "-l", c.data+".log", "-w", "-o",
		fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", c.port, filepath.Dir(c.data)), "start")
}

func (c *pgCluster) stop(mode string) {
	argv := append(clone(c.as), filepath.Join(c.bin, "pg_ctl"), "-D", c.data, "-m", mode, "stop")
	exec.Command(argv[0], argv[1:]...).Run()
}

// startReplicated starts a primary and a streaming standby, with the
// standby synchronous: a commit the primary reports is on both. It skips
// the test without PostgreSQL's server binaries, unless
// HOTLINE_REQUIRE_POSTGRES is set.
func startReplicated(t *testing.T) (primary, standby *pgCluster) {
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		msg := "no PostgreSQL server binaries (Debian's postgresql package puts them under /usr/lib/postgresql/VERSION/bin)"
		if os.Getenv("HOTLINE_REQUIRE_POSTGRES") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	bin := filepath.Dir(bins[len(bins)-1])
	dir, err := os.MkdirTemp("", "hotline-pg-failover-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	var as []string
	if os.Geteuid() == 0 { // PostgreSQL refuses to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skip("running as root without a postgres user to run PostgreSQL as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
		as = []string{"runuser", "-u", "postgres", "--"}
	}
	port := func() int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().(*net.TCPAddr).Port
	}
	primary = &pgCluster{t: t, bin: bin, data: filepath.Join(dir, "primary"), port: port(), as: as}
	standby = &pgCluster{t: t, bin: bin, data: filepath.Join(dir, "standby"), port: port(), as: as}
	primary.run("initdb", "-D", primary.data, "-A", "trust", "-U", "postgres", "--no-instructions")
	conf := "synchronous_standby_names = '*'\nsynchronous_commit = on\nwal_level = replica\n"
	f, err := os.OpenFile(filepath.Join(primary.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(conf)
	f.Close()
	primary.start()
	t.Cleanup(func() { primary.stop("immediate") })
	primary.run("pg_basebackup", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres", "-D", standby.data, "-R", "-X", "stream")
	// Promoted, the standby has no standby of its own: it must not wait
	// for one (Patroni and the like set this on failover).
	f, err = os.OpenFile(filepath.Join(standby.data, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("synchronous_standby_names = ''\n")
	f.Close()
	standby.start()
	t.Cleanup(func() { standby.stop("immediate") })
	primary.run("psql", "-h", "127.0.0.1", "-p", strconv.Itoa(primary.port), "-U", "postgres", "-c", "CREATE DATABASE hotline")
	return primary, standby
}

// A party's store on a primary with a synchronous streaming standby: the
// primary dies, the standby is promoted, and the node, whose DSN names
// both hosts with target_session_attrs=read-write, follows it. Every
// message reported accepted is still there, and traffic resumes.
func TestPostgres_FollowsAPromotedStandby(t *testing.T) {
	primary, standby := startReplicated(t)
	dsn := fmt.Sprintf("postgres://postgres@127.0.0.1:%d,127.0.0.1:%d/hotline?sslmode=disable&target_session_attrs=read-write&connect_timeout=2",
		primary.port, standby.port)
	nw := startAlphaOn(t, dsn)
	ctx := context.Background()
	alpha, bravo := nw.Party("alpha"), nw.Party("bravo")
	const ch = "alpha-bravo-theatre"

	var mu sync.Mutex
	var accepted []string
	ac := clientOf(alpha)
	send := func(text string) error {
		sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		ref, err := ac.Send(sctx, ch, api.SendRequest{Text: text})
		if err == nil {
			mu.Lock()
			accepted = append(accepted, ref.ID)
			mu.Unlock()
		}
		return err
	}
	for i := range 50 {
		if err := send(fmt.Sprint("before the failover ", i)); err != nil {
			t.Fatal(err)
		}
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() { // sends go on through the failover; some fail
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			send(fmt.Sprint("during the failover ", i))
			time.Sleep(5 * time.Millisecond)
		}
	})
	time.Sleep(200 * time.Millisecond)
	primary.stop("immediate")
	standby.run("pg_ctl", "-D", standby.data, "-w", "promote")
	eventually(t, "a send succeeds on the promoted standby", func() bool { return send("after the failover") == nil })
	close(stop)
	wg.Wait()

	mu.Lock()
	defer mu.Unlock()
	t.Logf("%d sends accepted across the failover", len(accepted))
	eventually(t, "every accepted message is held by alpha and delivered to bravo", func() bool {
		return holdsAll(ctx, alpha, ch, accepted) && holdsAll(ctx, bravo, ch, accepted)
	})
	if r, err := VerifyExport(ctx, alpha, ch); err != nil || !r.OK {
		t.Fatalf("alpha's archive after the failover: %v %+v", err, r)
	}
}
