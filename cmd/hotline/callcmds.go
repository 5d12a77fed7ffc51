package main

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/bench"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/wav"
)

func init() {
	register(&command{
		name: "call join", summary: "Join an accepted call from the command line: play a WAV file as the microphone, record what is heard, leave",
		usage: "CHANNEL CALL_ID [--audio FILE] [--record FILE] [--for DURATION] [--wait-others] [--as ROLE] [--interpreter] [--listen original|interpretation] [--json]",
		example: "  hotline call join alpha-bravo-strategic 5c1e0f3a --audio statement.wav --record heard.wav --for 30s\n" +
			"  hotline call join alpha-bravo-strategic 5c1e0f3a --for 10s   (a link test of the media path: exits 0 only if audio flowed both ways)",
		run: runCallJoin,
	})
	register(&command{
		name: "call bench", summary: "Measure calls: simultaneous two-party calls between two nodes on loopback, mouth-to-ear latency and the nodes' CPU",
		usage: "[--calls N] [--for DURATION] [--audio FILE] [--delay D] [--loss P] [--json]",
		example: "  hotline call bench --calls 10 --for 60s --audio speech.wav\n" +
			"  hotline call bench --calls 1 --for 60s --delay 150ms --loss 0.05",
		run: runCallBench,
	})
}

func runCallBench(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("call bench", env)
	o := bench.CallOptions{Progress: env.Stderr}
	fs.IntVar(&o.Calls, "calls", 1, "simultaneous two-party calls")
	fs.DurationVar(&o.Duration, "for", 30*time.Second, "how long each participant speaks")
	fs.StringVar(&o.Audio, "audio", "", "16-bit PCM WAV file alpha's participants play (bravo's play it backwards); default: synthetic bursts of sound")
	fs.DurationVar(&o.Delay, "delay", 0, "delay each node adds to every media packet it sends")
	fs.Float64Var(&o.Loss, "loss", 0, "fraction of media packets each node drops (0 to 1)")
	asJSON := fs.Bool("json", false, "print the result as JSON")
	if _, err := parseArgs(fs, args, 0, 0); err != nil {
		return err
	}
	if o.Calls < 1 || o.Calls > 100 || o.Loss < 0 || o.Loss >= 1 || o.Duration < 2*time.Second {
		return usagef("--calls 1 to 100, --loss 0 to below 1, --for at least 2s")
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	o.Binary = bin
	r, err := bench.RunCalls(ctx, o)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, r)
	}
	fmt.Fprintf(env.Stdout, "%d calls, %.0f s of sound each way, %.0f ms delay and %.1f%% loss added each way\n", r.Calls, r.Seconds, r.DelayMs, 100*r.LossRate)
	fmt.Fprintf(env.Stdout, "mouth to ear: p50 %.0f ms, p99 %.0f ms, max %.0f ms (%d of %d seconds of sound found in the other end's recording)\n",
		r.LatencyP50, r.LatencyP99, r.LatencyMax, r.Found, r.Windows)
	fmt.Fprintf(env.Stdout, "both nodes: %.2f cores of %d; %.1f%% of a core per call; participants heard %.1f%% loss\n", r.NodeCPU, r.Cores, r.PerCall, 100*r.HeardLoss)
	return nil
}

// callJoinReport is what call join prints with --json.
type callJoinReport struct {
	Participant string             `json:"participant"`
	Role        string             `json:"role"`
	Recording   bool               `json:"recording"` // the node records the call
	Started     time.Time          `json:"started"`   // the first frame sent and played out
	Result      conference.Result  `json:"result"`
	Live        *conference.Status `json:"live,omitempty"` // the call as the node saw it before leaving
}

