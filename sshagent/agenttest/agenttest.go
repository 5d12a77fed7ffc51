// Package agenttest runs a real ssh-agent for tests, holding an Ed25519
// key made with ssh-keygen. Without OpenSSH's ssh-agent, ssh-add and
// ssh-keygen the tests skip, saying so, unless HOTLINE_REQUIRE_SSH_AGENT
// is set (CI sets it), which makes their absence a failure.
package agenttest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Agent is an ssh-agent process listening on Socket.
type Agent struct {
	Socket string
	// Key is the private key file (OpenSSH format) of the key it holds,
	// and Fingerprint its SHA256 fingerprint.
	Key, Fingerprint string
	// TLSKey and TLSFingerprint are a second key it holds, for a peer
	// link's TLS.
	TLSKey, TLSFingerprint string

	t     testing.TB
	cmd   *exec.Cmd
	added []string // more keys (Add), added again at each restart
}

// Start starts an agent in a temporary directory, makes an Ed25519 key
// and adds it; the agent is killed when the test ends.
func Start(t testing.TB) *Agent {
	t.Helper()
	for _, prog := range []string{"ssh-agent", "ssh-add", "ssh-keygen"} {
		if _, err := exec.LookPath(prog); err != nil {
			msg := fmt.Sprintf("no %s (Debian: apt-get install openssh-client): the ssh-agent tests need a real agent", prog)
			if os.Getenv("HOTLINE_REQUIRE_SSH_AGENT") != "" {
				t.Fatal(msg)
			}
			t.Skip(msg)
		}
	}
	dir, err := os.MkdirTemp("", "hotline-agent-") // short: a socket path has a small limit
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	a := &Agent{Socket: filepath.Join(dir, "agent.sock"), Key: filepath.Join(dir, "party_ed25519"), TLSKey: filepath.Join(dir, "tls_ed25519"), t: t}
	a.Fingerprint = keygen(t, a.Key)
	a.TLSFingerprint = keygen(t, a.TLSKey)
	a.Restart()
	t.Cleanup(a.Stop)
	return a
}

// Stop kills the agent, as when it crashes or its machine restarts; the
// key is gone from it.
func (a *Agent) Stop() {
	if a.cmd == nil {
		return
	}
	a.cmd.Process.Kill()
	a.cmd.Wait()
	a.cmd = nil
	os.Remove(a.Socket)
}

// Restart starts the agent again on the same socket and adds the key.
func (a *Agent) Restart() {
	a.t.Helper()
	a.Stop()
	a.cmd = exec.Command("ssh-agent", "-D", "-a", a.Socket)
	if err := a.cmd.Start(); err != nil {
		a.t.Fatalf("ssh-agent: %v", err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err := os.Stat(a.Socket); err == nil {
			break
		}
		if time.Now().After(deadline) {
			a.t.Fatal("ssh-agent made no socket within 10s")
		}
	}
	a.sshAdd(append([]string{a.Key, a.TLSKey}, a.added...)...)
}

// Add makes another Ed25519 key, adds it to the agent and returns its
// fingerprint (the next keys of a rotation).
func (a *Agent) Add() string {
	a.t.Helper()
	file := filepath.Join(filepath.Dir(a.Socket), fmt.Sprintf("key%d_ed25519", len(a.added)+1))
	fp := keygen(a.t, file)
	a.sshAdd(file)
	a.added = append(a.added, file)
	return fp
}

func (a *Agent) sshAdd(files ...string) {
	a.t.Helper()
	add := exec.Command("ssh-add", files...)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+a.Socket)
	if out, err := add.CombinedOutput(); err != nil {
		a.t.Fatalf("ssh-add: %v: %s", err, out)
	}
}

// keygen makes an Ed25519 key in file and returns its fingerprint.
func keygen(t testing.TB, file string) string {
	t.Helper()
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "hotline test key", "-f", file).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}
	out, err := exec.Command("ssh-keygen", "-l", "-E", "sha256", "-f", file+".pub").Output()
	if err != nil {
		t.Fatalf("ssh-keygen -l: %v", err)
	}
	f := strings.Fields(string(out))
	if len(f) < 2 {
		t.Fatalf("ssh-keygen -l printed %q", out)
	}
	return f[1]
}
