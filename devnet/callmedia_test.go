package devnet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/conference/audiotest"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/voicematch"
)

// recordedChannel makes a strategic channel between alpha and bravo whose
// policy records calls (or not), with both ministers in its directories.
func recordedChannel(t *testing.T, net *Network, name string, record bool) string {
	t.Helper()
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	ch, err := alpha.Propose(ctx, api.ProposeRequest{Name: name, Level: "strategic", Members: []string{"bravo"},
		Policy: &api.PolicyRequest{RecordCalls: record}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo is invited", func() bool { _, err := bravo.Accept(ctx, ch.ID); return err == nil })
	eventually(t, "the channel is active at alpha", func() bool {
		c, err := alpha.Channel(ctx, ch.ID)
		return err == nil && c.State == hotline.ChannelActive
	})
	publishMinister(t, alpha, ch.ID, "alpha")
	publishMinister(t, bravo, ch.ID, "bravo")
	eventually(t, "both directories reach alpha", func() bool {
		d, err := alpha.Directory(ctx, ch.ID)
		return err == nil && len(d) == 2
	})
	return ch.ID
}

// acceptedCall has alpha request a call of the ministers starting in a
// minute, and bravo accept it; accept false leaves it unanswered.
func acceptedCall(t *testing.T, net *Network, ch string, accept bool) string {
	t.Helper()
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	at := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	ref, err := alpha.RequestCall(ctx, ch, api.CallRequestBody{Purpose: "Incident at sea", Times: []time.Time{at}, Minutes: 15,
		Participants: []entry.Participant{{Party: "alpha", Role: "minister"}, {Party: "bravo", Role: "minister"}}})
	if err != nil {
		t.Fatal(err)
	}
	if !accept {
		return ref.ID
	}
	eventually(t, "bravo accepts the call", func() bool { _, err := bravo.AcceptCall(ctx, ch, ref.ID, at); return err == nil })
	eventually(t, "alpha sees it accepted", func() bool {
		v := callOf(t, alpha, ch, ref.ID)
		return v != nil && v.State == node.CallAccepted
	})
	return ref.ID
}

// heard is what one participant heard, frame by frame.
type heard struct {
	mu  sync.Mutex
	pcm []int16
}

func (h *heard) add(f []int16) { h.mu.Lock(); h.pcm = append(h.pcm, f...); h.mu.Unlock() }

// joinCall joins a call through c's node as the CLI does, with loopback
// candidates.
func joinCall(ctx context.Context, c *client.Client, ch, call string, req api.JoinBody) (*conference.Participant, *node.CallJoined, error) {
	return c.DialCall(ctx, ch, call, req, conference.MediaOptions{Loopback: true})
}

// callRun is what the two ministers of a call said and heard.
type callRun struct {
	sa, sb     []int16 // what alpha and bravo said (8 kHz)
	atA, atB   int     // when they began, in samples from the start
	ha, hb     heard   // what they heard, from the start
	ra, rb     conference.Result
	ja         *node.CallJoined
	scoreA     voicematch.Match // bravo's words in alpha's ear
	scoreB     voicematch.Match // alpha's words in bravo's ear
	lagA, lagB float64          // seconds from speaking to being heard
	// Half-seconds of each sentence found in the other's ear, of those
	// with sound (voicematch.Coverage).
	foundA, ofA, foundB, ofB int
}

// carried says whether each sentence reached the other ear: at least
// half of its half-seconds were found there.
func (r *callRun) carried() bool {
	return r.ofA > 0 && r.ofB > 0 && 2*r.foundA >= r.ofA && 2*r.foundB >= r.ofB
}

// holdCall has alpha's and bravo's ministers join call and speak in
// turn (espeak-ng sentences), then hang up.
func holdCall(t *testing.T, net *Network, ch, call string) *callRun {
	t.Helper()
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	r := &callRun{}
	_, r.sa = audiotest.Speech(t, "This is the minister of alpha. We propose to withdraw both ships by noon.", "en")
	_, r.sb = audiotest.Speech(t, "Bravo speaking. We agree, and will confirm in writing within the hour.", "en-us")
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	pa, ja, err := joinCall(jctx, alpha, ch, call, api.JoinBody{As: "minister"})
	if err != nil {
		t.Fatal(err)
	}
	pb, _, err := joinCall(jctx, bravo, ch, call, api.JoinBody{As: "minister"})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	r.ja = ja
	defer pa.Close()
	defer pb.Close()
	eventually(t, "the nodes link", func() bool {
		l, err := alpha.LiveCall(ctx, ch, call)
		return err == nil && l.Live != nil && len(l.Live.Links) == 1 && l.Live.Links[0].State == "connected"
	})
	// alpha speaks after 1 s, bravo once alpha is done and 1 s more.
	const rate = conference.SampleRate
	r.atA = rate
	r.atB = r.atA + len(r.sa) + rate
	srcA, srcB := audiotest.Pad(r.sa, r.atA), audiotest.Pad(r.sb, r.atB)
	length := time.Duration(len(srcB)+2*rate) * time.Second / rate
	rctx, cancel := context.WithTimeout(ctx, length)
	defer cancel()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); r.ra = pa.Run(rctx, srcA, r.ha.add) }()
	go func() { defer wg.Done(); r.rb = pb.Run(rctx, srcB, r.hb.add) }()
	// While on the call, alpha's node lists both ministers.
	eventually(t, "alpha's node lists both parties' ministers", func() bool {
		l, err := alpha.LiveCall(ctx, ch, call)
		return err == nil && l.Live != nil && len(l.Live.Members) == 2 && l.Live.Members[1].Party == "bravo"
	})
	wg.Wait()
	r.scoreB = voicematch.Find(r.sa, r.hb.pcm)
	r.scoreA = voicematch.Find(r.sb, r.ha.pcm)
	r.lagB = float64(r.scoreB.Offset-r.atA) / rate
	r.lagA = float64(r.scoreA.Offset-r.atB) / rate
	r.foundB, r.ofB = voicematch.Coverage(r.sa, r.hb.pcm)
	r.foundA, r.ofA = voicematch.Coverage(r.sb, r.ha.pcm)
	t.Logf("alpha sent %d, heard %d of %d frames; bravo sent %d, heard %d of %d", r.ra.Sent, r.ra.Heard, r.ra.Frames, r.rb.Sent, r.rb.Heard, r.rb.Frames)
	t.Logf("alpha's sentence in bravo's ear: score %.2f, %.0f ms after it was spoken, %d of %d half-seconds found; bravo's in alpha's: %.2f, %.0f ms after, %d of %d",
		r.scoreB.Score, 1000*r.lagB, r.foundB, r.ofB, r.scoreA.Score, 1000*r.lagA, r.foundA, r.ofA)
	return r
}

