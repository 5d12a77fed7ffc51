package conference

import (
	"testing"
	"time"
)

func frameOf(v int16) []byte {
	pcm := make([]int16, FrameSamples)
	for i := range pcm {
		pcm[i] = v
	}
	return encode(pcm)
}

// TestJitterBufferReordersConcealsAndDrainsABacklog: packets out of order
// play in order; a missing one is filled in once, quieter; a backlog
// left by a stall is skipped within half a second instead of staying as
// delay; loss and lateness are counted.
func TestJitterBufferReordersConcealsAndDrainsABacklog(t *testing.T) {
	j := newJitterBuffer()
	now := time.Now()
	j.push(1, 160, frameOf(1000), now)
	j.push(3, 480, frameOf(3000), now)
	j.push(2, 320, frameOf(2000), now)
	for i, want := range []int16{1000, 2000, 3000} {
		f := j.pop()
		if f == nil || int(f[0]) < int(want)*9/10 || int(f[0]) > int(want)*11/10 {
			t.Fatalf("frame %d: %v, want about %d", i, f, want)
		}
	}
	// 4 is lost: 5 and 6 come; 4 is concealed with 3, halved.
	j.push(5, 800, frameOf(5000), now)
	j.push(6, 960, frameOf(6000), now)
	if f := j.pop(); f == nil || f[0] < 1300 || f[0] > 1700 {
		t.Fatalf("the lost frame is %v, want 3000 halved", f[:1])
	}
	if f := j.pop(); f == nil || f[0] < 4500 {
		t.Fatalf("after the loss: %v", f[:1])
	}
	j.push(4, 640, frameOf(4000), now) // too late now
	if q := j.quality(); q.Lost != 0 || q.Late != 1 || q.Concealed != 1 {
		t.Fatalf("quality %+v", q)
	}
	// A backlog of 40 frames, then one a tick: within 30 ticks the
	// buffer is back to a frame or two.
	for s := uint16(7); s < 47; s++ {
		j.push(s, uint32(s)*160, frameOf(100), now)
	}
	next := uint16(47)
	for range 30 {
		j.push(next, uint32(next)*160, frameOf(100), now)
		next++
		j.pop()
	}
	if n := len(j.pkts); n > j.target+2 {
		t.Fatalf("%d frames still buffered after the backlog", n)
	}
}
