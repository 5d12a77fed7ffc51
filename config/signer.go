package config

import (
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
	socket, err := sshagent.Socket(c.Signer.Socket)
	if err != nil {
		return nil, err
	}
	s, err := sshagent.New(socket, pub)
	if err != nil {
		return nil, err
	}
	if s.Fingerprint() != c.Signer.Key {
		return nil, fmt.Errorf("keys/signing.pub is key %s, but signer.key says %s", s.Fingerprint(), c.Signer.Key)
	}
	return identity.NewSigningKey(party, s)
}
