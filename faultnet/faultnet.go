// Package faultnet is a TCP proxy that injects the faults of real bearers
// between hotline nodes in tests: latency, low bandwidth (a satellite
// link), connection resets, black holes (packets vanish, connections hang)
// and partitions (nothing gets through, new connections are refused).
//
// A Proxy forwards every connection accepted on its loopback listener to
// one target address. Faults can be changed while connections are open;
// they apply to data from then on.
package faultnet

import (
	"errors"
	"io"
	"net"
	"sync"
	"time"
)

// Proxy forwards connections to a target, with faults.
type Proxy struct {
	ln net.Listener

	mu          sync.Mutex
	target      string
	latency     time.Duration // added to each direction
	bytesPerSec int           // 0: unlimited
	blackhole   bool          // accept and read, deliver nothing
	partitioned bool          // refuse new connections; existing ones are cut
	conns       map[net.Conn]bool
	closed      bool
	wg          sync.WaitGroup

	// Counters, for tests to check that faults were really exercised.
	accepted, refused, resets int
}

// Listen starts a proxy on a free loopback port forwarding to target. The
// target may be empty and set later with SetTarget (so a test can take its
// proxy ports before it picks ports for the servers behind them);
// connections arriving before then are refused.
func Listen(target string) (*Proxy, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Proxy{ln: ln, target: target, conns: make(map[net.Conn]bool)}
	p.wg.Add(1)
	go p.serve()
	return p, nil
}

// SetTarget sets the address new connections are forwarded to.
func (p *Proxy) SetTarget(target string) {
	p.mu.Lock()
	p.target = target
	p.mu.Unlock()
}

// Addr is the address to dial instead of the target.
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// SetLatency delays data in each direction by d.
func (p *Proxy) SetLatency(d time.Duration) {
	p.mu.Lock()
	p.latency = d
	p.mu.Unlock()
}

// SetBandwidth limits each direction of each connection to bytesPerSec;
// zero removes the limit.
func (p *Proxy) SetBandwidth(bytesPerSec int) {
	p.mu.Lock()
	p.bytesPerSec = bytesPerSec
	p.mu.Unlock()
}

// SetBlackhole makes data vanish (on) or flow again (off). Connections
// stay open, so the peers see only silence.
func (p *Proxy) SetBlackhole(on bool) {
	p.mu.Lock()
	p.blackhole = on
	p.mu.Unlock()
}

// Partition cuts every open connection and refuses new ones until Heal.
func (p *Proxy) Partition() {
	p.mu.Lock()
	p.partitioned = true
	p.mu.Unlock()
	p.Reset()
}

// Heal ends a partition and a black hole and removes latency and bandwidth
// limits.
func (p *Proxy) Heal() {
	p.mu.Lock()
	p.partitioned, p.blackhole, p.latency, p.bytesPerSec = false, false, 0, 0
	p.mu.Unlock()
}

// Reset closes every open connection abruptly (TCP RST where possible).
func (p *Proxy) Reset() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		if tc, ok := c.(*net.TCPConn); ok {
			tc.SetLinger(0)
		}
		c.Close()
		delete(p.conns, c)
		p.resets++
	}
}

// Stats returns how many connections were accepted, refused during a
// partition and reset.
func (p *Proxy) Stats() (accepted, refused, resets int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.accepted, p.refused, p.resets
}

// Close stops the proxy and cuts every connection.
func (p *Proxy) Close() error {
	p.mu.Lock()
	p.closed = true
	p.mu.Unlock()
	err := p.ln.Close()
	p.Reset()
	p.wg.Wait()
	return err
}

func (p *Proxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		if p.partitioned || p.closed {
			p.refused++
			p.mu.Unlock()
			if tc, ok := c.(*net.TCPConn); ok {
				tc.SetLinger(0)
			}
			c.Close()
			continue
		}
		p.accepted++
		p.mu.Unlock()
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.handle(c)
		}()
	}
}

func (p *Proxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.partitioned {
		return false
	}
	p.conns[c] = true
	return true
}

func (p *Proxy) untrack(c net.Conn) {
	p.mu.Lock()
	delete(p.conns, c)
	p.mu.Unlock()
}

func (p *Proxy) handle(client net.Conn) {
	p.mu.Lock()
	target := p.target
	p.mu.Unlock()
	if target == "" {
		client.Close()
		return
	}
	server, err := net.DialTimeout("tcp", target, 5*time.Second)
	if err != nil {
		client.Close()
		return
	}
	if !p.track(client) || !p.track(server) {
		client.Close()
		server.Close()
		p.untrack(client)
		return
	}
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); p.pump(server, client) }()
	go func() { defer wg.Done(); p.pump(client, server) }()
	wg.Wait()
	p.untrack(client)
	p.untrack(server)
}

// chunk is data read from one side, due for delivery at a time.
type chunk struct {
	data []byte
	due  time.Time
}

// pump copies src to dst with the proxy's faults: a reader stamps each
// chunk with its due time, a writer delivers chunks in order when due, at
// the allowed rate. When either side ends, both are closed.
func (p *Proxy) pump(dst, src net.Conn) {
	defer dst.Close()
	defer src.Close()
	q := make(chan chunk, 256)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for c := range q {
			if d := time.Until(c.due); d > 0 {
				time.Sleep(d)
			}
			for len(c.data) > 0 {
				p.mu.Lock()
				bw, hole := p.bytesPerSec, p.blackhole
				p.mu.Unlock()
				if hole {
					break // vanished
				}
				n := len(c.data)
				if bw > 0 {
					n = min(n, max(bw/20, 1)) // 50 ms worth at a time
				}
				if _, err := dst.Write(c.data[:n]); err != nil {
					src.Close() // end the reader too
					for range q {
					}
					return
				}
				if bw > 0 {
					time.Sleep(time.Duration(n) * time.Second / time.Duration(bw))
				}
				c.data = c.data[n:]
			}
		}
	}()
	buf := make([]byte, 16<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 {
			p.mu.Lock()
			lat := p.latency
			p.mu.Unlock()
			q <- chunk{data: append([]byte(nil), buf[:n]...), due: time.Now().Add(lat)}
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				dst.Close() // pass an abrupt end on at once
			}
			break
		}
	}
	close(q)
	<-done
}
