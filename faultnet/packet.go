package faultnet

import (
	"math/rand/v2"
	"net"
	"sync"
	"time"
)

// PacketConn wraps a UDP socket and injects a bearer's faults into what
// it sends: random loss, latency (with jitter) and partitions. Wrap each
// end's socket to fault both directions. Delayed packets are sent from
// timers, so jitter may reorder them, as real networks do.
type PacketConn struct {
	net.PacketConn

	mu          sync.Mutex
	loss        float64
	latency     time.Duration
	jitter      time.Duration
	partitioned bool
	rng         *rand.Rand
	sent        int64
	dropped     int64
}

// NewPacketConn wraps c; seed makes its losses repeatable.
func NewPacketConn(c net.PacketConn, seed uint64) *PacketConn {
	return &PacketConn{PacketConn: c, rng: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

// SetLoss drops this fraction (0 to 1) of the packets sent.
func (p *PacketConn) SetLoss(rate float64) {
	p.mu.Lock()
	p.loss = rate
	p.mu.Unlock()
}

// SetLatency delays each packet sent by d, give or take jitter.
func (p *PacketConn) SetLatency(d, jitter time.Duration) {
	p.mu.Lock()
	p.latency, p.jitter = d, jitter
	p.mu.Unlock()
}

// Partition drops every packet sent until Heal.
func (p *PacketConn) Partition() {
	p.mu.Lock()
	p.partitioned = true
	p.mu.Unlock()
}

// Heal ends a partition.
func (p *PacketConn) Heal() {
	p.mu.Lock()
	p.partitioned = false
	p.mu.Unlock()
}

// Stats returns the packets sent (delivered to the socket) and dropped.
func (p *PacketConn) Stats() (sent, dropped int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sent, p.dropped
}

// WriteTo sends b to addr, or drops or delays it.
func (p *PacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	p.mu.Lock()
	drop := p.partitioned || p.loss > 0 && p.rng.Float64() < p.loss
	delay := p.latency
	if p.jitter > 0 {
		delay += time.Duration(p.rng.Int64N(int64(2*p.jitter))) - p.jitter
	}
	if drop {
		p.dropped++
	} else {
		p.sent++
	}
	p.mu.Unlock()
	switch {
	case drop:
		return len(b), nil
	case delay <= 0:
		return p.PacketConn.WriteTo(b, addr)
	}
	buf := append([]byte(nil), b...)
	time.AfterFunc(delay, func() { p.PacketConn.WriteTo(buf, addr) })
	return len(b), nil
}