// TestCallMedia_TwoMinistersHoldACallThroughTheirNodes: alpha's and
// bravo's participants each speak a sentence (espeak-ng) into their own
// node; each hears the other's through the nodes' media link, the
// recordings each node kept hold both, and alpha's held record, co-signed
// by bravo, names them by SHA-256.
func TestCallMedia_TwoMinistersHoldACallThroughTheirNodes(t *testing.T) {
	audiotest.Speech(t, "check", "en") // skips without espeak-ng, before starting anything
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	ch := recordedChannel(t, net, "alpha-bravo-voice", true)
	call := acceptedCall(t, net, ch, true)
	r := holdCall(t, net, ch, call)
	if !r.ja.Recording || r.ja.Role != "minister" {
		t.Errorf("alpha joined as %+v", r.ja)
	}
	if !r.carried() {
		t.Fatalf("speech not carried: alpha→bravo %d of %d half-seconds, bravo→alpha %d of %d", r.foundB, r.ofB, r.foundA, r.ofA)
	}
	// Each heard the other when the other spoke (where the sentence was
	// heard whole), and not its own voice.
	for _, x := range []struct {
		m   voicematch.Match
		lag float64
	}{{r.scoreB, r.lagB}, {r.scoreA, r.lagA}} {
		if x.m.Score >= 0.6 && (x.lag < 0 || x.lag > 1) {
			t.Errorf("a sentence was heard %.3f s after it was spoken", x.lag)
		}
	}
	if e := voicematch.Energy(r.ha.pcm, r.atA, r.atA+len(r.sa)); e > 100 {
		t.Errorf("alpha heard sound (RMS %.0f) while it spoke itself", e)
	}
	if err := alpha.LeaveCall(ctx, ch, call, r.ja.Participant); err != nil && hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Error(err)
	}

	// The record: written by alpha once bravo's account came, co-signed by
	// bravo, on both nodes.
	var held *node.HeldView
	for _, c := range []*client.Client{alpha, bravo} {
		eventually(t, "the held record is co-signed", func() bool {
			v := callOf(t, c, ch, call)
			if v != nil && v.Held != nil && slices.Equal(v.Held.Signed, []string{"alpha", "bravo"}) {
				held = v.Held
				return true
			}
			return false
		})
	}
	log, err := bravo.Log(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	var rec *node.HeldRecordView
	for _, e := range log {
		if e.Kind == entry.KindCall && e.Call.Action == entry.CallHeld && e.ID == held.Entry {
			rec = e.Call.Held
		}
	}
	if rec == nil || len(rec.Sections) != 2 {
		t.Fatalf("held record in bravo's log: %+v", rec)
	}
	for _, s := range rec.Sections {
		if len(s.Attendance) != 1 || s.Attendance[0].Role != "minister" || len(s.Recordings) != 1 || s.Recordings[0].Seconds < 5 {
			t.Errorf("%s's section: %+v", s.Party, s)
			continue
		}
		dir := filepath.Join(net.Party(s.Party).Dir, "calls", ch, call)
		b, err := os.ReadFile(filepath.Join(dir, s.Recordings[0].File))
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(b); hex.EncodeToString(sum[:]) != s.Recordings[0].SHA256 {
			t.Errorf("%s's recording %s does not match its hash in the record", s.Party, s.Recordings[0].File)
		}
		if len(s.Quality) != 1 || s.Quality[0].Received < 100 {
			t.Errorf("%s's quality: %+v", s.Party, s.Quality)
		}
	}
	rep, err := VerifyExport(ctx, net.Party("bravo"), ch)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK {
		t.Fatalf("archive does not verify: %+v", rep.Failures)
	}

	// After the record, the call is over: joining is refused.
	jctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, _, err := joinCall(jctx, alpha, ch, call, api.JoinBody{As: "minister"}); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Errorf("joining after the call ended: %v, want a conflict", err)
	}
}

