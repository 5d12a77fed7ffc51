package conference

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hotline-project/hotline/voicematch"
	"github.com/hotline-project/hotline/wav"
)

// testNet carries offers between services in one process; the nodes'
// real peer link is tested in devnet.
type testNet struct {
	mu       sync.Mutex
	services map[string]*Service
	ended    chan Section
}

type testHost struct {
	net  *testNet
	self string
}

func (h testHost) Offer(ctx context.Context, party string, k Key, sdp string) (string, error) {
	h.net.mu.Lock()
	s := h.net.services[party]
	h.net.mu.Unlock()
	return s.AcceptLink(ctx, k, h.self, sdp)
}

func (h testHost) Ended(_ Key, s Section) { h.net.ended <- s }

func newTestNet(t *testing.T, parties ...string) *testNet {
	n := &testNet{services: map[string]*Service{}, ended: make(chan Section, 16)}
	for _, p := range parties {
		s, err := New(testHost{net: n, self: p}, Options{Party: p, Dir: t.TempDir(), Media: MediaOptions{Loopback: true}, Linger: 300 * time.Millisecond, Redial: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Close)
		n.services[p] = s
	}
	return n
}

var testKey = Key{Channel: "aa00000000000000000000000000000000000000000000000000000000000000", Call: "bb00000000000000000000000000000000000000000000000000000000000000"}

// tone returns d of a sine at hz.
func tone(hz float64, d time.Duration) []int16 {
	out := make([]int16, int(d.Seconds()*SampleRate))
	for i := range out {
		out[i] = int16(8000 * math.Sin(2*math.Pi*hz*float64(i)/SampleRate))
	}
	return out
}

type heard struct {
	mu  sync.Mutex
	pcm []int16
}

func (h *heard) add(f []int16) { h.mu.Lock(); h.pcm = append(h.pcm, f...); h.mu.Unlock() }

func join(t *testing.T, s *Service, m Member, listen string, o RoomOptions) *Participant {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := Dial(ctx, MediaOptions{Loopback: true}, func(ctx context.Context, offer string) (string, error) {
		_, ans, err := s.Join(ctx, testKey, o, m, listen, offer)
		return ans, err
	})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestTwoNodesCarryEachOthersVoiceAndRecordIt(t *testing.T) {
	n := newTestNet(t, "alpha", "bravo")
	o := RoomOptions{Parties: []string{"alpha", "bravo"}, Record: true}
	a := join(t, n.services["alpha"], Member{Party: "alpha", Role: "minister", Operator: "ann"}, ListenOriginal, o)
	b := join(t, n.services["bravo"], Member{Party: "bravo", Role: "minister", Operator: "bob"}, ListenOriginal, o)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var ha, hb heard
	var wg sync.WaitGroup
	var ra, rb Result
	wg.Add(2)
	go func() { defer wg.Done(); ra = a.Run(ctx, tone(440, 3*time.Second), ha.add) }()
	go func() { defer wg.Done(); rb = b.Run(ctx, tone(1000, 3*time.Second), hb.add) }()
	wg.Wait()
	a.Close()
	b.Close()
	t.Logf("alpha sent %d, heard %d of %d; bravo sent %d, heard %d of %d", ra.Sent, ra.Heard, ra.Frames, rb.Sent, rb.Heard, rb.Frames)
	if ra.Heard < 50 || rb.Heard < 50 {
		t.Fatalf("heard too little: alpha %d frames, bravo %d", ra.Heard, rb.Heard)
	}
	// Each hears the other's tone, not its own.
	if p1, p2 := voicematch.Power(ha.pcm, 1000), voicematch.Power(ha.pcm, 440); p1 < 100*p2 {
		t.Errorf("alpha hears 1000 Hz at %.0f and its own 440 Hz at %.0f", p1, p2)
	}
	if p1, p2 := voicematch.Power(hb.pcm, 440), voicematch.Power(hb.pcm, 1000); p1 < 100*p2 {
		t.Errorf("bravo hears 440 Hz at %.0f and its own 1000 Hz at %.0f", p1, p2)
	}
	// Both rooms end (the participants' connections close) and each node
	// recorded both voices.
	got := map[string]Section{}
	for len(got) < 2 {
		select {
		case s := <-n.ended:
			got[s.Party] = s
		case <-time.After(30 * time.Second):
			t.Fatalf("rooms did not end: %v", got)
		}
	}
	for p, sec := range got {
		if len(sec.Attendance) != 1 || sec.Attendance[0].Party != p || sec.Attendance[0].Left.IsZero() {
			t.Errorf("%s attendance %+v", p, sec.Attendance)
		}
		if len(sec.Recordings) != 1 {
			t.Fatalf("%s recordings %+v", p, sec.Recordings)
		}
		path := n.services[p].Path(testKey, sec.Recordings[0].File)
		sum, size, err := hashFile(path)
		if err != nil || sum != sec.Recordings[0].SHA256 || size != sec.Recordings[0].Bytes {
			t.Errorf("%s recording %s: %s %d %v, section says %+v", p, path, sum, size, err, sec.Recordings[0])
		}
		rec, err := wav.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if voicematch.Power(rec.Samples, 440) < 1e4 || voicematch.Power(rec.Samples, 1000) < 1e4 {
			t.Errorf("%s's recording: 440 Hz %.0f, 1000 Hz %.0f", p, voicematch.Power(rec.Samples, 440), voicematch.Power(rec.Samples, 1000))
		}
		if len(sec.Quality) != 1 || sec.Quality[0].Received < 50 {
			t.Errorf("%s quality %+v", p, sec.Quality)
		}
		if _, err := os.Stat(path + ".part"); !os.IsNotExist(err) {
			t.Errorf("%s.part left: %v", path, err)
		}
	}
}

// TestInterpretersAreHeardByTheirOwnPartyOnly: alpha's interpreter is
// heard by alpha's listeners who chose interpretation (and by no one of
// bravo, whose node never gets it); alpha's minister, on the original,
// hears bravo's minister alone.
func TestInterpretersAreHeardByTheirOwnPartyOnly(t *testing.T) {
	n := newTestNet(t, "alpha", "bravo")
	o := RoomOptions{Parties: []string{"alpha", "bravo"}}
	type person struct {
		name string
		p    *Participant
		src  []int16
		h    heard
	}
	people := []*person{
		{name: "alpha minister", p: join(t, n.services["alpha"], Member{Party: "alpha", Role: "minister"}, ListenOriginal, o)},
		{name: "alpha aide", p: join(t, n.services["alpha"], Member{Party: "alpha", Role: "aide"}, ListenInterpretation, o)},
		{name: "alpha interpreter", p: join(t, n.services["alpha"], Member{Party: "alpha", Role: "interpreter", Interpreter: true}, ListenOriginal, o), src: tone(600, 3*time.Second)},
		{name: "bravo minister", p: join(t, n.services["bravo"], Member{Party: "bravo", Role: "minister"}, ListenOriginal, o), src: tone(1000, 3*time.Second)},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Second)
	defer cancel()
	var wg sync.WaitGroup
	for _, x := range people {
		wg.Add(1)
		go func() { defer wg.Done(); x.p.Run(ctx, x.src, x.h.add) }()
	}
	wg.Wait()
	for _, x := range people {
		x.p.Close()
	}
	hears := func(x *person, hz float64) bool { return voicematch.Power(x.h.pcm, hz) > 1e4 }
	for _, c := range []struct {
		who        *person
		hz         float64
		wantHeard  bool
		whatItIsAt string
	}{
		{people[0], 1000, true, "bravo's minister"},
		{people[0], 600, false, "alpha's interpreter"},
		{people[1], 1000, true, "bravo's minister"},
		{people[1], 600, true, "alpha's interpreter"},
		{people[2], 1000, true, "bravo's minister"},
		{people[3], 600, false, "alpha's interpreter"},
	} {
		if got := hears(c.who, c.hz); got != c.wantHeard {
			t.Errorf("%s hears %s: %v (power %.0f), want %v", c.who.name, c.whatItIsAt, got, voicematch.Power(c.who.h.pcm, c.hz), c.wantHeard)
		}
	}
}

// TestAStopMidCallLeavesAnAccountTheNextStartFinishes: the files of a
// room as a stop leaves them mid-call (its journal and the recording so
// far) become, at the next start, a section whose attendance ends when
// the journal was last written and whose recording is finished and
// hashed.
func TestAStopMidCallLeavesAnAccountTheNextStartFinishes(t *testing.T) {
	n := newTestNet(t, "alpha", "bravo")
	s := n.services["alpha"]
	p := join(t, s, Member{Party: "alpha", Role: "minister", Operator: "ann"}, ListenOriginal, RoomOptions{Parties: []string{"alpha", "bravo"}, Record: true})
	defer p.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	p.Run(ctx, tone(440, time.Second), nil)
	cancel()
	// What is on disk now, copied as a crash would leave it.
	crashed := t.TempDir()
	if err := os.CopyFS(crashed, os.DirFS(s.opts.Dir)); err != nil {
		t.Fatal(err)
	}
	parts, _ := filepath.Glob(filepath.Join(crashed, "*", "*", "*.wav.part"))
	journals, _ := filepath.Glob(filepath.Join(crashed, "*", "*", "open-*.json"))
	if len(parts) != 1 || len(journals) != 1 {
		t.Fatalf("mid-call files: %v %v", parts, journals)
	}
	ended := make(chan Section, 1)
	s2, err := New(recoverHost{ended}, Options{Party: "alpha", Dir: crashed})
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	var sec Section
	select {
	case sec = <-ended:
	default:
		t.Fatal("no section handed over at start")
	}
	if len(sec.Attendance) != 1 || sec.Attendance[0].Operator != "ann" || sec.Attendance[0].Left.IsZero() || sec.End.Before(sec.Attendance[0].Left) {
		t.Errorf("recovered attendance %+v, end %s", sec.Attendance, sec.End)
	}
	if len(sec.Recordings) != 1 {
		t.Fatalf("recovered recordings %+v", sec.Recordings)
	}
	path := s2.Path(testKey, sec.Recordings[0].File)
	sum, _, err := hashFile(path)
	if err != nil || sum != sec.Recordings[0].SHA256 {
		t.Errorf("recovered recording: %v, hash %s vs %s", err, sum, sec.Recordings[0].SHA256)
	}
	if _, err := wav.ReadFile(path); err != nil {
		t.Errorf("recovered recording does not read: %v", err)
	}
	if secs, err := s2.Sections(testKey); err != nil || len(secs) != 1 {
		t.Errorf("sections kept: %v %v", secs, err)
	}
	if left, _ := filepath.Glob(filepath.Join(crashed, "*", "*", "open-*.json")); len(left) != 0 {
		t.Errorf("journal left: %v", left)
	}
}

type recoverHost struct{ ended chan Section }

func (recoverHost) Offer(context.Context, string, Key, string) (string, error) {
	return "", ErrEnded
}
func (h recoverHost) Ended(_ Key, s Section) { h.ended <- s }

// TestALinkNeedsSomeoneOnTheCall: a node takes another's link for a call
// only while its own people are on it, and only from a party of the
// call; a room takes at most MaxParticipants of its party.
func TestALinkNeedsSomeoneOnTheCall(t *testing.T) {
	n := newTestNet(t, "alpha", "bravo")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := n.services["bravo"].AcceptLink(ctx, testKey, "alpha", "v=0\r\n"); !errors.Is(err, ErrEnded) {
		t.Errorf("a link to a call nobody of bravo is on: %v", err)
	}
	s, err := New(testHost{net: n, self: "bravo"}, Options{Party: "bravo", Dir: t.TempDir(), Media: MediaOptions{Loopback: true}, MaxParticipants: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	o := RoomOptions{Parties: []string{"alpha", "bravo"}}
	p := join(t, s, Member{Party: "bravo", Role: "minister"}, ListenOriginal, o)
	defer p.Close()
	if _, err := s.AcceptLink(ctx, testKey, "charlie", "v=0\r\n"); !errors.Is(err, ErrEnded) {
		t.Errorf("a link from a party not on the call: %v", err)
	}
	_, err = Dial(ctx, MediaOptions{Loopback: true}, func(ctx context.Context, offer string) (string, error) {
		_, ans, err := s.Join(ctx, testKey, o, Member{Party: "bravo", Role: "aide"}, ListenOriginal, offer)
		return ans, err
	})
	if !errors.Is(err, ErrFull) {
		t.Errorf("a second participant past MaxParticipants 1: %v", err)
	}
	if _, err := s.AcceptLink(ctx, testKey, "alpha", "not a session description"); !errors.Is(err, ErrBadSDP) {
		t.Errorf("a garbage offer: %v", err)
	}
}

// TestPublicIPsAreOffered: behind a 1:1 NAT the node's answer offers the
// public address, not its own.
func TestPublicIPsAreOffered(t *testing.T) {
	s, err := New(recoverHost{make(chan Section, 1)}, Options{Party: "alpha", Dir: t.TempDir(), Media: MediaOptions{PublicIPs: []string{"203.0.113.7"}}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	api, err := newAPI(MediaOptions{Loopback: true})
	if err != nil {
		t.Fatal(err)
	}
	pc, _, err := newAudioPC(api)
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	o, err := offer(ctx, pc)
	if err != nil {
		t.Fatal(err)
	}
	_, ans, err := s.Join(ctx, testKey, RoomOptions{Parties: []string{"alpha"}}, Member{Party: "alpha", Role: "minister"}, ListenOriginal, o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(ans, " 203.0.113.7 ") {
		t.Fatalf("the answer does not offer the public address:\n%s", ans)
	}
}

// TestARefusedJoinLeavesNoCall: a join refused for its offer opens no
// call that would later be accounted for.
func TestARefusedJoinLeavesNoCall(t *testing.T) {
	ended := make(chan Section, 1)
	s, err := New(recoverHost{ended}, Options{Party: "alpha", Dir: t.TempDir(), Linger: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, _, err := s.Join(context.Background(), testKey, RoomOptions{Parties: []string{"alpha"}, Record: true}, Member{Party: "alpha", Role: "minister"}, ListenOriginal, "garbage"); !errors.Is(err, ErrBadSDP) {
		t.Fatalf("a garbage offer: %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(s.Rooms()) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if len(s.Rooms()) != 0 {
		t.Fatal("the room of a refused join stayed open")
	}
	select {
	case sec := <-ended:
		t.Fatalf("a section for a call nobody joined: %+v", sec)
	default:
	}
	if keys := s.Calls(); len(keys) != 0 {
		t.Fatalf("files kept for a call nobody joined: %v", keys)
	}
}

// TestASettledCallIsNotLookedAtAgain: a start lists the calls with files
// that are not yet settled, and no others.
func TestASettledCallIsNotLookedAtAgain(t *testing.T) {
	s, err := New(recoverHost{make(chan Section, 1)}, Options{Party: "bravo", Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.SaveReceived(testKey, Section{Party: "alpha"}); err != nil {
		t.Fatal(err)
	}
	if got := s.Calls(); len(got) != 1 || got[0] != testKey {
		t.Fatalf("calls before settling: %v", got)
	}
	s.MarkSettled(testKey)
	if got := s.Calls(); len(got) != 0 {
		t.Fatalf("calls after settling: %v", got)
	}
}
