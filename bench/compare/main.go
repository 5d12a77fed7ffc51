// Command compare measures hotline's link side by side with NATS
// JetStream, the yardstick issue 14 set, in one invocation and in
// interleaved rounds, and prints each figure as a ratio to the raw Ed25519
// rate or to JetStream measured in the same round.
//
// Each round runs, in turn:
//   - hotline bench: throughput with receipts, latency at a fifth of that
//     throughput, catch-up after a restart, and offline verification;
//   - JetStream on one server, file storage with fsync always: K
//     publishers, each waiting for its acknowledgement before the next;
//   - the same with the stream mirrored to a second server, until the
//     mirror holds every message (durable on two servers, as a hotline
//     message is once its receipt is back).
//
// bench/compare.sh builds hotline and nats-server and runs this. It is a
// module of its own so that hotline's binary does not depend on NATS.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"text/tabwriter"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

type options struct {
	hotline, natsServer string
	rounds              int
	messages, senders   int
	size                int
	catchUp             int
	duration            time.Duration
	dir                 string
}

func main() {
	var o options
	flag.StringVar(&o.hotline, "hotline", "hotline", "the hotline binary")
	flag.StringVar(&o.natsServer, "nats-server", "nats-server", "the nats-server binary")
	flag.IntVar(&o.rounds, "rounds", 3, "interleaved rounds")
	flag.IntVar(&o.messages, "messages", 20000, "messages in each throughput run")
	flag.IntVar(&o.senders, "senders", 64, "concurrent senders (hotline) and publishers (JetStream), each waiting for its answer")
	flag.IntVar(&o.size, "size", 0, "JetStream message size in bytes (0: the mean size of a hotline bench message entry, from the first round's archive)")
	flag.IntVar(&o.catchUp, "catchup", 100000, "messages in hotline's catch-up phase (0 skips it)")
	flag.DurationVar(&o.duration, "duration", 10*time.Second, "length of hotline's latency phase")
	flag.StringVar(&o.dir, "dir", "", "working directory (default: a temporary one, removed afterwards)")
	flag.Parse()
	if err := compare(o, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "compare:", err)
		os.Exit(1)
	}
}

// hotlineResult is the part of hotline bench --json that is compared.
type hotlineResult struct {
	SignVerify float64 `json:"ed25519_sign_verify_per_second"`
	Verify     float64 `json:"ed25519_verify_per_second"`
	Throughput struct {
		PerSecond float64 `json:"per_second"`
	} `json:"throughput"`
	Latency *struct {
		P50 time.Duration `json:"p50_ns"`
		P99 time.Duration `json:"p99_ns"`
	} `json:"latency"`
	CatchUp      *rate   `json:"catch_up"`
	Audit        *rate   `json:"offline_verify"`
	MessageBytes float64 `json:"message_entry_bytes"`
}

// rate is a hotline bench phase measured against the raw verify rate.
type rate struct {
	PerSecond float64 `json:"per_second"`
	Ratio     float64 `json:"ratio_to_verify"`
}

// jsResult is one JetStream run.
type jsResult struct {
	PerSecond  float64
	P50, P99   time.Duration
	MirrorWait time.Duration // after the last acknowledgement, until the mirror held everything
}

type round struct {
	hotline          hotlineResult
	single, mirrored jsResult
}

func compare(o options, out, progress io.Writer) error {
	dir := o.dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "hotline-compare-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	var rounds []round
	for i := range o.rounds {
		var r round
		fmt.Fprintf(progress, "round %d of %d: hotline bench ...\n", i+1, o.rounds)
		h, err := runHotline(o, filepath.Join(dir, fmt.Sprintf("hotline-%d", i)))
		if err != nil {
			return err
		}
		r.hotline = *h
		if o.size == 0 {
			o.size = max(1, int(h.MessageBytes+0.5))
			fmt.Fprintf(progress, "JetStream messages of %d bytes, the mean size of a hotline bench message entry\n", o.size)
		}
		fmt.Fprintf(progress, "round %d of %d: JetStream, one server ...\n", i+1, o.rounds)
		if r.single, err = runJetStream(o, filepath.Join(dir, fmt.Sprintf("nats-%d", i)), false); err != nil {
			return fmt.Errorf("JetStream, one server: %w", err)
		}
		fmt.Fprintf(progress, "round %d of %d: JetStream, mirrored to a second server ...\n", i+1, o.rounds)
		if r.mirrored, err = runJetStream(o, filepath.Join(dir, fmt.Sprintf("nats-mirror-%d", i)), true); err != nil {
			return fmt.Errorf("JetStream, mirrored: %w", err)
		}
		rounds = append(rounds, r)
	}
	report(out, o, rounds)
	return nil
}

