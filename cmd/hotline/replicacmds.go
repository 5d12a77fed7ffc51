package main

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/config"
)

func init() {
	register(&command{
		name: "replica add", summary: "Prepare another replica of a party on PostgreSQL: its directory, with the party's keys, pins and store",
		usage: "--dir DIR --to NEWDIR --api-listen HOST:PORT --peer-listen HOST:PORT [--advertise HOST:PORT] [--name NAME]",
		example: "  hotline replica add --dir /srv/hotline --to /srv/hotline-2 --api-listen 10.0.0.2:8080 --peer-listen 0.0.0.0:7443 --advertise hl2.mod.example:7443 --name hl2\n" +
			"  (or prepare it on this machine, copy the new directory to the other one, mode 0700)",
		run: runReplicaAdd,
	})
}

func runReplicaAdd(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("replica add", env)
	dir := dirFlag(fs, env)
	to := fs.String("to", "", "the new replica's directory (created; it must not hold a node)")
	apiListen := fs.String("api-listen", "", "the new replica's operator API address")
	peerListen := fs.String("peer-listen", "", "the new replica's peer link address")
	advertise := fs.String("advertise", "", "where other parties reach the new replica's peer link (default: --peer-listen); added to peer.advertise")
	name := fs.String("name", "", "the new replica's name in the lease, logs and metrics (default: the directory's name)")
	d, _, err := dir.open(args, 0, 0)
	if err != nil {
		return err
	}
	if *to == "" || *apiListen == "" || *peerListen == "" {
		return usagef("give the new replica's directory and listeners: --to, --api-listen and --peer-listen")
	}
	if *name == "" {
		abs, err := filepath.Abs(*to)
		if err != nil {
			return err
		}
		*name = filepath.Base(abs)
	}
	nd, added, err := d.NewReplica(*to, config.Replica{Name: *name, APIListen: *apiListen, PeerListen: *peerListen, Advertise: *advertise})
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	fmt.Fprintf(env.Stdout, "Prepared replica %s of party %s in %s (API %s, peer link %s). Start it with: hotline serve --dir %s\n",
		*name, nd.Config.Party, nd.Path, nd.Config.API.Listen, nd.Config.Peer.Listen, nd.Path)
	if added {
		fmt.Fprintf(env.Stdout, `peer.advertise now lists %s in %s and %s. For the other parties to reach the new replica:
  - set the same peer.advertise in every other replica's hotline.toml, and restart them one at a time;
  - send them the party's identity again (hotline identity --dir %s), to re-pin with hotline peer add.
`, nd.Config.Peer.Advertise[len(nd.Config.Peer.Advertise)-1], filepath.Join(d.Path, config.FileName), filepath.Join(nd.Path, config.FileName), nd.Path)
	}
	return nil
}