// TestCallMedia_SpeechSurvivesABadBearer: with 5 % of the media packets
// lost and 150 ms of delay each way (±10 ms), each minister still hears
// the other's sentence, and the held record reports the loss.
func TestCallMedia_SpeechSurvivesABadBearer(t *testing.T) {
	audiotest.Speech(t, "check", "en")
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond, MediaFaults: true})
	ch := recordedChannel(t, net, "alpha-bravo-voice", false)
	call := acceptedCall(t, net, ch, true)
	for _, p := range net.Parties {
		p.Media.SetLoss(0.05)
		p.Media.SetLatency(150*time.Millisecond, 10*time.Millisecond)
	}
	r := holdCall(t, net, ch, call)
	if !r.carried() {
		t.Fatalf("speech lost on a bad bearer: alpha→bravo %d of %d half-seconds, bravo→alpha %d of %d", r.foundB, r.ofB, r.foundA, r.ofA)
	}
	// 150 ms each way on the node link and on the way to each ear.
	if r.scoreB.Score >= 0.4 && (r.lagB < 0.3 || r.lagB > 1.5) {
		t.Errorf("alpha's sentence reached bravo %.3f s after it was spoken", r.lagB)
	}
	for _, p := range net.Parties {
		sent, dropped := p.Media.Stats()
		t.Logf("%s's media socket: %d sent, %d dropped", p.Name, sent, dropped)
		if dropped == 0 {
			t.Errorf("%s's faults dropped nothing", p.Name)
		}
	}
	ctx := context.Background()
	var held *node.HeldView
	eventually(t, "the held record is co-signed", func() bool {
		v := callOf(t, clientOf(net.Party("bravo")), ch, call)
		held = v.Held
		return held != nil && len(held.Signed) == 2
	})
	log, err := clientOf(net.Party("alpha")).Log(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		if e.ID != held.Entry {
			continue
		}
		for _, s := range e.Call.Held.Sections {
			if len(s.Quality) != 1 {
				t.Fatalf("%s's section has no quality of the other's audio: %+v", s.Party, s)
			}
			q := s.Quality[0]
			t.Logf("%s received %d packets from %s, lost %d (%.1f%%), jitter %.1f ms, round trip %.0f ms", s.Party, q.Received, q.Party, q.Lost, 100*q.LossRate, q.JitterMs, q.RTTMs)
			if q.LossRate < 0.02 || q.LossRate > 0.12 || q.RTTMs < 250 {
				t.Errorf("%s's record of %s's audio: loss %.3f, round trip %.0f ms (want about 5%% and 300 ms)", s.Party, q.Party, q.LossRate, q.RTTMs)
			}
			if len(s.Recordings) != 0 {
				t.Errorf("%s recorded a call the channel does not record: %+v", s.Party, s.Recordings)
			}
		}
	}
}