func runCallJoin(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("call join", env)
	cl := apiFlags(fs, env)
	audio := fs.String("audio", "", "16-bit PCM WAV file to play as the microphone (any rate, mono or stereo); default: silence")
	record := fs.String("record", "", "write what is heard to this 16-bit PCM WAV file (8 kHz mono)")
	dur := fs.Duration("for", 0, "how long to stay on the call (default: the audio's length and 3 s more, or 30 s)")
	as := fs.String("as", "", "the directory role to join as (default: the role the roster gives you, or operator if it gives none)")
	interp := fs.Bool("interpreter", false, "join as your party's interpreter")
	listen := fs.String("listen", conference.ListenOriginal, "what to hear: original (every speaker) or interpretation (and your party's interpreter)")
	waitOthers := fs.Bool("wait-others", false, "start playing and recording once someone of another party is on the call (within --for)")
	asJSON := fs.Bool("json", false, "print a JSON report")
	c, pos, err := cl.parse(args, 2, 2)
	if err != nil {
		return err
	}
	var src []int16
	if *audio != "" {
		a, err := wav.ReadFile(*audio)
		if err != nil {
			return hotline.Errorf(hotline.EINVALID, "--audio: %v", err)
		}
		src = a.Resample(conference.SampleRate)
	}
	length := *dur
	if length <= 0 {
		length = 30 * time.Second
		if src != nil {
			length = time.Duration(len(src))*time.Second/conference.SampleRate + 3*time.Second
		}
	}
	var rec *wav.Writer
	if *record != "" {
		os.Remove(*record) // a new recording each time
		if rec, err = wav.Create(*record, conference.SampleRate); err != nil {
			return hotline.Errorf(hotline.EINVALID, "--record: %v", err)
		}
	}
	// A node on this machine may offer loopback addresses only.
	opts := conference.MediaOptions{Loopback: loopbackAPI(*cl.base)}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	p, j, err := c.DialCall(dctx, pos[0], pos[1], api.JoinBody{As: *as, Interpreter: *interp, Listen: *listen}, opts)
	cancel()
	if err != nil {
		if rec != nil {
			rec.Close()
		}
		return err
	}
	joined := &callJoinReport{Participant: j.Participant, Role: j.Role, Recording: j.Recording}
	if !*asJSON {
		fmt.Fprintf(env.Stderr, "On the call as %s (participant %s)%s; leaving in %s.\n", joined.Role, joined.Participant,
			map[bool]string{true: "; the call is recorded", false: ""}[joined.Recording], length.Round(time.Second))
	}
	rctx, stop := signal.NotifyContext(ctx, os.Interrupt)
	defer stop()
	rctx, cancel = context.WithTimeout(rctx, length)
	defer cancel()
	if *waitOthers {
		waitForOthers(rctx, c, pos[0], pos[1], joined.Participant)
	}
	var recErr error
	var once sync.Once
	joined.Result = p.Run(rctx, src, func(frame []int16) {
		once.Do(func() { joined.Started = time.Now().UTC() })
		if rec != nil && recErr == nil {
			recErr = rec.Write(frame)
		}
	})
	lctx, lcancel := context.WithTimeout(context.Background(), 10*time.Second)
	if live, err := c.LiveCall(lctx, pos[0], pos[1]); err == nil {
		joined.Live = live.Live
	}
	leaveErr := c.LeaveCall(lctx, pos[0], pos[1], joined.Participant)
	lcancel()
	p.Close()
	if rec != nil {
		if err := rec.Close(); recErr == nil {
			recErr = err
		}
		if recErr != nil {
			return hotline.Errorf(hotline.EINTERNAL, "--record %s: %v", *record, recErr)
		}
	}
	r := joined.Result
	if *asJSON {
		if err := printJSON(env, joined); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(env.Stdout, "Sent %d packets; heard sound in %d of %d frames (%.1f s); from the node: %.1f%% lost, jitter %.1f ms, round trip %.1f ms.\n",
			r.Sent, r.Heard, r.Frames, float64(r.Heard)*conference.FrameTime.Seconds(), 100*r.Quality.LossRate, r.Quality.JitterMs, r.Quality.RTTMs)
	}
	if leaveErr != nil {
		fmt.Fprintf(env.Stderr, "hotline: leaving the call: %v (the node takes the participant off when its connection closes)\n", hotline.ErrorMessage(leaveErr))
	}
	switch {
	case r.Sent == 0:
		return hotline.Errorf(hotline.EUNAVAILABLE, "no audio could be sent to the node")
	case r.Heard == 0:
		return hotline.Errorf(hotline.EUNAVAILABLE, "no sound was heard from the call: media did not flow both ways (nobody else spoke, or the other parties' nodes were not linked)")
	}
	return nil
}

// waitForOthers waits until the node says someone of another party is on
// the call (its link to that party's node carries their roster), or ctx
// ends.
func waitForOthers(ctx context.Context, c *client.Client, ch, call, self string) {
	for {
		if live, err := c.LiveCall(ctx, ch, call); err == nil && live.Live != nil {
			own := ""
			for _, m := range live.Live.Members {
				if m.ID == self {
					own = m.Party
				}
			}
			for _, m := range live.Live.Members {
				if own != "" && m.Party != own {
					return
				}
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// loopbackAPI says whether the API URLs all name this machine.
func loopbackAPI(bases string) bool {
	for _, b := range strings.Split(bases, ",") {
		u, err := url.Parse(strings.TrimSpace(b))
		if err != nil {
			return false
		}
		h := u.Hostname()
		if ip := net.ParseIP(h); h != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return false
		}
	}
	return true
}
