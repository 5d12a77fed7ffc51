package main

import (
	"context"
	"flag"
	"fmt"
	"strings"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/config"
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
