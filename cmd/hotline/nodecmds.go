package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/server"
)

// dirArgs is a node command's --dir flag.
type dirArgs struct {
	fs   *flag.FlagSet
	path *string
}

// dirFlag adds --dir, defaulting to $HOTLINE_DIR.
func dirFlag(fs *flag.FlagSet, env *Env) *dirArgs {
	return &dirArgs{fs: fs, path: fs.String("dir", env.Getenv("HOTLINE_DIR"), "node directory (or HOTLINE_DIR)")}
}

// parse parses args as parseArgs does and checks a directory was given.
func (a *dirArgs) parse(args []string, lo, hi int) ([]string, error) {
	pos, err := parseArgs(a.fs, args, lo, hi)
	if err != nil {
		return nil, err
	}
	if *a.path == "" {
		return nil, usagef("no node directory: give --dir DIR or set HOTLINE_DIR")
	}
	return pos, nil
}

// open parses args and opens the node directory.
func (a *dirArgs) open(args []string, lo, hi int) (*config.Dir, []string, error) {
	pos, err := a.parse(args, lo, hi)
	if err != nil {
		return nil, nil, err
	}
	d, err := config.Open(*a.path)
	if err != nil {
		return nil, nil, hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	return d, pos, nil
}

func init() {
	register(&command{
		name: "init", summary: "Create a party's node: keys, configuration, store and a first operator token",
		usage: "--dir DIR --party NAME [--advertise HOST:PORT,...] [--store DSN] [--signer ssh-agent --signer-key SHA256:FINGERPRINT [--signer-tls-key SHA256:FINGERPRINT]]",
		example: `  hotline init --dir /srv/hotline --party alpha \
    --peer-listen 0.0.0.0:7443 --advertise alpha.mod.example:7443,203.0.113.5:7443
  hotline init --dir /srv/hotline --party alpha --store 'postgres://hotline:PASSWORD@db1,db2/alpha?target_session_attrs=read-write'
  hotline init --dir /srv/hotline --party alpha --signer ssh-agent --signer-key SHA256:2Dk0...   (the key in the agent, not on disk)`,
		run: runInit,
	})
	register(&command{
		name: "identity", summary: "Print this party's identity document, for the other parties to pin",
		usage: "--dir DIR", example: "  hotline identity --dir /srv/hotline > alpha.json",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("identity", env)
			d, _, err := dirFlag(fs, env).open(args, 0, 0)
			if err != nil {
				return err
			}
			doc := d.Identity()
			env.Stdout.Write(config.MarshalDocument(&doc))
			return nil
		},
	})
	register(&command{
		name: "peer add", summary: "Pin another party from its identity document (takes effect when the node next starts)",
		usage: "--dir DIR FILE", example: "  hotline peer add --dir /srv/hotline bravo.json",
		run: runPeerAdd,
	})
	register(&command{
		name: "peer list", summary: "List the parties this node pins",
		usage: "--dir DIR", example: "  hotline peer list --dir /srv/hotline",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("peer list", env)
			d, _, err := dirFlag(fs, env).open(args, 0, 0)
			if err != nil {
				return err
			}
			peers, err := d.Peers()
			if err != nil {
				return hotline.Errorf(hotline.EINVALID, "%v", err)
			}
			for _, p := range peers {
				fmt.Fprintf(env.Stdout, "%s\t%s\t%s\t%s\n", p.Party, p.Key, p.TLS, strings.Join(p.Endpoints, ","))
			}
			return nil
		},
	})
	register(&command{
		name: "token create", summary: "Issue an API token for an operator (shown once; stored hashed)",
		usage: "--dir DIR OPERATOR", example: "  hotline token create --dir /srv/hotline duty-officer-2",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("token create", env)
			d, pos, err := dirFlag(fs, env).open(args, 1, 1)
			if err != nil {
				return err
			}
			tok, err := createToken(ctx, d, pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, tok)
			return nil
		},
	})
	register(&command{
		name: "serve", summary: "Run the node: peer link and operator API, until SIGINT or SIGTERM",
		usage: "--dir DIR", example: "  hotline serve --dir /srv/hotline",
		run: runServe,
	})
	register(&command{
		name: "dev", summary: "Run a complete local network of parties for trying hotline out",
		usage: "--dir DIR [--parties N] [--postgres DSN] [--replicas N]", example: "  hotline dev --dir /tmp/h\n  hotline dev --dir /tmp/h3 --parties 3\n  hotline dev --dir /tmp/hp --postgres postgres://postgres@127.0.0.1/postgres\n  hotline dev --dir /tmp/hr --replicas 2",
		run: runDev,
	})
}

