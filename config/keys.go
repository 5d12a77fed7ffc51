package config

import (
	"crypto/ed25519"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/mod/sumdb/note"

	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/sshagent"
)

// The next keys, prepared for a rotation (hotline key new, or the node
// itself for key files): they are on disk before any entry names them,
// and become the node's keys once the rotation is committed (signing) and
// once every peer holds it (TLS). See docs/KEYS.md.
const (
	nextSigningKey = "keys/signing.next"     // a key file's successor
	nextSigningPub = "keys/signing.next.pub" // an agent key's successor: its public half
	nextTLSCert    = "keys/tls.next.crt"
	nextTLSKey     = "keys/tls.next.key" // absent when the agent holds the TLS key
)

// ErrNotPrepared is returned by PrepareKeys when the keys are in an
// ssh-agent and the next ones were not prepared with hotline key new.
var ErrNotPrepared = errors.New("the party's keys are in an ssh-agent: add the next keys to the agent, then prepare them with hotline key new --dir DIR --signer-key SHA256:… (and --signer-tls-key SHA256:… if the TLS key is in the agent too)")

// NewKeys prepares the next keys for a rotation: fresh key files, or, with
// an ssh-agent signer, the agent's keys with fingerprints signerKey (and
// tlsKey, if the TLS key is in the agent). It refuses when next keys are
// already prepared.
func (d *Dir) NewKeys(signerKey, tlsKey string) (*identity.SigningKey, *identity.TLSKey, error) {
	for _, f := range []string{nextSigningKey, nextSigningPub, nextTLSCert, nextTLSKey} {
		if _, err := os.Stat(filepath.Join(d.Path, f)); err == nil {
			return nil, nil, fmt.Errorf("next keys are already prepared (%s exists): rotate to them with hotline key rotate, or remove keys/*.next* to prepare others", filepath.Join(d.Path, f))
		}
	}
	agent := d.Config.Signer.Type == SignerAgent
	switch {
	case agent && !strings.HasPrefix(signerKey, "SHA256:"):
		return nil, nil, fmt.Errorf("the party key is in an ssh-agent: give the next key's fingerprint with --signer-key SHA256:… (ssh-add -l lists them)")
	case !agent && signerKey != "":
		return nil, nil, fmt.Errorf("the party key is a key file (signer.type is %s): --signer-key is for a key in an ssh-agent", SignerFile)
	case d.Config.Signer.TLSKey != "" && !strings.HasPrefix(tlsKey, "SHA256:"):
		return nil, nil, fmt.Errorf("the TLS key is in an ssh-agent: give the next one's fingerprint with --signer-tls-key SHA256:…")
	case d.Config.Signer.TLSKey == "" && tlsKey != "":
		return nil, nil, fmt.Errorf("the TLS key is a key file (signer.tls_key is not set): --signer-tls-key is for a key in an ssh-agent")
	case signerKey != "" && signerKey == tlsKey:
		return nil, nil, fmt.Errorf("--signer-key and --signer-tls-key name the same key: the party key and the TLS key must differ")
	case signerKey != "" && (signerKey == d.Config.Signer.Key || signerKey == d.Config.Signer.TLSKey):
		return nil, nil, fmt.Errorf("%s is one of the node's current keys: the next key must be a new one", signerKey)
	}
	if err := d.prepareTLS(tlsKey); err != nil {
		return nil, nil, err
	}
	if err := d.prepareSigning(signerKey); err != nil {
		return nil, nil, err
	}
	return d.PreparedKeys()
}

// PrepareKeys implements node.KeyFiles: the prepared keys, or, for key
// files, new ones made now.
func (d *Dir) PrepareKeys() (*identity.SigningKey, *identity.TLSKey, error) {
	sk, tk, err := d.PreparedKeys()
	if err != nil || (sk != nil && tk != nil) {
		return sk, tk, err
	}
	if (sk == nil && d.Config.Signer.Type == SignerAgent) || (tk == nil && d.Config.Signer.TLSKey != "") {
		return nil, nil, ErrNotPrepared
	}
	if tk == nil {
		if err := d.prepareTLS(""); err != nil {
			return nil, nil, err
		}
	}
	if sk == nil {
		if err := d.prepareSigning(""); err != nil {
			return nil, nil, err
		}
	}
	return d.PreparedKeys()
}

