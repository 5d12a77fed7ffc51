package sqlite

import (
	"context"
	"crypto/ed25519"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// chatter writes a channel of several feeds that reference each other,
// as nodes do: each entry names the newest entry it holds of every other
// feed.
type chatter struct {
	t     testing.TB
	key   ed25519.PrivateKey
	ch    entry.ChannelID
	heads map[string]*entry.Entry
}

func newChatter(t testing.TB, ch entry.ChannelID) *chatter {
	_, key, _ := ed25519.GenerateKey(nil)
	return &chatter{t: t, key: key, ch: ch, heads: make(map[string]*entry.Entry)}
}

// write signs author's next entry of kind with body, referencing the
// heads of the feeds in sees.
func (c *chatter) write(author string, kind entry.Kind, body any, sees ...string) *entry.Entry {
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

func (c *chatter) message(author, text string, sees ...string) *entry.Entry {
	return c.write(author, entry.KindMessage, &entry.Message{Text: text, Lang: "en"}, sees...)
}

// channelOrder sorts entries held in a causal order into channel order,
// from their depths computed anew: the reference the store's index must
// agree with.
func channelOrder(entries []*entry.Entry) []entry.ID {
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

func threeParties(t testing.TB, s *Store) *hotline.Channel {
	t.Helper()
	def := entry.Definition{Name: "three", Level: "policy", Proposer: "alpha",
		Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}, {Party: "charlie", Key: "c"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelActive, Label: "three"}
	if err := s.Append(context.Background(), time.Now(), []hotline.Write{{Channel: ch}}); err != nil {
		t.Fatal(err)
	}
	return ch
}

// TestStore_PagesWalkChannelOrder: pages read forwards from the start, or
// back from the newest, cover the channel in channel order, each entry
// once, with Earlier and Later telling whether there is more; whatever
// order the entries were stored in.
func TestStore_PagesWalkChannelOrder(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	ch := threeParties(t, s)
	c := newChatter(t, ch.ID)
	rng := rand.New(rand.NewPCG(1, 2))
	parties := []string{"alpha", "bravo", "charlie"}
	var all []*entry.Entry
	for i := range 200 {
		author := parties[rng.IntN(3)]
		var sees []string
		for _, p := range parties {
			if rng.IntN(2) == 0 {
				sees = append(sees, p)
			}
		}
		e := c.message(author, fmt.Sprint("m", i), sees...)
		all = append(all, e)
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e}}); err != nil {
			t.Fatal(err)
		}
	}
	want := channelOrder(all)
	ids := func(sts []*hotline.Stored) []entry.ID {
		var out []entry.ID
		for _, st := range sts {
			out = append(out, st.ID())
		}
		return out
	}

	var forward []entry.ID
	after := &hotline.Position{}
	for pages := 0; ; pages++ {
		p, err := s.Page(ctx, ch.ID, hotline.PageQuery{After: after, Limit: 7})
		if err != nil {
			t.Fatal(err)
		}
		if p.Earlier != (pages > 0) {
			t.Fatalf("page %d after the start: earlier %v", pages, p.Earlier)
		}
		forward = append(forward, ids(p.Entries)...)
		if !p.Later {
			break
		}
		last := p.Entries[len(p.Entries)-1].Position()
		after = &last
	}
	if !slices.Equal(forward, want) {
		t.Fatalf("forward pages: %d entries, not the %d in channel order", len(forward), len(want))
	}

	var backward []entry.ID
	q := hotline.PageQuery{Limit: 9}
	for pages := 0; ; pages++ {
		p, err := s.Page(ctx, ch.ID, q)
		if err != nil {
			t.Fatal(err)
		}
		if p.Later != (pages > 0) {
			t.Fatalf("page %d back from the newest: later %v", pages, p.Later)
		}
		backward = append(ids(p.Entries), backward...)
		if !p.Earlier {
			break
		}
		first := p.Entries[0].Position()
		q.Before = &first
	}
	if !slices.Equal(backward, want) {
		t.Fatalf("backward pages: %d entries, not the %d in channel order", len(backward), len(want))
	}
	// Following by storage order gives every entry once, in the order
	// they were stored, and says where the channel's storage order stands.
	var stored []entry.ID
	var from int64
	for {
		p, err := s.Page(ctx, ch.ID, hotline.PageQuery{StoredAfter: &from, Limit: 11})
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, ids(p.Entries)...)
		if !p.Later {
			if p.Stored != p.Entries[len(p.Entries)-1].Local {
				t.Fatalf("the last page says the channel is stored up to %d, its last entry is %d", p.Stored, p.Entries[len(p.Entries)-1].Local)
			}
			break
		}
		from = p.Entries[len(p.Entries)-1].Local
	}
	var inOrder []entry.ID
	for _, e := range all {
		inOrder = append(inOrder, e.ID())
	}
	if !slices.Equal(stored, inOrder) {
		t.Fatalf("pages by storage order: %d entries, not the %d in the order stored", len(stored), len(all))
	}

	// Past either end, a page is empty and says what lies on its other side.
	end := hotline.Position{Depth: 1 << 40}
	if p, err := s.Page(ctx, ch.ID, hotline.PageQuery{After: &end, Limit: 5}); err != nil || len(p.Entries) != 0 || p.Later || !p.Earlier {
		t.Fatalf("a page after the end: %+v, %v", p, err)
	}
	if p, err := s.Page(ctx, ch.ID, hotline.PageQuery{Before: &hotline.Position{}, Limit: 5}); err != nil || len(p.Entries) != 0 || !p.Later || p.Earlier {
		t.Fatalf("a page before the start: %+v, %v", p, err)
	}
}