// TestCallMedia_Refusals: a call not accepted, a role the call does not
// name, and an operator whose roster role is not the one asked for.
func TestCallMedia_Refusals(t *testing.T) {
	net := MustStart(t, 2)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	alpha := clientOf(net.Party("alpha"))
	ch := recordedChannel(t, net, "alpha-bravo-voice", false)
	unanswered := acceptedCall(t, net, ch, false)
	if _, _, err := joinCall(ctx, alpha, ch, unanswered, api.JoinBody{As: "minister"}); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Errorf("joining a call not accepted: %v, want a conflict", err)
	}
	call := acceptedCall(t, net, ch, true)
	if _, _, err := joinCall(ctx, alpha, ch, call, api.JoinBody{As: "chief-of-defence"}); hotline.ErrorCode(err) != hotline.EUNAUTHORIZED {
		t.Errorf("joining as a role the call does not name: %v, want unauthorized", err)
	}
	// An operator who is not one of call.operators joins only as its
	// roster role.
	aide := addOperator(t, net.Party("alpha"), "aide", "note taker")
	if _, _, err := joinCall(ctx, aide, ch, call, api.JoinBody{As: "minister"}); hotline.ErrorCode(err) != hotline.EUNAUTHORIZED {
		t.Errorf("the aide joining as minister: %v, want unauthorized", err)
	}
	minister := addOperator(t, net.Party("alpha"), "ann", "minister")
	p, j, err := joinCall(ctx, minister, ch, call, api.JoinBody{})
	if err != nil {
		t.Fatalf("the minister joining in her roster role: %v", err)
	}
	defer p.Close()
	if j.Role != "minister" || j.Recording {
		t.Errorf("joined %+v (the channel does not record)", j)
	}
	// The duty officer (one of call.operators) joins as itself.
	pd, jd, err := joinCall(ctx, alpha, ch, call, api.JoinBody{})
	if err != nil {
		t.Fatalf("the duty officer joining as itself: %v", err)
	}
	defer pd.Close()
	if jd.Role != node.OperatorRole {
		t.Errorf("the duty officer joined as %q", jd.Role)
	}
	// Only the one who joined can take a participant off.
	if err := alpha.LeaveCall(ctx, ch, call, j.Participant); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Errorf("another operator leaving for ann: %v", err)
	}
	if err := minister.LeaveCall(ctx, ch, call, j.Participant); err != nil {
		t.Error(err)
	}
}

// addOperator adds an operator with an API token and a roster role.
func addOperator(t *testing.T, p *Party, name, role string) *client.Client {
	t.Helper()
	ctx := context.Background()
	token := name + "-token-" + strings.Repeat("y", 20)
	if err := p.Server.Store.AddOperatorToken(ctx, name, api.HashToken(token)); err != nil {
		t.Fatal(err)
	}
	op := hotline.Operator{Name: name, Role: role, Created: time.Now()}
	if err := p.Server.Store.PutOperator(ctx, op); err != nil {
		t.Fatal(err)
	}
	return client.New(p.Server.APIURL(), token)
}

// tone returns d of a sine at hz, 8 kHz.
func tone(hz float64, d time.Duration) []int16 {
	out := make([]int16, int(d.Seconds()*conference.SampleRate))
	for i := range out {
		out[i] = int16(6000 * math.Sin(2*math.Pi*hz*float64(i)/conference.SampleRate))
	}
	return out
}

