package conference

import (
	"context"
	"math"
	"os"
	"sync"
	"testing"
	"time"

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

// power returns the Goertzel power of hz in pcm, normalised by length.
func power(pcm []int16, hz float64) float64 {
	k := 2 * math.Cos(2*math.Pi*hz/SampleRate)
	var s1, s2 float64
	for _, x := range pcm {
		s0 := float64(x) + k*s1 - s2
		s2, s1 = s1, s0
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(pcm)) / float64(len(pcm))
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
	if p1, p2 := power(ha.pcm, 1000), power(ha.pcm, 440); p1 < 100*p2 {
		t.Errorf("alpha hears 1000 Hz at %.0f and its own 440 Hz at %.0f", p1, p2)
	}
	if p1, p2 := power(hb.pcm, 440), power(hb.pcm, 1000); p1 < 100*p2 {
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
		if power(rec.Samples, 440) < 1e4 || power(rec.Samples, 1000) < 1e4 {
			t.Errorf("%s's recording: 440 Hz %.0f, 1000 Hz %.0f", p, power(rec.Samples, 440), power(rec.Samples, 1000))
		}
		if len(sec.Quality) != 1 || sec.Quality[0].Received < 50 {
			t.Errorf("%s quality %+v", p, sec.Quality)
		}
		if _, err := os.Stat(path + ".part"); !os.IsNotExist(err) {
			t.Errorf("%s.part left: %v", path, err)
		}
	}
}
