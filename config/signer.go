package config

import (
	"crypto/ed25519"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/sshagent"
)

// Signer types (signer.type).
const (
	SignerFile  = "file"      // keys/signing.key
	SignerAgent = "ssh-agent" // an ssh-agent holds the key; keys/signing.pub its public half
)

// keyFile is one file of a new node directory.
type keyFile struct {
	name string
	data []byte
	mode fs.FileMode
}

// newSigningKey makes a new party's signing key file: a fresh private
// key, or, with an ssh-agent signer, the public half of the agent's key.
func newSigningKey(cfg *Config) (keyFile, error) {
	if cfg.Signer.Type != SignerAgent {
		key, err := identity.GenerateSigningKey(cfg.Party)
		if err != nil {
			return keyFile{}, err
		}
		return keyFile{"keys/signing.key", []byte(key.SignerKey() + "\n"), 0o600}, nil
	}
	socket, err := sshagent.Socket(cfg.Signer.Socket)
	if err != nil {
		return keyFile{}, err
	}
	pub, err := sshagent.Find(socket, cfg.Signer.Key)
	if err != nil {
		return keyFile{}, err
	}
	vkey, err := note.NewEd25519VerifierKey(cfg.Party, pub)
	if err != nil {
		return keyFile{}, err
	}
	return keyFile{"keys/signing.pub", []byte(vkey + "\n"), 0o600}, nil
}

// loadSigningKey reads the party key of the node directory dir: the key
// file, or the public half of an ssh-agent's key and a signer that asks
// the agent. The agent need not be up: signing fails until it is.
func loadSigningKey(dir string, c *Config) (*identity.SigningKey, error) {
	if c.Signer.Type != SignerAgent {
		b, err := os.ReadFile(filepath.Join(dir, "keys/signing.key"))
		if err != nil {
			return nil, fmt.Errorf("read signing key: %w", err)
		}
		return identity.ParseSignerKey(string(b))
	}
	if _, err := os.Stat(filepath.Join(dir, "keys/signing.key")); err == nil {
		return nil, fmt.Errorf("signer.type is %s, but %s holds a private party key: remove it (it would be on the disk for nothing)", SignerAgent, filepath.Join(dir, "keys/signing.key"))
	}
	b, err := os.ReadFile(filepath.Join(dir, "keys/signing.pub"))
	if err != nil {
		return nil, fmt.Errorf("read the party key's public half: %w", err)
	}
	party, pub, err := identity.ParseVerifierKey(strings.TrimSpace(string(b)))
	if err != nil {
		return nil, err
	}
	s, err := agentKey(c, pub, "keys/signing.pub", "signer.key", c.Signer.Key)
	if err != nil {
		return nil, err
	}
	return identity.NewSigningKey(party, s)
}

// agentKey is the signer of the agent's key pub, which file holds the
// public half of and setting names by fingerprint (want).
func agentKey(c *Config, pub ed25519.PublicKey, file, setting, want string) (*sshagent.Signer, error) {
	s, err := agentSignerFor(c, pub)
	if err != nil {
		return nil, err
	}
	if s.Fingerprint() != want {
		return nil, fmt.Errorf("%s is key %s, but %s says %s", file, s.Fingerprint(), setting, want)
	}
	return s, nil
}

// newTLSKey makes a new party's peer-link key files: a fresh key and its
// certificate, or, with signer.tls_key, the certificate of the agent's
// key alone.
func newTLSKey(cfg *Config) ([]keyFile, error) {
	if cfg.Signer.TLSKey == "" {
		certPEM, keyPEM, err := identity.GenerateTLSKey(cfg.Party)
		if err != nil {
			return nil, err
		}
		return []keyFile{{"keys/tls.crt", certPEM, 0o600}, {"keys/tls.key", keyPEM, 0o600}}, nil
	}
	s, err := agentSigner(cfg, cfg.Signer.TLSKey)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	certPEM, err := identity.TLSCertificate(cfg.Party, s)
	if err != nil {
		return nil, err
	}
	return []keyFile{{"keys/tls.crt", certPEM, 0o600}}, nil
}

// agentSignerFor is the signer of the key pub in the configured agent.
func agentSignerFor(c *Config, pub ed25519.PublicKey) (*sshagent.Signer, error) {
	socket, err := sshagent.Socket(c.Signer.Socket)
	if err != nil {
		return nil, err
	}
	return sshagent.New(socket, pub)
}

// agentSigner finds the agent's key by fingerprint and returns its signer.
func agentSigner(cfg *Config, fingerprint string) (*sshagent.Signer, error) {
	socket, err := sshagent.Socket(cfg.Signer.Socket)
	if err != nil {
		return nil, err
	}
	pub, err := sshagent.Find(socket, fingerprint)
	if err != nil {
		return nil, err
	}
	return sshagent.New(socket, pub)
}

// loadTLSKey reads the peer-link key of the node directory dir: the key
// file, or, with signer.tls_key, a signer that asks the agent. As for the
// party key, the agent need not be up: handshakes fail until it is.
func loadTLSKey(dir string, c *Config) (*identity.TLSKey, error) {
	certPEM, err := os.ReadFile(filepath.Join(dir, "keys/tls.crt"))
	if err != nil {
		return nil, fmt.Errorf("read TLS certificate: %w", err)
	}
	if c.Signer.TLSKey == "" {
		keyPEM, err := os.ReadFile(filepath.Join(dir, "keys/tls.key"))
		if err != nil {
			return nil, fmt.Errorf("read TLS key: %w", err)
		}
		return identity.LoadTLSKey(certPEM, keyPEM)
	}
	if _, err := os.Stat(filepath.Join(dir, "keys/tls.key")); err == nil {
		return nil, fmt.Errorf("signer.tls_key is set, but %s holds a private TLS key: remove it", filepath.Join(dir, "keys/tls.key"))
	}
	pub, err := identity.TLSCertificateKey(certPEM)
	if err != nil {
		return nil, fmt.Errorf("keys/tls.crt: %w", err)
	}
	s, err := agentKey(c, pub, "keys/tls.crt", "signer.tls_key", c.Signer.TLSKey)
	if err != nil {
		return nil, err
	}
	return identity.TLSKeyWithSigner(certPEM, s)
}