func runInit(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("init", env)
	dir := dirFlag(fs, env)
	party := fs.String("party", "", "this party's name (lower-case letters, digits, - _ .)")
	def := config.Defaults("")
	apiListen := fs.String("api-listen", def.API.Listen, "operator API address")
	peerListen := fs.String("peer-listen", def.Peer.Listen, "peer link address")
	advertise := fs.String("advertise", "", "endpoints other parties dial, comma-separated, in order of preference (default: the peer-listen address)")
	operator := fs.String("operator", "admin", "operator who gets the first API token")
	signer := fs.String("signer", config.SignerFile, "where the party key is: file (a new key in DIR/keys/signing.key) or ssh-agent (a key the agent holds; DIR then holds no private party key)")
	signerKey := fs.String("signer-key", "", "with --signer ssh-agent: the agent's Ed25519 key, by the SHA256 fingerprint ssh-add -l prints")
	signerTLS := fs.String("signer-tls-key", "", "with --signer ssh-agent: another Ed25519 key of the agent, by fingerprint, for the peer link (TLS); DIR then holds no private key at all")
	signerSocket := fs.String("signer-socket", "", "with --signer ssh-agent: the agent's socket (default: $SSH_AUTH_SOCK when the node runs)")
	storeDSN := fs.String("store", "", "keep the store on PostgreSQL at this DSN (postgres://USER@HOST/DB or key=value), written to DIR/store.dsn (mode 0600), instead of a SQLite file in DIR")
	if _, err := dir.parse(args, 0, 0); err != nil {
		return err
	}
	if *party == "" {
		return usagef("give this party's name with --party")
	}
	if err := entry.CheckName("operator", *operator); err != nil {
		return hotline.Errorf(hotline.EINVALID, "--operator: %v", err)
	}
	cfg := config.Defaults(*party)
	cfg.Signer.Type, cfg.Signer.Key, cfg.Signer.Socket, cfg.Signer.TLSKey = *signer, *signerKey, *signerSocket, *signerTLS
	if *signer == config.SignerAgent && *signerKey == "" {
		return usagef("--signer ssh-agent: give the agent's key with --signer-key SHA256:... (ssh-add -l lists them)")
	}
	cfg.API.Listen, cfg.Peer.Listen = *apiListen, *peerListen
	cfg.Peer.Advertise = []string{*peerListen}
	if *advertise != "" {
		cfg.Peer.Advertise = strings.Split(*advertise, ",")
	} else if host, _, err := net.SplitHostPort(*peerListen); err == nil && (host == "" || net.ParseIP(host).IsUnspecified()) {
		fmt.Fprintf(env.Stderr, "warning: no --advertise given, so other parties are told to dial %s, which they cannot; set peer.advertise in %s/hotline.toml before exchanging identities\n", *peerListen, *dir.path)
	}
	if *storeDSN != "" {
		// Reach the database (and create the schema) before making the
		// directory, so that a wrong DSN leaves nothing behind.
		st, err := postgres.Open(ctx, *storeDSN)
		if err != nil {
			return hotline.Errorf(hotline.EINVALID, "--store %s: %v", postgres.Redact(*storeDSN), err)
		}
		st.Close()
		cfg.Store.DSNFile = "store.dsn"
	}
	d, err := config.Init(*dir.path, cfg)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	if *storeDSN != "" {
		if err := os.WriteFile(filepath.Join(d.Path, cfg.Store.DSNFile), []byte(*storeDSN+"\n"), 0o600); err != nil {
			return err
		}
	}
	tok, err := createToken(ctx, d, *operator)
	if err != nil {
		return err
	}
	fmt.Fprintf(env.Stderr, `Created party %s in %s.
  identity key: %s
  TLS key:      %s
Next:
  1. hotline identity --dir %s > %s.json   and give that file to the other parties
  2. hotline peer add --dir %s THEIR.json   for each of theirs (check their key with them by voice)
  3. hotline serve --dir %s
API token for operator %q (shown once; keep it safe):
`, *party, *dir.path, d.Key.VerifierKey(), d.TLS.Fingerprint(), *dir.path, *party, *dir.path, *dir.path, *operator)
	fmt.Fprintln(env.Stdout, tok)
	return nil
}

