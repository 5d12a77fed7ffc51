package devnet

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// mailpitVersion is the SMTP server the e-mail tests deliver to, built from
// the Go module proxy when it is not installed.
const mailpitVersion = "v1.27.11"

// mailpitBinary finds mailpit: $HOTLINE_MAILPIT, then PATH, then a build
// cached under the user's cache directory, building it there if needed.
func mailpitBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HOTLINE_MAILPIT"); p != "" {
		return p
	}
	if p, err := exec.LookPath("mailpit"); err == nil {
		return p
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		cache = os.TempDir()
	}
	dir := filepath.Join(cache, "hotline-test", "mailpit-"+mailpitVersion)
	bin := filepath.Join(dir, "mailpit")
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	t.Logf("building mailpit %s from the Go module proxy into %s (once)", mailpitVersion, dir)
	cmd := exec.Command("go", "install", "github.com/axllent/mailpit@"+mailpitVersion)
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOBIN="+dir, "GOFLAGS=-mod=mod", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build mailpit (set HOTLINE_MAILPIT to use an installed one): %v\n%s", err, out)
	}
	return bin
}

// mailpit is a running mailpit SMTP server with its HTTP API.
type mailpit struct {
	smtp, http string
}

func startMailpit(t *testing.T) *mailpit {
	t.Helper()
	bin := mailpitBinary(t)
	smtpAddr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	httpAddr, err := FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	log, err := os.Create(filepath.Join(dir, "mailpit.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--smtp", smtpAddr, "--listen", httpAddr, "--database", filepath.Join(dir, "mail.db"),
		"--disable-version-check", "--quiet")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		log.Close()
	})
	m := &mailpit{smtp: smtpAddr, http: httpAddr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := m.messages(); err == nil {
			return m
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(log.Name())
			t.Fatalf("mailpit did not start: %s", b)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// mailMessage is a message as mailpit's API lists it.
type mailMessage struct {
	MessageID string
	Subject   string
	To        []struct{ Address string }
}

func (m *mailpit) messages() ([]mailMessage, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+m.http+"/api/v1/messages", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("mailpit: %s", resp.Status)
	}
	var out struct{ Messages []mailMessage }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return nil, err
	}
	return out.Messages, nil
}
