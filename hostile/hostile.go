// Package hostile is a scripted malicious party, for tests of what a
// pinned, authenticated peer can make a node spend. The other side of a
// hotline may be the adversary, or its node may be taken over: an Attacker
// holds a real party's keys (the ones the target pinned) and speaks the
// real peer protocol (docs/FORMAT.md), sending traffic that is valid,
// signed and meant to exhaust: floods of entries, junk channel proposals,
// checkpoints that contradict its own feed, entries dated in year 10000,
// parallel oversized pushes, connections held open.
//
// A Target is the node under attack, a `hotline serve` process, watched
// from outside as an administrator would watch it: its memory from /proc,
// its store's size on disk, its log lines, and how long its API takes to
// serve an honest operator.
package hostile

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fxamacker/cbor/v2"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/peer"
)

// Attacker is a party that signs with its real key and pushes to one
// target node. It tracks the feeds it writes, so that everything it sends
// continues them validly; it is safe for concurrent use.
type Attacker struct {
	Party  string
	Key    *identity.SigningKey
	Client *peer.Client // to the target, with the party's pinned TLS key

	mu    sync.Mutex
	feeds map[hotline.Feed]*Feed
}

// Feed is one of the attacker's feeds as it has written it: its entries'
// ids and record hashes, from seq 1.
type Feed struct {
	Channel entry.ChannelID
	IDs     []entry.ID
	Leaves  []tlog.Hash
}

// Head returns the feed's last seq and id (0 and the zero id when empty).
func (f *Feed) Head() (uint64, entry.ID) {
	if len(f.IDs) == 0 {
		return 0, entry.ID{}
	}
	return uint64(len(f.IDs)), f.IDs[len(f.IDs)-1]
}

// New returns an attacker with the keys of the party in dir, aimed at the
// target party whose node listens for peers on addr with TLS key tls.
func New(dir *config.Dir, target, addr string, tls identity.Fingerprint) *Attacker {
	return &Attacker{
		Party:  dir.Config.Party,
		Key:    dir.Key,
		Client: peer.NewClient(target, []string{addr}, dir.TLS, identity.Pin(tls), peer.ClientOptions{Timeout: 30 * time.Second}),
		feeds:  make(map[hotline.Feed]*Feed),
	}
}

// Close releases the attacker's connections.
func (a *Attacker) Close() { a.Client.Close() }

// Adopt takes over one of the party's existing feeds: its entries, as the
// party's own node wrote them (from its store), in seq order.
func (a *Attacker) Adopt(ch entry.ChannelID, entries []*entry.Entry) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.feed(ch)
	for _, e := range entries {
		f.IDs = append(f.IDs, e.ID())
		f.Leaves = append(f.Leaves, checkpoint.RecordHash(e))
	}
}

// Rewind forgets the last n entries of the attacker's feed in ch: those
// the target refused, so that the next entry continues what it holds (or,
// with entries it holds, to sign another entry with the same seq: an
// equivocation).
func (a *Attacker) Rewind(ch entry.ChannelID, n int) {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.feed(ch)
	n = min(n, len(f.IDs))
	f.IDs, f.Leaves = f.IDs[:len(f.IDs)-n], f.Leaves[:len(f.Leaves)-n]
}

// Feed returns a copy of the attacker's feed in ch.
func (a *Attacker) Feed(ch entry.ChannelID) Feed {
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.feed(ch)
	return Feed{Channel: ch, IDs: slices.Clone(f.IDs), Leaves: slices.Clone(f.Leaves)}
}

func (a *Attacker) feed(ch entry.ChannelID) *Feed {
	k := hotline.Feed{Channel: ch, Party: a.Party}
	f := a.feeds[k]
	if f == nil {
		f = &Feed{Channel: ch}
		a.feeds[k] = f
	}
	return f
}

// Sign signs the next entry of the attacker's feed in ch with body,
// which becomes the feed's head.
func (a *Attacker) Sign(ch entry.ChannelID, kind entry.Kind, body any) (*entry.Entry, error) {
	return a.SignDated(ch, kind, body, time.Now())
}

