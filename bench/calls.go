package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/voicematch"
	"github.com/hotline-project/hotline/wav"
)

// CallOptions say what a calls run measures: Calls simultaneous
// two-party calls between alpha's and bravo's nodes (in this process),
// each with one participant per party, a `hotline call join` process
// playing audio and recording what it hears.
type CallOptions struct {
	Binary   string        // the hotline executable the participants run
	Calls    int           // simultaneous calls
	Duration time.Duration // how long each participant speaks
	Audio    string        // a WAV file alpha's participants play (bravo's play it reversed); empty: synthetic bursts
	Delay    time.Duration // added to every media packet each node sends
	Loss     float64       // fraction of media packets each node drops
	Progress io.Writer
}

// CallResult is what a calls run measured.
type CallResult struct {
	Calls    int     `json:"calls"`
	Seconds  float64 `json:"seconds"`   // of audio played by each participant
	DelayMs  float64 `json:"delay_ms"`  // added each way
	LossRate float64 `json:"loss_rate"` // injected each way
	// Windows of a second of sound were looked for in the other
	// participant's recording; Found is how many were (normalised
	// cross-correlation at least 0.5).
	Windows int `json:"windows"`
	Found   int `json:"found"`
	// Mouth to ear: from a participant's playing a window to the other's
	// hearing it, through both nodes.
	LatencyP50 float64 `json:"latency_p50_ms"`
	LatencyP99 float64 `json:"latency_p99_ms"`
	LatencyMax float64 `json:"latency_max_ms"`
	// NodeCPU is the CPU both nodes used while the calls ran, in cores;
	// PerCall, that divided by the calls, in percent of a core.
	NodeCPU float64 `json:"node_cpu_cores"`
	PerCall float64 `json:"cpu_per_call_percent"`
	// HeardLoss is the loss the participants saw on the way from their
	// node, averaged.
	HeardLoss float64 `json:"heard_loss_rate"`
	Cores     int     `json:"cores"`
}

// joinReport is the part of call join --json the bench reads.
type joinReport struct {
	Started time.Time         `json:"started"`
	Result  conference.Result `json:"result"`
}

