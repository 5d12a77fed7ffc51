package config

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
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

// TestInit_MakesAnExistingDirectoryPrivate: init into a directory that
// exists, world-readable, with a store file left in it, leaves the
// directory 0700 and every file 0600; WideModes then finds nothing, and
// finds what is loosened afterwards.
func TestInit_MakesAnExistingDirectoryPrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "alpha")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, "hotline.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(filepath.Join(dir, "hotline.db"), 0o644)
	cfg := Defaults("alpha")
	cfg.Peer.Advertise = []string{"alpha.example:7443"}
	d, err := Init(dir, cfg)
	if err != nil {
		t.Fatal(err)
	}
	filepath.WalkDir(dir, func(path string, e os.DirEntry, err error) error {
		fi, _ := os.Stat(path)
		want := os.FileMode(0o600)
		if e.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%s is %s, want %s", path, fi.Mode().Perm(), want)
		}
		return nil
	})
	if wide := d.WideModes(); len(wide) != 0 {
		t.Fatalf("wide modes after init: %v", wide)
	}
	os.Chmod(filepath.Join(dir, "hotline.toml"), 0o644)
	if wide := d.WideModes(); len(wide) != 1 || !strings.Contains(wide[0], "hotline.toml") {
		t.Fatalf("a loosened file not found: %v", wide)
	}
}

func TestConfig_Limits(t *testing.T) {
	cfg := Defaults("alpha")
	l := cfg.Limits()
	if l.PeerBytesPerDay != 1024<<20 || l.PeerStoreBytes != (16384<<20)/2 || l.PeerEntriesPerSecond != 10000 || l.EvidencePerDay != 500 {
		t.Fatalf("default limits: %+v", l)
	}
	cfg.Store.MaxSizeMB = 0
	if cfg.Limits().PeerStoreBytes != 0 {
		t.Fatal("a store share of an uncapped store")
	}
	for _, bad := range []func(c *Config){
		func(c *Config) { c.Quota.PeerStoreShare = 101 },
		func(c *Config) { c.Quota.PeerEntriesPerSecond = 50 },
		func(c *Config) { c.Quota.PeerMBInFlight = 8 },
		func(c *Config) { c.API.MaxStreamsPerOperator = c.API.MaxStreams + 1 },
		func(c *Config) { c.Quota.InvitationExpiry = Duration{time.Second} },
	} {
		c := Defaults("alpha")
		c.Peer.Advertise = []string{"alpha.example:7443"}
		bad(&c)
		if err := c.Check(); err == nil {
			t.Errorf("a bad setting passed: %+v", c.Quota)
		}
	}
}

// A replica's directory holds the party's keys, pins and DSN with its own
// listeners; a party on SQLite cannot have one, since a file is not shared.
func TestNewReplica_SharesKeysAndStoreNotListeners(t *testing.T) {
	base := t.TempDir()
	cfg := Defaults("alpha")
	cfg.API.Listen, cfg.Peer.Listen, cfg.Peer.Advertise = "127.0.0.1:8080", "127.0.0.1:7443", []string{"a.example:7443"}
	onSQLite, err := Init(filepath.Join(base, "sqlite"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	r := Replica{Name: "alpha-2", APIListen: "127.0.0.1:8081", PeerListen: "127.0.0.1:7444", Advertise: "b.example:7443"}
	if _, _, err := onSQLite.NewReplica(filepath.Join(base, "nope"), r); err == nil || !strings.Contains(err.Error(), "SQLite") {
		t.Fatalf("replica of a SQLite node: %v", err)
	}
	cfg.Store.DSN = "postgres://hotline@db.example/alpha"
	src, err := Init(filepath.Join(base, "one"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(src.Path, "hotline.log"), []byte("log"), 0o600); err != nil {
		t.Fatal(err)
	}
	nd, added, err := src.NewReplica(filepath.Join(base, "two"), r)
	if err != nil || !added {
		t.Fatalf("new replica: added %v, %v", added, err)
	}
	if nd.Key.VerifierKey() != src.Key.VerifierKey() || nd.TLS.Fingerprint() != src.TLS.Fingerprint() {
		t.Fatal("the replica has other keys than its party")
	}
	if dsn, _ := nd.StoreDSN(); dsn != cfg.Store.DSN {
		t.Fatalf("replica's DSN %q", dsn)
	}
	c := nd.Config
	if c.API.Listen != r.APIListen || c.Peer.Listen != r.PeerListen || c.Replica.Name != r.Name {
		t.Fatalf("replica's listeners and name: %+v %+v %q", c.API, c.Peer, c.Replica.Name)
	}
	want := []string{"a.example:7443", "b.example:7443"}
	if !slices.Equal(c.Peer.Advertise, want) {
		t.Fatalf("replica advertises %v; want %v", c.Peer.Advertise, want)
	}
	if again, err := Open(src.Path); err != nil || !slices.Equal(again.Config.Peer.Advertise, want) {
		t.Fatalf("the first replica advertises %v (%v); want %v", again.Config.Peer.Advertise, err, want)
	}
	if _, err := os.Stat(filepath.Join(nd.Path, "hotline.log")); !os.IsNotExist(err) {
		t.Fatalf("a log was copied: %v", err)
	}
	if _, _, err := src.NewReplica(nd.Path, r); err == nil {
		t.Fatal("a replica was prepared over an existing node directory")
	}
}

// A promotion of prepared keys cut short by a crash, between its two
// renames, is finished at the next open: the TLS key moved and its
// certificate did not.
func TestOpen_FinishesAPromotionCutShort(t *testing.T) {
	d := initDir(t, "alpha")
	next, nextTLS, err := d.NewKeys("", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := d.PromoteSigningKey(); err != nil {
		t.Fatal(err)
	}
	// The first rename of PromoteTLSKey, alone.
	if err := os.Rename(filepath.Join(d.Path, nextTLSKey), filepath.Join(d.Path, "keys/tls.key")); err != nil {
		t.Fatal(err)
	}
	again, err := Open(d.Path)
	if err != nil {
		t.Fatalf("open after a crash mid-promotion: %v", err)
	}
	if again.Key.VerifierKey() != next.VerifierKey() || again.TLS.Fingerprint() != nextTLS.Fingerprint() {
		t.Fatal("the keys after finishing the promotion are not the prepared ones")
	}
	if _, err := os.Stat(filepath.Join(d.Path, nextTLSCert)); !os.IsNotExist(err) {
		t.Fatalf("the prepared certificate is still there: %v", err)
	}
}