// SignDated is Sign with the author's time set to at: backdated, or
// dated ahead, within the times the format allows.
func (a *Attacker) SignDated(ch entry.ChannelID, kind entry.Kind, body any, at time.Time) (*entry.Entry, error) {
	b, err := entry.EncodeBody(body)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	f := a.feed(ch)
	seq, prev := f.Head()
	e, err := entry.Sign(entry.Header{Channel: ch, Author: a.Party, Seq: seq + 1, Prev: prev, Time: at.UnixMilli(), Kind: kind}, b, a.Key.Priv)
	if err != nil {
		return nil, err
	}
	f.IDs = append(f.IDs, e.ID())
	f.Leaves = append(f.Leaves, checkpoint.RecordHash(e))
	return e, nil
}

// SignRaw signs what would be the next entry of the attacker's feed in ch,
// with adjust changing its header first, and returns its wire encoding.
// It encodes and signs as docs/FORMAT.md says, without package entry's
// checks, as a hostile implementation would: so it can write what the
// format forbids (a time in year 10000, say). The feed's head does not
// move: the entry is meant to be refused.
func (a *Attacker) SignRaw(ch entry.ChannelID, kind entry.Kind, body any, adjust func(*entry.Header)) ([]byte, error) {
	b, err := entry.EncodeBody(body)
	if err != nil {
		return nil, err
	}
	a.mu.Lock()
	seq, prev := a.feed(ch).Head()
	a.mu.Unlock()
	h := entry.Header{Version: entry.Version, Channel: ch, Author: a.Party, Seq: seq + 1, Prev: prev, Time: time.Now().UnixMilli(), Kind: kind, BodyHash: sha256.Sum256(b)}
	if adjust != nil {
		adjust(&h)
	}
	enc, err := cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		return nil, err
	}
	hb, err := enc.Marshal(h)
	if err != nil {
		return nil, err
	}
	sig := ed25519.Sign(a.Key.Priv, append([]byte("hotline entry v1\n"), hb...))
	return enc.Marshal([3][]byte{hb, sig, b})
}

