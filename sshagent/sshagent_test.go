package sshagent_test

import (
	"crypto"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/sshagent"
	"github.com/hotline-project/hotline/sshagent/agenttest"
)

// A real ssh-agent signs with the key ssh-keygen made; when the agent
// dies signing fails, and when it comes back the same signer signs again.
func TestSigner_SignsThroughARealAgentAndSurvivesItsRestart(t *testing.T) {
	a := agenttest.Start(t)
	pub, err := sshagent.Find(a.Socket, a.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sshagent.New(a.Socket, pub)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s.Fingerprint() != a.Fingerprint {
		t.Fatalf("fingerprint %s; want %s", s.Fingerprint(), a.Fingerprint)
	}
	msg := []byte("hotline entry v1\nsigned by the agent")
	for i := range 50 { // one connection, many signatures
		sig, err := entry.SignBytes(s, append(msg, byte(i)))
		if err != nil || !ed25519.Verify(pub, append(msg, byte(i)), sig) {
			t.Fatalf("signature %d through the agent: %v", i, err)
		}
	}
	if _, err := s.Sign(nil, msg, crypto.SHA256); err == nil {
		t.Fatal("a digest signature was made")
	}

	a.Stop()
	if _, err := entry.SignBytes(s, msg); err == nil || !strings.Contains(err.Error(), a.Socket) {
		t.Fatalf("signing with the agent gone: %v; want an error naming its socket", err)
	}
	a.Restart()
	if sig, err := entry.SignBytes(s, msg); err != nil || !ed25519.Verify(pub, msg, sig) {
		t.Fatalf("signing after the agent came back: %v", err)
	}
}

// A connection left idle past the timeout still signs: the timeout
// bounds each signature, not the wait between two (CI found a rotation,
// signing seconds after the node's previous signature, failing).
func TestSigner_AnIdleConnectionStillSigns(t *testing.T) {
	a := agenttest.Start(t)
	pub, err := sshagent.Find(a.Socket, a.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	s, err := sshagent.New(a.Socket, pub)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	defer func(d time.Duration) { sshagent.Timeout = d }(sshagent.Timeout)
	sshagent.Timeout = 200 * time.Millisecond
	for i := range 3 {
		if _, err := entry.SignBytes(s, []byte{byte(i)}); err != nil {
			t.Fatalf("signature %d, after %s idle: %v", i, time.Duration(i)*2*sshagent.Timeout, err)
		}
		time.Sleep(2 * sshagent.Timeout)
	}
}

// Asking for a key the agent does not hold, or by something that is not
// a fingerprint, says what it holds and what to give.
func TestFind_SaysWhatIsWrong(t *testing.T) {
	a := agenttest.Start(t)
	if _, err := sshagent.Find(a.Socket, "SHA256:nothere"); err == nil || !strings.Contains(err.Error(), a.Fingerprint) {
		t.Fatalf("unknown key: %v; want the keys it holds", err)
	}
	if _, err := sshagent.Find(a.Socket, "MD5:aa:bb"); err == nil || !strings.Contains(err.Error(), "SHA256") {
		t.Fatalf("not a SHA256 fingerprint: %v", err)
	}
	if _, err := sshagent.Find(a.Socket+".none", a.Fingerprint); err == nil {
		t.Fatal("found a key through no agent")
	}
}
