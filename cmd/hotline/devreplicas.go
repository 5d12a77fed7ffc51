package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/console"
	"github.com/hotline-project/hotline/devnet"
)

// runDevReplicas runs the dev network with each party as several
// `hotline serve` processes on one PostgreSQL database (pg, or a
// throwaway server it starts), and restarts any that exits, as systemd's
// Restart=always would: a killed writer comes back as a standby.
func runDevReplicas(ctx context.Context, env *Env, dir string, parties, replicas int, pg string, logw io.Writer) error {
	if pg == "" {
		srv, admin, err := startDevPostgres(ctx, dir, logw)
		if err != nil {
			return hotline.Errorf(hotline.EUNAVAILABLE, "%v", err)
		}
		defer func() {
			if err := srv.stop(logw); err != nil {
				fmt.Fprintf(env.Stderr, "stopping the throwaway PostgreSQL server: %v\n", err)
			}
		}()
		fmt.Fprintf(env.Stderr, "Started a throwaway PostgreSQL server on 127.0.0.1:%d (data in %s).\n", srv.port, srv.dir)
		pg = admin
	}
	net, err := devnetPrepare(ctx, dir, parties, pg, replicas, logw)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	// Set the channels up in-process, then run every replica as a process.
	fmt.Fprintf(env.Stderr, "Setting up %d parties in %s ...\n", len(net.Parties), dir)
	if err := net.Start(ctx); err != nil {
		return hotline.Errorf(hotline.EUNAVAILABLE, "%v", err)
	}
	m := net.Manifest()
	if err := net.Stop(ctx); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	type running struct {
		party int
		proc  *devnet.Process
	}
	var procs []running
	stopAll := func() {
		for i := len(procs) - 1; i >= 0; i-- { // standbys first: nobody takes over from a writer stopping
			procs[i].proc.Stop(syscall.SIGTERM)
		}
	}
	defer stopAll()
	for i, p := range net.Parties {
		dirs := p.Replicas
		if len(dirs) == 0 {
			fmt.Fprintf(env.Stderr, "%s has one directory (it was made without --replicas), so it runs as one process\n", p.Name)
			dirs = []string{p.Dir}
		}
		for _, d := range dirs {
			proc, err := devnet.NewProcess(exe, p.Name, d, logw)
			if err != nil {
				return err
			}
			if err := proc.Start(ctx, time.Minute); err != nil {
				return hotline.Errorf(hotline.EUNAVAILABLE, "%v (log: %s)", err, filepath.Join(dir, "dev.log"))
			}
			procs = append(procs, running{i, proc})
		}
	}
	manifest := func() error {
		for i := range m.Parties {
			m.Parties[i].Replicas = nil
		}
		for _, r := range procs {
			mp := &m.Parties[r.party]
			if mp.Replicas == nil {
				mp.API, mp.Console = r.proc.API, r.proc.API+console.Prefix
			}
			mp.Replicas = append(mp.Replicas, devnet.ManifestReplica{API: r.proc.API, Peer: r.proc.Peer, Pid: r.proc.Pid()})
		}
		return net.WriteManifestOf(m)
	}
	if err := manifest(); err != nil {
		return err
	}
	printDevReplicas(env, net, m)

	exited := make(chan int, len(procs))
	watch := func(i int) {
		go func() {
			select {
			case <-procs[i].proc.Exited():
				exited <- i
			case <-ctx.Done():
			}
		}()
	}
	for i := range procs {
		watch(i)
	}
	for {
		select {
		case <-ctx.Done():
			fmt.Fprintln(env.Stderr, "Stopping ...")
			stopAll()
			fmt.Fprintln(env.Stderr, "Stopped cleanly. Run the same command again to resume this network.")
			return nil
		case i := <-exited:
			p := procs[i].proc
			fmt.Fprintf(env.Stderr, "%s replica %s exited (%v); restarting it, as a standby if another replica has taken over ...\n",
				p.Party, filepath.Base(p.Dir), p.Err())
			select {
			case <-ctx.Done():
				continue
			case <-time.After(time.Second):
			}
			if err := p.Start(ctx, time.Minute); err != nil {
				fmt.Fprintf(env.Stderr, "could not restart %s: %v; it stays down\n", p.Dir, err)
				continue
			}
			fmt.Fprintf(env.Stderr, "%s replica %s is back (pid %d)\n", p.Party, filepath.Base(p.Dir), p.Pid())
			manifest()
			watch(i)
		}
	}
}

// printDevReplicas tells the newcomer what runs where, and how to try a
// failover.
func printDevReplicas(env *Env, net *devnet.Network, m devnet.Manifest) {
	w := env.Stdout
	fmt.Fprintf(w, "hotline dev network is up, each party as replicas on PostgreSQL (%s).\n\nParties:\n", filepath.Join(net.Dir, "dev.json"))
	for _, p := range m.Parties {
		fmt.Fprintf(w, "  %s\n", p.Name)
		for _, r := range p.Replicas {
			fmt.Fprintf(w, "    replica pid %-7d API %s  peer link %s\n", r.Pid, r.API, r.Peer)
		}
	}
	fmt.Fprintf(w, "\nChannels:\n")
	for _, c := range m.Channels {
		fmt.Fprintf(w, "  %-26s %-9s %s\n", c.Name, c.Level, c.ID[:16])
	}
	a, b := m.Parties[0], m.Parties[1]
	second := a.API
	if len(a.Replicas) > 1 {
		second = a.Replicas[1].API
	}
	fmt.Fprintf(w, `
Any replica takes requests: a standby forwards them to the party's writer.
  hotline status --api %s --token %s --json     (replica: role, epoch, the writer)
  hotline send --api %s --token %s %s-%s-strategic "Through a replica"
Kill the writer (the replica whose status says "active") with kill -9: within seconds a standby
takes over, and sends through any other replica go on. dev restarts the killed one, as a standby.
  hotline log --api %s --token %s %s-%s-strategic

Console: %s (for a password login: hotline operator add --dir %s %s)
Logs: %s. Stop with Ctrl-C; the same command resumes this network.
`, second, a.Token, second, a.Token, a.Name, b.Name, b.API, b.Token, a.Name, b.Name,
		a.Console, net.Parties[0].Dir, devnet.Operator, filepath.Join(net.Dir, "dev.log"))
}