// createToken issues and stores a token for operator in the node d.
// It works while the node runs: SQLite lets the two writers take turns.
func createToken(ctx context.Context, d *config.Dir, operator string) (string, error) {
	if err := entry.CheckName("operator", operator); err != nil {
		return "", hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	st, err := server.OpenStore(ctx, d)
	if err != nil {
		return "", err
	}
	defer st.Close()
	tok := api.NewToken()
	if err := st.AddOperatorToken(ctx, operator, api.HashToken(tok)); err != nil {
		return "", err
	}
	return tok, nil
}

func runPeerAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("peer add", env)
	d, pos, err := dirFlag(fs, env).open(args, 1, 1)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "read %s: %v", pos[0], err)
	}
	doc, err := identity.ParseDocument(b)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%s: %v", pos[0], err)
	}
	replaced, err := d.AddPeer(doc)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	verb := "Pinned"
	if replaced {
		verb = "Updated endpoints of"
	}
	fmt.Fprintf(env.Stdout, "%s party %s\n  identity key: %s\n  TLS key:      %s\n  endpoints:    %s\nRestart the node (hotline serve) for it to take effect.\n",
		verb, doc.Party, doc.Key, doc.TLS, strings.Join(doc.Endpoints, ", "))
	return nil
}

func runServe(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("serve", env)
	d, _, err := dirFlag(fs, env).open(args, 0, 0)
	if err != nil {
		return err
	}
	s, err := server.Start(ctx, d.Path, server.Options{Logger: server.NewLogger(&d.Config, env.Stderr)})
	if err != nil {
		return hotline.Errorf(hotline.EUNAVAILABLE, "%v", err)
	}
	select {
	case <-ctx.Done():
		s.Log.Info("shutting down")
	case <-s.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := s.Close(sctx); err != nil {
		return err
	}
	if err := s.Err(); err != nil {
		// A replica that lost its lease exits; its supervisor (systemd's
		// Restart=always) starts it again, as a standby.
		return hotline.Errorf(hotline.EUNAVAILABLE, "%v; exiting, to be restarted as a standby", err)
	}
	return nil
}

func runDev(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("dev", env)
	dir := fs.String("dir", "", "directory holding the network (created if missing; reused if it exists; default: a new temporary directory)")
	parties := fs.Int("parties", 2, "number of parties")
	pg := fs.String("postgres", "", "keep each new party's store on PostgreSQL: the DSN of a server where dev may create a database per party")
	replicas := fs.Int("replicas", 1, "run each party as this many replica processes on one PostgreSQL database (--postgres, or a throwaway server dev starts)")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	if *replicas < 1 || *replicas > 9 {
		return usagef("--replicas: from 1 to 9")
	}
	if *dir == "" {
		tmp, err := os.MkdirTemp("", "hotline-dev-")
		if err != nil {
			return err
		}
		*dir = tmp
	}
	if err := os.MkdirAll(*dir, 0o700); err != nil {
		return hotline.Errorf(hotline.EINVALID, "create %s: %v", *dir, err)
	}
	logf, err := os.OpenFile(filepath.Join(*dir, "dev.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	defer logf.Close()
	if *replicas > 1 {
		return runDevReplicas(ctx, env, *dir, *parties, *replicas, *pg, logf)
	}
	net, err := devnetPrepare(ctx, *dir, *parties, *pg, 1, logf)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	fmt.Fprintf(env.Stderr, "Starting %d parties in %s ...\n", len(net.Parties), *dir)
	if err := net.Start(ctx); err != nil {
		return hotline.Errorf(hotline.EUNAVAILABLE, "%v", err)
	}
	printDev(env, net)
	<-ctx.Done()
	fmt.Fprintln(env.Stderr, "Stopping ...")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := net.Stop(sctx); err != nil {
		return err
	}
	fmt.Fprintln(env.Stderr, "Stopped cleanly. Run the same command again to resume this network.")
	return nil
}

func printJSON(env *Env, v any) error {
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}
