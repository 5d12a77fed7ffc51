package conference

import (
	"math"
	"sync"
	"time"

	"github.com/zaf/g711"
)

// Audio on every leg: G.711 µ-law (PCMU), 8 kHz mono, 20 ms a packet.
const (
	SampleRate   = 8000
	FrameSamples = 160
	FrameTime    = 20 * time.Millisecond
	maxPayload   = 6 * FrameSamples // 120 ms: the longest packet taken
	maxBuffered  = 50               // packets a jitter buffer holds (1 s)
	minTarget    = 1                // frames buffered before playout starts
	maxTarget    = 10
)

// jitterBuffer reorders one incoming stream's packets and plays them out
// a frame each mixing tick, after buffering enough frames to ride out the
// jitter it has measured. A missing packet is concealed by repeating the
// previous one, quieter, once; then silence.
type jitterBuffer struct {
	mu      sync.Mutex
	pkts    map[uint16][]int16
	next    uint16 // next sequence number to play
	started bool   // next is set
	playing bool
	target  int
	left    []int16 // the rest of a packet longer than a frame
	last    []int16 // the last packet played, for concealment
	conceal bool    // the last frame played was concealed
	over    int     // pops in a row with more buffered than the target needs

	// Statistics (RFC 3550 §6.4.1 and A.3).
	first, highest uint32 // extended sequence numbers
	received       int64
	late           int64 // arrived after their time to play
	concealed      int64
	jitter         float64 // in timestamp units (1/8000 s)
	transit        int64
	haveTransit    bool
	origin         time.Time
	level          float64 // peak of the last frame played, 0 to 1
}

func newJitterBuffer() *jitterBuffer {
	return &jitterBuffer{pkts: make(map[uint16][]int16), target: minTarget, origin: time.Now()}
}

// decode turns a PCMU payload into samples.
func decode(payload []byte) []int16 {
	out := make([]int16, len(payload))
	for i, b := range payload {
		out[i] = g711.DecodeUlawFrame(b)
	}
	return out
}

// encode turns samples into a PCMU payload.
func encode(pcm []int16) []byte {
	out := make([]byte, len(pcm))
	for i, s := range pcm {
		out[i] = g711.EncodeUlawFrame(s)
	}
	return out
}

// push takes a packet that arrived at at.
func (j *jitterBuffer) push(seq uint16, ts uint32, payload []byte, at time.Time) {
	if len(payload) == 0 || len(payload) > maxPayload {
		return
	}
	pcm := decode(payload)
	j.mu.Lock()
	defer j.mu.Unlock()
	// Extended sequence number and loss bookkeeping.
	if j.received == 0 {
		j.first, j.highest = uint32(seq), uint32(seq)
	} else {
		d := int16(seq - uint16(j.highest))
		if d > 0 {
			j.highest += uint32(d)
		}
	}
	j.received++
	// Interarrival jitter in timestamp units.
	arrival := int64(at.Sub(j.origin) * SampleRate / time.Second)
	transit := arrival - int64(ts)
	if j.haveTransit {
		d := float64(transit - j.transit)
		j.jitter += (math.Abs(d) - j.jitter) / 16
	}
	j.transit, j.haveTransit = transit, true

	if !j.started {
		j.next, j.started = seq, true
	}
	if int16(seq-j.next) < 0 {
		j.late++
		return
	}
	j.pkts[seq] = pcm
	if len(j.pkts) > maxBuffered || (j.playing && len(j.pkts) > j.target+maxTarget) {
		// Far behind (a burst after a break, or a sender's clock running
		// fast): skip ahead to the newest target's worth.
		j.skipTo(seq - uint16(j.target) + 1)
	}
}

// skipTo drops every packet before seq and plays from seq.
func (j *jitterBuffer) skipTo(seq uint16) {
	for s := range j.pkts {
		if int16(s-seq) < 0 {
			delete(j.pkts, s)
		}
	}
	j.next, j.left = seq, nil
}

