package devnet

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/sshagent/agenttest"
)

// alpha's party key and TLS key live only in a real ssh-agent: its
// directory holds no private key at all, and it exchanges messages as any
// node, over a peer link whose handshakes the agent signs. When the
// agent dies, sends fail cleanly as unavailable, saying why, and an alarm
// is raised; bravo's messages wait for alpha's receipt. When the agent is
// back, with the key, everything flows again without a restart.
func TestSigner_APartyKeyOnlyInAnSSHAgent(t *testing.T) {
	agent := agenttest.Start(t)
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond,
		Configure: func(party string, cfg *config.Config) {
			if party == "alpha" {
				cfg.Signer.Type, cfg.Signer.Key, cfg.Signer.Socket = config.SignerAgent, agent.Fingerprint, agent.Socket
				cfg.Signer.TLSKey = agent.TLSFingerprint
			}
		}})
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	for _, f := range []string{"signing.key", "tls.key"} {
		if _, err := os.Stat(filepath.Join(alpha.Dir, "keys", f)); !os.IsNotExist(err) {
			t.Fatalf("alpha's directory holds a private key, keys/%s: %v", f, err)
		}
	}
	if alpha.Server.Dir.Key.Priv != nil {
		t.Fatal("alpha's node holds the private party key in memory")
	}
	const ch = "alpha-bravo-policy"
	send := func(p *Party, text string) (string, error) {
		ref, err := clientOf(p).Send(ctx, ch, api.SendRequest{Text: text})
		if err != nil {
			return "", err
		}
		return ref.ID, nil
	}
	delivered := func(p *Party, id string) bool {
		e := findEntry(t, clientOf(p), ch, id)
		return e != nil && e.Delivered != nil
	}
	first, err := send(alpha, "signed by the agent")
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha's message delivered", func() bool { return delivered(alpha, first) })

	agent.Stop()
	_, err = send(alpha, "while the agent is gone")
	if hotline.ErrorCode(err) != hotline.EUNAVAILABLE || !strings.Contains(err.Error(), "signer") {
		t.Fatalf("send with the agent gone: %v; want unavailable, naming the signer", err)
	}
	if m := scrape(t, alpha.Server.MetricsURL()); !strings.Contains(m, "hotline_signer_up 0") {
		t.Error("hotline_signer_up is not 0 with the agent gone")
	}
	if up, why := alpha.Server.Node.SignerStatus(); up || !strings.Contains(why, agent.Socket) {
		t.Errorf("signer status: up %v, %q", up, why)
	}
	if page := consolePage(t, alpha); !strings.Contains(page, "signer does not answer") {
		t.Error("alpha's watch page has no banner saying its signer is down")
	}
	waiting, err := send(bravo, "to alpha while its agent is gone")
	if err != nil {
		t.Fatal(err)
	}
	// It reaches alpha over a peer connection already open (a new one
	// needs the agent for its handshake), but alpha cannot receipt it.
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if findEntry(t, clientOf(alpha), ch, waiting) != nil {
			break
		}
	}
	if delivered(bravo, waiting) {
		t.Fatal("alpha receipted a message without its signer")
	}

	agent.Restart()
	after, err := send(alpha, "after the agent came back")
	if err != nil {
		t.Fatalf("send after the agent came back: %v", err)
	}
	eventually(t, "alpha's message after the agent came back delivered", func() bool { return delivered(alpha, after) })
	eventually(t, "bravo's message receipted by alpha", func() bool { return delivered(bravo, waiting) })
	if m := scrape(t, alpha.Server.MetricsURL()); !strings.Contains(m, "hotline_signer_up 1") {
		t.Error("hotline_signer_up is not 1 again")
	}
	if page := consolePage(t, alpha); strings.Contains(page, "signer does not answer") {
		t.Error("alpha's watch page still says its signer is down")
	}
	for _, p := range []*Party{alpha, bravo} {
		if r, err := VerifyExport(ctx, p, ch); err != nil || !r.OK {
			t.Fatalf("%s's export: %v, %+v", p.Name, err, r)
		}
	}
}

// consolePage logs in to p's console with a one-time link and returns
// its watch page.
func consolePage(t *testing.T, p *Party) string {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	resp, err := hc.Get(p.Server.APIURL() + p.Server.Console.LoginLink(Operator))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("console login: %s", resp.Status)
	}
	return string(b)
}
