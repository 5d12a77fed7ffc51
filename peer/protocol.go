// Package peer is the link between nodes of different parties: HTTP over
// TLS 1.3 with mutual authentication, each side pinning the other's key
// (see package identity), on a listener of its own, never the operator API's.
//
// The protocol has three calls, all CBOR:
//
//	GET  /peer/v1/heads    what the server holds of every feed it shares with the caller
//	POST /peer/v1/entries  push: a CBOR sequence (RFC 8742) of signed entries
//	POST /peer/v1/pull     pull: the caller's heads in, the entries it lacks out
//
// Entries carry their author's signature, so a node may forward entries of
// any member of a channel they share; the receiver verifies each one before
// storing it. The caller's party is known from its TLS key alone.
package peer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/hotline-project/hotline/entry"
)

// Limits on one request or response of the peer protocol.
const (
	MaxBatchEntries = 1024     // entries in one push or pull
	MaxBatchBytes   = 16 << 20 // bytes in one push or pull body
	MaxHeads        = 1 << 16  // feed heads a decoder accepts in one list
	// MaxHeadsPage is how many heads one page of a heads answer or a pull
	// request carries at most (a page never splits a channel, so one may
	// run over by a channel's members). However many channels two nodes
	// share, each page stays far below MaxHeads.
	MaxHeadsPage = 4096
)

// FeedHead is the newest entry a node holds of one feed.
type FeedHead struct {
	Channel entry.ChannelID `cbor:"1,keyasint"`
	Party   string          `cbor:"2,keyasint"`
	Seq     uint64          `cbor:"3,keyasint"`
	ID      entry.ID        `cbor:"4,keyasint"`
}

// Heads is the body of a heads answer and of a pull request: one page
// of heads, ordered by channel id. A page covers the channels with an id
// above After (absent: from the first) up to and including Through
// (absent: to the last); in a heads answer, Through is present exactly
// when more pages follow, and the next page is asked for with
// ?after=Through.
type Heads struct {
	Heads   []FeedHead       `cbor:"1,keyasint"`
	After   *entry.ChannelID `cbor:"2,keyasint,omitempty"`
	Through *entry.ChannelID `cbor:"3,keyasint,omitempty"`
}

// Covers reports whether channel id is in the page's range.
func (h *Heads) Covers(id entry.ChannelID) bool {
	if h.After != nil && bytes.Compare(id[:], h.After[:]) <= 0 {
		return false
	}
	return h.Through == nil || bytes.Compare(id[:], h.Through[:]) <= 0
}

// Rejection says why one pushed entry was refused. Reason is a short
// code ("quota" for an entry refused by a limit, which may succeed
// after RetryAfterMS; see the node's rejection reasons).
type Rejection struct {
	ID           entry.ID `cbor:"1,keyasint"`
	Error        string   `cbor:"2,keyasint"`
	Reason       string   `cbor:"3,keyasint,omitempty"`
	RetryAfterMS int64    `cbor:"4,keyasint,omitempty"`
}

// ReasonQuota marks an entry refused by one of the receiver's limits.
const ReasonQuota = "quota"

// PushResult is the response to a push.
type PushResult struct {
	Stored     int         `cbor:"1,keyasint"`
	Duplicates int         `cbor:"2,keyasint"`
	Rejected   []Rejection `cbor:"3,keyasint,omitempty"`
	Heads      []FeedHead  `cbor:"4,keyasint,omitempty"` // the server's heads of the feeds pushed, after storing
}

// Handler is what a node provides to the peer server. Party is the calling
// party, authenticated by its pinned TLS key.
type Handler interface {
	// PartyFor returns the party whose pinned TLS key has fingerprint fp.
	PartyFor(fp string) (party string, ok bool)
	// PeerHeartbeat checks a signed heartbeat from party and returns this
	// node's signed answer.
	PeerHeartbeat(ctx context.Context, party string, signed []byte) ([]byte, error)
	// PeerHeads returns a page of the heads of the feeds shared with
	// party, of channels above after (nil: from the first), at most about
	// MaxHeadsPage of them, ordered by channel id (see Heads).
	PeerHeads(ctx context.Context, party string, after *entry.ChannelID) (*Heads, error)
	// PeerPush verifies and stores entries pushed by party. It may
	// refuse the whole push with a *BusyError.
	PeerPush(ctx context.Context, party string, raw [][]byte) (*PushResult, error)
	// PeerPull returns up to limit entries that party lacks, of the
	// channels its page of heads covers, given those heads, in an order
	// in which each entry's dependencies come first.
	PeerPull(ctx context.Context, party string, page *Heads, limit int) ([]*entry.Entry, error)
	// PeerAddCheckpoint answers a C2SP tlog-witness add-checkpoint request
	// from party with cosignature lines, or a *WitnessError.
	PeerAddCheckpoint(ctx context.Context, party string, body []byte) ([]byte, error)
	// PeerCall carries out a call operation from party (a media link's
	// offer, a ring, a section for the held record), or refuses it with
	// a *CallRefused.
	PeerCall(ctx context.Context, party string, req *CallRequest) (*CallResponse, error)
}

