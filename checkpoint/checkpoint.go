// Package checkpoint signs, cosigns and checks the Merkle tree heads of
// feeds, in the formats that transparency logs share, so that code nobody
// here wrote can check them.
//
// Each feed is a Merkle tree (RFC 6962 hashing, golang.org/x/mod/sumdb/tlog)
// whose records are the entries' signed forms, in seq order: the tree of a
// feed holding n entries has size n, and entry seq s is record s-1. A
// checkpoint is a C2SP tlog-checkpoint: an origin line naming the channel
// and the feed's party, the tree size and the root hash. The feed's author
// signs it as a C2SP signed note with its party key; every other member
// cosigns it in the C2SP tlog-cosignature (Ed25519, cosignature/v1) form,
// after checking it against the entries it holds. Cosignatures are asked
// for with the C2SP tlog-witness add-checkpoint request, and one entry is
// proven with a C2SP tlog-proof.
package checkpoint

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/entry"
)

// originPrefix starts every hotline feed origin.
const originPrefix = "hotline/"

// Origin returns the checkpoint origin of party's feed in channel ch:
// "hotline/<channel id>/<party>".
func Origin(ch entry.ChannelID, party string) string {
	return originPrefix + ch.String() + "/" + party
}

// ParseOrigin splits a hotline feed origin into its channel and party.
func ParseOrigin(origin string) (entry.ChannelID, string, error) {
	rest, ok := strings.CutPrefix(origin, originPrefix)
	chHex, party, ok2 := strings.Cut(rest, "/")
	if !ok || !ok2 {
		return entry.ChannelID{}, "", fmt.Errorf("checkpoint: origin %q is not hotline/<channel>/<party>", origin)
	}
	ch, err := entry.ParseChannelID(chHex)
	if err != nil {
		return entry.ChannelID{}, "", fmt.Errorf("checkpoint: origin %q: %v", origin, err)
	}
	if err := entry.CheckName("party", party); err != nil {
		return entry.ChannelID{}, "", fmt.Errorf("checkpoint: origin %q: %v", origin, err)
	}
	return ch, party, nil
}

// RecordHash returns the Merkle leaf hash of an entry: the RFC 6962 leaf
// hash of its signed form, which does not include the body, so a redacted
// body leaves the tree unchanged.
func RecordHash(e *entry.Entry) tlog.Hash { return tlog.RecordHash(e.SignedBytes()) }

// Checkpoint is a feed's tree head.
type Checkpoint struct {
	Origin string
	Size   int64
	Root   tlog.Hash
}

// Body returns the checkpoint's note text: origin, size and base64 root
// hash, each on its own line.
func (c Checkpoint) Body() string {
	return fmt.Sprintf("%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Root[:]))
}

// maxNote bounds a checkpoint note with its signatures; a channel has at
// most entry.MaxMembers parties, each adding a line of under 200 bytes.
const maxNote = 16 << 10

// ParseBody parses a checkpoint's note text. Hotline writes no extension
// lines and accepts none.
func ParseBody(text string) (Checkpoint, error) {
	lines := strings.SplitAfter(text, "\n")
	if len(lines) != 4 || lines[3] != "" {
		return Checkpoint{}, errors.New("checkpoint: body is not exactly origin, size and root lines")
	}
	origin := strings.TrimSuffix(lines[0], "\n")
	sizeText := strings.TrimSuffix(lines[1], "\n")
	size, err := strconv.ParseInt(sizeText, 10, 64)
	if err != nil || size < 0 || strconv.FormatInt(size, 10) != sizeText {
		return Checkpoint{}, fmt.Errorf("checkpoint: size %q is not a decimal number", sizeText)
	}
	root, err := parseHash(strings.TrimSuffix(lines[2], "\n"))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("checkpoint: root: %v", err)
	}
	if _, _, err := ParseOrigin(origin); err != nil {
		return Checkpoint{}, err
	}
	return Checkpoint{Origin: origin, Size: size, Root: root}, nil
}

// parseHash decodes one base64 SHA-256 hash, refusing non-canonical base64.
func parseHash(s string) (tlog.Hash, error) {
	var h tlog.Hash
	b, err := base64.StdEncoding.Strict().DecodeString(s)
	if err != nil || len(b) != len(h) {
		return h, fmt.Errorf("%q is not a base64 SHA-256 hash", truncate(s))
	}
	copy(h[:], b)
	return h, nil
}

func truncate(s string) string {
	if len(s) > 60 {
		return s[:60] + "..."
	}
	return s
}

// Keys are the parties' public keys, by party name, as pinned: the keys a
// checkpoint's signature and cosignatures are checked against. A party
// that rotated its key has several; a checkpoint names the one it used.
type Keys map[string][]ed25519.PublicKey
