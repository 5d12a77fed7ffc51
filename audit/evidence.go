package audit

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// EvidenceFormat names a hotline evidence file in its "format" field.
const EvidenceFormat = "hotline-evidence"

// Kinds of evidence.
const (
	// EntryEquivocation: two different signed entries with one seq.
	EntryEquivocation = "entry-equivocation"
	// CheckpointConflict: two signed checkpoints of one feed with one size
	// and different roots.
	CheckpointConflict = "checkpoint-conflict"
	// CheckpointMismatch: a signed checkpoint whose root is not the tree of
	// the author's own signed entries up to its size.
	CheckpointMismatch = "checkpoint-mismatch"
)

// Evidence is a self-contained, JSON-encoded record of a party
// contradicting itself: everything needed to check it offline is inside,
// the accused party's key included, so a third party can check it once it
// has confirmed that key.
type Evidence struct {
	Format      string   `json:"format"`
	Version     int      `json:"version"`
	Kind        string   `json:"kind"`
	Channel     string   `json:"channel"`
	Party       string   `json:"party"` // the accused: the author of the feed
	Key         string   `json:"key"`   // its signed-note verifier key
	Detail      string   `json:"detail"`
	Entries     [][]byte `json:"entries,omitempty"`     // wire-encoded entries
	Checkpoints []string `json:"checkpoints,omitempty"` // signed notes
}

// MaxEvidence bounds an evidence file an offline verifier reads: a
// checkpoint that misstates a feed of about three million entries, whose
// entries (without bodies) the file carries.
const MaxEvidence = 1 << 30

// Encode returns the evidence file.
func (ev *Evidence) Encode() []byte {
	ev.Format, ev.Version = EvidenceFormat, 1
	b, err := json.MarshalIndent(ev, "", "  ")
	if err != nil {
		panic("audit: evidence is plain data: " + err.Error())
	}
	return append(b, '\n')
}

// EncodeTo writes the evidence file with the entries that entries
// yields, in order, after those in ev.Entries, so that an evidence file
// of a long feed is written without holding the feed in memory. What it
// writes decodes as Encode's output does.
func (ev *Evidence) EncodeTo(w io.Writer, entries func(yield func(raw []byte) error) error) error {
	ev.Format, ev.Version = EvidenceFormat, 1
	head := *ev
	head.Entries, head.Checkpoints = nil, nil
	b, err := json.MarshalIndent(&head, "", "  ")
	if err != nil {
		return err
	}
	// b ends with "\n}": reopen the object to add the lists.
	if _, err := w.Write(b[:len(b)-2]); err != nil {
		return err
	}
	if _, err := io.WriteString(w, ",\n  \"entries\": ["); err != nil {
		return err
	}
	n := 0
	put := func(raw []byte) error {
		sep := ",\n    \""
		if n == 0 {
			sep = "\n    \""
		}
		n++
		if _, err := io.WriteString(w, sep+base64.StdEncoding.EncodeToString(raw)+`"`); err != nil {
			return err
		}
		return nil
	}
	for _, raw := range ev.Entries {
		if err := put(raw); err != nil {
			return err
		}
	}
	if err := entries(put); err != nil {
		return err
	}
	cps, err := json.Marshal(ev.Checkpoints)
	if err != nil {
		return err
	}
	if ev.Checkpoints == nil {
		cps = []byte("[]")
	}
	_, err = fmt.Fprintf(w, "\n  ],\n  \"checkpoints\": %s\n}\n", cps)
	return err
}

// DecodeEvidence parses an evidence file; it checks nothing cryptographic:
// see Check.
func DecodeEvidence(b []byte) (*Evidence, error) {
	if len(b) > MaxEvidence {
		return nil, fmt.Errorf("evidence: %d bytes, limit %d", len(b), MaxEvidence)
	}
	var ev Evidence
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return nil, fmt.Errorf("evidence: not a hotline evidence file: %v", err)
	}
	if ev.Format != EvidenceFormat || ev.Version != 1 {
		return nil, fmt.Errorf("evidence: format %q version %d, want %s version 1", ev.Format, ev.Version, EvidenceFormat)
	}
	return &ev, nil
}

