package devnet

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"strconv"
	"strings"
)

// FreeAddr returns a loopback address with a port free right now, for a
// node that will bind it later and again after every restart.
//
// The port is taken below the kernel's ephemeral range: a port picked by
// listening on :0 lies inside that range, where any outgoing connection on
// the machine (another node's peer link, another test's client) may take it
// as its local port before the node binds it, or while it restarts. Below
// the range only another explicit bind can take it.
func FreeAddr() (string, error) {
	lo, hi := 20000, ephemeralLow()-1
	if hi-lo < 1000 {
		return freeEphemeralAddr()
	}
	for range 200 {
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(lo+rand.IntN(hi-lo+1)))
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			continue
		}
		ln.Close()
		return addr, nil
	}
	return freeEphemeralAddr()
}

// ephemeralLow is the lowest port the kernel hands out for outgoing
// connections and :0 listeners (32768 if it cannot be read).
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	n, err := strconv.Atoi(f[0])
	if err != nil || n < 1024 {
		return 32768
	}
	return n
}

func freeEphemeralAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("dev: find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}
