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

// A port handed out is claimed: neither this process nor another one on
// the machine is given it again while the claim lasts.
func TestFreeAddr_APortIsHandedOutOnce(t *testing.T) {
	seen := make(map[string]bool)
	for range 50 {
		addr, err := FreeAddr()
		if err != nil {
			t.Fatal(err)
		}
		if seen[addr] {
			t.Fatalf("%s handed out twice", addr)
		}
		seen[addr] = true
		_, port, _ := net.SplitHostPort(addr)
		p, _ := strconv.Atoi(port)
		if claimPort(p) {
			t.Fatalf("%s is not claimed after being handed out", addr)
		}
	}
}