// Check verifies the evidence and returns a plain-language explanation of
// what it proves. It returns an error if the evidence does not prove what
// it claims: a signature fails, or the items do not contradict each other.
func (ev *Evidence) Check() (string, error) {
	party, pub, err := identity.ParseVerifierKey(ev.Key)
	if err != nil {
		return "", fmt.Errorf("evidence: key: %v", err)
	}
	if party != ev.Party {
		return "", fmt.Errorf("evidence: key is %s's, the accused is %s", party, ev.Party)
	}
	ch, err := entry.ParseChannelID(ev.Channel)
	if err != nil {
		return "", fmt.Errorf("evidence: channel: %v", err)
	}
	entries := make([]*entry.Entry, len(ev.Entries))
	for i, raw := range ev.Entries {
		e, err := entry.Decode(raw)
		if err != nil {
			return "", fmt.Errorf("evidence: entry %d: %v", i+1, err)
		}
		if err := e.Verify(pub); err != nil {
			return "", fmt.Errorf("evidence: entry %d (%s/%d) is not signed by %s's key: %v", i+1, e.Author, e.Seq, party, err)
		}
		if e.Author != party || e.Channel != ch {
			return "", fmt.Errorf("evidence: entry %d is %s's in channel %s, not %s's in %s", i+1, e.Author, e.Channel, party, ch)
		}
		entries[i] = e
	}
	cps := make([]*checkpoint.Signed, len(ev.Checkpoints))
	for i, note := range ev.Checkpoints {
		s, err := checkpoint.Open([]byte(note), checkpoint.Keys{party: {pub}})
		if err != nil {
			return "", fmt.Errorf("evidence: checkpoint %d: %v", i+1, err)
		}
		if s.Author != party || s.Channel != ch {
			return "", fmt.Errorf("evidence: checkpoint %d is of %s, not of %s's feed in %s", i+1, s.Origin, party, ch)
		}
		cps[i] = s
	}
	switch ev.Kind {
	case EntryEquivocation:
		if len(entries) != 2 || entries[0].Seq != entries[1].Seq || entries[0].ID() == entries[1].ID() {
			return "", errors.New("evidence: an entry equivocation needs two different entries with one seq")
		}
		a, b := entries[0], entries[1]
		return fmt.Sprintf("PROVEN: %s signed two different entries with seq %d in channel %s:\n  %s (%s, written %s)\n  %s (%s, written %s)\n"+
			"Both signatures verify with %s's key. A party's feed has one entry per seq, so %s showed different histories to different parties.",
			party, a.Seq, ch, a.ID(), a.Kind, a.AuthorTime().Format("2006-01-02 15:04:05Z"), b.ID(), b.Kind, b.AuthorTime().Format("2006-01-02 15:04:05Z"), party, party), nil
	case CheckpointConflict:
		if len(cps) != 2 || cps[0].Size != cps[1].Size || cps[0].Root == cps[1].Root {
			return "", errors.New("evidence: a checkpoint conflict needs two checkpoints of one size with different roots")
		}
		return fmt.Sprintf("PROVEN: %s signed two checkpoints of its feed in channel %s with the same size %d and different root hashes (%s and %s). "+
			"Both signatures verify with %s's key. A feed has exactly one history, so %s showed different histories to different parties.",
			party, ch, cps[0].Size, b64(cps[0].Root), b64(cps[1].Root), party, party), nil
	case CheckpointMismatch:
		if len(cps) != 1 {
			return "", errors.New("evidence: a checkpoint mismatch needs one checkpoint")
		}
		c := cps[0]
		if int64(len(entries)) != c.Size {
			return "", fmt.Errorf("evidence: a checkpoint of size %d needs the feed's first %d entries, got %d", c.Size, c.Size, len(entries))
		}
		var leaves []tlog.Hash
		for i, e := range entries {
			if e.Seq != uint64(i+1) || (i > 0 && e.Prev != entries[i-1].ID()) {
				return "", fmt.Errorf("evidence: entry %d is not seq %d of one chained feed", i+1, i+1)
			}
			leaves = append(leaves, checkpoint.RecordHash(e))
		}
		root := RootOf(leaves)
		if root == c.Root {
			return "", errors.New("evidence: the checkpoint matches the entries; nothing is proven")
		}
		return fmt.Sprintf("PROVEN: %s signed a checkpoint of its feed in channel %s at size %d with root %s, "+
			"but its own signed entries 1 to %d, included here, make the root %s. %s's checkpoint misstates its own history.",
			party, ch, c.Size, b64(c.Root), c.Size, b64(root), party), nil
	}
	return "", fmt.Errorf("evidence: unknown kind %q", ev.Kind)
}

func b64(h tlog.Hash) string { return base64.StdEncoding.EncodeToString(h[:]) }

// RootOf computes the RFC 6962 root hash of leaf hashes (tlog record
// hashes) with tlog's own tree code; the root of no leaves is the hash of
// the empty string.
func RootOf(leaves []tlog.Hash) tlog.Hash {
	if len(leaves) == 0 {
		return sha256.Sum256(nil)
	}
	t := &memTree{}
	for _, l := range leaves {
		t.add(l)
	}
	return t.root(t.size())
}