// TestCallMedia_ThreePartiesHearEachOther: a multilateral call of alpha,
// bravo and charlie's policy directors; each node links to the two
// others, and each director hears the two others and not itself.
func TestCallMedia_ThreePartiesHearEachOther(t *testing.T) {
	net := MustStart(t, 3)
	ctx := context.Background()
	const ch = "all-parties-policy"
	clients := map[string]*client.Client{}
	for _, p := range net.Parties {
		clients[p.Name] = clientOf(p)
		publishMinister(t, clients[p.Name], ch, p.Name)
	}
	eventually(t, "every directory reaches alpha", func() bool {
		d, err := clients["alpha"].Directory(ctx, ch)
		return err == nil && len(d) == 3
	})
	at := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	ref, err := clients["alpha"].RequestCall(ctx, ch, api.CallRequestBody{Purpose: "Trilateral", Times: []time.Time{at}, Minutes: 15,
		Participants: []entry.Participant{{Party: "alpha", Role: "director-policy"}, {Party: "bravo", Role: "director-policy"}, {Party: "charlie", Role: "director-policy"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"bravo", "charlie"} {
		eventually(t, p+" accepts", func() bool { _, err := clients[p].AcceptCall(ctx, ch, ref.ID, at); return err == nil })
	}
	eventually(t, "alpha sees the call accepted", func() bool {
		v := callOf(t, clients["alpha"], ch, ref.ID)
		return v != nil && v.State == node.CallAccepted
	})
	freq := map[string]float64{"alpha": 500, "bravo": 800, "charlie": 1200}
	parts := map[string]*conference.Participant{}
	for _, p := range net.Parties {
		jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		pp, _, err := joinCall(jctx, clients[p.Name], ch, ref.ID, api.JoinBody{As: "director-policy"})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		defer pp.Close()
		parts[p.Name] = pp
	}
	for _, p := range net.Parties {
		eventually(t, p.Name+"'s node links to both others", func() bool {
			l, err := clients[p.Name].LiveCall(ctx, ch, ref.ID)
			if err != nil || l.Live == nil || len(l.Live.Links) != 2 {
				return false
			}
			for _, k := range l.Live.Links {
				if k.State != "connected" {
					return false
				}
			}
			return len(l.Live.Members) == 3
		})
	}
	rctx, cancel := context.WithTimeout(ctx, 4*time.Second)
	defer cancel()
	got := map[string]*heard{}
	var wg sync.WaitGroup
	for name, pp := range parts {
		h := &heard{}
		got[name] = h
		wg.Add(1)
		go func() { defer wg.Done(); pp.Run(rctx, tone(freq[name], 3*time.Second), h.add) }()
	}
	wg.Wait()
	for listener, h := range got {
		for speaker, hz := range freq {
			p := voicematch.Power(h.pcm, hz)
			if speaker == listener && p > 1e4 || speaker != listener && p < 1e5 {
				t.Errorf("%s hears %s's %v Hz at power %.0f", listener, speaker, hz, p)
			}
		}
	}
}

// TestCallMedia_AShortBreakIsRiddenOut: alpha's media is cut off for
// five seconds mid-call; when it comes back, bravo hears alpha again
// without anyone rejoining, and the record counts the lost packets.
func TestCallMedia_AShortBreakIsRiddenOut(t *testing.T) {
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond, MediaFaults: true})
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	ch := recordedChannel(t, net, "alpha-bravo-voice", false)
	call := acceptedCall(t, net, ch, true)
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	pa, _, err := joinCall(jctx, alpha, ch, call, api.JoinBody{As: "minister"})
	if err != nil {
		t.Fatal(err)
	}
	defer pa.Close()
	pb, _, err := joinCall(jctx, bravo, ch, call, api.JoinBody{As: "minister"})
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	eventually(t, "the nodes link", func() bool {
		l, err := alpha.LiveCall(ctx, ch, call)
		return err == nil && l.Live != nil && len(l.Live.Links) == 1 && l.Live.Links[0].State == "connected"
	})
	// alpha speaks for 14 s; its node is cut off from 3 s to 8 s.
	const rate = conference.SampleRate
	rctx, cancel := context.WithTimeout(ctx, 14*time.Second)
	defer cancel()
	var hb heard
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); pa.Run(rctx, tone(700, 14*time.Second), nil) }()
	go func() { defer wg.Done(); pb.Run(rctx, nil, hb.add) }()
	time.Sleep(3 * time.Second)
	net.Party("alpha").Media.Partition()
	time.Sleep(5 * time.Second)
	net.Party("alpha").Media.Heal()
	wg.Wait()
	before := voicematch.Power(hb.pcm[rate:3*rate], 700)
	during := voicematch.Power(hb.pcm[5*rate:7*rate], 700)
	after := voicematch.Power(hb.pcm[11*rate:13*rate], 700)
	t.Logf("bravo hears alpha's tone at power %.0f before the break, %.0f during, %.0f after", before, during, after)
	if before < 1e5 || during > 1e3 || after < 1e5 {
		t.Fatalf("the call did not ride out the break: %.0f before, %.0f during, %.0f after", before, during, after)
	}
	l, err := alpha.LiveCall(ctx, ch, call)
	if err != nil || l.Live == nil || len(l.Live.Members) != 2 {
		t.Fatalf("after the break: %+v %v", l, err)
	}
}