// TestStore_PageReadsUseIndexes: the entries of a page, in either
// direction, come from the channel-order index, without a sort or a scan
// of the channel; a page's marks come from the target index.
func TestStore_PageReadsUseIndexes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	for _, q := range []string{
		`SELECT ` + entryCols + ` FROM entries WHERE channel = ? AND (depth, author, seq) > (?, ?, ?) ORDER BY depth, author, seq LIMIT ?`,
		`SELECT ` + entryCols + ` FROM entries WHERE channel = ? AND (depth, author, seq) < (?, ?, ?) ORDER BY depth DESC, author DESC, seq DESC LIMIT ?`,
	} {
		plan := strings.Join(queryPlan(t, s, q, []byte{1}, 5, "alpha", 3, 10), "; ")
		if !strings.Contains(plan, "entries_order") || strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, "depth") {
			t.Errorf("plan of %s: %q", q, plan)
		}
	}
	plan := strings.Join(queryPlan(t, s, `SELECT `+markCols+` FROM marks WHERE target_id IN (?, ?)`, []byte{1}, []byte{2}), "; ")
	if !strings.Contains(plan, "marks_target_id") {
		t.Errorf("plan of a page's marks: %q", plan)
	}
}

// TestStore_PageCarriesItsIndexRows: a page brings each message's first
// covering receipt per member, its marks (one row per message a
// cumulative read covers) and its translations, and nothing about
// messages outside it.
func TestStore_PageCarriesItsIndexRows(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	ch := threeParties(t, s)
	c := newChatter(t, ch.ID)
	var msgs []*entry.Entry
	for i := range 6 {
		e := c.message("alpha", fmt.Sprint("m", i))
		msgs = append(msgs, e)
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e}}); err != nil {
			t.Fatal(err)
		}
	}
	// Bravo receipts up to the fourth, then reads the second to the fifth
	// in one cumulative read, and translates the third.
	rc := c.write("bravo", entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{msgs[3].Ref()}}, "alpha")
	read := c.write("bravo", entry.KindRead, &entry.Mark{Target: msgs[4].Ref(), From: msgs[1].Seq}, "alpha")
	tr := c.write("bravo", entry.KindTranslation, &entry.Translation{Of: msgs[2].Ref(), Lang: "zh-Hans", Stage: entry.StageSight, Translator: "Li", Text: "三"}, "alpha")
	writes := []hotline.Write{
		{Entry: rc, Receipts: []hotline.ReceiptRow{{Receiver: "bravo", Party: "alpha", Seq: msgs[3].Seq, ReceiptSeq: rc.Seq, Time: time.Now()}}},
		{Entry: read, Mark: &hotline.MarkRow{Kind: entry.KindRead, Target: msgs[4].Ref(), From: msgs[1].Seq, Party: "bravo", Seq: read.Seq, Time: time.Now()}},
		{Entry: tr, Mark: &hotline.MarkRow{Kind: entry.KindTranslation, Target: msgs[2].Ref(), Party: "bravo", Seq: tr.Seq, Time: time.Now()}},
	}
	if err := s.Append(ctx, time.Now(), writes); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.Unread(ctx, ch.ID, "bravo"); n != 2 {
		t.Fatalf("bravo's unread after a read of 4 of 6: %d", n)
	}
	// The page of alpha's messages 2 to 4 (seqs 2..4).
	from := hotline.Position{}
	p, err := s.Page(ctx, ch.ID, hotline.PageQuery{After: &from, Limit: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Entries) != 4 || p.Entries[0].ID() != msgs[0].ID() {
		t.Fatalf("page: %d entries", len(p.Entries))
	}
	var reads []uint64
	for _, m := range p.Marks {
		if m.Kind == entry.KindRead {
			reads = append(reads, m.Target.Seq)
		}
	}
	slices.Sort(reads)
	if !slices.Equal(reads, []uint64{2, 3, 4}) {
		t.Errorf("read marks on the page's messages: %v, want seqs 2, 3, 4", reads)
	}
	if len(p.Translations) != 1 || p.Translations[0].ID() != tr.ID() {
		t.Errorf("translations: %d", len(p.Translations))
	}
	if len(p.Receipts) != 1 || p.Receipts[0].Seq != msgs[3].Seq || p.Receipts[0].Receiver != "bravo" {
		t.Errorf("receipts: %+v", p.Receipts)
	}
	first, ok, err := s.FirstUnread(ctx, ch.ID, "bravo")
	if err != nil || !ok || first.Seq != msgs[0].Seq || first.Author != "alpha" {
		t.Errorf("bravo's first unread: %+v, %v, %v", first, ok, err)
	}
	if _, ok, err := s.FirstUnread(ctx, ch.ID, "alpha"); err != nil || ok {
		t.Errorf("alpha has its own messages as unread: %v, %v", ok, err)
	}
}

