package audit

import (
	"errors"
	"fmt"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
)

// ProofReport is what a verified proof of one entry shows.
type ProofReport struct {
	ID         string               `json:"id"`
	Channel    string               `json:"channel"`
	Author     string               `json:"author"`
	Operator   string               `json:"operator,omitempty"`
	Seq        uint64               `json:"seq"`
	Kind       string               `json:"kind"`
	Time       time.Time            `json:"time"`
	Text       string               `json:"text,omitempty"`
	TreeSize   int64                `json:"tree_size"`
	CosignedBy map[string]time.Time `json:"cosigned_by"`
}

// VerifyProof checks a C2SP tlog-proof of a hotline entry against the
// parties' keys: the entry's signature, its inclusion in the checkpointed
// tree of its feed, the author's checkpoint signature and every
// cosignature by a party in keys.
func VerifyProof(data []byte, keys checkpoint.Keys) (*ProofReport, error) {
	p, err := checkpoint.ParseProof(data)
	if err != nil {
		return nil, err
	}
	if p.Entry == nil {
		return nil, errors.New("proof: carries no entry (its extra line); hotline proofs carry the entry they prove")
	}
	e, err := entry.Decode(p.Entry)
	if err != nil {
		return nil, fmt.Errorf("proof: the entry: %v", err)
	}
	pubs := keys[e.Author]
	if len(pubs) == 0 {
		return nil, fmt.Errorf("proof: no key for %s, the entry's author; pass it with --key", e.Author)
	}
	// A party that rotated its key has several: the entry was signed by
	// the one valid at its position, which the feed's key entries name.
	err = entry.ErrBadSignature
	for _, pub := range pubs {
		if err = e.Verify(pub); err == nil {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("proof: entry %s/%d: %v (by none of the %d keys of %s given)", e.Author, e.Seq, err, len(pubs), e.Author)
	}
	s, err := checkpoint.Open(p.Note, keys)
	if err != nil {
		return nil, fmt.Errorf("proof: %v", err)
	}
	if s.Channel != e.Channel || s.Author != e.Author {
		return nil, fmt.Errorf("proof: the checkpoint is of %s, not of %s's feed in channel %s", s.Origin, e.Author, e.Channel)
	}
	if p.Index != int64(e.Seq)-1 {
		return nil, fmt.Errorf("proof: index %d, but the entry is seq %d (index %d)", p.Index, e.Seq, e.Seq-1)
	}
	if p.Index >= s.Size {
		return nil, fmt.Errorf("proof: index %d is outside the checkpointed tree of size %d", p.Index, s.Size)
	}
	if err := tlog.CheckRecord(p.Inclusion, s.Size, s.Root, p.Index, checkpoint.RecordHash(e)); err != nil {
		return nil, fmt.Errorf("proof: the entry is not in the checkpointed tree: %v", err)
	}
	r := &ProofReport{ID: e.ID().String(), Channel: e.Channel.String(), Author: e.Author, Operator: e.Operator, Seq: e.Seq,
		Kind: string(e.Kind), Time: e.AuthorTime(), TreeSize: s.Size, CosignedBy: s.Cosigners}
	if body, err := entry.DecodeBody(e); err == nil {
		if m, ok := body.(*entry.Message); ok {
			r.Text = m.Text
		}
	}
	return r, nil
}