// pop returns the next frame to play, or nil while buffering or silent.
func (j *jitterBuffer) pop() []int16 {
	j.mu.Lock()
	defer j.mu.Unlock()
	if !j.playing {
		if len(j.pkts) < j.target {
			j.level = 0
			return nil
		}
		j.playing = true
		// Start at the oldest packet held.
		first := true
		for s := range j.pkts {
			if first || int16(s-j.next) < 0 {
				j.next, first = s, false
			}
		}
	}
	// A backlog (packets that came while nobody played them, or a burst
	// after a stall) would otherwise stay as delay for the rest of the
	// call: once it has lasted half a second, skip it.
	if len(j.pkts) > j.target+2 {
		j.over++
	} else {
		j.over = 0
	}
	if j.over >= 25 {
		newest := j.next
		for s := range j.pkts {
			if int16(s-newest) > 0 {
				newest = s
			}
		}
		j.skipTo(newest - uint16(j.target) + 1)
		j.over = 0
	}
	out := make([]int16, 0, FrameSamples)
	for len(out) < FrameSamples {
		if len(j.left) > 0 {
			n := min(len(j.left), FrameSamples-len(out))
			out = append(out, j.left[:n]...)
			j.left = j.left[n:]
			continue
		}
		if len(j.pkts) == 0 {
			// Nothing more has come: buffer again, to the depth the
			// jitter measured so far calls for.
			j.playing = false
			j.target = min(maxTarget, max(minTarget, int(math.Ceil(3*j.jitter/FrameSamples))+1))
			break
		}
		p, ok := j.pkts[j.next]
		j.next++
		if !ok {
			j.concealed++
			if !j.conceal && j.last != nil {
				j.left = make([]int16, len(j.last))
				for i, s := range j.last {
					j.left[i] = s / 2
				}
				j.conceal = true
			} else {
				j.left = make([]int16, FrameSamples)
			}
			continue
		}
		delete(j.pkts, j.next-1)
		j.left, j.last, j.conceal = p, p, false
	}
	if len(out) == 0 {
		j.level = 0
		return nil
	}
	for len(out) < FrameSamples {
		out = append(out, 0)
	}
	j.level = peak(out)
	return out
}

// peak returns a frame's peak level, 0 to 1.
func peak(pcm []int16) float64 {
	var p int
	for _, s := range pcm {
		p = max(p, abs(int(s)))
	}
	return float64(p) / 32768
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// Quality is what one incoming stream's statistics say.
type Quality struct {
	Received  int64   `json:"received"`   // packets
	Lost      int64   `json:"lost"`       // packets expected and never come
	LossRate  float64 `json:"loss_rate"`  // Lost / expected, 0 to 1
	JitterMs  float64 `json:"jitter_ms"`  // RFC 3550 interarrival jitter
	BufferMs  int     `json:"buffer_ms"`  // the jitter buffer's playout depth
	Concealed int64   `json:"concealed"`  // frames filled in for missing packets
	Late      int64   `json:"late"`       // packets come after their time
	Level     float64 `json:"level"`      // the last frame's peak, 0 to 1
	RTTMs     float64 `json:"rtt_ms"`     // round trip, from ICE (0: not yet measured)
	LatencyMs float64 `json:"latency_ms"` // estimated one-way: network, buffer, mixing
}

func (j *jitterBuffer) quality() Quality {
	j.mu.Lock()
	defer j.mu.Unlock()
	q := Quality{Received: j.received, Concealed: j.concealed, Late: j.late, Level: j.level,
		JitterMs: j.jitter * 1000 / SampleRate, BufferMs: (len(j.pkts) + 1) * int(FrameTime/time.Millisecond)}
	if j.received > 0 {
		expected := int64(j.highest-j.first) + 1
		q.Lost = max(0, expected-j.received)
		q.LossRate = float64(q.Lost) / float64(expected)
	}
	return q
}
