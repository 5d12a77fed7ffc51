// Package sshagent signs with an Ed25519 key held by an ssh-agent, so
// that the node keeps no private party key on disk. The agent may keep
// the key in hardware: a YubiKey through yubikey-agent, a TPM-backed
// agent, or an HSM through OpenSSH's PKCS#11 support (ssh-add -s).
//
// The key is named by its SHA256 fingerprint, as ssh-keygen -l and
// ssh-add -l print it. A Signer connects to the agent's socket when it
// first signs and again after any failure, so a node whose agent was
// restarted signs again without a restart of its own.
package sshagent

import (
	"crypto"
	"crypto/ed25519"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// Timeout bounds connecting to the agent and each signature: an agent
// that hangs fails the write instead of holding it. A hardware key that
// waits for a touch must be set not to. (A variable for tests.)
var Timeout = 5 * time.Second

// Signer is a crypto.Signer whose key is in an ssh-agent.
type Signer struct {
	socket string
	pub    ed25519.PublicKey
	sshPub ssh.PublicKey

	mu     sync.Mutex // one request at a time on the connection
	conn   net.Conn
	client agent.ExtendedAgent // the connection's one client, serial: see newClient
}

var _ crypto.Signer = (*Signer)(nil)

// Socket returns the agent socket to use: socket if set, else
// $SSH_AUTH_SOCK.
func Socket(socket string) (string, error) {
	if socket != "" {
		return socket, nil
	}
	if s := os.Getenv("SSH_AUTH_SOCK"); s != "" {
		return s, nil
	}
	return "", errors.New("sshagent: no agent socket: set signer.socket, or SSH_AUTH_SOCK")
}

// Find asks the agent at socket for the Ed25519 key whose fingerprint is
// fingerprint (SHA256:...), and returns its public half.
func Find(socket, fingerprint string) (ed25519.PublicKey, error) {
	if !strings.HasPrefix(fingerprint, "SHA256:") {
		return nil, fmt.Errorf("sshagent: key %q: give its SHA256 fingerprint, as ssh-add -l prints it (SHA256:...)", fingerprint)
	}
	conn, err := net.DialTimeout("unix", socket, Timeout)
	if err != nil {
		return nil, fmt.Errorf("sshagent: connect to the agent at %s: %w", socket, err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(Timeout))
	keys, err := newClient(conn).List()
	if err != nil {
		return nil, fmt.Errorf("sshagent: list the agent's keys: %w", err)
	}
	var have []string
	for _, k := range keys {
		pub, err := ssh.ParsePublicKey(k.Blob)
		if err != nil {
			continue
		}
		fp := ssh.FingerprintSHA256(pub)
		if fp != fingerprint {
			have = append(have, fp+" ("+pub.Type()+")")
			continue
		}
		cp, ok := pub.(ssh.CryptoPublicKey)
		if !ok {
			return nil, fmt.Errorf("sshagent: key %s is not a plain public key", fp)
		}
		ed, ok := cp.CryptoPublicKey().(ed25519.PublicKey)
		if !ok {
			return nil, fmt.Errorf("sshagent: key %s is %s; the party key must be Ed25519 (ssh-keygen -t ed25519)", fp, pub.Type())
		}
		return ed, nil
	}
	if len(have) == 0 {
		return nil, fmt.Errorf("sshagent: the agent at %s holds no keys; add the party key (ssh-add)", socket)
	}
	return nil, fmt.Errorf("sshagent: the agent at %s holds no key %s; it holds %s", socket, fingerprint, strings.Join(have, ", "))
}

// New returns a signer for the Ed25519 key pub in the agent at socket.
// It does not connect yet: a node starts while its agent is down, and
// signs once it is up.
func New(socket string, pub ed25519.PublicKey) (*Signer, error) {
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return &Signer{socket: socket, pub: pub, sshPub: sshPub}, nil
}

// Fingerprint is the key's SHA256 fingerprint.
func (s *Signer) Fingerprint() string { return ssh.FingerprintSHA256(s.sshPub) }

// Public implements crypto.Signer.
func (s *Signer) Public() crypto.PublicKey { return s.pub }

// Sign implements crypto.Signer: msg is signed whole, as Ed25519 signs
// (opts must be crypto.Hash(0)).
func (s *Signer) Sign(_ io.Reader, msg []byte, opts crypto.SignerOpts) ([]byte, error) {
	if opts != nil && opts.HashFunc() != 0 {
		return nil, errors.New("sshagent: Ed25519 signs the message itself, not a digest")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		conn, err := net.DialTimeout("unix", s.socket, Timeout)
		if err != nil {
			return nil, fmt.Errorf("ssh-agent at %s: %w", s.socket, err)
		}
		s.conn, s.client = conn, newClient(conn)
	}
	s.conn.SetDeadline(time.Now().Add(Timeout))
	sig, err := s.client.Sign(s.sshPub, msg)
	s.conn.SetDeadline(time.Time{})
	if err != nil {
		s.conn.Close()
		s.conn, s.client = nil, nil // connect again next time: the agent may have restarted
		return nil, fmt.Errorf("ssh-agent at %s, key %s: %w", s.socket, s.Fingerprint(), err)
	}
	if sig.Format != ssh.KeyAlgoED25519 || len(sig.Blob) != ed25519.SignatureSize {
		return nil, fmt.Errorf("ssh-agent at %s answered with a %s signature, not Ed25519", s.socket, sig.Format)
	}
	return sig.Blob, nil
}

// newClient is an agent client that reads each answer in the call that
// asked for it, under the connection's deadline. (Given the connection
// itself, agent.NewClient would read answers in a goroutine of its own,
// which the deadline of one call would then end while idle, failing the
// next call on a connection that is fine.)
func newClient(conn net.Conn) agent.ExtendedAgent {
	return agent.NewClient(struct{ io.ReadWriter }{conn})
}

// Close closes the connection to the agent, if one is open.
func (s *Signer) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close()
	s.conn, s.client = nil, nil
	return err
}
