package config

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/keychain"
)

const (
	ownRevocation = "keys/revocation.note" // this party's last revocation
	revokedDir    = "peers/revoked"        // other parties' revocations, one note each
)

// OwnRevocation returns this party's last revocation, nil if it never
// revoked a key.
func (d *Dir) OwnRevocation() (*keychain.Revocation, error) {
	b, err := os.ReadFile(filepath.Join(d.Path, ownRevocation))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	r, err := keychain.ParseRevocation(b)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ownRevocation, err)
	}
	return r, nil
}

// Revocations returns the other parties' revocations this node applied
// (hotline peer update), oldest first.
func (d *Dir) Revocations() ([]*keychain.Revocation, error) {
	files, err := filepath.Glob(filepath.Join(d.Path, revokedDir, "*.note"))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []*keychain.Revocation
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		r, err := keychain.ParseRevocation(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		out = append(out, r)
	}
	slices.SortStableFunc(out, func(a, b *keychain.Revocation) int { return a.Time.Compare(b.Time) })
	return out, nil
}

// Revoke revokes the party key: with new keys (the prepared ones, or, for
// key files, new ones made now), it signs a revocation that no entry of
// this party's feeds from points on (first seq not trusted, by channel)
// is to be trusted, keeps it as keys/revocation.note, and makes the new
// keys the node's. The revoked private keys are gone from the directory.
// The node must be stopped.
func (d *Dir) Revoke(points []keychain.RevokedFeed, now time.Time) (*keychain.Revocation, error) {
	// Key files prepared before now were on the disk the thief may have
	// read: fresh ones are made. (Keys in an agent are prepared with
	// hotline key new after the compromise, by the administrator.)
	for _, f := range []struct {
		name string
		file bool
	}{{nextSigningKey, d.Config.Signer.Type != SignerAgent}, {nextTLSKey, d.Config.Signer.TLSKey == ""}, {nextTLSCert, d.Config.Signer.TLSKey == ""}} {
		if f.file {
			if err := os.Remove(filepath.Join(d.Path, f.name)); err != nil && !errors.Is(err, fs.ErrNotExist) {
				return nil, err
			}
		}
	}
	sk, tk, err := d.PrepareKeys()
	if err != nil {
		return nil, err
	}
	slices.SortFunc(points, func(a, b keychain.RevokedFeed) int { return strings.Compare(a.Channel.String(), b.Channel.String()) })
	r := &keychain.Revocation{
		Identity: identity.Document{Party: d.Config.Party, Key: sk.VerifierKey(), TLS: tk.Fingerprint(), Endpoints: d.Config.Peer.Advertise},
		Revoked:  d.Key.VerifierKey(),
		Time:     now.UTC().Truncate(time.Millisecond),
		Feeds:    points,
	}
	note, err := r.Sign(sk.Signer)
	if err != nil {
		return nil, err
	}
	if err := writeFileSync(filepath.Join(d.Path, ownRevocation), note, 0o600); err != nil {
		return nil, err
	}
	if err := d.PromoteSigningKey(); err != nil {
		return nil, err
	}
	if err := d.PromoteTLSKey(); err != nil {
		return nil, err
	}
	return r, nil
}

// UpdatePeer re-pins a party from a file it gave: a revocation (its new
// identity, and where its revoked key stops being trusted), or a new
// identity document. Either replaces the pinned keys; the caller has had
// them confirmed by the party out of band. It returns the new document
// and the revocation, if the file is one.
func (d *Dir) UpdatePeer(b []byte) (*identity.Document, *keychain.Revocation, error) {
	var doc *identity.Document
	var r *keychain.Revocation
	var err error
	if strings.HasPrefix(strings.TrimSpace(string(b)), "{") {
		if doc, err = identity.ParseDocument(b); err != nil {
			return nil, nil, err
		}
	} else {
		if r, err = keychain.ParseRevocation(b); err != nil {
			return nil, nil, err
		}
		doc = &r.Identity
	}
	if doc.Party == d.Config.Party {
		return nil, nil, fmt.Errorf("that is this node's own party %q", doc.Party)
	}
	path := filepath.Join(d.Path, "peers", doc.Party+".json")
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil, fmt.Errorf("party %s is not pinned here: pin it with hotline peer add", doc.Party)
	}
	if err != nil {
		return nil, nil, err
	}
	if od, err := identity.ParseDocument(old); err == nil && r != nil && od.Key == r.Identity.Key {
		return nil, nil, fmt.Errorf("party %s is already pinned with the new key of this revocation", doc.Party)
	}
	if r != nil {
		name := fmt.Sprintf("%s-%d.note", doc.Party, r.Time.UnixMilli())
		if err := os.MkdirAll(filepath.Join(d.Path, revokedDir), 0o700); err != nil {
			return nil, nil, err
		}
		// The revocation first: a new pin without it would trust the
		// new key and still trust what the revoked key signs.
		if err := writeFileSync(filepath.Join(d.Path, revokedDir, name), r.Note, 0o600); err != nil {
			return nil, nil, err
		}
	}
	return doc, r, writeFileSync(path, MarshalDocument(doc), 0o600)
}
