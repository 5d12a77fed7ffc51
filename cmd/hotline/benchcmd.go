package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	"github.com/hotline-project/hotline/bench"
)

func init() {
	register(&command{
		name: "bench", summary: "Measure a link: two nodes on loopback, messages/s and send-to-receipt latency",
		usage:   "[--messages N] [--senders K] [--rate R | --load F] [--duration D] [--catchup N] [--verify] [--store DSN] [--dir DIR] [--cpuprofile FILE] [--json]",
		example: "  hotline bench --messages 20000 --senders 64 --rate 1000 --duration 10s\n  hotline bench --load 0.2 --catchup 100000 --verify",
		run:     runBench,
	})
}

func runBench(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("bench", env)
	o := bench.Options{Progress: env.Stderr}
	fs.IntVar(&o.Messages, "messages", 20000, "messages in the throughput phase")
	fs.IntVar(&o.Senders, "senders", 64, "concurrent senders in the throughput phase")
	fs.IntVar(&o.Rate, "rate", 1000, "messages per second offered in the latency phase (0 skips it)")
	fs.DurationVar(&o.Duration, "duration", 10*time.Second, "length of the latency phase")
	fs.Float64Var(&o.Load, "load", 0, "offer this fraction of the measured throughput in the latency phase, instead of --rate")
	fs.IntVar(&o.CatchUp, "catchup", 0, "catch-up phase: bravo stops, alpha writes N messages, bravo restarts; time until all are receipted (0 skips it)")
	fs.BoolVar(&o.Verify, "verify", false, "offline verification phase: verify alpha's archive of the channel, as hotline verify does")
	fs.StringVar(&o.Store, "store", "", "keep both nodes' stores on PostgreSQL: the DSN of a server where the bench may create two databases (dropped afterwards); default: SQLite files")
	fs.StringVar(&o.Dir, "dir", "", "directory for the two nodes (default: a temporary one, removed afterwards)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the throughput phase to FILE (read it with go tool pprof)")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		o.CPUProfile = f
	}
	if o.Messages < 1 || o.Senders < 1 || o.Rate < 0 || o.CatchUp < 0 || o.Load < 0 || o.Load > 1 ||
		((o.Rate > 0 || o.Load > 0) && o.Duration < 100*time.Millisecond) {
		return usagef("--messages and --senders must be at least 1, --rate and --catchup at least 0, --load from 0 to 1, --duration at least 100ms")
	}
	res, err := bench.Run(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(res)
	}
	w := env.Stdout
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	fmt.Fprintf(w, "stores:                   %s\n", res.Store)
	fmt.Fprintf(w, "raw Ed25519 sign+verify:  %.0f pairs/s on %d cores\n", res.SignVerifyPerS, res.Cores)
	fmt.Fprintf(w, "raw Ed25519 verify:       %.0f/s on %d cores\n", res.VerifyPerS, res.Cores)
	t := res.Throughput
	fmt.Fprintf(w, "throughput:               %.0f messages/s with receipts (%d messages, %d senders, %s)\n", t.PerSecond, t.Messages, res.Senders, t.Elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "  send to receipt:        p50 %s  p99 %s  max %s\n", ms(t.P50), ms(t.P99), ms(t.Max))
	fmt.Fprintf(w, "  ratio to sign+verify:   %.3f\n", res.ThroughputRatio)
	fmt.Fprintf(w, "  message entries:        %.0f bytes on average\n", res.MessageBytes)
	if l := res.Latency; l != nil {
		fmt.Fprintf(w, "latency at %d/s offered:  p50 %s  p99 %s  max %s (%d messages, %.0f/s delivered)\n", res.OfferedRate, ms(l.P50), ms(l.P99), ms(l.Max), l.Messages, l.PerSecond)
	}
	if c := res.CatchUp; c != nil {
		fmt.Fprintf(w, "catch-up:                 %.0f messages/s held and receipted (%d in %s), %.3f of verify\n", c.PerSecond, c.Count, c.Elapsed.Round(time.Millisecond), c.Ratio)
	}
	if v := res.OfflineVerify; v != nil {
		fmt.Fprintf(w, "offline verify:           %.0f entries/s (%d in %s), %.3f of verify\n", v.PerSecond, v.Count, v.Elapsed.Round(time.Millisecond), v.Ratio)
	}
	return nil
}
