// Package bench measures a link end to end: two real nodes on loopback,
// each with its own SQLite store, operators sending through the HTTP API,
// and the time until the sender's node holds the receiver's signed receipt.
//
// It runs two phases. The throughput phase sends as fast as K concurrent
// senders can; the latency phase offers a fixed rate, open loop (a message
// is sent at its scheduled time whether or not earlier ones are done), so
// queueing shows in the latency instead of slowing the offer. Both report
// against the raw Ed25519 sign+verify rate measured in the same run, since
// every message costs at least one signature and one verification.
package bench

import (
	"bufio"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/postgres"
)

// Options say what to measure.
type Options struct {
	Dir      string        // where the two nodes live; empty: a temporary directory, removed afterwards
	Messages int           // messages in the throughput phase
	Senders  int           // concurrent senders in the throughput and catch-up phases
	Rate     int           // messages per second offered in the latency phase; 0 skips it
	Duration time.Duration // length of the latency phase
	// Load, if above 0, sets the latency phase's offered rate to this
	// fraction of the throughput just measured, instead of Rate.
	Load float64
	// CatchUp, if above 0, adds the catch-up phase: bravo stops, alpha
	// writes this many messages, bravo starts again, and the phase lasts
	// until alpha holds bravo's receipt for all of them.
	CatchUp int
	// Verify adds the offline verification phase: alpha's archive of the
	// channel, with everything the other phases sent, checked as hotline
	// verify checks one.
	Verify   bool
	Progress io.Writer // progress lines; nil: none
	// Store, if set, is the DSN of a PostgreSQL server where the bench
	// creates a database for each node (and drops them afterwards); empty:
	// each node keeps a SQLite file.
	Store string
	// CPUProfile, if not nil, receives a CPU profile (pprof format) of the
	// throughput phase: both nodes and the senders, which share one process.
	CPUProfile io.Writer
}

