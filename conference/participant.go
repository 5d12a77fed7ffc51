package conference

import (
	"context"
	"fmt"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
)

// Participant is a person's end of a call outside a browser (the command
// line's call join): a peer connection to its own party's node that
// sends audio and plays out what it hears through a jitter buffer.
type Participant struct {
	pc    *webrtc.PeerConnection
	track *webrtc.TrackLocalStaticSample
	jb    *jitterBuffer
	up    chan struct{}
}

// Dial makes an offer, has signal carry it to the node and bring back its
// answer, and returns once the media is connected.
func Dial(ctx context.Context, o MediaOptions, signal func(ctx context.Context, offer string) (string, error)) (*Participant, error) {
	api, err := newAPI(o)
	if err != nil {
		return nil, err
	}
	pc, track, err := newAudioPC(api)
	if err != nil {
		return nil, err
	}
	p := &Participant{pc: pc, track: track, jb: newJitterBuffer(), up: make(chan struct{})}
	failed := make(chan struct{})
	pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		switch st {
		case webrtc.PeerConnectionStateConnected:
			select {
			case <-p.up:
			default:
				close(p.up)
			}
		case webrtc.PeerConnectionStateFailed:
			select {
			case <-failed:
			default:
				close(failed)
			}
		}
	})
	receive(pc, p.jb, nil)
	sdp, err := offer(ctx, pc)
	if err == nil {
		var ans string
		if ans, err = signal(ctx, sdp); err == nil {
			err = accept(pc, ans)
		}
	}
	if err != nil {
		pc.Close()
		return nil, err
	}
	select {
	case <-p.up:
		return p, nil
	case <-failed:
		err = fmt.Errorf("conference: the media connection to the node failed (are its UDP ports reachable?)")
	case <-ctx.Done():
		err = fmt.Errorf("conference: the media connection to the node was not up in time: %w", ctx.Err())
	}
	pc.Close()
	return nil, err
}

// Result is what a participant sent and heard.
type Result struct {
	Sent    int64   `json:"sent"`    // packets
	Heard   int64   `json:"heard"`   // frames with sound in them
	Frames  int64   `json:"frames"`  // frames played out, sound or silence
	Quality Quality `json:"quality"` // of what came from the node
}

// audible is the peak above which a frame counts as heard.
const audible = 0.01

// Run sends src (8 kHz samples) a frame every 20 ms, then silence, until
// ctx is done, and hands hear every frame it plays out (silence included),
// the first at start.
func (p *Participant) Run(ctx context.Context, src []int16, hear func(frame []int16)) Result {
	var res Result
	tick := time.NewTicker(FrameTime)
	defer tick.Stop()
	silence := make([]int16, FrameSamples)
	for i := 0; ; i++ {
		frame := silence
		if lo := i * FrameSamples; lo < len(src) {
			frame = make([]int16, FrameSamples)
			copy(frame, src[lo:min(len(src), lo+FrameSamples)])
		}
		if p.track.WriteSample(media.Sample{Data: encode(frame), Duration: FrameTime}) == nil {
			res.Sent++
		}
		got := p.jb.pop()
		if got != nil && peak(got) > audible {
			res.Heard++
		}
		if got == nil {
			got = silence
		}
		res.Frames++
		if hear != nil {
			hear(got)
		}
		select {
		case <-ctx.Done():
			res.Quality = p.jb.quality()
			res.Quality.RTTMs = float64(roundTrip(p.pc)) / 1e6
			return res
		case <-tick.C:
		}
	}
}

// Close hangs up.
func (p *Participant) Close() error { return p.pc.Close() }
