package config

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/BurntSushi/toml"
)

// Replica is another replica of a party, as NewReplica prepares it.
type Replica struct {
	// Name is its replica.name; APIListen and PeerListen its listeners.
	Name, APIListen, PeerListen string
	// Advertise is where other parties reach its peer listener; empty
	// means PeerListen. It is added to peer.advertise if missing.
	Advertise string
}

// NewReplica prepares dir as another replica of d's party: the same keys,
// pinned peers, store DSN and settings, with its own name and listeners.
// Replicas share a store, so d's must be on PostgreSQL. If r's endpoint
// was not yet in peer.advertise, it is added in both directories, and
// added reports it: the other replicas and the other parties then need
// the party's identity again.
func (d *Dir) NewReplica(dir string, r Replica) (nd *Dir, added bool, err error) {
	if dsn, err := d.StoreDSN(); err != nil {
		return nil, false, err
	} else if dsn == "" {
		return nil, false, fmt.Errorf("%s keeps its store in a SQLite file, which replicas cannot share: move it to PostgreSQL first (hotline store copy)", d.Path)
	}
	if _, err := os.Stat(filepath.Join(dir, FileName)); err == nil {
		return nil, false, fmt.Errorf("a node is already set up in %s (%s exists); use another directory", dir, FileName)
	}
	if r.Advertise == "" {
		r.Advertise = r.PeerListen
	}
	cfg := d.Config
	cfg.Peer.Advertise = slices.Clone(cfg.Peer.Advertise)
	cfg.API.Listen, cfg.Peer.Listen, cfg.Replica.Name = r.APIListen, r.PeerListen, r.Name
	if !slices.Contains(cfg.Peer.Advertise, r.Advertise) {
		cfg.Peer.Advertise, added = append(cfg.Peer.Advertise, r.Advertise), true
	}
	if err := cfg.Check(); err != nil {
		return nil, false, err
	}
	if host, _, _ := net.SplitHostPort(r.Advertise); host == "" || net.ParseIP(host).IsUnspecified() {
		return nil, false, fmt.Errorf("advertise %q: give the host:port other parties dial", r.Advertise)
	}
	if err := copyNodeFiles(d, dir); err != nil {
		return nil, false, fmt.Errorf("prepare replica %s: %w", dir, err)
	}
	if err := writeConfig(dir, cfg); err != nil {
		return nil, false, err
	}
	if added {
		src := d.Config
		src.Peer.Advertise = cfg.Peer.Advertise
		if err := writeConfig(d.Path, src); err != nil {
			return nil, false, err
		}
		d.Config = src
	}
	nd, err = Open(dir)
	return nd, added, err
}

// copyNodeFiles copies what a replica shares with d into dir: keys,
// pinned peers, the DSN, token and secret files. It leaves out the
// configuration, a SQLite store, logs and any node directory inside d.
func copyNodeFiles(d *Dir, dir string) error {
	store := d.StorePath()
	return filepath.WalkDir(d.Path, func(path string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(d.Path, path)
		if err != nil {
			return err
		}
		if e.IsDir() {
			if rel != "." {
				if _, err := os.Stat(filepath.Join(path, FileName)); err == nil {
					return fs.SkipDir
				}
			}
			return os.MkdirAll(filepath.Join(dir, rel), 0o700)
		}
		if rel == FileName || strings.HasPrefix(path, store) || strings.HasSuffix(path, ".log") || !e.Type().IsRegular() {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return writeFileSync(filepath.Join(dir, rel), b, 0o600)
	})
}

// writeConfig writes cfg as dir's configuration file.
func writeConfig(dir string, cfg Config) error {
	var buf bytes.Buffer
	buf.WriteString("# hotline node configuration. See README.md, \"Configuration\".\n")
	if err := toml.NewEncoder(&buf).Encode(cfg); err != nil {
		return err
	}
	if err := writeFileSync(filepath.Join(dir, FileName), buf.Bytes(), 0o600); err != nil {
		return errors.Join(fmt.Errorf("write %s", filepath.Join(dir, FileName)), err)
	}
	return nil
}
