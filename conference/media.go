package conference

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// MaxSDPBytes bounds a session description taken from a participant or a
// peer.
const MaxSDPBytes = 64 << 10

// MediaOptions say where a node's (or a participant's) media sockets
// listen and which addresses it offers.
type MediaOptions struct {
	// Loopback offers loopback addresses too: for nodes and participants
	// on one machine (tests, hotline dev).
	Loopback bool
	// UDPPortMin and UDPPortMax bound the UDP ports the media uses (both
	// zero: any ephemeral port); firewalls open this range.
	UDPPortMin, UDPPortMax uint16
	// PublicIPs are the addresses to offer instead of the interfaces'
	// own, behind a 1:1 NAT.
	PublicIPs []string
	// UDP, when set, carries all the media on this one socket (ICE
	// multiplexes every connection on it) instead of a port for each.
	UDP net.PacketConn
	// Logger takes the WebRTC stack's logs, at debug level; nil: none.
	Logger *slog.Logger
}

// newAPI returns a WebRTC API that negotiates G.711 µ-law audio only,
// with RTCP reports and statistics, and ICE on host candidates: no STUN
// or TURN server, so no third party sees the call.
func newAPI(o MediaOptions) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterCodec(webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: SampleRate, Channels: 1},
		PayloadType:        0,
	}, webrtc.RTPCodecTypeAudio); err != nil {
		return nil, err
	}
	ir := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(ir); err != nil {
		return nil, err
	}
	var se webrtc.SettingEngine
	se.LoggerFactory = pionLogs{cmp.Or(o.Logger, slog.New(slog.DiscardHandler))}
	se.SetIncludeLoopbackCandidate(o.Loopback)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6})
	if o.UDPPortMin != 0 || o.UDPPortMax != 0 {
		if err := se.SetEphemeralUDPPortRange(o.UDPPortMin, o.UDPPortMax); err != nil {
			return nil, fmt.Errorf("media UDP ports %d-%d: %w", o.UDPPortMin, o.UDPPortMax, err)
		}
	}
	if o.UDP != nil {
		se.SetICEUDPMux(ice.NewUDPMuxDefault(ice.UDPMuxParams{UDPConn: o.UDP, Logger: se.LoggerFactory.NewLogger("udpmux")}))
	}
	if len(o.PublicIPs) > 0 {
		// Behind a 1:1 NAT: offer the public addresses in place of the
		// host candidates' own.
		if err := se.SetICEAddressRewriteRules(webrtc.ICEAddressRewriteRule{External: o.PublicIPs, AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode: webrtc.ICEAddressRewriteReplace}); err != nil {
			return nil, fmt.Errorf("call.public_ips: %w", err)
		}
	}
	// A break of a few seconds is ridden out (the ICE consent checks
	// resume); a link silent for 15 s has failed and is set up again.
	se.SetICETimeouts(4*time.Second, 15*time.Second, time.Second)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(ir), webrtc.WithSettingEngine(se)), nil
}

// newAudioPC returns a peer connection with one send-and-receive audio
// track, and that track.
func newAudioPC(api *webrtc.API) (*webrtc.PeerConnection, *webrtc.TrackLocalStaticSample, error) {
	pc, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, nil, err
	}
	track, err := webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypePCMU, ClockRate: SampleRate, Channels: 1}, "audio", "hotline")
	if err != nil {
		pc.Close()
		return nil, nil, err
	}
	if _, err := pc.AddTransceiverFromTrack(track, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendrecv}); err != nil {
		pc.Close()
		return nil, nil, err
	}
	return pc, track, nil
}

// ErrBadSDP reports a session description that cannot be used.
var ErrBadSDP = errors.New("conference: unusable session description")

// answer sets offer as pc's remote description and returns the complete
// answer, every candidate gathered (no trickle).
func answer(ctx context.Context, pc *webrtc.PeerConnection, offer string) (string, error) {
	if len(offer) > MaxSDPBytes {
		return "", fmt.Errorf("%w: %d bytes, limit %d", ErrBadSDP, len(offer), MaxSDPBytes)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return "", fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	return local(ctx, pc, ans)
}

// offer returns pc's complete offer.
func offer(ctx context.Context, pc *webrtc.PeerConnection) (string, error) {
	o, err := pc.CreateOffer(nil)
	if err != nil {
		return "", err
	}
	return local(ctx, pc, o)
}

// local sets d as pc's local description and waits for ICE gathering.
func local(ctx context.Context, pc *webrtc.PeerConnection, d webrtc.SessionDescription) (string, error) {
	done := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return "", err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	return pc.LocalDescription().SDP, nil
}

// accept sets answer as pc's remote description.
func accept(pc *webrtc.PeerConnection, ans string) error {
	if len(ans) > MaxSDPBytes {
		return fmt.Errorf("%w: %d bytes, limit %d", ErrBadSDP, len(ans), MaxSDPBytes)
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: ans}); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSDP, err)
	}
	return nil
}

// receive reads the PCMU packets of pc's incoming audio into jb until the
// track ends.
func receive(pc *webrtc.PeerConnection, jb *jitterBuffer, got func()) {
	pc.OnTrack(func(t *webrtc.TrackRemote, _ *webrtc.RTPReceiver) {
		if t.Kind() != webrtc.RTPCodecTypeAudio {
			return
		}
		for {
			pkt, _, err := t.ReadRTP()
			if err != nil {
				return
			}
			if pkt.PayloadType != 0 {
				continue // comfort noise, DTMF: not played
			}
			jb.push(pkt.SequenceNumber, pkt.Timestamp, pkt.Payload, time.Now())
			if got != nil {
				got()
			}
		}
	})
}

// roundTrip returns the round trip time of pc's selected candidate pair,
// from ICE's own checks; 0 before one is measured.
func roundTrip(pc *webrtc.PeerConnection) time.Duration {
	for _, s := range pc.GetStats() {
		if p, ok := s.(webrtc.ICECandidatePairStats); ok && p.Nominated && p.CurrentRoundTripTime > 0 {
			return time.Duration(p.CurrentRoundTripTime * float64(time.Second))
		}
	}
	return 0
}
