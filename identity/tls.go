package identity

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"sync/atomic"
	"time"
)

// TLSKey is a node's peer-link key and its self-signed certificate. A key
// rotation switches it to its successor (Use) while connections run: the
// configurations it makes present whichever is current at each handshake.
type TLSKey struct {
	cert atomic.Pointer[tls.Certificate]
}

func newTLSKey(c tls.Certificate) *TLSKey {
	k := &TLSKey{}
	k.cert.Store(&c)
	return k
}

// Use makes k present next's certificate from the next handshake on.
func (k *TLSKey) Use(next *TLSKey) { k.cert.Store(next.cert.Load()) }

func (k *TLSKey) certificate() *tls.Certificate { return k.cert.Load() }

// GenerateTLSKey creates an Ed25519 key and a self-signed certificate for
// party, valid for ten years. Nobody checks the certificate's validity or
// names: peers pin the key's fingerprint.
func GenerateTLSKey(party string) (certPEM, keyPEM []byte, err error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	if certPEM, err = TLSCertificate(party, priv); err != nil {
		return nil, nil, err
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, err
	}
	return certPEM, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}), nil
}

// TLSCertificate makes party's self-signed certificate for the Ed25519
// key signer holds (a private key, or an ssh-agent's key), valid for ten
// years.
func TLSCertificate(party string, signer crypto.Signer) (certPEM []byte, err error) {
	pub, ok := signer.Public().(ed25519.PublicKey)
	if !ok {
		return nil, fmt.Errorf("identity: the TLS key must be Ed25519, not %T", signer.Public())
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "hotline peer " + party},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		DNSNames:     []string{party},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, signer)
	if err != nil {
		return nil, fmt.Errorf("identity: create certificate: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

// TLSKeyWithSigner is the peer-link key held by signer (an ssh-agent's),
// with its certificate certPEM (made by TLSCertificate).
func TLSKeyWithSigner(certPEM []byte, signer crypto.Signer) (*TLSKey, error) {
	leaf, pub, err := parseTLSCertificate(certPEM)
	if err != nil {
		return nil, err
	}
	if !pub.Equal(signer.Public()) {
		return nil, errors.New("identity: the TLS certificate is for another key than the signer's")
	}
	return newTLSKey(tls.Certificate{Certificate: [][]byte{leaf.Raw}, PrivateKey: signer, Leaf: leaf}), nil
}

// TLSCertificateKey returns the Ed25519 key a certificate written by
// TLSCertificate is for.
func TLSCertificateKey(certPEM []byte) (ed25519.PublicKey, error) {
	_, pub, err := parseTLSCertificate(certPEM)
	return pub, err
}

func parseTLSCertificate(certPEM []byte) (*x509.Certificate, ed25519.PublicKey, error) {
	block, _ := pem.Decode(certPEM)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, nil, errors.New("identity: TLS certificate: not a PEM certificate")
	}
	leaf, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, nil, fmt.Errorf("identity: TLS certificate: %w", err)
	}
	pub, ok := leaf.PublicKey.(ed25519.PublicKey)
	if !ok {
		return nil, nil, errors.New("identity: the TLS certificate is not for an Ed25519 key")
	}
	return leaf, pub, nil
}

// LoadTLSKey parses a certificate and key written by GenerateTLSKey.
func LoadTLSKey(certPEM, keyPEM []byte) (*TLSKey, error) {
	c, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("identity: TLS key: %w", err)
	}
	if c.Leaf == nil {
		if c.Leaf, err = x509.ParseCertificate(c.Certificate[0]); err != nil {
			return nil, err
		}
	}
	return newTLSKey(c), nil
}

// Fingerprint returns the fingerprint other parties pin.
func (k *TLSKey) Fingerprint() Fingerprint { return SPKIFingerprint(k.certificate().Leaf) }

// ErrUnknownPeer is returned by TLS verification when the other side's
// key is not pinned.
var ErrUnknownPeer = errors.New("identity: peer TLS key is not pinned")

// peerFingerprint verifies the chain is a single certificate and returns its
// key's fingerprint. Signature, validity dates and names are deliberately
// not checked: trust comes from the pin alone.
func peerFingerprint(rawCerts [][]byte) (Fingerprint, error) {
	if len(rawCerts) != 1 {
		return "", fmt.Errorf("identity: peer presented %d certificates, want exactly 1", len(rawCerts))
	}
	cert, err := x509.ParseCertificate(rawCerts[0])
	if err != nil {
		return "", fmt.Errorf("identity: peer certificate: %w", err)
	}
	return SPKIFingerprint(cert), nil
}

// ServerConfig returns a TLS 1.3 server configuration that requires a
// client certificate whose key fingerprint pinned reports as known.
func (k *TLSKey) ServerConfig(pinned func(Fingerprint) bool) *tls.Config {
	return &tls.Config{
		MinVersion:     tls.VersionTLS13,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return k.certificate(), nil },
		ClientAuth:     tls.RequireAnyClientCert,
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			fp, err := peerFingerprint(raw)
			if err != nil {
				return err
			}
			if !pinned(fp) {
				return fmt.Errorf("%w: %s", ErrUnknownPeer, fp)
			}
			return nil
		},
	}
}

// ClientConfig returns a TLS 1.3 client configuration that presents this
// key and accepts only a server whose key fingerprint pinned accepts.
func (k *TLSKey) ClientConfig(pinned func(Fingerprint) bool) *tls.Config {
	return &tls.Config{
		MinVersion:           tls.VersionTLS13,
		GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return k.certificate(), nil },
		InsecureSkipVerify:   true, // replaced by the pin check below; no CA is trusted
		VerifyPeerCertificate: func(raw [][]byte, _ [][]*x509.Certificate) error {
			fp, err := peerFingerprint(raw)
			if err != nil {
				return err
			}
			if !pinned(fp) {
				return fmt.Errorf("%w: server key is %s, not one pinned for the party", ErrUnknownPeer, fp)
			}
			return nil
		},
	}
}

// Pin accepts exactly the key with fingerprint want (see ClientConfig).
func Pin(want Fingerprint) func(Fingerprint) bool {
	return func(fp Fingerprint) bool { return fp == want }
}

// ConnFingerprint returns the fingerprint of the peer's key on an
// established connection.
func ConnFingerprint(cs *tls.ConnectionState) (Fingerprint, bool) {
	if cs == nil || len(cs.PeerCertificates) != 1 {
		return "", false
	}
	return SPKIFingerprint(cs.PeerCertificates[0]), true
}

// Public returns the public key of the certificate presented now.
func (k *TLSKey) Public() ed25519.PublicKey {
	pub, _ := k.certificate().Leaf.PublicKey.(ed25519.PublicKey)
	return pub
}