func (d *Dir) prepareSigning(fingerprint string) error {
	if fingerprint == "" {
		k, err := identity.GenerateSigningKey(d.Config.Party)
		if err != nil {
			return err
		}
		return writeFileSync(filepath.Join(d.Path, nextSigningKey), []byte(k.SignerKey()+"\n"), 0o600)
	}
	socket, err := sshagent.Socket(d.Config.Signer.Socket)
	if err != nil {
		return err
	}
	pub, err := sshagent.Find(socket, fingerprint)
	if err != nil {
		return err
	}
	vkey, err := note.NewEd25519VerifierKey(d.Config.Party, pub)
	if err != nil {
		return err
	}
	return writeFileSync(filepath.Join(d.Path, nextSigningPub), []byte(vkey+"\n"), 0o600)
}

func (d *Dir) prepareTLS(fingerprint string) error {
	if fingerprint == "" {
		certPEM, keyPEM, err := identity.GenerateTLSKey(d.Config.Party)
		if err != nil {
			return err
		}
		// The key first: a certificate without its key is no key.
		if err := writeFileSync(filepath.Join(d.Path, nextTLSKey), keyPEM, 0o600); err != nil {
			return err
		}
		return writeFileSync(filepath.Join(d.Path, nextTLSCert), certPEM, 0o600)
	}
	s, err := agentSigner(&d.Config, fingerprint)
	if err != nil {
		return err
	}
	defer s.Close()
	certPEM, err := identity.TLSCertificate(d.Config.Party, s)
	if err != nil {
		return err
	}
	return writeFileSync(filepath.Join(d.Path, nextTLSCert), certPEM, 0o600)
}

// PreparedKeys implements node.KeyFiles: the prepared signing key and TLS
// key, each nil when not prepared.
func (d *Dir) PreparedKeys() (sk *identity.SigningKey, tk *identity.TLSKey, err error) {
	if b, err := os.ReadFile(filepath.Join(d.Path, nextSigningKey)); err == nil {
		if sk, err = identity.ParseSignerKey(string(b)); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", nextSigningKey, err)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if b, err := os.ReadFile(filepath.Join(d.Path, nextSigningPub)); err == nil {
		party, pub, err := identity.ParseVerifierKey(strings.TrimSpace(string(b)))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", nextSigningPub, err)
		}
		s, err := agentSignerFor(&d.Config, pub)
		if err != nil {
			return nil, nil, err
		}
		if sk, err = identity.NewSigningKey(party, s); err != nil {
			return nil, nil, err
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, nil, err
	}
	if sk != nil && sk.Party != d.Config.Party {
		return nil, nil, fmt.Errorf("the prepared key is for party %s, not %s", sk.Party, d.Config.Party)
	}
	certPEM, err := os.ReadFile(filepath.Join(d.Path, nextTLSCert))
	if errors.Is(err, fs.ErrNotExist) {
		return sk, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	if d.Config.Signer.TLSKey == "" {
		keyPEM, err := os.ReadFile(filepath.Join(d.Path, nextTLSKey))
		if err != nil {
			return nil, nil, fmt.Errorf("read the prepared TLS key: %w", err)
		}
		tk, err = identity.LoadTLSKey(certPEM, keyPEM)
		return sk, tk, err
	}
	pub, err := identity.TLSCertificateKey(certPEM)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: %w", nextTLSCert, err)
	}
	s, err := agentSignerFor(&d.Config, pub)
	if err != nil {
		return nil, nil, err
	}
	tk, err = identity.TLSKeyWithSigner(certPEM, s)
	return sk, tk, err
}

// PromoteSigningKey implements node.KeyFiles: the prepared signing key
// replaces the party key (the old key file is gone; an agent's old key
// stays in the agent until its owner removes it).
func (d *Dir) PromoteSigningKey() error {
	sk, _, err := d.PreparedKeys()
	if err != nil {
		return err
	}
	if sk == nil {
		return errors.New("no signing key is prepared")
	}
	if d.Config.Signer.Type != SignerAgent {
		if err := renameSync(d.Path, nextSigningKey, "keys/signing.key"); err != nil {
			return err
		}
	} else {
		// The configuration first, then the public half: a start after a
		// crash between them finishes it (finishPromotion).
		if err := d.useAgentKey(sk.Public(), func(c *Config, fp string) { c.Signer.Key = fp }); err != nil {
			return err
		}
		if err := renameSync(d.Path, nextSigningPub, "keys/signing.pub"); err != nil {
			return err
		}
	}
	d.Key = sk
	return nil
}

