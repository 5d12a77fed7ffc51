package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"maps"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/sqlstore"
	"github.com/hotline-project/hotline/storetest"
)

// TestStore_PageReadsUseIndexes: the entries of a page, in either
// direction, come from the channel-order index, without a sort or a scan
// of the channel; a page's marks come from the target index.
func TestStore_PageReadsUseIndexes(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	for _, q := range []string{
		`SELECT ` + sqlstore.EntryCols + ` FROM entries WHERE channel = ? AND (depth, author, seq) > (?, ?, ?) ORDER BY depth, author, seq LIMIT ?`,
		`SELECT ` + sqlstore.EntryCols + ` FROM entries WHERE channel = ? AND (depth, author, seq) < (?, ?, ?) ORDER BY depth DESC, author DESC, seq DESC LIMIT ?`,
	} {
		plan := strings.Join(queryPlan(t, s, q, []byte{1}, 5, "alpha", 3, 10), "; ")
		if !strings.Contains(plan, "entries_order") || strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, "depth") {
			t.Errorf("plan of %s: %q", q, plan)
		}
	}
	plan := strings.Join(queryPlan(t, s, `SELECT * FROM marks WHERE target_id IN (?, ?)`, []byte{1}, []byte{2}), "; ")
	if !strings.Contains(plan, "marks_target_id") {
		t.Errorf("plan of a page's marks: %q", plan)
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
	c := storetest.NewChatter(t, chID)
	var all []*entry.Entry
	for i := range 30 {
		author := []string{"alpha", "bravo"}[i%3/2]
		all = append(all, c.Message(author, fmt.Sprint("m", i), "alpha", "bravo"))
	}
	tr := c.Write("bravo", entry.KindTranslation, &entry.Translation{Of: all[0].Ref(), Lang: "zh-Hans", Stage: entry.StageRough, Translator: "Li", Text: "零"}, "alpha")
	ack := c.Write("bravo", entry.KindAck, &entry.Mark{Target: all[0].Ref()}, "alpha")
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
	if want := storetest.ChannelOrder(all); !slices.Equal(got, want) {
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
	ch := storetest.ThreeParties(t, s)
	c := storetest.NewChatter(t, ch.ID)
	write := func(i int) {
		t.Helper()
		m := c.Message("alpha", fmt.Sprint("m", i))
		rc := c.Write("bravo", entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{m.Ref()}}, "alpha")
		read := c.Write("bravo", entry.KindRead, &entry.Mark{Target: m.Ref()}, "alpha")
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: m, Watch: true},
			{Entry: rc, Receipts: []hotline.ReceiptRow{{Receiver: "bravo", Party: "alpha", Seq: m.Seq, ReceiptSeq: rc.Seq, Time: time.Now()}}},
			{Entry: read, Mark: &hotline.MarkRow{Kind: entry.KindRead, Target: m.Ref(), Party: "bravo", Seq: read.Seq, Time: time.Now()}}}); err != nil {
			t.Fatal(err)
		}
	}
	write(0)
	first := maps.Clone(s.wstmts.m)
	if len(first) < 8 {
		t.Fatalf("the first Append prepared %d statements", len(first))
	}
	for i := 1; i < 20; i++ {
		write(i)
	}
	// Tree hashes go in statements of 1, 4, 16 or 64 rows; a later batch
	// may be the first to need one of those sizes. Nothing else is new.
	for q := range s.wstmts.m {
		if _, ok := first[q]; !ok && !strings.HasPrefix(q, "INSERT INTO tree_hashes ") {
			t.Errorf("a later Append prepared %q", q)
		}
	}
	if n := len(s.wstmts.m); n > len(first)+3 {
		t.Fatalf("20 Appends prepared %d statements, the first %d", n, len(first))
	}
}
