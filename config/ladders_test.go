package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline/escalation"
)

func TestLadders_BadConfigurationIsRefused(t *testing.T) {
	dir := t.TempDir()
	secret := filepath.Join(dir, "hook.secret")
	if err := os.WriteFile(secret, []byte("sixteen-bytes-or-more-secret\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hook := func(url string) Step { return Step{Action: escalation.Webhook, URL: url, SecretFile: secret} }
	for _, tc := range []struct {
		name       string
		escalation map[string][]Step
		reminder   map[string][]Step
		smtp       bool
		want       string
	}{
		{"unknown level", map[string][]Step{"strategik": {{Action: escalation.Alert}}}, nil, false, `unknown level "strategik"`},
		{"webhook not http", map[string][]Step{"theatre": {hook("ftp://example.org/hook")}}, nil, false, "must be an absolute http or https URL"},
		{"webhook relative", map[string][]Step{"theatre": {hook("/hook")}}, nil, false, "must be an absolute http or https URL"},
		{"webhook without secret", map[string][]Step{"theatre": {{Action: escalation.Webhook, URL: "https://example.org/"}}}, nil, false, "needs a secret"},
		{"track2 escalates", map[string][]Step{"track2": {{Action: escalation.Alert}}}, nil, false, "never escalate"},
		{"negative escalation step", map[string][]Step{"policy": {{After: Duration{-time.Minute}, Action: escalation.Alert}}}, nil, false, "cannot come before the deadline"},
		{"absurd delay", map[string][]Step{"policy": {{After: Duration{400 * 24 * time.Hour}, Action: escalation.Alert}}}, nil, false, "out of range"},
		{"steps out of order", map[string][]Step{"policy": {{After: Duration{time.Hour}, Action: escalation.Alert}, {Action: escalation.Alert}}}, nil, false, "in order"},
		{"e-mail without smtp", map[string][]Step{"policy": {{Action: escalation.Email, To: []string{"a@b.test"}}}}, nil, false, "needs an SMTP server"},
		{"bad address", map[string][]Step{"policy": {{Action: escalation.Email, To: []string{"not an address"}}}}, nil, true, "e-mail address"},
		{"reminder escalates", nil, map[string][]Step{"policy": {{Action: escalation.Escalate}}}, false, "only the sender's escalation ladder"},
		{"unknown action", map[string][]Step{"policy": {{Action: "phone"}}}, nil, false, `unknown action "phone"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := &Dir{Path: dir, Config: Defaults("alpha")}
			d.Config.Escalation, d.Config.Reminder = tc.escalation, tc.reminder
			if tc.smtp {
				d.Config.SMTP.Addr, d.Config.SMTP.From = "127.0.0.1:25", "hotline@alpha.test"
			}
			_, err := d.Ladders()
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	d := &Dir{Path: dir, Config: Defaults("alpha")}
	d.Config.SMTP.Addr, d.Config.SMTP.From = "127.0.0.1:25", "hotline@alpha.test"
	d.Config.Escalation["theatre"] = []Step{{Action: escalation.Alert}, hook("https://ops.example/hook"),
		{After: Duration{time.Minute}, Action: escalation.Email, To: []string{"duty@alpha.test"}}, {After: Duration{5 * time.Minute}, Action: escalation.Escalate}}
	d.Config.Reminder["theatre"] = []Step{{After: Duration{-5 * time.Minute}, Action: escalation.Alert}}
	ls, err := d.Ladders()
	if err != nil {
		t.Fatalf("a good configuration is refused: %v", err)
	}
	if got := ls.Escalation["theatre"][1]; string(got.Secret) != "sixteen-bytes-or-more-secret" {
		t.Errorf("webhook secret read as %q", got.Secret)
	}
}