func runHotline(o options, dir string) (*hotlineResult, error) {
	args := []string{"bench", "--messages", fmt.Sprint(o.messages), "--senders", fmt.Sprint(o.senders),
		"--load", "0.2", "--duration", o.duration.String(), "--verify", "--json", "--dir", dir}
	if o.catchUp > 0 {
		args = append(args, "--catchup", fmt.Sprint(o.catchUp))
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(o.hotline, args...)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("hotline %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var r hotlineResult
	if err := json.Unmarshal(stdout.Bytes(), &r); err != nil {
		return nil, fmt.Errorf("hotline bench --json: %v", err)
	}
	return &r, nil
}

// server is a running nats-server.
type server struct {
	cmd  *exec.Cmd
	url  string
	logs bytes.Buffer
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startServer starts nats-server with JetStream on file storage, fsync
// always, in dir; cluster, if not empty, is its cluster block.
func startServer(bin, dir, name, tag string, port int, cluster string) (*server, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	conf := fmt.Sprintf(`server_name: %s
listen: 127.0.0.1:%d
server_tags: [%q]
jetstream {
	store_dir: %q
	sync_interval: always
}
%s
`, name, port, tag, filepath.Join(dir, "js"), cluster)
	path := filepath.Join(dir, "nats.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		return nil, err
	}
	s := &server{url: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	s.cmd = exec.Command(bin, "-c", path)
	s.cmd.Stdout, s.cmd.Stderr = &s.logs, &s.logs
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return s, nil
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("nats-server %s did not listen: %s", name, s.logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *server) stop() {
	s.cmd.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		s.cmd.Process.Kill()
		<-done
	}
}

func runJetStream(o options, dir string, mirrored bool) (jsResult, error) {
	defer os.RemoveAll(dir)
	ports := make([]int, 4)
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return jsResult{}, err
		}
		ports[i] = p
	}
	var servers []*server
	defer func() {
		for _, s := range servers {
			s.stop()
		}
	}()
	if !mirrored {
		s, err := startServer(o.natsServer, filepath.Join(dir, "a"), "a", "site:a", ports[0], "")
		if err != nil {
			return jsResult{}, err
		}
		servers = append(servers, s)
	} else {
		for i, name := range []string{"a", "b"} {
			other := ports[2+1-i]
			cluster := fmt.Sprintf("cluster {\n\tname: bench\n\tlisten: 127.0.0.1:%d\n\troutes: [\"nats-route://127.0.0.1:%d\"]\n}", ports[2+i], other)
			s, err := startServer(o.natsServer, filepath.Join(dir, name), name, "site:"+name, ports[i], cluster)
			if err != nil {
				return jsResult{}, err
			}
			servers = append(servers, s)
		}
	}
	mirrorURL := ""
	if mirrored {
		mirrorURL = servers[1].url
	}
	r, err := publish(servers[0].url, mirrorURL, o.messages, o.senders, o.size)
	if err != nil {
		var logs strings.Builder
		for _, s := range servers {
			logs.WriteString(s.logs.String())
		}
		return jsResult{}, fmt.Errorf("%w\nserver logs:\n%s", err, logs.String())
	}
	return r, nil
}

// publish creates the stream (and its mirror), then publishes n messages
// from k publishers, each waiting for its acknowledgement, and, with a
// mirror, waits until the mirror holds them all.
func publish(url, mirrorURL string, n, k, size int) (jsResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	nc, err := nats.Connect(url)
	if err != nil {
		return jsResult{}, err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return jsResult{}, err
	}
	cfg := jetstream.StreamConfig{Name: "BENCH", Subjects: []string{"bench"}, Storage: jetstream.FileStorage, Replicas: 1}
	var mirror jetstream.Stream
	if mirrorURL != "" {
		cfg.Placement = &jetstream.Placement{Tags: []string{"site:a"}}
	}
	if err := retry(ctx, func(ctx context.Context) error { _, err := js.CreateStream(ctx, cfg); return err }); err != nil {
		return jsResult{}, fmt.Errorf("create the stream: %w", err)
	}
	if mirrorURL != "" {
		mc, err := nats.Connect(mirrorURL)
		if err != nil {
			return jsResult{}, err
		}
		defer mc.Close()
		mjs, err := jetstream.New(mc)
		if err != nil {
			return jsResult{}, err
		}
		mcfg := jetstream.StreamConfig{Name: "BENCH_MIRROR", Storage: jetstream.FileStorage, Replicas: 1,
			Mirror: &jetstream.StreamSource{Name: "BENCH"}, Placement: &jetstream.Placement{Tags: []string{"site:b"}}}
		if err := retry(ctx, func(ctx context.Context) error { var err error; mirror, err = mjs.CreateStream(ctx, mcfg); return err }); err != nil {
			return jsResult{}, fmt.Errorf("create the mirror: %w", err)
		}
	}

	msg := make([]byte, size)
	for i := range msg {
		msg[i] = byte('a' + i%26)
	}
	var next atomic.Int64
	lat := make([][]time.Duration, k)
	var failed atomic.Pointer[error]
	start := time.Now()
	var wg sync.WaitGroup
	for p := range k {
		wg.Go(func() {
			for failed.Load() == nil && next.Add(1) <= int64(n) {
				t := time.Now()
				if _, err := js.Publish(ctx, "bench", msg); err != nil {
					failed.Store(&err)
					return
				}
				lat[p] = append(lat[p], time.Since(t))
			}
		})
	}
	wg.Wait()
	if err := failed.Load(); err != nil {
		return jsResult{}, fmt.Errorf("publish: %w", *err)
	}
	acked := time.Now()
	if mirror != nil {
		for {
			info, err := mirror.Info(ctx)
			if err != nil {
				return jsResult{}, err
			}
			if info.State.Msgs >= uint64(n) {
				break
			}
			if ctx.Err() != nil {
				return jsResult{}, errors.New("the mirror never caught up")
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	end := time.Now()
	all := slices.Concat(lat...)
	slices.Sort(all)
	return jsResult{PerSecond: float64(n) / end.Sub(start).Seconds(), P50: all[len(all)/2], P99: all[len(all)*99/100], MirrorWait: end.Sub(acked)}, nil
}

// retry calls f, with five seconds for each try, until it succeeds or 30
// seconds have passed.
func retry(ctx context.Context, f func(context.Context) error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		tctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		err := f(tctx)
		cancel()
		if err == nil || time.Now().After(deadline) || ctx.Err() != nil {
			return err
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func report(w io.Writer, o options, rounds []round) {
	fmt.Fprintf(w, "\n%d rounds, %d messages each, %d senders/publishers, JetStream messages of %d bytes\n\n", len(rounds), o.messages, o.senders, o.size)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "round\tEd25519 sign+verify/s\thotline msg/s\t/ sign+verify\tJetStream 1 server\tJetStream mirrored\thotline / mirrored\tp99 at 1/5 load\tcatch-up msg/s\t/ verify\toffline verify/s\t/ verify\t")
	ms := func(d time.Duration) string { return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond)) }
	for i, r := range rounds {
		h := r.hotline
		p99, cu, cuR, av, avR := "-", "-", "-", "-", "-"
		if h.Latency != nil {
			p99 = ms(h.Latency.P99)
		}
		if h.CatchUp != nil {
			cu, cuR = fmt.Sprintf("%.0f", h.CatchUp.PerSecond), fmt.Sprintf("%.3f", h.CatchUp.Ratio)
		}
		if h.Audit != nil {
			av, avR = fmt.Sprintf("%.0f", h.Audit.PerSecond), fmt.Sprintf("%.3f", h.Audit.Ratio)
		}
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.3f\t%.0f\t%.0f\t%.2f\t%s\t%s\t%s\t%s\t%s\t\n", i+1, h.SignVerify, h.Throughput.PerSecond,
			h.Throughput.PerSecond/h.SignVerify, r.single.PerSecond, r.mirrored.PerSecond, h.Throughput.PerSecond/r.mirrored.PerSecond,
			p99, cu, cuR, av, avR)
	}
	tw.Flush()
	fmt.Fprintln(w, "\ntargets (issue 14): hotline >= 0.4 of sign+verify and >= 2x mirrored JetStream; p99 < 5 ms at 1/5 of the throughput;")
	fmt.Fprintln(w, "catch-up >= 0.5 of verify; offline verify >= 0.9 of verify")
	fmt.Fprintln(w, "\nJetStream publish to acknowledgement (p50 / p99), and the mirror's lag after the last acknowledgement:")
	for i, r := range rounds {
		fmt.Fprintf(w, "  round %d: one server %s / %s; mirrored %s / %s, mirror +%s\n", i+1, ms(r.single.P50), ms(r.single.P99),
			ms(r.mirrored.P50), ms(r.mirrored.P99), r.mirrored.MirrorWait.Round(time.Millisecond))
	}
}