// WitnessError is an add-checkpoint refusal with the HTTP status the C2SP
// tlog-witness protocol gives it; for 409 after a size mismatch, Size is
// the size of the last checkpoint cosigned, sent as text/x.tlog.size.
type WitnessError struct {
	Code int
	Size int64 // with Code 409: -1 when the conflict is not about the old size
	Msg  string
}

func (e *WitnessError) Error() string { return e.Msg }

// StandbyError is the answer of a replica that is not its party's
// writer: it is answered 503 with the StandbyHeader, and the caller moves
// on to the party's next endpoint, as if this one were down.
type StandbyError struct {
	Party string // the party the replica serves
}

func (e *StandbyError) Error() string {
	return fmt.Sprintf("peer: this endpoint of %s is a standby replica, not the party's writer; use another of its endpoints", e.Party)
}

// StandbyHeader marks a standby replica's answer.
const StandbyHeader = "Hotline-Replica"

// BusyError refuses a request for now, because the caller is over one of
// this node's limits: it is answered 429 Too Many Requests with a
// Retry-After header, and the caller backs off that long.
type BusyError struct {
	RetryAfter time.Duration
	Msg        string
}

func (e *BusyError) Error() string { return e.Msg }

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	if encMode, err = cbor.CoreDetEncOptions().EncMode(); err != nil {
		panic(err)
	}
	if decMode, err = (cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   6,
		MaxArrayElements:  MaxHeads,
		MaxMapPairs:       16,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
	}).DecMode(); err != nil {
		panic(err)
	}
}

// ErrMalformed is returned for peer protocol bodies that do not decode.
var ErrMalformed = errors.New("peer: malformed message")

// DecodeHeads decodes a page of heads and checks its limits: every head
// is a well-named feed of a channel in the page's range.
func DecodeHeads(b []byte) (*Heads, error) {
	var h Heads
	if err := decMode.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("%w: heads: %v", ErrMalformed, err)
	}
	if h.After != nil && h.Through != nil && bytes.Compare(h.After[:], h.Through[:]) >= 0 {
		return nil, fmt.Errorf("%w: heads: empty page range", ErrMalformed)
	}
	for _, fh := range h.Heads {
		if err := entry.CheckName("party", fh.Party); err != nil {
			return nil, fmt.Errorf("%w: heads: %v", ErrMalformed, err)
		}
		if !h.Covers(fh.Channel) {
			return nil, fmt.Errorf("%w: heads: a head of channel %s outside the page", ErrMalformed, fh.Channel)
		}
	}
	return &h, nil
}

// DecodePushResult decodes a push response.
func DecodePushResult(b []byte) (*PushResult, error) {
	var r PushResult
	if err := decMode.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("%w: push result: %v", ErrMalformed, err)
	}
	return &r, nil
}

// EncodeEntries writes entries as a CBOR sequence.
func EncodeEntries(entries []*entry.Entry) []byte {
	var buf bytes.Buffer
	for _, e := range entries {
		buf.Write(e.Encode())
	}
	return buf.Bytes()
}

// SplitEntries splits a CBOR sequence of entries into the encoded entries,
// without decoding them, enforcing the batch limits.
func SplitEntries(b []byte) ([][]byte, error) {
	if len(b) > MaxBatchBytes {
		return nil, fmt.Errorf("%w: batch is %d bytes, limit %d", ErrMalformed, len(b), MaxBatchBytes)
	}
	dec := decMode.NewDecoder(bytes.NewReader(b))
	var out [][]byte
	for {
		var raw cbor.RawMessage
		err := dec.Decode(&raw)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: entry %d of batch: %v", ErrMalformed, len(out)+1, err)
		}
		if len(out) == MaxBatchEntries {
			return nil, fmt.Errorf("%w: more than %d entries in one batch", ErrMalformed, MaxBatchEntries)
		}
		out = append(out, raw)
	}
}

func marshal(v any) []byte {
	b, err := encMode.Marshal(v)
	if err != nil {
		panic("peer: encode protocol message: " + err.Error())
	}
	return b
}
