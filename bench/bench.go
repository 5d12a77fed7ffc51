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
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

// Options say what to measure.
type Options struct {
	Dir      string        // where the two nodes live; empty: a temporary directory, removed afterwards
	Messages int           // messages in the throughput phase
	Senders  int           // concurrent senders in the throughput phase
	Rate     int           // messages per second offered in the latency phase; 0 skips it
	Duration time.Duration // length of the latency phase
	Progress io.Writer     // progress lines; nil: none
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
	fmt.Fprintf(progress, "measuring raw Ed25519 sign+verify on %d cores ...\n", res.Cores)
	res.SignVerifyPerS = SignVerifyRate(time.Second)

	fmt.Fprintf(progress, "starting alpha and bravo in %s ...\n", dir)
	net, err := devnet.Prepare(dir, devnet.Options{})
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
	if o.Rate > 0 {
		fmt.Fprintf(progress, "latency: %d messages/s offered for %s ...\n", o.Rate, o.Duration)
		p, err := r.openLoop(ctx, o.Rate, o.Duration)
		if err != nil {
			return nil, err
		}
		res.Latency = &p
	}
	return res, nil
}

// SignVerifyRate measures how many Ed25519 sign+verify pairs per second
// all cores together manage, on a message the size of a short entry header.
func SignVerifyRate(d time.Duration) float64 {
	_, key, _ := ed25519.GenerateKey(nil)
	pub := key.Public().(ed25519.PublicKey)
	msg := make([]byte, 200)
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
					sig := ed25519.Sign(key, msg)
					if !ed25519.Verify(pub, msg, sig) {
						panic("bench: ed25519 self-check failed")
					}
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
	return r.measure(ctx, func(record func(sent)) error {
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
	})
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