// TestStore_MigrationToVersion9: a store of schema version 8 gets each
// entry's causal depth, its marks keep their rows, and its translations
// are indexed, so that pages read it as they read a new store.
func TestStore_MigrationToVersion9(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for v := range 8 {
		if _, err := db.Exec(migrations[v]); err != nil {
			t.Fatalf("migration %d: %v", v+1, err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 8`); err != nil {
		t.Fatal(err)
	}
	def := entry.Definition{Name: "two", Level: "policy", Proposer: "alpha", Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}}
	chID := def.ChannelID()
	d, _ := entry.EncodeBody(&def)
	if _, err := db.Exec(`INSERT INTO channels (id, name, level, proposer, definition, state, label) VALUES (?,?,?,?,?,?,?)`, chID[:], def.Name, def.Level, "alpha", d, "active", "two"); err != nil {
		t.Fatal(err)
	}
	c := newChatter(t, chID)
	var all []*entry.Entry
	for i := range 30 {
		author := []string{"alpha", "bravo"}[i%3/2]
		all = append(all, c.message(author, fmt.Sprint("m", i), "alpha", "bravo"))
	}
	tr := c.write("bravo", entry.KindTranslation, &entry.Translation{Of: all[0].Ref(), Lang: "zh-Hans", Stage: entry.StageRough, Translator: "Li", Text: "零"}, "alpha")
	ack := c.write("bravo", entry.KindAck, &entry.Mark{Target: all[0].Ref()}, "alpha")
	all = append(all, tr, ack)
	for _, e := range all {
		id := e.ID()
		if _, err := db.Exec(`INSERT INTO entries (id, channel, author, seq, kind, header, sig, body, received) VALUES (?,?,?,?,?,?,?,?,?)`,
			id[:], chID[:], e.Author, int64(e.Seq), string(e.Kind), e.HeaderBytes, e.Sig, e.Body, time.Now().UnixMilli()); err != nil {
			t.Fatal(err)
		}
	}
	target := all[0].ID()
	if _, err := db.Exec(`INSERT INTO marks (channel, kind, target, target_seq, target_id, party, operator, seq, time, reply) VALUES (?,?,?,?,?,?,?,?,?,?)`,
		chID[:], "ack", "alpha", 1, target[:], "bravo", "duty", int64(ack.Seq), 1, ""); err != nil {
		t.Fatal(err)
	}
	db.Close()

	s := open(t, path)
	defer s.Close()
	var got []entry.ID
	after := &hotline.Position{}
	for {
		p, err := s.Page(ctx, chID, hotline.PageQuery{After: after, Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		for _, st := range p.Entries {
			got = append(got, st.ID())
		}
		if !p.Later {
			break
		}
		last := p.Entries[len(p.Entries)-1].Position()
		after = &last
	}
	if want := channelOrder(all); !slices.Equal(got, want) {
		t.Fatalf("after the migration pages give %d entries out of channel order", len(got))
	}
	p, err := s.Page(ctx, chID, hotline.PageQuery{After: &hotline.Position{}, Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[entry.Kind]int{}
	for _, m := range p.Marks {
		kinds[m.Kind]++
	}
	if kinds[entry.KindAck] != 1 || kinds[entry.KindTranslation] != 1 || len(p.Translations) != 1 {
		t.Fatalf("the first message's marks after the migration: %v, %d translations", kinds, len(p.Translations))
	}
}

// TestStore_AppendPreparesEachStatementOnce: the first Append prepares
// what it ran on the writer's connection; later ones prepare nothing new.
func TestStore_AppendPreparesEachStatementOnce(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	ch := threeParties(t, s)
	c := newChatter(t, ch.ID)
	write := func(i int) {
		t.Helper()
		m := c.message("alpha", fmt.Sprint("m", i))
		rc := c.write("bravo", entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{m.Ref()}}, "alpha")
		read := c.write("bravo", entry.KindRead, &entry.Mark{Target: m.Ref()}, "alpha")
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: m, Watch: true},
			{Entry: rc, Receipts: []hotline.ReceiptRow{{Receiver: "bravo", Party: "alpha", Seq: m.Seq, ReceiptSeq: rc.Seq, Time: time.Now()}}},
			{Entry: read, Mark: &hotline.MarkRow{Kind: entry.KindRead, Target: m.Ref(), Party: "bravo", Seq: read.Seq, Time: time.Now()}}}); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	prepared := len(s.wstmts.m)
	if prepared < 8 {
		t.Fatalf("the first Append prepared %d statements", prepared)
	}
	for i := 1; i < 5; i++ {
		write(i)
	}
	if got := len(s.wstmts.m); got != prepared {
		t.Fatalf("later Appends prepared %d more statements", got-prepared)
	}
}
