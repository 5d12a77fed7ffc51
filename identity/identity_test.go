package identity

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
)

func MustTLSKey(tb testing.TB, party string) *TLSKey {
	tb.Helper()
	c, k, err := GenerateTLSKey(party)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := LoadTLSKey(c, k)
	if err != nil {
		tb.Fatal(err)
	}
	return key
}

// Our signer and verifier keys are real signed-note keys: x/mod's note
// package signs with one and opens with the other.
func TestSigningKey_SignedNoteInterop(t *testing.T) {
	k, err := GenerateSigningKey("alpha")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ParseSignerKey(k.SignerKey())
	if err != nil {
		t.Fatal(err)
	}
	if !k2.Priv.Equal(k.Priv) || k2.Party != "alpha" {
		t.Fatal("signer key did not round-trip")
	}
	s, err := note.NewSigner(k.SignerKey())
	if err != nil {
		t.Fatal(err)
	}
	msg, err := note.Sign(&note.Note{Text: "hello\n"}, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := note.NewVerifier(k.VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := note.Open(msg, note.VerifierList(v)); err != nil {
		t.Fatal(err)
	}
	name, pub, err := ParseVerifierKey(k.VerifierKey())
	if err != nil || name != "alpha" || !pub.Equal(k.Public()) {
		t.Fatalf("ParseVerifierKey = %q, %v", name, err)
	}
	bad := strings.Replace(k.SignerKey(), "+alpha+", "+bravo+", 1)
	if _, err := ParseSignerKey(bad); err == nil {
		t.Fatal("signer key with a wrong name accepted")
	}
}

func TestParseDocument(t *testing.T) {
	k, _ := GenerateSigningKey("alpha")
	tk := MustTLSKey(t, "alpha")
	good := Document{Party: "alpha", Key: k.VerifierKey(), TLS: tk.Fingerprint(), Endpoints: []string{"127.0.0.1:7443"}}
	tests := []struct {
		name string
		mod  func(*Document)
		want string
	}{
		{"good", func(*Document) {}, ""},
		{"key for another party", func(d *Document) { d.Party = "bravo" }, "key is for party"},
		{"bad fingerprint", func(d *Document) { d.TLS = "md5:00" }, "TLS fingerprint"},
		{"no endpoints", func(d *Document) { d.Endpoints = nil }, "endpoints"},
		{"endpoint without port", func(d *Document) { d.Endpoints = []string{"example.org"} }, "host:port"},
		{"garbage key", func(d *Document) { d.Key = "alpha+00000000+AAAA" }, "verifier key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := good
			tt.mod(&d)
			b, _ := json.Marshal(d)
			_, err := ParseDocument(b)
			if tt.want == "" && err != nil || tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("ParseDocument = %v, want error containing %q", err, tt.want)
			}
		})
	}
	if _, err := ParseDocument([]byte(`{"party":"alpha","extra":1}`)); err == nil {
		t.Fatal("unknown field accepted")
	}
}

// Pinning over a real TLS 1.3 connection: a pinned client gets through; a
// client with another key, or a server with another key, is refused.
func TestTLS_Pinning(t *testing.T) {
	server, client, stranger := MustTLSKey(t, "alpha"), MustTLSKey(t, "bravo"), MustTLSKey(t, "mallory")
	ln, err := tls.Listen("tcp", "127.0.0.1:0", server.ServerConfig(func(f Fingerprint) bool { return f == client.Fingerprint() }))
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if err := c.(*tls.Conn).Handshake(); err == nil {
					io.WriteString(c, "ok")
				}
			}()
		}
	}()
	dial := func(k *TLSKey, pin Fingerprint) error {
		c, err := tls.Dial("tcp", ln.Addr().String(), k.ClientConfig(Pin(pin)))
		if err != nil {
			return err
		}
		defer c.Close()
		if c.ConnectionState().Version != tls.VersionTLS13 {
			t.Fatal("not TLS 1.3")
		}
		b, err := io.ReadAll(c)
		if err == nil && string(b) != "ok" {
			err = errors.New("no greeting")
		}
		return err
	}
	if err := dial(client, server.Fingerprint()); err != nil {
		t.Fatalf("pinned client refused: %v", err)
	}
	if err := dial(stranger, server.Fingerprint()); err == nil {
		t.Fatal("client with unpinned key was served")
	}
	if err := dial(client, stranger.Fingerprint()); err == nil || !errors.Is(err, ErrUnknownPeer) && !strings.Contains(err.Error(), "not pinned") {
		t.Fatalf("server with unexpected key accepted: %v", err)
	}
	var _ net.Listener = ln
}