// Messages signs n messages of size bytes of text each in ch.
func (a *Attacker) Messages(ch entry.ChannelID, n, size int) ([]*entry.Entry, error) {
	text := strings.Repeat("x", max(1, size))
	out := make([]*entry.Entry, 0, n)
	for range n {
		e, err := a.Sign(ch, entry.KindMessage, &entry.Message{Text: text, Lang: "en"})
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// Proposal signs a proposal of a new channel named name at level among
// members (the attacker among them), with their pinned keys: the first
// entry of a new feed, valid in every respect.
func (a *Attacker) Proposal(name, level string, members []entry.Member) (*entry.Entry, error) {
	def := &entry.Definition{Name: name, Level: level, Proposer: a.Party, Members: members, Created: time.Now().UnixMilli()}
	rand.Read(def.Nonce[:])
	return a.Sign(def.ChannelID(), entry.KindConfig, &entry.Config{Action: entry.ActionPropose, Definition: def})
}

// PushResult sums up pushing many entries: what the target stored, what
// it refused one by one (by reason), and how many pushes it refused whole
// with 429.
type PushResult struct {
	Stored, Duplicates int
	Refused            map[string]int // rejections by reason
	Busy               int            // pushes answered 429
}

// Push sends entries in batches of batch, as fast as the target takes
// them; a push answered 429, or entries refused for now by one of the
// target's limits, are sent again after the time it asks for when obey is
// set (entries of one feed, in order); without obey a 429 is retried at
// once and refusals are counted (a hostile peer need not obey).
func (a *Attacker) Push(ctx context.Context, entries []*entry.Entry, batch int, obey bool) (*PushResult, error) {
	res := &PushResult{Refused: make(map[string]int)}
	for len(entries) > 0 {
		n := min(batch, len(entries))
		r, err := a.Client.Push(ctx, entries[:n])
		var se *peer.StatusError
		if errors.As(err, &se) && se.Code == http.StatusTooManyRequests {
			res.Busy++
			wait := 10 * time.Millisecond
			if obey {
				wait = max(se.RetryAfter, time.Second)
			}
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return res, ctx.Err()
			}
			continue
		}
		if err != nil {
			return res, err
		}
		res.Stored += r.Stored
		res.Duplicates += r.Duplicates
		taken := r.Stored + r.Duplicates
		if obey && taken < n && len(r.Rejected) > 0 && r.Rejected[0].Reason == peer.ReasonQuota && r.Rejected[0].ID == entries[taken].ID() &&
			time.Duration(r.Rejected[0].RetryAfterMS)*time.Millisecond <= maxObeyedWait {
			// Refused for now from entry taken on: wait as asked, then go
			// on from there (entries of one feed are taken in order).
			select {
			case <-time.After(max(time.Duration(r.Rejected[0].RetryAfterMS)*time.Millisecond, 10*time.Millisecond)):
			case <-ctx.Done():
				return res, ctx.Err()
			}
			entries = entries[taken:]
			continue
		}
		for _, rj := range r.Rejected {
			res.Refused[cmpOr(rj.Reason, "invalid")]++
		}
		entries = entries[n:]
	}
	return res, nil
}

// maxObeyedWait is the longest refusal-for-now Push waits out: a refusal
// for longer (a day's quota spent, invitations at their cap) is counted
// instead.
const maxObeyedWait = 5 * time.Second

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// LyingCheckpoint builds an add-checkpoint request for the attacker's
// feed in ch that the target's witness cannot refuse on form: signed by
// the party's real key, of the feed's full size, with a consistency
// proof from the size the target last cosigned (old) that verifies,
// but over a tree whose leaves after old are made up, so its root is not
// the tree of the entries the target holds.
func (a *Attacker) LyingCheckpoint(ch entry.ChannelID, old int64) ([]byte, error) {
	f := a.Feed(ch)
	size := int64(len(f.Leaves))
	if old >= size {
		return nil, fmt.Errorf("hostile: the feed has %d entries; nothing to lie about after %d", size, old)
	}
	leaves := slices.Clone(f.Leaves)
	for i := old; i < size; i++ {
		leaves[i][0] ^= 0xff // made up
	}
	var stored []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, l := range leaves {
		hs, err := tlog.StoredHashesForRecordHash(int64(i), l, read)
		if err != nil {
			return nil, err
		}
		stored = append(stored, hs...)
	}
	root, err := tlog.TreeHash(size, read)
	if err != nil {
		return nil, err
	}
	var proof tlog.TreeProof
	if old > 0 {
		if proof, err = tlog.ProveTree(size, old, read); err != nil {
			return nil, err
		}
	}
	note, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: checkpoint.Origin(ch, a.Party), Size: size, Root: root}, a.Party, a.Key.Priv)
	if err != nil {
		return nil, err
	}
	return (&checkpoint.AddCheckpoint{OldSize: old, Proof: proof, Note: note}).Encode(), nil
}

// CosignedSize asks the target which size of the attacker's feed in ch it
// last cosigned, as a witness client does: with an old size it cannot
// have, whose 409 answer says.
func (a *Attacker) CosignedSize(ctx context.Context, ch entry.ChannelID) (int64, error) {
	f := a.Feed(ch)
	note, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: checkpoint.Origin(ch, a.Party), Size: int64(len(f.Leaves)), Root: tlog.Hash{1}}, a.Party, a.Key.Priv)
	if err != nil {
		return 0, err
	}
	_, err = a.Client.AddCheckpoint(ctx, (&checkpoint.AddCheckpoint{OldSize: int64(len(f.Leaves)), Note: note}).Encode())
	var se *peer.StatusError
	if !errors.As(err, &se) || se.Code != http.StatusConflict || !strings.HasPrefix(se.ContentType, "text/x.tlog.size") {
		return 0, fmt.Errorf("hostile: no size in the answer: %v", err)
	}
	var size int64
	_, err = fmt.Sscan(se.Body, &size)
	return size, err
}
