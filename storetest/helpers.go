package storetest

import (
	"context"
	"crypto/ed25519"
	"slices"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"golang.org/x/mod/sumdb/tlog"
)

// FeedWriter signs the entries of one feed, in order.
type FeedWriter struct {
	T       testing.TB
	Key     ed25519.PrivateKey
	Channel entry.ChannelID
	Author  string // "alpha" if empty
	prev    entry.ID
	seq     uint64
}

// Next signs the feed's next message.
func (w *FeedWriter) Next(text string) *entry.Entry {
	w.T.Helper()
	return w.Write(entry.KindMessage, &entry.Message{Text: text, Lang: "en"})
}

// Write signs the feed's next entry of kind with body.
func (w *FeedWriter) Write(kind entry.Kind, body any) *entry.Entry {
	w.T.Helper()
	b, err := entry.EncodeBody(body)
	if err != nil {
		w.T.Fatal(err)
	}
	author := w.Author
	if author == "" {
		author = "alpha"
	}
	w.seq++
	e, err := entry.Sign(entry.Header{Channel: w.Channel, Author: author, Seq: w.seq, Prev: w.prev, Time: time.Now().UnixMilli(), Kind: kind}, b, w.Key)
	if err != nil {
		w.T.Fatal(err)
	}
	w.prev = e.ID()
	return e
}

// Chatter writes a channel of several feeds that reference each other, as
// nodes do: each entry names the newest entry it holds of every other
// feed.
type Chatter struct {
	t     testing.TB
	key   ed25519.PrivateKey
	ch    entry.ChannelID
	heads map[string]*entry.Entry
}

// NewChatter returns a Chatter for channel ch.
func NewChatter(t testing.TB, ch entry.ChannelID) *Chatter {
	_, key, _ := ed25519.GenerateKey(nil)
	return &Chatter{t: t, key: key, ch: ch, heads: make(map[string]*entry.Entry)}
}

// Write signs author's next entry of kind with body, referencing the
// heads of the feeds in sees.
func (c *Chatter) Write(author string, kind entry.Kind, body any, sees ...string) *entry.Entry {
	c.t.Helper()
	b, err := entry.EncodeBody(body)
	if err != nil {
		c.t.Fatal(err)
	}
	h := entry.Header{Channel: c.ch, Author: author, Seq: 1, Time: time.Now().UnixMilli(), Kind: kind}
	if prev := c.heads[author]; prev != nil {
		h.Seq, h.Prev = prev.Seq+1, prev.ID()
	}
	slices.Sort(sees)
	for _, p := range sees {
		if e := c.heads[p]; e != nil && p != author {
			h.Refs = append(h.Refs, e.Ref())
		}
	}
	e, err := entry.Sign(h, b, c.key)
	if err != nil {
		c.t.Fatal(err)
	}
	c.heads[author] = e
	return e
}

// Message signs author's next message.
func (c *Chatter) Message(author, text string, sees ...string) *entry.Entry {
	return c.Write(author, entry.KindMessage, &entry.Message{Text: text, Lang: "en"}, sees...)
}

// Head returns the newest entry the Chatter wrote for author, or nil.
func (c *Chatter) Head(author string) *entry.Entry { return c.heads[author] }

// ChannelOrder sorts entries held in a causal order into channel order,
// from their depths computed anew: the reference a store's index must
// agree with.
func ChannelOrder(entries []*entry.Entry) []entry.ID {
	type pos struct {
		author string
		seq    uint64
	}
	depth := make(map[pos]int64)
	type row struct {
		p  hotline.Position
		id entry.ID
	}
	var rows []row
	for _, e := range entries {
		d := hotline.Depth(e, func(party string, seq uint64) int64 { return depth[pos{party, seq}] })
		depth[pos{e.Author, e.Seq}] = d
		rows = append(rows, row{hotline.Position{Depth: d, Author: e.Author, Seq: e.Seq}, e.ID()})
	}
	slices.SortFunc(rows, func(a, b row) int {
		if a.p.Less(b.p) {
			return -1
		}
		return 1
	})
	var ids []entry.ID
	for _, r := range rows {
		ids = append(ids, r.id)
	}
	return ids
}

// ThreeParties stores an active policy channel of alpha, bravo and charlie.
func ThreeParties(t testing.TB, s hotline.Store) *hotline.Channel {
	t.Helper()
	def := entry.Definition{Name: "three", Level: "policy", Proposer: "alpha",
		Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}, {Party: "charlie", Key: "c"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelActive, Label: "three"}
	if err := s.Append(context.Background(), time.Now(), []hotline.Write{{Channel: ch}}); err != nil {
		t.Fatal(err)
	}
	return ch
}

// RootOf computes an RFC 6962 root from leaf hashes, independently of the
// stored-hash layout.
func RootOf(leaves []tlog.Hash) tlog.Hash {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return tlog.NodeHash(RootOf(leaves[:k]), RootOf(leaves[k:]))
}