// Phase is the result of one phase.
type Phase struct {
	Messages  int           `json:"messages"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	PerSecond float64       `json:"per_second"` // messages delivered (receipt held) per second
	P50       time.Duration `json:"p50_ns"`
	P99       time.Duration `json:"p99_ns"`
	Max       time.Duration `json:"max_ns"`
}

// Result is what a run measured.
type Result struct {
	Cores           int     `json:"cores"`
	SignVerifyPerS  float64 `json:"ed25519_sign_verify_per_second"` // all cores
	Throughput      Phase   `json:"throughput"`
	Senders         int     `json:"senders"`
	Latency         *Phase  `json:"latency,omitempty"`
	OfferedRate     int     `json:"offered_rate,omitempty"`
	ThroughputRatio float64 `json:"throughput_to_sign_verify"` // Throughput.PerSecond / SignVerifyPerS
	VerifyPerS      float64 `json:"ed25519_verify_per_second"` // all cores
	MessageBytes    float64 `json:"message_entry_bytes"`       // mean size of a message entry sent, as stored and pushed
	Store           string  `json:"store"`                     // "sqlite" or "postgres"
	CatchUp         *Rate   `json:"catch_up,omitempty"`        // messages receipted per second after bravo's restart
	OfflineVerify   *Rate   `json:"offline_verify,omitempty"`  // archive entries verified per second
}

// Rate is a phase measured as a rate against the raw verify rate.
type Rate struct {
	Count     int           `json:"count"`
	Elapsed   time.Duration `json:"elapsed_ns"`
	PerSecond float64       `json:"per_second"`
	Ratio     float64       `json:"ratio_to_verify"` // PerSecond / VerifyPerS
}

// channel is the bench's channel in the dev network.
const channel = "alpha-bravo-theatre"

// Run starts two nodes, runs the phases and stops the nodes.
func Run(ctx context.Context, o Options) (*Result, error) {
	if o.Messages <= 0 || o.Senders <= 0 {
		return nil, errors.New("bench: messages and senders must be positive")
	}
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	dir := o.Dir
	if dir == "" {
		tmp, err := os.MkdirTemp("", "hotline-bench-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	res := &Result{Cores: runtime.GOMAXPROCS(0), Senders: o.Senders, OfferedRate: o.Rate}
	fmt.Fprintf(progress, "measuring raw Ed25519 sign+verify and verify on %d cores ...\n", res.Cores)
	res.SignVerifyPerS = SignVerifyRate(time.Second)
	res.VerifyPerS = VerifyRate(time.Second)

	fmt.Fprintf(progress, "starting alpha and bravo in %s ...\n", dir)
	res.Store = "sqlite"
	var nopts devnet.Options
	if o.Store != "" {
		res.Store = "postgres"
		dsns := make(map[string]string)
		for _, party := range []string{"alpha", "bravo"} {
			var b [4]byte
			rand.Read(b[:])
			name := fmt.Sprintf("hotline_bench_%s_%x", party, b)
			dsn, err := postgres.CreateDatabase(ctx, o.Store, name)
			if err != nil {
				return nil, err
			}
			defer postgres.DropDatabase(context.Background(), o.Store, name)
			dsns[party] = dsn
		}
		fmt.Fprintf(progress, "stores on PostgreSQL at %s\n", postgres.Redact(o.Store))
		nopts.Configure = func(party string, cfg *config.Config) { cfg.Store.DSN = dsns[party] }
	}
	net, err := devnet.Prepare(dir, nopts)
	if err != nil {
		return nil, err
	}
	if err := net.Start(ctx); err != nil {
		return nil, err
	}
	defer net.Stop(context.Background())
	alpha := net.Party("alpha")
	ch, err := alpha.Server.Node.ResolveChannel(channel)
	if err != nil {
		return nil, err
	}
	r := &run{node: alpha.Server.Node, channel: ch.ID, api: client.New(alpha.Server.APIURL(), alpha.Token)}

	fmt.Fprintf(progress, "throughput: %d messages from %d concurrent senders ...\n", o.Messages, o.Senders)
	if o.CPUProfile != nil {
		if err := pprof.StartCPUProfile(o.CPUProfile); err != nil {
			return nil, fmt.Errorf("bench: cpu profile: %w", err)
		}
	}
	res.Throughput, err = r.throughput(ctx, o.Messages, o.Senders)
	if o.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return nil, err
	}
	res.ThroughputRatio = res.Throughput.PerSecond / res.SignVerifyPerS
	if res.MessageBytes, err = meanEntrySize(ctx, alpha.Server.Store, hotline.Feed{Channel: ch.ID, Party: "alpha"}, r.delivered.Load()); err != nil {
		return nil, err
	}
	if o.Load > 0 {
		res.OfferedRate = max(1, int(o.Load*res.Throughput.PerSecond))
	}
	if rate := res.OfferedRate; rate > 0 {
		fmt.Fprintf(progress, "latency: %d messages/s offered for %s ...\n", rate, o.Duration)
		p, err := r.openLoop(ctx, rate, o.Duration)
		if err != nil {
			return nil, err
		}
		res.Latency = &p
	}
	if o.CatchUp > 0 {
		fmt.Fprintf(progress, "catch-up: bravo stops, alpha writes %d messages, bravo starts again ...\n", o.CatchUp)
		p, err := r.catchUp(ctx, net, o.CatchUp, o.Senders)
		if err != nil {
			return nil, err
		}
		res.CatchUp = ratio(p, res.VerifyPerS)
	}
	if o.Verify {
		fmt.Fprintf(progress, "offline verify: alpha's archive of the channel ...\n")
		p, err := r.verifyArchive(ctx, dir)
		if err != nil {
			return nil, err
		}
		res.OfflineVerify = ratio(p, res.VerifyPerS)
	}
	return res, nil
}

// meanEntrySize is the mean size of the messages among the newest
// entries of feed f, whose head is top.
func meanEntrySize(ctx context.Context, st hotline.Store, f hotline.Feed, top uint64) (float64, error) {
	es, err := st.Feed(ctx, f, top-min(top-1, 99), 100)
	if err != nil {
		return 0, err
	}
	n, size := 0, 0
	for _, e := range es {
		if e.Kind == entry.KindMessage {
			n, size = n+1, size+len(e.HeaderBytes)+len(e.Sig)+len(e.Body)
		}
	}
	if n == 0 {
		return 0, errors.New("bench: no message entries to size")
	}
	return float64(size) / float64(n), nil
}

func ratio(r Rate, verifyPerS float64) *Rate {
	r.PerSecond = float64(r.Count) / r.Elapsed.Seconds()
	r.Ratio = r.PerSecond / verifyPerS
	return &r
}

// catchUp stops bravo, has alpha write n messages from k senders, starts
// bravo again and measures from then until alpha holds bravo's receipt
// for the last of them: the time a node back from an outage takes to
// hold, verify, store and receipt what it missed.
func (r *run) catchUp(ctx context.Context, net *devnet.Network, n, k int) (Rate, error) {
	bravo := net.Party("bravo")
	if err := net.StopParty(ctx, bravo); err != nil {
		return Rate{}, err
	}
	var last atomic.Uint64
	err := r.sendAll(ctx, n, k, func(s sent) {
		for {
			l := last.Load()
			if s.seq <= l || last.CompareAndSwap(l, s.seq) {
				return
			}
		}
	})
	if err != nil {
		return Rate{}, err
	}
	ready, stop, out := make(chan struct{}), make(chan struct{}), make(chan []delivery, 1)
	go r.watch(ready, stop, out)
	<-ready
	defer func() {
		close(stop)
		<-out
	}()
	start := time.Now()
	if err := net.StartParty(ctx, bravo); err != nil {
		return Rate{}, err
	}
	deadline := start.Add(time.Minute + time.Duration(n)*time.Millisecond)
	for r.delivered.Load() < last.Load() {
		if r.lagged.Load() {
			return Rate{}, errors.New("bench: the event watcher fell behind; results would be wrong")
		}
		if time.Now().After(deadline) {
			return Rate{}, fmt.Errorf("bench: bravo had not receipted the %d messages after %s", n, time.Since(start).Round(time.Second))
		}
		time.Sleep(5 * time.Millisecond)
	}
	return Rate{Count: n, Elapsed: time.Since(start)}, nil
}

// verifyArchive exports alpha's archive of the channel to a file and
// times decoding and verifying it, as hotline verify does.
func (r *run) verifyArchive(ctx context.Context, dir string) (Rate, error) {
	path := filepath.Join(dir, "bench-archive.jsonl")
	f, err := os.Create(path)
	if err != nil {
		return Rate{}, err
	}
	defer os.Remove(path)
	err = r.node.Export(ctx, channel, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Rate{}, fmt.Errorf("bench: export: %w", err)
	}
	f, err = os.Open(path)
	if err != nil {
		return Rate{}, err
	}
	defer f.Close()
	start := time.Now()
	a, err := audit.Decode(bufio.NewReaderSize(f, 1<<20), nil)
	if err != nil {
		return Rate{}, fmt.Errorf("bench: decode the archive: %w", err)
	}
	rep := audit.Verify(a)
	elapsed := time.Since(start)
	if !rep.OK {
		return Rate{}, fmt.Errorf("bench: the archive does not verify: %v", rep.Failures[0])
	}
	return Rate{Count: rep.Verified, Elapsed: elapsed}, nil
}

// SignVerifyRate measures how many Ed25519 sign+verify pairs per second
// all cores together manage, on a message the size of a short entry header.
func SignVerifyRate(d time.Duration) float64 {
	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)
	msg := make([]byte, 200)
	return allCores(d, func() {
		sig := ed25519.Sign(key, msg)
		if !ed25519.Verify(pub, msg, sig) {
			panic("bench: ed25519 self-check failed")
		}
	})
}

// VerifyRate measures how many Ed25519 verifications per second all cores
// together manage, on a message the size of a short entry header: the
// ceiling for catch-up and offline verification.
func VerifyRate(d time.Duration) float64 {
	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)
	msg := make([]byte, 200)
	sig := ed25519.Sign(key, msg)
	return allCores(d, func() {
		if !ed25519.Verify(pub, msg, sig) {
			panic("bench: ed25519 self-check failed")
		}
	})
}

// allCores runs op on every core for d and returns how many ran a second.
func allCores(d time.Duration, op func()) float64 {
	var total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := int64(0)
			for time.Since(start) < d {
				for range 16 {
					op()
					n++
				}
			}
			total.Add(n)
		}()
	}
	wg.Wait()
	return float64(total.Load()) / time.Since(start).Seconds()
}

// run is one bench run against alpha's node.
type run struct {
	node    *node.Node
	channel entry.ChannelID
	api     *client.Client

	delivered atomic.Uint64 // newest seq of alpha's feed covered by a receipt, as the watcher saw
	lagged    atomic.Bool   // the watcher missed events
}

// sent is one message: when its send began, and its seq in alpha's feed.
type sent struct {
	start time.Time
	seq   uint64
}

// delivery is one delivered event: bravo's receipt covering alpha's feed
// up to seq, held by alpha at time at.
type delivery struct {
	seq uint64
	at  time.Time
}

// watch collects alpha's delivered events for its own feed until stop is
// closed, then returns them in order.
func (r *run) watch(ready chan<- struct{}, stop <-chan struct{}, out chan<- []delivery) {
	sub, err := r.node.Subscribe("bench", 0)
	if err != nil {
		r.lagged.Store(true)
		close(ready)
		out <- nil
		return
	}
	defer sub.Cancel()
	close(ready)
	var ds []delivery
	for {
		select {
		case ev, ok := <-sub.C:
			if !ok && sub.Cut() {
				r.lagged.Store(true)
				out <- nil
				return
			}
			if !ok {
				out <- ds
				return
			}
			if ev.Type == node.EventLagged {
				r.lagged.Store(true)
				out <- nil
				return
			}
			if ev.Type == node.EventDelivered && ev.Channel == r.channel && ev.Author == "alpha" && ev.By == "bravo" {
				ds = append(ds, delivery{ev.Seq, time.Now()})
				r.delivered.Store(max(r.delivered.Load(), ev.Seq))
			}
		case <-stop:
			out <- ds
			return
		}
	}
}

// measure runs send, which reports each message sent, then waits until
// every message sent is delivered and computes the phase.
func (r *run) measure(ctx context.Context, send func(record func(sent)) error) (Phase, error) {
	ready, stop, out := make(chan struct{}), make(chan struct{}), make(chan []delivery, 1)
	go r.watch(ready, stop, out)
	<-ready

	var mu sync.Mutex
	var msgs []sent
	record := func(s sent) {
		mu.Lock()
		msgs = append(msgs, s)
		mu.Unlock()
	}
	start := time.Now()
	err := send(record)
	if err != nil {
		close(stop)
		<-out
		return Phase{}, err
	}
	var last uint64
	for _, m := range msgs {
		last = max(last, m.seq)
	}
	// Wait until the receipt for the last message is in.
	deadline := time.Now().Add(time.Minute)
	for r.delivered.Load() < last && !r.lagged.Load() {
		if time.Now().After(deadline) {
			close(stop)
			<-out
			return Phase{}, fmt.Errorf("bench: not every message was delivered within a minute of the last send")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	ds := <-out
	if ds == nil && len(msgs) > 0 {
		return Phase{}, errors.New("bench: the event watcher fell behind; results would be wrong")
	}
	lat := make([]time.Duration, 0, len(msgs))
	var end time.Time
	for _, m := range msgs {
		i := sort.Search(len(ds), func(i int) bool { return ds[i].seq >= m.seq })
		if i == len(ds) {
			return Phase{}, fmt.Errorf("bench: no delivered event for seq %d", m.seq)
		}
		at := ds[i].at
		if at.Before(m.start) { // cannot happen: a receipt for an entry not yet sent
			return Phase{}, fmt.Errorf("bench: seq %d delivered before it was sent", m.seq)
		}
		lat = append(lat, at.Sub(m.start))
		if at.After(end) {
			end = at
		}
	}
	slices.Sort(lat)
	p := Phase{Messages: len(msgs), Elapsed: end.Sub(start)}
	if len(lat) > 0 {
		p.P50, p.P99, p.Max = lat[len(lat)/2], lat[min(len(lat)-1, len(lat)*99/100)], lat[len(lat)-1]
		p.PerSecond = float64(len(msgs)) / p.Elapsed.Seconds()
	}
	return p, nil
}

func (r *run) sendOne(ctx context.Context, record func(sent)) error {
	zero := "0"
	t := time.Now()
	ref, err := r.api.Send(ctx, channel, api.SendRequest{Text: "bench " + t.Format(time.RFC3339Nano), Lang: "en", AckWithin: &zero})
	if err != nil {
		return err
	}
	record(sent{start: t, seq: ref.Seq})
	return nil
}

// throughput sends n messages from k concurrent senders.
func (r *run) throughput(ctx context.Context, n, k int) (Phase, error) {
	return r.measure(ctx, func(record func(sent)) error { return r.sendAll(ctx, n, k, record) })
}

// sendAll sends n messages from k concurrent senders, each waiting for its
// send to return before the next.
func (r *run) sendAll(ctx context.Context, n, k int, record func(sent)) error {
	var next atomic.Int64
	errs := make(chan error, k)
	for range k {
		go func() {
			for next.Add(1) <= int64(n) {
				if err := r.sendOne(ctx, record); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
	}
	var first error
	for range k {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// openLoop offers rate messages per second for d, each sent at its
// scheduled time by its own goroutine.
func (r *run) openLoop(ctx context.Context, rate int, d time.Duration) (Phase, error) {
	return r.measure(ctx, func(record func(sent)) error {
		n := int(d.Seconds() * float64(rate))
		interval := time.Second / time.Duration(rate)
		start := time.Now()
		var wg sync.WaitGroup
		var failed atomic.Pointer[error]
		for i := range n {
			if at := start.Add(time.Duration(i) * interval); time.Until(at) > 0 {
				time.Sleep(time.Until(at))
			}
			if failed.Load() != nil {
				break
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := r.sendOne(ctx, record); err != nil {
					failed.CompareAndSwap(nil, &err)
				}
			}()
		}
		wg.Wait()
		if p := failed.Load(); p != nil {
			return *p
		}
		return nil
	})
}
