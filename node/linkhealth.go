package node

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/peer"
)

// heartbeatLoop tests every endpoint of one peer with a signed heartbeat at
// the heartbeat interval, until the node closes, whatever the state of the
// channels: a link must be known to work before it is needed. It records
// each outcome as link history and raises an alarm when the peer has been
// silent too long.
func (n *Node) heartbeatLoop(p *pinnedPeer) {
	for {
		n.heartbeat(p)
		if !n.sleep(n.beat, nil) {
			return
		}
	}
}

// heartbeat tests each endpoint of p once, in parallel.
func (n *Node) heartbeat(p *pinnedPeer) {
	ctx, cancel := context.WithTimeout(n.ctx, n.beat)
	defer cancel()
	eps := p.doc.Endpoints
	tests := make([]hotline.LinkTest, len(eps))
	done := make(chan struct{}, len(eps))
	for i, ep := range eps {
		go func() {
			defer func() { done <- struct{}{} }()
			rtt, err := n.heartbeatOnce(ctx, p, i)
			tests[i] = hotline.LinkTest{Time: n.now(), Peer: p.doc.Party, Endpoint: ep, OK: err == nil, RTT: rtt}
			result := "ok"
			if err != nil {
				tests[i].Error, tests[i].RTT, result = err.Error(), 0, "failed"
			} else {
				n.metrics.endpointRTT.WithLabelValues(p.doc.Party, ep).Set(rtt.Seconds())
			}
			n.metrics.heartbeats.WithLabelValues(p.doc.Party, ep, result).Inc()
		}()
	}
	for range eps {
		<-done
	}
	if n.ctx.Err() != nil {
		return
	}
	for _, t := range tests {
		if t.OK {
			p.link.contact(t.Time, t.RTT)
			break
		}
	}
	if err := n.store.AddLinkTests(n.ctx, tests, n.history); err != nil && n.ctx.Err() == nil {
		n.log.Error("record link tests", "peer", p.doc.Party, "err", err)
	}
	n.checkSilence(p)
}

// heartbeatOnce sends one signed heartbeat to endpoint i and checks the
// signed answer.
func (n *Node) heartbeatOnce(ctx context.Context, p *pinnedPeer, i int) (time.Duration, error) {
	hb := peer.Heartbeat{From: n.self, To: p.doc.Party, Time: n.now().UnixMilli()}
	rand.Read(hb.Nonce[:])
	signed, err := peer.SignHeartbeat(hb, n.signing())
	if err != nil {
		return 0, err
	}
	answer, rtt, err := p.client.Heartbeat(ctx, i, signed)
	if err != nil {
		return 0, err
	}
	got, err := n.openHeartbeat(p.doc.Party, answer)
	if err != nil {
		return 0, err
	}
	if !got.Reply || got.Nonce != hb.Nonce || got.From != p.doc.Party || got.To != n.self {
		return 0, errors.New("heartbeat answer does not match the heartbeat sent")
	}
	return rtt, nil
}

// PeerHeartbeat implements peer.Handler: it checks a heartbeat signed by
// party and answers with one signed by this node.
func (n *Node) PeerHeartbeat(ctx context.Context, party string, signed []byte) ([]byte, error) {
	p := n.peers[party]
	if p == nil {
		return nil, fmt.Errorf("heartbeat from unpinned party %s", party)
	}
	hb, err := n.openHeartbeat(party, signed)
	if err != nil {
		return nil, err
	}
	if hb.From != party || hb.To != n.self || hb.Reply {
		return nil, fmt.Errorf("%w: heartbeat from %s to %s arrived over %s's link to %s", peer.ErrMalformed, hb.From, hb.To, party, n.self)
	}
	n.heardFrom(party)
	return peer.SignHeartbeat(peer.Heartbeat{From: n.self, To: party, Time: n.now().UnixMilli(), Nonce: hb.Nonce, Reply: true}, n.signing())
}

// heardFrom records a request from a pinned party.
func (n *Node) heardFrom(party string) {
	if p := n.peers[party]; p != nil {
		p.link.heard(n.now())
		n.checkSilence(p)
	}
}

// checkSilence raises an alarm when a peer falls silent, and announces
// when it is heard again.
func (n *Node) checkSilence(p *pinnedPeer) {
	silentFor, changed, silent := p.link.checkSilence(n.now(), n.silence)
	if !changed {
		return
	}
	party := p.doc.Party
	if silent {
		n.metrics.peerSilent.WithLabelValues(party).Set(1)
		detail := fmt.Sprintf("no contact with %s for %s on any endpoint", party, silentFor.Round(time.Second))
		n.log.Error("LINK SILENT", "peer", party, "for", silentFor.Round(time.Second))
		n.events.publish(Event{Type: EventAlarm, By: party, Detail: detail})
		return
	}
	n.metrics.peerSilent.WithLabelValues(party).Set(0)
	n.log.Info("link restored", "peer", party)
	n.events.publish(Event{Type: EventLink, By: party, Detail: "contact with " + party + " restored"})
}

// LinkHistory returns the newest link tests, newest first; peer "" means
// every peer.
func (n *Node) LinkHistory(ctx context.Context, peer string, limit int) ([]hotline.LinkTest, error) {
	if peer != "" {
		if _, ok := n.peers[peer]; !ok {
			return nil, hotline.Errorf(hotline.ENOTFOUND, "no pinned party %q", peer)
		}
	}
	return n.store.LinkTests(ctx, peer, limit)
}

// openHeartbeat checks a heartbeat signed by party: by its current key,
// or by the one before, which its node signs with until it has the
// rotation (a heartbeat can overtake the key change).
func (n *Node) openHeartbeat(party string, signed []byte) (*peer.Heartbeat, error) {
	var err error
	for _, k := range slices.Backward(n.keys.Recent(party)) {
		var hb *peer.Heartbeat
		if hb, err = peer.OpenHeartbeat(signed, k.Pub); err == nil {
			return hb, nil
		}
	}
	if err == nil {
		err = fmt.Errorf("heartbeat from %s, whose key is not known", party)
	}
	return nil, err
}
