package config

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func initDir(t *testing.T, party string) *Dir {
	t.Helper()
	cfg := Defaults(party)
	cfg.Peer.Advertise = []string{party + ".example:7443"}
	d, err := Init(filepath.Join(t.TempDir(), party), cfg)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestInitOpen_RoundTrip(t *testing.T) {
	d := initDir(t, "alpha")
	got, err := Open(d.Path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Config.Party != "alpha" || got.Key.VerifierKey() != d.Key.VerifierKey() || got.TLS.Fingerprint() != d.TLS.Fingerprint() {
		t.Fatal("reopened directory differs")
	}
	if got.Config.Heartbeat.Interval.Duration != 30*time.Second || got.Config.Sync.RetryMax.Duration != time.Minute {
		t.Fatalf("defaults not kept: %+v", got.Config)
	}
	st, err := os.Stat(filepath.Join(d.Path, "keys", "signing.key"))
	if err != nil || st.Mode().Perm()&0o077 != 0 {
		t.Fatalf("signing key readable by others: %v %v", st.Mode(), err)
	}
	cfg := Defaults("alpha")
	cfg.Peer.Advertise = []string{"alpha.example:7443"}
	if _, err := Init(d.Path, cfg); err == nil || !strings.Contains(err.Error(), "already") {
		t.Fatalf("second init: %v", err)
	}
}

func TestOpen_RefusesBadSettings(t *testing.T) {
	for _, tt := range []struct{ key, value, want string }{
		{"colour", `"blue"`, "unknown setting"},
		{"interval", `"1ms"`, "out of range"},
		{"retry_max", `"48h"`, "never given up"},
		{"max_size_mb", `-1`, "max_size_mb"},
		{"timeout", `"soon"`, "soon"},
	} {
		d := initDir(t, "alpha")
		path := filepath.Join(d.Path, FileName)
		b, _ := os.ReadFile(path)
		re := regexp.MustCompile(`(?m)^(\s*)` + tt.key + ` = .*$`)
		text := string(b)
		if re.MatchString(text) {
			text = re.ReplaceAllString(text, "${1}"+tt.key+" = "+tt.value)
		} else {
			text = strings.Replace(text, "[sync]\n", "[sync]\n  "+tt.key+" = "+tt.value+"\n", 1)
		}
		os.WriteFile(path, []byte(text), 0o644)
		if _, err := Open(d.Path); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s = %s: got %v, want an error saying %q", tt.key, tt.value, err, tt.want)
		}
	}
}

func TestAddPeer(t *testing.T) {
	alpha, bravo := initDir(t, "alpha"), initDir(t, "bravo")
	doc := bravo.Identity()
	if replaced, err := alpha.AddPeer(&doc); err != nil || replaced {
		t.Fatalf("first add: %v %v", replaced, err)
	}
	// New endpoints for the same keys: accepted.
	doc.Endpoints = []string{"bravo-sat.example:7443", "bravo.example:7443"}
	if replaced, err := alpha.AddPeer(&doc); err != nil || !replaced {
		t.Fatalf("new endpoints: %v %v", replaced, err)
	}
	peers, err := alpha.Peers()
	if err != nil || len(peers) != 1 || len(peers[0].Endpoints) != 2 {
		t.Fatalf("peers %+v, %v", peers, err)
	}
	// Other keys under the same name: refused.
	impostor := initDir(t, "bravo").Identity()
	if _, err := alpha.AddPeer(&impostor); err == nil || !strings.Contains(err.Error(), "other keys") {
		t.Fatalf("re-key: %v", err)
	}
	self := alpha.Identity()
	if _, err := alpha.AddPeer(&self); err == nil {
		t.Fatal("pinned its own party")
	}
}
