package conference

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"

	"github.com/hotline-project/hotline/wav"
)

// What a listener hears.
const (
	// ListenOriginal: every speaker, no interpreter.
	ListenOriginal = "original"
	// ListenInterpretation: every speaker and the interpreters of the
	// listener's own party, who render the other parties' words.
	ListenInterpretation = "interpretation"
)

// Member is the person a participant leg carries.
type Member struct {
	Party       string `json:"party"`
	Role        string `json:"role"`
	Operator    string `json:"operator,omitempty"`
	Interpreter bool   `json:"interpreter,omitempty"`
}

// MemberStatus is a member on the call now, as a room shows it.
type MemberStatus struct {
	Member
	ID       string    `json:"id,omitempty"` // this node's participants only
	Listen   string    `json:"listen,omitempty"`
	Joined   time.Time `json:"joined"`
	Speaking bool      `json:"speaking"`
}

// Attendance is one member's time on a call.
type Attendance struct {
	Member
	Joined time.Time `json:"joined"`
	Left   time.Time `json:"left"`
}

// Recording is one recording of a call a node kept.
type Recording struct {
	File    string  `json:"file"` // name in the node's calls directory
	SHA256  string  `json:"sha256"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// LinkQuality is how the audio from another party's node came in over a
// call, over every link to it.
type LinkQuality struct {
	Party     string  `json:"party"`
	Received  int64   `json:"received"`
	Lost      int64   `json:"lost"`
	LossRate  float64 `json:"loss_rate"`
	JitterMs  float64 `json:"jitter_ms"`  // the highest measured
	RTTMs     float64 `json:"rtt_ms"`     // the highest measured
	LatencyMs float64 `json:"latency_ms"` // the highest estimate
	Breaks    int     `json:"breaks"`     // links set up again after one failed
}

// Section is one party's account of a call it held: its people's
// attendance, its recordings, and how the other parties' audio came in.
type Section struct {
	Party      string        `json:"party"`
	Start      time.Time     `json:"start"`
	End        time.Time     `json:"end"`
	Attendance []Attendance  `json:"attendance"`
	Recordings []Recording   `json:"recordings,omitempty"`
	Quality    []LinkQuality `json:"quality,omitempty"`
}

// Status is a room's state for its participants' screens.
type Status struct {
	Channel   string         `json:"channel"`
	Call      string         `json:"call"`
	Started   time.Time      `json:"started"`
	Recording bool           `json:"recording"`
	Members   []MemberStatus `json:"members"` // every party's, by party
	Links     []LinkStatus   `json:"links"`
}

// LinkStatus is the media link to another party's node, now.
type LinkStatus struct {
	Party string `json:"party"`
	State string `json:"state"` // new, connecting, connected, disconnected, failed, closed
	Quality
}

// leg is one peer connection of a room: a participant of this party, or
// the link to another party's node.
type leg struct {
	id     string
	member Member // participants
	party  string // links: the other party
	listen atomic.Value
	joined time.Time
	pc     *webrtc.PeerConnection
	track  *webrtc.TrackLocalStaticSample
	jb     *jitterBuffer
	rtt    atomic.Int64 // ns
	state  atomic.Value // webrtc.PeerConnectionState
	dc     atomic.Pointer[webrtc.DataChannel]
	remote atomic.Value // []MemberStatus the other node sent
	frame  []int16      // popped this tick
}

func (l *leg) link() bool { return l.party != "" }

func (l *leg) listening() string {
	if s, ok := l.listen.Load().(string); ok {
		return s
	}
	return ListenOriginal
}

func (l *leg) connState() webrtc.PeerConnectionState {
	if s, ok := l.state.Load().(webrtc.PeerConnectionState); ok {
		return s
	}
	return webrtc.PeerConnectionStateNew
}

// Room is one call on this node: its participants' legs, the links to the
// other parties' nodes, the mixer and the recording.
type Room struct {
	s       *Service
	key     Key
	opts    RoomOptions
	started time.Time

	mu         sync.Mutex
	legs       map[string]*leg // participants, by id
	links      map[string]*leg // by party
	attendance []Attendance    // closed; open ones are in legs
	emptySince time.Time
	rec        *wav.Writer
	recName    string
	recFailed  bool // a write failed (and was logged); only the run loop touches it
	quality    map[string]*LinkQuality
	closed     bool
	lastDial   map[string]time.Time
	wake       chan struct{}
	done       chan struct{}
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// addParticipant connects a participant's offer to the room.
func (r *Room) addParticipant(ctx context.Context, m Member, listen, sdp string) (id, ans string, err error) {
	pc, track, err := newAudioPC(r.s.api)
	if err != nil {
		return "", "", err
	}
	l := &leg{id: newID(), member: m, joined: r.s.now(), pc: pc, track: track, jb: newJitterBuffer()}
	l.listen.Store(listen)
	receive(pc, l.jb, r.s.metrics.packetIn)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		l.state.Store(st)
		if st == webrtc.PeerConnectionStateFailed || st == webrtc.PeerConnectionStateClosed {
			r.s.log.Info("call participant's connection ended", "state", st.String(), "call", r.key, "party", m.Party, "role", m.Role, "operator", m.Operator)
			r.remove(l.id)
		}
	})
	ans, err = answer(ctx, pc, sdp)
	if err != nil {
		pc.Close()
		return "", "", err
	}
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		pc.Close()
		return "", "", ErrEnded
	}
	if len(r.legs) >= r.s.opts.MaxParticipants {
		r.mu.Unlock()
		pc.Close()
		return "", "", fmt.Errorf("%w: %d participants of this party are on the call already", ErrFull, len(r.legs))
	}
	r.legs[l.id] = l
	r.emptySince = time.Time{}
	r.mu.Unlock()
	r.s.metrics.legs.WithLabelValues("participant").Inc()
	r.s.log.Info("call joined", "call", r.key, "party", m.Party, "role", m.Role, "operator", m.Operator, "interpreter", m.Interpreter)
	r.poke()
	return l.id, ans, nil
}

// remove takes a participant off the call.
func (r *Room) remove(id string) bool {
	r.mu.Lock()
	l := r.legs[id]
	if l != nil {
		delete(r.legs, id)
		r.attendance = append(r.attendance, Attendance{Member: l.member, Joined: l.joined, Left: r.s.now()})
		if len(r.legs) == 0 {
			r.emptySince = time.Now()
		}
	}
	r.mu.Unlock()
	if l == nil {
		return false
	}
	r.s.metrics.legs.WithLabelValues("participant").Dec()
	r.s.log.Info("call left", "call", r.key, "party", l.member.Party, "role", l.member.Role, "operator", l.member.Operator)
	l.pc.Close()
	return true
}

// setListen switches what a participant hears.
func (r *Room) setListen(id, listen string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.legs[id]
	if l != nil {
		l.listen.Store(listen)
	}
	return l != nil
}

// newLink returns a link leg to party.
func (r *Room) newLink(party string) (*leg, error) {
	pc, track, err := newAudioPC(r.s.api)
	if err != nil {
		return nil, err
	}
	l := &leg{id: newID(), party: party, joined: r.s.now(), pc: pc, track: track, jb: newJitterBuffer()}
	receive(pc, l.jb, r.s.metrics.packetIn)
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		l.state.Store(st)
		r.s.log.Debug("call link", "call", r.key, "party", party, "state", st.String())
		if st == webrtc.PeerConnectionStateFailed {
			r.poke()
		}
	})
	pc.OnDataChannel(func(dc *webrtc.DataChannel) { r.rosterChannel(l, dc) })
	return l, nil
}

// rosterChannel keeps the members the other node reports on dc.
func (r *Room) rosterChannel(l *leg, dc *webrtc.DataChannel) {
	dc.OnOpen(func() { l.dc.Store(dc) })
	dc.OnMessage(func(msg webrtc.DataChannelMessage) {
		if len(msg.Data) > 64<<10 {
			return
		}
		var ms []MemberStatus
		if json.Unmarshal(msg.Data, &ms) != nil || len(ms) > r.s.opts.MaxParticipants {
			return
		}
		out := ms[:0]
		for _, m := range ms {
			if m.Party == l.party { // a node speaks for its own people only
				m.ID = ""
				out = append(out, m)
			}
		}
		l.remote.Store(out)
	})
}

// setLink puts l in place of any link to its party, which it closes.
func (r *Room) setLink(l *leg) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return ErrEnded
	}
	old := r.links[l.party]
	r.links[l.party] = l
	r.mu.Unlock()
	if old != nil {
		r.retire(old, true)
	} else {
		r.s.metrics.legs.WithLabelValues("link").Inc()
	}
	return nil
}

// retire closes a link leg and adds what it measured to the room's
// quality record.
func (r *Room) retire(l *leg, broken bool) {
	q := l.jb.quality()
	r.mu.Lock()
	lq := r.quality[l.party]
	if lq == nil {
		lq = &LinkQuality{Party: l.party}
		r.quality[l.party] = lq
	}
	lq.Received += q.Received
	lq.Lost += q.Lost
	if exp := lq.Received + lq.Lost; exp > 0 {
		lq.LossRate = float64(lq.Lost) / float64(exp)
	}
	lq.JitterMs = max(lq.JitterMs, q.JitterMs)
	rtt := float64(l.rtt.Load()) / 1e6
	lq.RTTMs = max(lq.RTTMs, rtt)
	lq.LatencyMs = max(lq.LatencyMs, latency(rtt, q))
	if broken {
		lq.Breaks++
	}
	r.mu.Unlock()
	l.pc.Close()
}

// latency estimates the one-way delay audio from a link adds before it is
// heard: half the round trip, the jitter buffer, one mixing tick and one
// packet's length.
func latency(rttMs float64, q Quality) float64 {
	return rttMs/2 + float64(q.BufferMs) + 2*float64(FrameTime/time.Millisecond)
}

// acceptLink answers another party's node's offer.
func (r *Room) acceptLink(ctx context.Context, party, sdp string) (string, error) {
	l, err := r.newLink(party)
	if err != nil {
		return "", err
	}
	ans, err := answer(ctx, l.pc, sdp)
	if err != nil {
		l.pc.Close()
		return "", err
	}
	if err := r.setLink(l); err != nil {
		l.pc.Close()
		return "", err
	}
	return ans, nil
}

// dial sets up the link to party, this node offering.
func (r *Room) dial(ctx context.Context, party string) error {
	l, err := r.newLink(party)
	if err != nil {
		return err
	}
	dc, err := l.pc.CreateDataChannel("roster", nil)
	if err != nil {
		l.pc.Close()
		return err
	}
	r.rosterChannel(l, dc)
	sdp, err := offer(ctx, l.pc)
	if err == nil {
		var ans string
		ans, err = r.s.host.Offer(ctx, party, r.key, sdp)
		if err == nil {
			err = accept(l.pc, ans)
		}
	}
	if err == nil {
		err = r.setLink(l)
	}
	if err != nil {
		l.pc.Close()
		return err
	}
	return nil
}

// poke wakes the room's upkeep.
func (r *Room) poke() {
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// run mixes a frame every 20 ms and keeps the links up until the room has
// had none of this party's people on it for the service's linger time.
func (r *Room) run() {
	tick := time.NewTicker(FrameTime)
	defer tick.Stop()
	upkeep := time.NewTicker(time.Second)
	defer upkeep.Stop()
	r.maintain()
	for {
		select {
		case <-tick.C:
			r.mix()
		case <-upkeep.C:
			if r.maintain() {
				return
			}
		case <-r.wake:
			if r.maintain() {
				return
			}
		case <-r.s.stop:
			r.close()
			return
		}
	}
}

// mix plays out a frame from every leg and sends each its mix.
func (r *Room) mix() {
	r.mu.Lock()
	legs := make([]*leg, 0, len(r.legs)+len(r.links))
	for _, l := range r.legs {
		legs = append(legs, l)
	}
	for _, l := range r.links {
		legs = append(legs, l)
	}
	rec := r.rec
	r.mu.Unlock()
	for _, l := range legs {
		l.frame = l.jb.pop()
	}
	var sum [FrameSamples]int32
	out := make([]int16, FrameSamples)
	for _, dst := range legs {
		clear(sum[:])
		for _, src := range legs {
			if src == dst || src.frame == nil || !hears(dst, src) {
				continue
			}
			for i, s := range src.frame {
				sum[i] += int32(s)
			}
		}
		clamp(out, sum[:])
		if err := dst.track.WriteSample(media.Sample{Data: encode(out), Duration: FrameTime}); err == nil {
			r.s.metrics.packetOut()
		}
	}
	if rec != nil {
		clear(sum[:])
		for _, src := range legs {
			for i, s := range src.frame {
				sum[i] += int32(s)
			}
		}
		clamp(out, sum[:])
		if err := rec.Write(out); err != nil && !r.recFailed {
			r.recFailed = true // said once, not every 20 ms
			r.s.log.Error("call recording failing; the call goes on", "call", r.key, "err", err)
		}
	}
}

// hears says whether dst's mix takes src: a link carries this party's
// speakers only (each node sends its own people to every other); a
// participant hears every speaker, and interpreters of its party when it
// listens to interpretation or interprets itself.
func hears(dst, src *leg) bool {
	if dst.link() {
		return !src.link() && !src.member.Interpreter
	}
	if !src.link() && src.member.Interpreter {
		return dst.member.Interpreter || dst.listening() == ListenInterpretation
	}
	return true
}

func clamp(out []int16, sum []int32) {
	for i, s := range sum {
		out[i] = int16(min(max(s, -32768), 32767))
	}
}

// maintain measures the links, sends this party's roster to the other
// nodes, sets up links that are missing, and closes the room once it has
// been empty long enough; it returns true once closed.
func (r *Room) maintain() bool {
	r.mu.Lock()
	if len(r.legs) == 0 && !r.emptySince.IsZero() && time.Since(r.emptySince) >= r.s.opts.Linger {
		r.mu.Unlock()
		r.close()
		return true
	}
	links := make([]*leg, 0, len(r.links))
	for _, l := range r.links {
		links = append(links, l)
	}
	members := r.localMembers()
	for i := range members {
		members[i].ID = "" // the other nodes need not know this node's participant ids
	}
	roster, _ := json.Marshal(members)
	if r.rec != nil {
		// A stop loses at most the last second of the recording.
		if err := r.rec.Flush(); err != nil && !r.recFailed {
			r.recFailed = true
			r.s.log.Error("call recording failing; the call goes on", "call", r.key, "err", err)
		}
	}
	var dial []string
	for _, p := range r.opts.Parties {
		l := r.links[p]
		if p != r.s.opts.Party && r.s.opts.Party < p && (l == nil || l.connState() == webrtc.PeerConnectionStateFailed) &&
			time.Since(r.lastDial[p]) >= r.s.opts.Redial {
			r.lastDial[p] = time.Now()
			dial = append(dial, p)
		}
	}
	r.mu.Unlock()
	for _, l := range links {
		l.rtt.Store(int64(roundTrip(l.pc)))
		if dc := l.dc.Load(); dc != nil {
			dc.Send(roster)
		}
	}
	for _, p := range dial {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := r.dial(ctx, p); err != nil {
				r.s.log.Debug("call link not set up", "call", r.key, "party", p, "err", err)
			}
		}()
	}
	return false
}

// localMembers returns this party's people on the call; r.mu held.
func (r *Room) localMembers() []MemberStatus {
	out := make([]MemberStatus, 0, len(r.legs))
	for _, l := range r.legs {
		out = append(out, MemberStatus{Member: l.member, ID: l.id, Listen: l.listening(), Joined: l.joined, Speaking: l.jb.quality().Level > speakingLevel})
	}
	return out
}

// speakingLevel is the peak above which a member shows as speaking.
const speakingLevel = 0.02

// status returns the room's state.
func (r *Room) status() *Status {
	r.mu.Lock()
	st := &Status{Channel: r.key.Channel, Call: r.key.Call, Started: r.started, Recording: r.rec != nil, Members: r.localMembers()}
	links := make([]*leg, 0, len(r.links))
	for _, l := range r.links {
		links = append(links, l)
	}
	r.mu.Unlock()
	for _, l := range links {
		q := l.jb.quality()
		q.RTTMs = float64(l.rtt.Load()) / 1e6
		q.LatencyMs = latency(q.RTTMs, q)
		st.Links = append(st.Links, LinkStatus{Party: l.party, State: l.connState().String(), Quality: q})
		if ms, ok := l.remote.Load().([]MemberStatus); ok {
			st.Members = append(st.Members, ms...)
		}
	}
	slices.SortFunc(st.Members, func(a, b MemberStatus) int {
		if a.Party != b.Party {
			if a.Party < b.Party {
				return -1
			}
			return 1
		}
		return a.Joined.Compare(b.Joined)
	})
	slices.SortFunc(st.Links, func(a, b LinkStatus) int {
		if a.Party < b.Party {
			return -1
		}
		return 1
	})
	return st
}

// close ends the room: every leg is closed, the recording finished, and
// the section handed to the service.
func (r *Room) close() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	legs, links := r.legs, r.links
	r.legs, r.links = map[string]*leg{}, map[string]*leg{}
	r.mu.Unlock()
	end := r.s.now()
	for _, l := range legs {
		r.mu.Lock()
		r.attendance = append(r.attendance, Attendance{Member: l.member, Joined: l.joined, Left: end})
		r.mu.Unlock()
		l.pc.Close()
		r.s.metrics.legs.WithLabelValues("participant").Dec()
	}
	for _, l := range links {
		r.retire(l, false)
		r.s.metrics.legs.WithLabelValues("link").Dec()
	}
	sec := Section{Party: r.s.opts.Party, Start: r.started, End: end, Attendance: r.attendance}
	slices.SortStableFunc(sec.Attendance, func(a, b Attendance) int { return a.Joined.Compare(b.Joined) })
	if len(sec.Attendance) == 0 {
		// Nobody joined (the only join was refused): there was no call
		// here, and nothing to account for.
		r.s.discard(r)
		close(r.done)
		return
	}
	if r.rec != nil {
		rec, err := r.s.finish(r.s.callDir(r.key), r.rec, r.recName)
		if err != nil {
			r.s.log.Error("call recording not finished", "call", r.key, "file", r.recName, "err", err)
		} else {
			sec.Recordings = append(sec.Recordings, rec)
		}
	}
	for _, q := range r.quality {
		sec.Quality = append(sec.Quality, *q)
	}
	slices.SortFunc(sec.Quality, func(a, b LinkQuality) int {
		if a.Party < b.Party {
			return -1
		}
		return 1
	})
	r.s.ended(r, sec)
	close(r.done)
}

// Errors a join can meet.
var (
	ErrEnded = errors.New("conference: the call has ended here")
	ErrFull  = errors.New("conference: too many on the call")
)
