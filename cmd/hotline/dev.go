package main

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/console"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/postgres"
)

// devnetPrepare prepares the dev network in dir. With pg set (the DSN of
// a PostgreSQL server where dev may create databases), each party new to
// dir keeps its store in a database of its own there, made for it, and
// gets that many replica directories.
func devnetPrepare(ctx context.Context, dir string, parties int, pg string, replicas int, logw io.Writer) (*devnet.Network, error) {
	opts := devnet.Options{
		Parties:     parties,
		Replicas:    replicas,
		Directories: true,
		Logger:      slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelDebug})),
	}
	if pg != "" {
		if parties < 1 || parties > devnet.MaxParties {
			return nil, fmt.Errorf("--parties: from 1 to %d", devnet.MaxParties)
		}
		dsns := make(map[string]string)
		for _, name := range devnet.Names[:parties] {
			if _, err := os.Stat(filepath.Join(dir, name, config.FileName)); err == nil {
				continue // an existing party keeps the store it has
			}
			db, err := devDatabase(dir, name)
			if err != nil {
				return nil, err
			}
			dsn, err := postgres.CreateDatabase(ctx, pg, db)
			if err != nil {
				return nil, fmt.Errorf("%w (drop it, or use another --dir)", err)
			}
			dsns[name] = dsn
		}
		opts.Configure = func(party string, cfg *config.Config) { cfg.Store.DSN = dsns[party] }
	}
	return devnet.Prepare(dir, opts)
}

// devDatabase names the PostgreSQL database of party in the dev network
// in dir: the directory's path, hashed, keeps networks apart.
func devDatabase(dir, party string) (string, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256([]byte(abs))
	return fmt.Sprintf("hotline_dev_%s_%x", party, sum[:4]), nil
}

// printDev tells the newcomer what runs where and how to use it.
func printDev(env *Env, net *devnet.Network) {
	w := env.Stdout
	m := net.Manifest()
	fmt.Fprintf(w, "hotline dev network is up (%s).\n\nParties:\n", filepath.Join(net.Dir, "dev.json"))
	for _, p := range net.Parties {
		store := p.Server.Dir.StorePath()
		if dsn, err := p.Server.Dir.StoreDSN(); err == nil && dsn != "" {
			store = "PostgreSQL " + postgres.Redact(dsn)
		}
		fmt.Fprintf(w, "  %-8s API %s  peer link %s  store %s\n", p.Name, p.Server.APIURL(), p.Server.PeerAddr(), store)
	}
	fmt.Fprintf(w, "\nChannels:\n")
	for _, c := range m.Channels {
		fmt.Fprintf(w, "  %-26s %-9s %s\n", c.Name, c.Level, c.ID[:16])
	}
	fmt.Fprintf(w, "\nConsole: open each party's one-time login link (valid once, within %d hours), one browser window per party:\n", int(console.LoginLinkTTL.Hours()))
	for _, p := range net.Parties {
		fmt.Fprintf(w, "  %-8s %s%s\n", p.Name, p.Server.APIURL(), p.Server.Console.LoginLink(devnet.Operator))
	}
	fmt.Fprintf(w, "  (for a password login: hotline operator add --dir %s %s)\n", net.Parties[0].Dir, devnet.Operator)
	a, b := m.Parties[0], m.Parties[1]
	tomorrow := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Hour)
	at1, at2 := tomorrow.Format(time.RFC3339), tomorrow.Add(3*time.Hour).Format(time.RFC3339)
	fmt.Fprintf(w, `
Or from the command line, in another terminal:
  export A="--api %s --token %s"
  export B="--api %s --token %s"
  hotline send $A %s-%s-strategic "Request a call at 0900Z" --ack-within 10m
  hotline log  $B %s-%s-strategic
  hotline ack  $B %s-%s-strategic ENTRY_ID
  hotline log  $A %s-%s-strategic --json

A call request between ministers, which the other side can answer in its console:
  hotline call propose $A %s-%s-strategic --purpose "Incident at sea" --at %s --at %s --with %s/minister,%s/minister
  hotline calls $B
Once accepted, hold the call through the two nodes from ten minutes before its time: "Join the call"
on the channel page, or on each side (each plays a WAV file and records what it hears; the
strategic channel records its calls, and both nodes sign the record when it ends):
  hotline call join $A %s-%s-strategic CALL_ID --audio statement.wav --record heard.wav --for 60s

A standard phrase, read in Chinese on the other side:
  hotline send $A %s-%s-frontline --phrase ENC-INTENT --field intention=alter_course_starboard --field course_speed=045/12
  hotline log  $B %s-%s-frontline --lang zh
  hotline catalog list --level frontline

Logs: %s. Stop with Ctrl-C; the same command resumes this network.
`, a.API, a.Token, b.API, b.Token, a.Name, b.Name, a.Name, b.Name, a.Name, b.Name, a.Name, b.Name,
		a.Name, b.Name, at1, at2, a.Name, b.Name, a.Name, b.Name,
		a.Name, b.Name, a.Name, b.Name, filepath.Join(net.Dir, "dev.log"))
}
