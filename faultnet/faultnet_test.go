package faultnet

import (
	"bufio"
	"io"
	"net"
	"testing"
	"time"
)

// echo starts a line echo server.
func echo(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				io.Copy(c, c)
			}()
		}
	}()
	return ln.Addr().String()
}

func roundTrip(c net.Conn, r *bufio.Reader, line string) (string, error) {
	if _, err := c.Write([]byte(line + "\n")); err != nil {
		return "", err
	}
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	got, err := r.ReadString('\n')
	return got, err
}

func TestProxy(t *testing.T) {
	p, err := Listen(echo(t))
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	dial := func() (net.Conn, *bufio.Reader) {
		c, err := net.Dial("tcp", p.Addr())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c, bufio.NewReader(c)
	}

	c, r := dial()
	if got, err := roundTrip(c, r, "hello"); err != nil || got != "hello\n" {
		t.Fatalf("plain: %q, %v", got, err)
	}

	// Latency delays, and the data still arrives whole and in order.
	p.SetLatency(100 * time.Millisecond)
	p.SetBandwidth(2000)
	start := time.Now()
	long := string(make([]byte, 1000))
	if got, err := roundTrip(c, r, long); err != nil || got != long+"\n" {
		t.Fatalf("slow: %d bytes, %v", len(got), err)
	}
	if time.Since(start) < 200*time.Millisecond {
		t.Fatal("latency was not applied in both directions")
	}
	p.Heal()

	// A black hole swallows data; the connection stays open but silent.
	p.SetBlackhole(true)
	c.Write([]byte("lost\n"))
	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	if _, err := r.ReadString('\n'); err == nil {
		t.Fatal("data came out of a black hole")
	}
	p.Heal()

	// A partition cuts open connections and refuses new ones.
	c2, r2 := dial()
	if _, err := roundTrip(c2, r2, "before"); err != nil {
		t.Fatal(err)
	}
	p.Partition()
	if _, err := roundTrip(c2, r2, "during"); err == nil {
		t.Fatal("an open connection survived a partition")
	}
	// The TCP accept succeeds and the proxy resets it at once, so the dial
	// itself may already see the reset; either way nothing gets through.
	if c3, err := net.Dial("tcp", p.Addr()); err == nil {
		defer c3.Close()
		if _, err := roundTrip(c3, bufio.NewReader(c3), "new"); err == nil {
			t.Fatal("a new connection got through a partition")
		}
	}
	p.Heal()
	c4, r4 := dial()
	if got, err := roundTrip(c4, r4, "after"); err != nil || got != "after\n" {
		t.Fatalf("after heal: %q, %v", got, err)
	}
	if acc, ref, resets := p.Stats(); acc < 3 || ref < 1 || resets < 1 {
		t.Fatalf("stats: accepted %d refused %d resets %d", acc, ref, resets)
	}
}

func TestPacketConnDropsAndDelays(t *testing.T) {
	a, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	f := NewPacketConn(a, 1)
	f.SetLoss(0.2)
	f.SetLatency(50*time.Millisecond, 0)
	// Read as packets come, so the socket's buffer never overflows.
	type arrival struct{ at time.Time }
	got := make(chan arrival, 1000)
	go func() {
		buf := make([]byte, 16)
		for {
			if _, _, err := b.ReadFrom(buf); err != nil {
				close(got)
				return
			}
			got <- arrival{time.Now()}
		}
	}()
	start := time.Now()
	const n = 500
	for i := range n {
		if _, err := f.WriteTo([]byte{byte(i)}, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(200 * time.Microsecond) // paced, as media is: a burst would overflow the socket's buffer
	}
	sent, dropped := f.Stats()
	if sent+dropped != n || dropped < 60 || dropped > 140 {
		t.Fatalf("sent %d, dropped %d of %d at 20%% loss", sent, dropped, n)
	}
	b.SetReadDeadline(time.Now().Add(5 * time.Second))
	first := <-got
	if d := first.at.Sub(start); d < 50*time.Millisecond {
		t.Fatalf("the first packet came after %s, before its 50 ms of latency", d)
	}
	n1 := 1
	for n1 < int(sent) {
		if _, ok := <-got; !ok {
			break
		}
		n1++
	}
	if n1 != int(sent) {
		t.Fatalf("received %d of the %d sent", n1, sent)
	}
	f.Partition()
	f.WriteTo([]byte{1}, b.LocalAddr())
	if s, d := f.Stats(); s != sent || d != dropped+1 {
		t.Fatalf("a partition let a packet through: %d sent, %d dropped", s, d)
	}
}