// PromoteTLSKey implements node.KeyFiles: the prepared TLS key replaces
// the node's.
func (d *Dir) PromoteTLSKey() error {
	_, tk, err := d.PreparedKeys()
	if err != nil {
		return err
	}
	if tk == nil {
		return errors.New("no TLS key is prepared")
	}
	// The key (or the configuration naming the agent's key) first, then
	// the certificate: a start after a crash between them finishes it
	// (finishPromotion).
	if d.Config.Signer.TLSKey == "" {
		if err := renameSync(d.Path, nextTLSKey, "keys/tls.key"); err != nil {
			return err
		}
	} else if err := d.useAgentKey(tk.Public(), func(c *Config, fp string) { c.Signer.TLSKey = fp }); err != nil {
		return err
	}
	if err := renameSync(d.Path, nextTLSCert, "keys/tls.crt"); err != nil {
		return err
	}
	d.TLS = tk
	return nil
}

// useAgentKey names the agent's key pub in the configuration, in the
// setting set writes, and saves it.
func (d *Dir) useAgentKey(pub ed25519.PublicKey, set func(c *Config, fingerprint string)) error {
	fp, err := sshFingerprint(pub)
	if err != nil {
		return err
	}
	cfg := d.Config
	set(&cfg, fp)
	if err := writeConfig(d.Path, cfg); err != nil {
		return err
	}
	d.Config = cfg
	return nil
}

// finishPromotion completes a promotion of prepared keys that a crash cut
// short. Each promotion moves one thing first (the TLS key file, or the
// configuration's fingerprint of an agent key) and then the file that
// goes with it; if the first moved and the second did not, the pair no
// longer matches, and the prepared file that matches is moved now.
func finishPromotion(dir string, c *Config) error {
	exists := func(name string) bool {
		_, err := os.Stat(filepath.Join(dir, name))
		return err == nil
	}
	read := func(name string) []byte {
		b, _ := os.ReadFile(filepath.Join(dir, name))
		return b
	}
	if exists(nextTLSCert) {
		var match bool
		if c.Signer.TLSKey == "" {
			// The key moved: the prepared certificate is the key's.
			_, err := identity.LoadTLSKey(read(nextTLSCert), read("keys/tls.key"))
			match = !exists(nextTLSKey) && err == nil
		} else if pub, err := identity.TLSCertificateKey(read(nextTLSCert)); err == nil {
			fp, err := sshFingerprint(pub)
			match = err == nil && fp == c.Signer.TLSKey
		}
		if match {
			if err := renameSync(dir, nextTLSCert, "keys/tls.crt"); err != nil {
				return fmt.Errorf("finish promoting the prepared TLS key: %w", err)
			}
		}
	}
	if c.Signer.Type == SignerAgent && exists(nextSigningPub) {
		if _, pub, err := identity.ParseVerifierKey(strings.TrimSpace(string(read(nextSigningPub)))); err == nil {
			if fp, err := sshFingerprint(pub); err == nil && fp == c.Signer.Key {
				if err := renameSync(dir, nextSigningPub, "keys/signing.pub"); err != nil {
					return fmt.Errorf("finish promoting the prepared party key: %w", err)
				}
			}
		}
	}
	return nil
}

// sshFingerprint is a key's fingerprint as ssh-add -l prints it, the
// form signer.key and signer.tls_key take.
func sshFingerprint(pub ed25519.PublicKey) (string, error) {
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	return ssh.FingerprintSHA256(k), nil
}

// renameSync renames from to to inside dir, durably.
func renameSync(dir, from, to string) error {
	if err := os.Rename(filepath.Join(dir, from), filepath.Join(dir, to)); err != nil {
		return err
	}
	d, err := os.Open(filepath.Dir(filepath.Join(dir, to)))
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