// RunCalls runs the calls and measures them.
func RunCalls(ctx context.Context, o CallOptions) (*CallResult, error) {
	progress := o.Progress
	if progress == nil {
		progress = io.Discard
	}
	o.Calls = max(1, o.Calls)
	dir, err := os.MkdirTemp("", "hotline-callbench-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	// The two voices.
	rate := conference.SampleRate
	var voiceA []int16
	if o.Audio != "" {
		a, err := wav.ReadFile(o.Audio)
		if err != nil {
			return nil, err
		}
		voiceA = a.Resample(rate)
	} else {
		voiceA = bursts(rand.New(rand.NewPCG(1, 2)), int(o.Duration.Seconds()*float64(rate)))
	}
	for len(voiceA) < int(o.Duration.Seconds()*float64(rate)) {
		voiceA = append(voiceA, voiceA...)
	}
	voiceA = voiceA[:int(o.Duration.Seconds()*float64(rate))]
	voiceB := slices.Clone(voiceA)
	slices.Reverse(voiceB)
	fileA, fileB := filepath.Join(dir, "alpha.wav"), filepath.Join(dir, "bravo.wav")
	for f, v := range map[string][]int16{fileA: voiceA, fileB: voiceB} {
		if err := writeWAV(f, v); err != nil {
			return nil, err
		}
	}

	fmt.Fprintf(progress, "starting alpha and bravo...\n")
	net, err := devnet.Prepare(filepath.Join(dir, "net"), devnet.Options{Parties: 2, SyncInterval: 200 * time.Millisecond, Directories: true,
		MediaFaults: o.Delay > 0 || o.Loss > 0})
	if err != nil {
		return nil, err
	}
	if err := net.Start(ctx); err != nil {
		return nil, err
	}
	defer net.Stop(context.Background())
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ca, cb := client.New(alpha.Server.APIURL(), alpha.Token), client.New(bravo.Server.APIURL(), bravo.Token)
	const ch = "alpha-bravo-strategic"
	at := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	ministers := []entry.Participant{{Party: "alpha", Role: "minister"}, {Party: "bravo", Role: "minister"}}
	var calls []string
	for i := range o.Calls {
		ref, err := ca.RequestCall(ctx, ch, api.CallRequestBody{Purpose: fmt.Sprintf("bench call %d", i+1), Times: []time.Time{at}, Minutes: 60, Participants: ministers})
		if err != nil {
			return nil, err
		}
		calls = append(calls, ref.ID)
	}
	for _, id := range calls {
		if err := until(ctx, 30*time.Second, func() bool { _, err := cb.AcceptCall(ctx, ch, id, at); return err == nil }); err != nil {
			return nil, fmt.Errorf("bravo accepting %s: %w", id, err)
		}
	}
	if err := until(ctx, 30*time.Second, func() bool {
		cs, err := ca.Calls(ctx, ch)
		n := 0
		for _, c := range cs {
			if c.State == node.CallAccepted {
				n++
			}
		}
		return err == nil && n == len(calls)
	}); err != nil {
		return nil, fmt.Errorf("calls not accepted: %w", err)
	}
	for _, p := range net.Parties {
		if p.Media != nil {
			p.Media.SetLoss(o.Loss)
			p.Media.SetLatency(o.Delay, 0)
		}
	}

	fmt.Fprintf(progress, "%d calls of %s, two participants each...\n", o.Calls, o.Duration)
	cpu0 := cpuTime()
	start := time.Now()
	type leg struct {
		party, rec string
		report     joinReport
		err        error
	}
	legs := make([][2]*leg, len(calls))
	var wg sync.WaitGroup
	for i, id := range calls {
		for j, p := range []*devnet.Party{alpha, bravo} {
			l := &leg{party: p.Name, rec: filepath.Join(dir, fmt.Sprintf("heard-%d-%s.wav", i, p.Name))}
			legs[i][j] = l
			audio := map[string]string{"alpha": fileA, "bravo": fileB}[p.Name]
			wg.Add(1)
			go func() {
				defer wg.Done()
				cmd := exec.CommandContext(ctx, o.Binary, "call", "join", "--api", p.Server.APIURL(), "--token", p.Token, ch, id,
					"--as", "minister", "--audio", audio, "--record", l.rec, "--for", (o.Duration + 4*time.Second).String(), "--wait-others", "--json")
				out, err := cmd.Output()
				if err != nil {
					l.err = fmt.Errorf("%s's participant of call %d: %w: %s", p.Name, i+1, err, stderrOf(err))
					return
				}
				l.err = json.Unmarshal(out, &l.report)
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuTime() - cpu0
	for _, pair := range legs {
		for _, l := range pair {
			if l.err != nil {
				return nil, l.err
			}
		}
	}
	res := &CallResult{Calls: o.Calls, Seconds: o.Duration.Seconds(), DelayMs: float64(o.Delay) / 1e6, LossRate: o.Loss,
		NodeCPU: cpu.Seconds() / elapsed.Seconds(), Cores: runtime.NumCPU()}
	res.PerCall = 100 * res.NodeCPU / float64(o.Calls)
	fmt.Fprintf(progress, "measuring mouth-to-ear latency in the recordings...\n")
	var lat []float64
	for _, pair := range legs {
		a, b := pair[0], pair[1]
		for _, dir := range []struct {
			voice    []int16
			from, to *leg
		}{{voiceA, a, b}, {voiceB, b, a}} {
			rec, err := wav.ReadFile(dir.to.rec)
			if err != nil {
				return nil, err
			}
			offset := dir.to.report.Started.Sub(dir.from.report.Started).Seconds()
			w, f, l := windows(dir.voice, rec.Samples, offset)
			res.Windows += w
			res.Found += f
			lat = append(lat, l...)
			res.HeardLoss += dir.to.report.Result.Quality.LossRate / float64(2*len(legs))
		}
	}
	if len(lat) > 0 {
		slices.Sort(lat)
		q := func(p float64) float64 { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
		res.LatencyP50, res.LatencyP99, res.LatencyMax = q(0.5), q(0.99), lat[len(lat)-1]
	}
	return res, nil
}

// windows finds each second of sound of voice (played from the
// speaker's start) in rec (recorded from the listener's start, offset
// seconds later), and returns how many windows it looked for, how many it
// found, and the latency of each found, in ms.
func windows(voice, rec []int16, offset float64) (n, found int, lat []float64) {
	rate := conference.SampleRate
	for w := 0; (w+1)*rate <= len(voice); w++ {
		seg := voice[w*rate : (w+1)*rate]
		if voicematch.Energy(seg, 0, len(seg)) < 300 {
			continue // silence: nothing to find
		}
		n++
		// Where the window would be heard with no delay, in rec's samples,
		// and a second and a half after.
		at := w*rate - int(offset*float64(rate))
		lo, hi := max(0, at), min(len(rec), at+rate+3*rate/2)
		if hi-lo < len(seg) {
			continue
		}
		m := voicematch.Find(seg, rec[lo:hi])
		if m.Score < 0.5 {
			continue
		}
		found++
		lat = append(lat, 1000*float64(lo+m.Offset-at)/float64(rate))
	}
	return n, found, lat
}

// bursts makes n samples of speech-like sound: noise bursts of 150 to
// 600 ms under a rising and falling envelope, with pauses between.
func bursts(r *rand.Rand, n int) []int16 {
	out := make([]int16, 0, n)
	for len(out) < n {
		l := conference.SampleRate * (150 + r.IntN(450)) / 1000
		for i := range l {
			env := math.Sin(math.Pi * float64(i) / float64(l))
			out = append(out, int16(env*6000*(r.Float64()*2-1)))
		}
		out = append(out, make([]int16, conference.SampleRate*(50+r.IntN(200))/1000)...)
	}
	return out[:n]
}

func writeWAV(path string, pcm []int16) error {
	w, err := wav.Create(path, conference.SampleRate)
	if err != nil {
		return err
	}
	if err := w.Write(pcm); err != nil {
		w.Close()
		return err
	}
	return w.Close()
}

// cpuTime is the CPU this process has used, user and system.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func stderrOf(err error) string {
	if ee, ok := err.(*exec.ExitError); ok {
		return string(ee.Stderr)
	}
	return ""
}

func until(ctx context.Context, d time.Duration, cond func() bool) error {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("not after %s", d)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
	return nil
}
