package devnet

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// FreeAddr returns a loopback address with a port free right now, for a
// node that will bind it later and again after every restart.
//
// The port is taken below the kernel's ephemeral range: a port picked by
// listening on :0 lies inside that range, where any outgoing connection on
// the machine (another node's peer link, another test's client) may take it
// as its local port before the node binds it, or while it restarts. Below
// the range only another explicit bind can take it, such as another
// process's FreeAddr between this one's check and the node's bind: each
// port handed out is claimed for a while with a file in a directory all
// of them share (claimPort), so test packages running side by side do
// not hand out the same one.
func FreeAddr() (string, error) {
	lo, hi := 20000, ephemeralLow()-1
	if hi-lo < 1000 {
		return freeEphemeralAddr()
	}
	for range 200 {
		port := lo + rand.IntN(hi-lo+1)
		if !claimPort(port) {
			continue
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
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

// freeEphemeralAddr is the fallback when no port below the ephemeral
// range is free and unclaimed: one the kernel picks, claimed too.
func freeEphemeralAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("dev: find a free port: %w", err)
	}
	defer ln.Close()
	claimPort(ln.Addr().(*net.TCPAddr).Port)
	return ln.Addr().String(), nil
}

// portClaim is how long a port handed out stays claimed: longer than a
// test network lives.
const portClaim = 30 * time.Minute

// claimPort claims port for this process, unless another process on the
// machine claimed it within portClaim. A claim that cannot be recorded
// (no shared temporary directory) is granted: the bind check still runs.
func claimPort(port int) bool {
	dir := filepath.Join(os.TempDir(), "hotline-ports")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return true
	}
	path := filepath.Join(dir, strconv.Itoa(port))
	for range 2 {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o666)
		if err == nil {
			f.Close()
			return true
		}
		if !errors.Is(err, fs.ErrExist) {
			return true
		}
		fi, err := os.Stat(path)
		if err != nil || time.Since(fi.ModTime()) < portClaim {
			return false
		}
		os.Remove(path) // an old claim: take it over
	}
	return false
}
