package main

import (
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/server"
)

func init() {
	register(&command{
		name: "key new", summary: "Prepare the party's next keys for a rotation (in a node directory; the node may run)",
		usage: "--dir DIR [--signer-key SHA256:FP] [--signer-tls-key SHA256:FP]",
		example: "  hotline key new --dir /srv/hotline\n" +
			"  hotline key new --dir /srv/hotline --signer-key SHA256:Qx…   (the next key, already in the ssh-agent)\n" +
			"  (with replicas: copy keys/*.next* to every replica's keys/ before you rotate)",
		run: runKeyNew,
	})
	register(&command{
		name: "key rotate", summary: "Rotate the party's keys on the running node: announce the next key in every channel, sign with it from then on",
		usage: "[--dir DIR] [--api URL] --token TOKEN [--json]",
		example: "  hotline key rotate --dir /srv/hotline --token $HOTLINE_TOKEN\n" +
			"  (the next keys are the ones hotline key new prepared; for key files the node makes them if none are)",
		run: runKeyRotate,
	})
	register(&command{
		name: "key revoke", summary: "Revoke a stolen or lost party key: new keys, and a signed statement of where each feed stops being trusted (the node must be stopped)",
		usage: "--dir DIR [--from CHANNEL=SEQ ...] [--json]",
		example: "  hotline key revoke --dir /srv/hotline\n" +
			"  hotline key revoke --dir /srv/hotline --from alpha-bravo-strategic=41   (distrust its own entries from seq 41 too)\n" +
			"  then read the new key and TLS fingerprint to every other party by voice, and send them keys/revocation.note: each runs hotline peer update",
		run: runKeyRevoke,
	})
	register(&command{
		name: "peer update", summary: "Re-pin a party from its revocation (or a new identity document), after confirming its new keys by voice",
		usage: "--dir DIR FILE", example: "  hotline peer update --dir /srv/hotline alpha-revocation.note",
		run: runPeerUpdate,
	})
	register(&command{
		name: "key status", summary: "Show the party's keys, a rotation in progress, and the keys held of each peer",
		usage:   "[--api URL] --token TOKEN [--json]",
		example: "  hotline key status",
		run:     runKeyStatus,
	})
}

func runKeyNew(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("key new", env)
	dir := dirFlag(fs, env)
	signerKey := fs.String("signer-key", "", "with an ssh-agent signer: the next party key's fingerprint, as ssh-add -l prints it (the agent must hold it)")
	tlsKey := fs.String("signer-tls-key", "", "with the TLS key in the agent: the next TLS key's fingerprint")
	d, _, err := dir.open(args, 0, 0)
	if err != nil {
		return err
	}
	sk, tk, err := d.NewKeys(*signerKey, *tlsKey)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	fmt.Fprintf(env.Stdout, "Prepared the next keys of party %s in %s:\n  key: %s\n  TLS: %s\n", d.Config.Party, d.Path, sk.VerifierKey(), tk.Fingerprint())
	fmt.Fprintf(env.Stdout, "With replicas, copy %s/keys/*.next* to every replica's keys/ first. Then rotate: hotline key rotate --dir %s\n", d.Path, d.Path)
	return nil
}

func runKeyRotate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("key rotate", env)
	api := apiFlags(fs, env)
	dir := fs.String("dir", env.Getenv("HOTLINE_DIR"), "node directory: its API address is used unless --api is given (or HOTLINE_DIR)")
	asJSON := fs.Bool("json", false, "print the rotation as JSON")
	if err := useDirAPI(fs, api, dir, args); err != nil {
		return err
	}
	c, _, err := api.parse(args, 0, 0)
	if err != nil {
		return err
	}
	res, err := c.RotateKey(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, res)
	}
	fmt.Fprintf(env.Stdout, "Rotated the party key in %d channels:\n  old: %s\n  new: %s\n", res.Feeds, res.Old, res.New)
	fmt.Fprintf(env.Stdout, "The peer link moves to the new TLS key %s once every peer holds the change (hotline key status shows who does not yet).\n", res.NewTLS)
	return nil
}

// useDirAPI makes --dir name the node whose API to call, when --api is
// not given: the API address in its configuration.
func useDirAPI(fs *flag.FlagSet, api *apiArgs, dir *string, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := false
	fs.Visit(func(f *flag.Flag) { given = given || f.Name == "api" })
	if *dir == "" || given || api.env.Getenv("HOTLINE_API") != "" {
		return nil
	}
	d, err := config.Open(*dir)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	host := d.Config.API.Listen
	if strings.HasPrefix(host, ":") || strings.HasPrefix(host, "0.0.0.0:") || strings.HasPrefix(host, "[::]:") {
		host = "127.0.0.1" + host[strings.LastIndex(host, ":"):]
	}
	*api.base = "http://" + host
	return nil
}

func runKeyStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("key status", env)
	api := apiFlags(fs, env)
	asJSON := fs.Bool("json", false, "print the status as JSON")
	c, _, err := api.parse(args, 0, 0)
	if err != nil {
		return err
	}
	s, err := c.KeyStatus(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, s)
	}
	fmt.Fprintf(env.Stdout, "Party %s\n  key: %s\n  TLS: %s\n", s.Party, s.Key, s.TLS)
	if s.PendingTLS != "" {
		fmt.Fprintf(env.Stdout, "  rotation in progress: the new TLS key %s is presented once these peers hold the key change: %s\n", s.PendingTLS, strings.Join(s.WaitingFor, ", "))
	}
	if len(s.History) > 1 {
		fmt.Fprintf(env.Stdout, "  keys, oldest first:\n")
		for _, k := range s.History {
			fmt.Fprintf(env.Stdout, "    %s\n", k)
		}
	}
	for _, p := range s.Peers {
		fmt.Fprintf(env.Stdout, "Peer %s\n  key: %s\n  TLS: %s\n", p.Party, p.Key, p.TLS)
		if len(p.Keys) > 1 {
			fmt.Fprintf(env.Stdout, "  rotated %d times; keys, oldest first: %s\n", len(p.Keys)-1, strings.Join(p.Keys, ", "))
		}
	}
	return nil
}

// feedPoints is the --from flag: CHANNEL=SEQ, repeated.
type feedPoints map[string]uint64

func (p feedPoints) String() string { return fmt.Sprint(map[string]uint64(p)) }
func (p feedPoints) Set(s string) error {
	name, seq, ok := strings.Cut(s, "=")
	n, err := strconv.ParseUint(seq, 10, 64)
	if !ok || name == "" || err != nil || n == 0 {
		return fmt.Errorf("give CHANNEL=SEQ, SEQ from 1")
	}
	p[name] = n
	return nil
}

func runKeyRevoke(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("key revoke", env)
	dir := dirFlag(fs, env)
	from := feedPoints{}
	fs.Var(from, "from", "CHANNEL=SEQ: distrust this party's feed in CHANNEL (name, label or id) from SEQ, not only after its last entry (repeat)")
	asJSON := fs.Bool("json", false, "print the revocation as JSON")
	d, _, err := dir.open(args, 0, 0)
	if err != nil {
		return err
	}
	if c, err := net.DialTimeout("tcp", d.Config.API.Listen, time.Second); err == nil {
		c.Close()
		return hotline.Errorf(hotline.ECONFLICT, "a node answers at %s, this directory's API address: stop it (and every replica of the party) before revoking its key", d.Config.API.Listen)
	}
	r, err := server.RevokeKey(ctx, d, from, time.Now())
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	if *asJSON {
		return printJSON(env, map[string]any{"party": r.Identity.Party, "revoked": r.Revoked, "key": r.Identity.Key, "tls": r.Identity.TLS,
			"feeds": len(r.Feeds), "note": filepath.Join(d.Path, "keys", "revocation.note")})
	}
	fmt.Fprintf(env.Stdout, `Revoked party %s's key %s.
New identity:
  key: %s
  TLS: %s
The revocation, signed by the new key, is %s: it distrusts %d feeds of this party from the points it lists, and every other feed the old key signed.
Now:
  1. Read the new key and TLS fingerprint above to each other party by voice, as at first set-up.
  2. Send them the revocation file; each runs: hotline peer update --dir THEIR_DIR revocation.note
  3. With replicas, copy this directory's keys/ to every replica's.
  4. Start the node. Its old channels are closed to this party; propose new ones.
`, r.Identity.Party, r.Revoked, r.Identity.Key, r.Identity.TLS, filepath.Join(d.Path, "keys", "revocation.note"), len(r.Feeds))
	return nil
}

func runPeerUpdate(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("peer update", env)
	d, pos, err := dirFlag(fs, env).open(args, 1, 1)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(pos[0])
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "read %s: %v", pos[0], err)
	}
	doc, r, err := d.UpdatePeer(b)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%s: %v", pos[0], err)
	}
	fmt.Fprintf(env.Stdout, "Re-pinned party %s. Confirm these with %s by voice before relying on them:\n  key: %s\n  TLS: %s\n  endpoints: %s\n",
		doc.Party, doc.Party, doc.Key, doc.TLS, strings.Join(doc.Endpoints, ", "))
	if r != nil {
		fmt.Fprintf(env.Stdout, "Its key %s is revoked as of %s: its entries from the points the revocation lists (%d feeds), and any feed it does not list, are disputed; nothing more of them is accepted.\n",
			r.Revoked, r.Time.Format(time.RFC3339), len(r.Feeds))
	}
	fmt.Fprintf(env.Stdout, "Restart the node (hotline serve) for it to take effect; with replicas, update every replica.\n")
	return nil
}
