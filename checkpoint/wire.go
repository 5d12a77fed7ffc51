package checkpoint

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/tlog"
)

// maxProofHashes bounds the hashes in an inclusion or consistency proof:
// the C2SP tlog-witness limit, ample for a tree of 2^63 records.
const maxProofHashes = 63

// AddCheckpoint is a C2SP tlog-witness add-checkpoint request: the size of
// the last checkpoint the witness cosigned, a consistency proof from it, and
// the new signed checkpoint.
type AddCheckpoint struct {
	OldSize int64
	Proof   tlog.TreeProof
	Note    []byte
}

// Encode writes the request body.
func (r *AddCheckpoint) Encode() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "old %d\n", r.OldSize)
	writeHashes(&b, r.Proof)
	b.WriteString("\n")
	b.Write(r.Note)
	return b.Bytes()
}

// ParseAddCheckpoint parses an add-checkpoint request body. It checks the
// shape only; the note's signatures are checked by Open.
func ParseAddCheckpoint(body []byte) (*AddCheckpoint, error) {
	if len(body) > maxNote+maxProofHashes*46+32 {
		return nil, errors.New("checkpoint: add-checkpoint request too large")
	}
	head, note, ok := bytes.Cut(body, []byte("\n\n"))
	if !ok {
		return nil, errors.New("checkpoint: add-checkpoint request has no empty line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	old, err := parseNumberLine(lines[0], "old")
	if err != nil {
		return nil, err
	}
	hashes, err := parseHashLines(lines[1:])
	if err != nil {
		return nil, err
	}
	if old == 0 && len(hashes) > 0 {
		return nil, errors.New("checkpoint: a consistency proof from size 0 must be empty")
	}
	return &AddCheckpoint{OldSize: old, Proof: hashes, Note: note}, nil
}

// ProofHeader is the first line of a C2SP tlog-proof.
const ProofHeader = "c2sp.org/tlog-proof@v1"

// Proof is a C2SP tlog-proof of one entry: the entry itself (wire-encoded,
// carried as the proof's extra data), its index (seq-1) in its feed's tree,
// the inclusion proof and the signed, cosigned checkpoint.
type Proof struct {
	Entry     []byte
	Index     int64
	Inclusion tlog.RecordProof
	Note      []byte
}

// Encode writes the proof.
func (p *Proof) Encode() []byte {
	var b bytes.Buffer
	b.WriteString(ProofHeader + "\n")
	if p.Entry != nil {
		b.WriteString("extra " + base64.StdEncoding.EncodeToString(p.Entry) + "\n")
	}
	fmt.Fprintf(&b, "index %d\n", p.Index)
	writeHashes(&b, p.Inclusion)
	b.WriteString("\n")
	b.Write(p.Note)
	return b.Bytes()
}

// maxProof bounds a proof file: an entry of at most 64 KiB in base64, the
// hashes and the note.
const maxProof = 96<<10 + maxNote

// ParseProof parses a tlog-proof. It checks the shape only; see the audit
// package for its verification.
func ParseProof(data []byte) (*Proof, error) {
	if len(data) > maxProof {
		return nil, fmt.Errorf("proof: %d bytes, limit %d", len(data), maxProof)
	}
	head, note, ok := bytes.Cut(data, []byte("\n\n"))
	if !ok {
		return nil, errors.New("proof: no empty line before the checkpoint")
	}
	lines := strings.Split(string(head), "\n")
	if lines[0] != ProofHeader {
		return nil, fmt.Errorf("proof: first line is not %s", ProofHeader)
	}
	lines = lines[1:]
	p := &Proof{Note: note}
	if len(lines) > 0 && strings.HasPrefix(lines[0], "extra ") {
		b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(lines[0], "extra "))
		if err != nil {
			return nil, fmt.Errorf("proof: extra data is not base64: %v", err)
		}
		p.Entry, lines = b, lines[1:]
	}
	if len(lines) == 0 {
		return nil, errors.New("proof: no index line")
	}
	index, err := parseNumberLine(lines[0], "index")
	if err != nil {
		return nil, fmt.Errorf("proof: %v", err)
	}
	p.Index = index
	if p.Inclusion, err = parseHashLines(lines[1:]); err != nil {
		return nil, fmt.Errorf("proof: %v", err)
	}
	return p, nil
}

func writeHashes(b *bytes.Buffer, hashes []tlog.Hash) {
	for _, h := range hashes {
		b.WriteString(base64.StdEncoding.EncodeToString(h[:]) + "\n")
	}
}

func parseNumberLine(line, key string) (int64, error) {
	text, ok := strings.CutPrefix(line, key+" ")
	n, err := strconv.ParseInt(text, 10, 64)
	if !ok || err != nil || n < 0 || strconv.FormatInt(n, 10) != text {
		return 0, fmt.Errorf("checkpoint: %q is not a %q line with a decimal number", truncate(line), key)
	}
	return n, nil
}

func parseHashLines(lines []string) ([]tlog.Hash, error) {
	if len(lines) > maxProofHashes {
		return nil, fmt.Errorf("checkpoint: %d proof hashes, limit %d", len(lines), maxProofHashes)
	}
	hashes := make([]tlog.Hash, 0, len(lines))
	for i, l := range lines {
		h, err := parseHash(l)
		if err != nil {
			return nil, fmt.Errorf("proof hash %d: %v", i+1, err)
		}
		hashes = append(hashes, h)
	}
	return hashes, nil
}