// TestCallMedia_MinistersWithInterpreters: alpha's minister and its
// interpreter (an operator whose roster role is interpreter) and bravo's
// minister on one call through the nodes. Bravo hears alpha's minister
// and never alpha's interpreter; alpha's minister, listening to
// interpretation, hears both bravo and its own interpreter; an operator
// of another role may not join as the interpreter. The record lists the
// interpreter as such.
func TestCallMedia_MinistersWithInterpreters(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	ch := recordedChannel(t, net, "alpha-bravo-voice", false)
	call := acceptedCall(t, net, ch, true)
	interp := addOperator(t, net.Party("alpha"), "lin", "interpreter")
	aide := addOperator(t, net.Party("alpha"), "aide", "note taker")
	jctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, _, err := joinCall(jctx, aide, ch, call, api.JoinBody{Interpreter: true}); hotline.ErrorCode(err) != hotline.EUNAUTHORIZED {
		t.Errorf("a note taker joining as the interpreter: %v", err)
	}
	pm, _, err := joinCall(jctx, alpha, ch, call, api.JoinBody{As: "minister", Listen: "interpretation"})
	if err != nil {
		t.Fatal(err)
	}
	defer pm.Close()
	pi, ji, err := joinCall(jctx, interp, ch, call, api.JoinBody{Interpreter: true})
	if err != nil {
		t.Fatal(err)
	}
	defer pi.Close()
	pb, _, err := joinCall(jctx, bravo, ch, call, api.JoinBody{As: "minister"})
	if err != nil {
		t.Fatal(err)
	}
	defer pb.Close()
	if ji.Role != node.InterpreterRole {
		t.Errorf("the interpreter joined as %q", ji.Role)
	}
	eventually(t, "the nodes link", func() bool {
		l, err := alpha.LiveCall(ctx, ch, call)
		return err == nil && l.Live != nil && len(l.Live.Links) == 1 && l.Live.Links[0].State == "connected" && len(l.Live.Members) == 3
	})
	// alpha's minister at 500 Hz, its interpreter at 900 Hz, bravo's
	// minister at 1300 Hz, all at once.
	rctx, stop := context.WithTimeout(ctx, 4*time.Second)
	defer stop()
	var hm, hi, hb heard
	var wg sync.WaitGroup
	wg.Add(3)
	go func() { defer wg.Done(); pm.Run(rctx, tone(500, 3*time.Second), hm.add) }()
	go func() { defer wg.Done(); pi.Run(rctx, tone(900, 3*time.Second), hi.add) }()
	go func() { defer wg.Done(); pb.Run(rctx, tone(1300, 3*time.Second), hb.add) }()
	wg.Wait()
	for _, c := range []struct {
		who  string
		h    *heard
		hz   float64
		want bool
	}{
		{"bravo's minister hears alpha's minister", &hb, 500, true},
		{"bravo's minister hears alpha's interpreter", &hb, 900, false},
		{"alpha's minister hears bravo's", &hm, 1300, true},
		{"alpha's minister hears its interpreter", &hm, 900, true},
		{"the interpreter hears bravo's minister", &hi, 1300, true},
		{"the interpreter hears alpha's minister", &hi, 500, true},
	} {
		if p := voicematch.Power(c.h.pcm, c.hz); (p > 1e5) != c.want {
			t.Errorf("%s: power %.0f, want heard %v", c.who, p, c.want)
		}
	}
	for _, p := range []*conference.Participant{pm, pi, pb} {
		p.Close()
	}
	var held *node.HeldView
	eventually(t, "the record is co-signed", func() bool {
		v := callOf(t, bravo, ch, call)
		held = v.Held
		return held != nil && len(held.Signed) == 2
	})
	log, err := alpha.Log(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range log {
		if e.ID != held.Entry {
			continue
		}
		a := e.Call.Held.Sections[0].Attendance
		if len(a) != 2 || !slices.ContainsFunc(a, func(x conference.Attendance) bool {
			return x.Interpreter && x.Role == node.InterpreterRole && x.Operator == "lin"
		}) {
			t.Errorf("alpha's attendance in the record: %+v", a)
		}
	}
}
