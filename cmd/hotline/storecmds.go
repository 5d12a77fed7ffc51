package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/storecopy"
)

func init() {
	register(&command{
		name: "store copy", summary: "Move a stopped node's store from its SQLite file to an empty PostgreSQL database, checking every entry and tree",
		usage:   "--dir DIR --to DSN",
		example: "  hotline store copy --dir /srv/hotline --to 'postgres://hotline:PASSWORD@db1,db2/alpha?target_session_attrs=read-write'",
		run:     runStoreCopy,
	})
}

func runStoreCopy(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("store copy", env)
	dir := dirFlag(fs, env)
	to := fs.String("to", "", "the PostgreSQL database to copy into (it must exist and hold no store)")
	d, _, err := dir.open(args, 0, 0)
	if err != nil {
		return err
	}
	if *to == "" {
		return usagef("give the PostgreSQL database with --to DSN")
	}
	if dsn, err := d.StoreDSN(); err != nil {
		return err
	} else if dsn != "" {
		return hotline.Errorf(hotline.ECONFLICT, "the store of %s is already on PostgreSQL (%s)", d.Path, postgres.Redact(dsn))
	}
	// Entries written during the copy would be left behind: the node must
	// be stopped. Its API listener answering says it runs.
	if c, err := net.DialTimeout("tcp", d.Config.API.Listen, time.Second); err == nil {
		c.Close()
		return hotline.Errorf(hotline.ECONFLICT, "something listens on %s, the node's API address: stop the node before copying its store", d.Config.API.Listen)
	}
	fmt.Fprintf(env.Stderr, "copying %s to %s ...\n", d.StorePath(), postgres.Redact(*to))
	rep, err := storecopy.Copy(ctx, d.StorePath(), *to, env.Stderr)
	if err != nil {
		return err
	}
	const dsnFile = "store.dsn"
	if err := os.WriteFile(filepath.Join(d.Path, dsnFile), []byte(*to+"\n"), 0o600); err != nil {
		return err
	}
	if err := d.UseStoreDSNFile(dsnFile); err != nil {
		return err
	}
	fmt.Fprintf(env.Stdout, "copied %d entries of %d feeds, every signature and tree head checked; %s now keeps its store on PostgreSQL (store.dsn_file = %q). The SQLite file %s is left as it was: keep it until the node runs well, then remove it.\n",
		rep.Entries, rep.Feeds, d.Path, dsnFile, d.StorePath())
	return nil
}
