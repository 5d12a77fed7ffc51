package sshagent_test

import (
	"crypto/ed25519"
	"testing"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/sshagent"
	"github.com/hotline-project/hotline/sshagent/agenttest"
)

// What a signature costs through a real ssh-agent on the same machine,
// against the key in memory: docs/KEYS.md and docs/PERFORMANCE.md.
func BenchmarkSign(b *testing.B) {
	msg := make([]byte, 300) // about an entry's signed header
	b.Run("in-memory", func(b *testing.B) {
		_, priv, _ := ed25519.GenerateKey(nil)
		for b.Loop() {
			if _, err := entry.SignBytes(priv, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("ssh-agent", func(b *testing.B) {
		a := agenttest.Start(b)
		pub, err := sshagent.Find(a.Socket, a.Fingerprint)
		if err != nil {
			b.Fatal(err)
		}
		s, err := sshagent.New(a.Socket, pub)
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		for b.Loop() {
			if _, err := entry.SignBytes(s, msg); err != nil {
				b.Fatal(err)
			}
		}
	})
}
