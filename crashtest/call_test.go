package crashtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/devnet"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/wav"
)

// TestCrash_KilledMidCall: bravo's node is killed with SIGKILL in the
// middle of a recorded call. When it comes back it finishes its
// recording from what was on disk and its account of the call from its
// journal, sends that account to alpha (which waited for it), and
// co-signs alpha's record: the call is accounted for on both sides, with
// the hash of the recording bravo has.
func TestCrash_KilledMidCall(t *testing.T) {
	ctx := context.Background()
	net, err := devnet.Prepare(t.TempDir(), devnet.Options{Parties: 2, Directories: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	procs := runAsProcesses(t, net)
	alpha, bravo := procs[0], procs[1]
	const ch = "alpha-bravo-strategic" // records its calls
	at := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	ref, err := alpha.client().RequestCall(ctx, ch, api.CallRequestBody{Purpose: "Incident at sea", Times: []time.Time{at}, Minutes: 10,
		Participants: []entry.Participant{{Party: "alpha", Role: "minister"}, {Party: "bravo", Role: "minister"}}})
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "bravo accepts", func() bool { _, err := bravo.client().AcceptCall(ctx, ch, ref.ID, at); return err == nil })
	waitUntil(t, "alpha sees the call accepted", func() bool {
		calls, err := alpha.client().Calls(ctx, ch)
		return err == nil && len(calls) == 1 && calls[0].State == node.CallAccepted
	})
	join := func(c *client.Client) (*conference.Participant, string) {
		jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		defer cancel()
		p, j, err := c.DialCall(jctx, ch, ref.ID, api.JoinBody{As: "minister"}, conference.MediaOptions{Loopback: true})
		if err != nil {
			t.Fatal(err)
		}
		return p, j.Participant
	}
	pa, ida := join(alpha.client())
	defer pa.Close()
	pb, _ := join(bravo.client())
	defer pb.Close()
	waitUntil(t, "the nodes link", func() bool {
		l, err := alpha.client().LiveCall(ctx, ch, ref.ID)
		return err == nil && l.Live != nil && len(l.Live.Links) == 1 && l.Live.Links[0].State == "connected"
	})
	tone := make([]int16, 10*conference.SampleRate)
	for i := range tone {
		tone[i] = int16(5000 * ((i/20)%2*2 - 1)) // a 200 Hz square wave
	}
	rctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pa.Run(rctx, tone, nil) }()
	go func() { defer wg.Done(); pb.Run(rctx, tone, nil) }()
	time.Sleep(3 * time.Second)
	bravo.signal(t, syscall.SIGKILL)
	time.Sleep(time.Second)
	cancel()
	wg.Wait()
	pb.Close()
	if err := alpha.client().LeaveCall(ctx, ch, ref.ID, ida); err != nil {
		t.Fatal(err)
	}
	// alpha's call ends; it waits for bravo's account of it.
	time.Sleep(7 * time.Second)
	if calls, err := alpha.client().Calls(ctx, ch); err != nil || len(calls) != 1 || calls[0].Held != nil {
		t.Fatalf("alpha wrote the record without bravo's account: %+v %v", calls, err)
	}
	bravo.start(t)
	var held *node.HeldView
	waitUntil(t, "the record is written and co-signed", func() bool {
		calls, err := bravo.client().Calls(ctx, ch)
		if err != nil || len(calls) != 1 || calls[0].Held == nil || len(calls[0].Held.Signed) != 2 {
			return false
		}
		held = calls[0].Held
		return true
	})
	log, err := bravo.client().Log(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	var rec *node.HeldRecordView
	for _, e := range log {
		if e.ID == held.Entry {
			rec = e.Call.Held
		}
	}
	if rec == nil || len(rec.Sections) != 2 {
		t.Fatalf("the record: %+v", rec)
	}
	s := rec.Sections[1]
	if s.Party != "bravo" || len(s.Attendance) != 1 || !s.Attendance[0].Left.After(s.Attendance[0].Joined) || len(s.Recordings) != 1 {
		t.Fatalf("bravo's section after the kill: %+v", s)
	}
	matches, _ := filepath.Glob(filepath.Join(bravo.Dir, "calls", "*", ref.ID, s.Recordings[0].File))
	if len(matches) != 1 {
		t.Fatalf("bravo's recording %s is not in its calls directory", s.Recordings[0].File)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != s.Recordings[0].SHA256 {
		t.Fatal("bravo's recovered recording does not match the hash in the record")
	}
	a, err := wav.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bravo's recording, recovered after the kill: %.1f s; its section: joined %s, left %s",
		float64(len(a.Samples))/conference.SampleRate, s.Attendance[0].Joined.Format(time.TimeOnly), s.Attendance[0].Left.Format(time.TimeOnly))
	if len(a.Samples) < conference.SampleRate {
		t.Fatalf("bravo's recovered recording holds %d samples", len(a.Samples))
	}
}
