package devnet

import (
	"net"
	"strconv"
	"testing"
)

func TestFreeAddr_BelowEphemeralRangeAndBindable(t *testing.T) {
	low := ephemeralLow()
	for range 20 {
		addr, err := FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		_, port, _ := net.SplitHostPort(addr)
		n, _ := strconv.Atoi(port)
		if low-20000 >= 1000 && n >= low {
			t.Fatalf("FreeAddr gave %s, inside the ephemeral range from %d", addr, low)
		}
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("FreeAddr gave %s, which cannot be bound: %v", addr, err)
		}
		ln.Close()
	}
}
