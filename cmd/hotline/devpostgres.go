package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/hotline-project/hotline/devnet"
)

// devPostgres is the throwaway PostgreSQL server hotline dev starts for
// replicas when it is not given one: a cluster in DIR/postgres, on a
// loopback port kept in DIR/postgres.port so that the network resumes.
// Run as root, the cluster is in a directory of the postgres user's
// instead, named after DIR.
type devPostgres struct {
	bin, dir string
	port     int
	as       []string // runs PostgreSQL's programs as another user (dev runs as root)
}

// errNoPostgres says what to install.
var errNoPostgres = errors.New("hotline dev --replicas keeps each party's store on PostgreSQL, and found no PostgreSQL server programs (pg_ctl, initdb) under /usr/lib/postgresql/*/bin or on PATH: install them (Debian and Ubuntu: apt-get install postgresql), or give --postgres DSN of a server where dev may create databases")

// postgresBin finds the newest PostgreSQL server binaries.
func postgresBin() (string, error) {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int {
		va, _ := strconv.Atoi(filepath.Base(filepath.Dir(a)))
		vb, _ := strconv.Atoi(filepath.Base(filepath.Dir(b)))
		return vb - va
	})
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		if _, err := os.Stat(filepath.Join(filepath.Dir(p), "initdb")); err == nil {
			return filepath.Dir(p), nil
		}
	}
	return "", errNoPostgres
}

// startDevPostgres starts (creating it the first time) the dev network's
// PostgreSQL server in dir/postgres and returns it with the DSN of its
// superuser.
func startDevPostgres(ctx context.Context, dir string, logw io.Writer) (*devPostgres, string, error) {
	bin, err := postgresBin()
	if err != nil {
		return nil, "", err
	}
	p := &devPostgres{bin: bin, dir: filepath.Join(dir, "postgres")}
	if os.Geteuid() == 0 {
		// PostgreSQL refuses to run as root: run it as its own user, in a
		// directory of its own, since it cannot enter dir (mode 0700).
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, "", err
		}
		sum := sha256.Sum256([]byte(abs))
		p.dir = filepath.Join(os.TempDir(), fmt.Sprintf("hotline-dev-postgres-%x", sum[:6]))
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, "", fmt.Errorf("PostgreSQL refuses to run as root, and there is no postgres user to run it as: run hotline dev as an ordinary user, or give --postgres DSN")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.MkdirAll(p.dir, 0o700); err != nil {
			return nil, "", err
		}
		if err := os.Chown(p.dir, uid, gid); err != nil {
			return nil, "", err
		}
		p.as = []string{"runuser", "-u", "postgres", "--"}
	} else if err := os.MkdirAll(p.dir, 0o700); err != nil {
		return nil, "", err
	}
	data := filepath.Join(p.dir, "data")
	portFile := filepath.Join(dir, "postgres.port")
	if _, err := os.Stat(portFile); err != nil {
		// A new network: a cluster left by an earlier one of this name
		// (removed with its directory) goes.
		if err := os.RemoveAll(data); err != nil {
			return nil, "", err
		}
		fmt.Fprintf(logw, "creating a throwaway PostgreSQL cluster in %s\n", data)
		if err := p.run(ctx, logw, "initdb", "-D", data, "-A", "trust", "-U", "postgres", "--no-instructions"); err != nil {
			return nil, "", fmt.Errorf("initdb: %w (see %s)", err, filepath.Join(dir, "dev.log"))
		}
		addr, err := devnet.FreeAddr()
		if err != nil {
			return nil, "", err
		}
		_, port, _ := net.SplitHostPort(addr)
		if err := os.WriteFile(portFile, []byte(port+"\n"), 0o600); err != nil {
			return nil, "", err
		}
	}
	b, err := os.ReadFile(portFile)
	if err != nil {
		return nil, "", err
	}
	if p.port, err = strconv.Atoi(strings.TrimSpace(string(b))); err != nil {
		return nil, "", fmt.Errorf("%s: %w", portFile, err)
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1", p.port, p.dir)
	if err := p.run(ctx, logw, "pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(p.dir, "server.log"), "-w", "start"); err != nil {
		return nil, "", fmt.Errorf("start PostgreSQL: %w (see %s)", err, filepath.Join(p.dir, "server.log"))
	}
	return p, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", p.port), nil
}

// run runs one of PostgreSQL's programs.
func (p *devPostgres) run(ctx context.Context, logw io.Writer, prog string, args ...string) error {
	argv := append(slices.Clone(p.as), append([]string{filepath.Join(p.bin, prog)}, args...)...)
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Stdout, cmd.Stderr = logw, logw
	return cmd.Run()
}

// stop stops the server, ending its sessions.
func (p *devPostgres) stop(logw io.Writer) error {
	return p.run(context.Background(), logw, "pg_ctl", "-D", filepath.Join(p.dir, "data"), "-m", "fast", "-w", "stop")
}
