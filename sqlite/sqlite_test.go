package sqlite

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

type feedWriter struct {
	t    *testing.T
	key  ed25519.PrivateKey
	ch   entry.ChannelID
	prev entry.ID
	seq  uint64
}

func (w *feedWriter) next(text string) *entry.Entry {
	w.t.Helper()
	body, err := entry.EncodeBody(&entry.Message{Text: text, Lang: "en"})
	if err != nil {
		w.t.Fatal(err)
	}
	w.seq++
	e, err := entry.Sign(entry.Header{Channel: w.ch, Author: "alpha", Seq: w.seq, Prev: w.prev, Time: time.Now().UnixMilli(), Kind: entry.KindMessage}, body, w.key)
	if err != nil {
		w.t.Fatal(err)
	}
	w.prev = e.ID()
	return e
}

func open(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore_AppendIsAllOrNothingAndDurable(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	_, key, _ := ed25519.GenerateKey(nil)
	def := entry.Definition{Name: "alpha-bravo-policy", Level: "policy", Proposer: "alpha",
		Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelProposed, Accepted: []string{"alpha"}}
	w := &feedWriter{t: t, key: key, ch: ch.ID}

	e1, e2 := w.next("one"), w.next("two")
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e1, Channel: ch}, {Entry: e2}}); err != nil {
		t.Fatal(err)
	}
	// A batch that fails part-way (its second entry repeats a seq) leaves nothing.
	e3 := w.next("three")
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e3}, {Entry: e2}}); err == nil {
		t.Fatal("a duplicate entry was stored")
	}
	got, err := s.Feed(ctx, hotline.Feed{Channel: ch.ID, Party: "alpha"}, 1, 10)
	if err != nil || len(got) != 2 {
		t.Fatalf("after failed batch: %d entries, %v", len(got), err)
	}

	tok := sha256.Sum256([]byte("secret"))
	if err := s.AddOperatorToken(ctx, "duty", tok); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Everything is there after reopening, in feed order, byte for byte.
	s = open(t, path)
	defer s.Close()
	if v, err := s.SchemaVersion(ctx); err != nil || v != len(migrations) {
		t.Fatalf("schema version %d, %v", v, err)
	}
	got, err = s.Feed(ctx, hotline.Feed{Channel: ch.ID, Party: "alpha"}, 1, 10)
	if err != nil || len(got) != 2 || got[0].ID() != e1.ID() || got[1].ID() != e2.ID() || got[0].Local >= got[1].Local {
		t.Fatalf("feed after reopen: %v", err)
	}
	if got[1].Verify(key.Public().(ed25519.PublicKey)) != nil {
		t.Fatal("stored entry no longer verifies")
	}
	heads, err := s.Heads(ctx)
	if h := heads[hotline.Feed{Channel: ch.ID, Party: "alpha"}]; err != nil || h.Seq != 2 || h.ID != e2.ID() {
		t.Fatalf("heads %+v, %v", heads, err)
	}
	chs, err := s.Channels(ctx)
	if err != nil || len(chs) != 1 || chs[0].ID != ch.ID || chs[0].Definition.Name != def.Name {
		t.Fatalf("channels %+v, %v", chs, err)
	}
	if op, err := s.OperatorByToken(ctx, tok); err != nil || op != "duty" {
		t.Fatalf("operator %q, %v", op, err)
	}
	if _, err := s.OperatorByToken(ctx, sha256.Sum256([]byte("wrong"))); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("unknown token: %v", err)
	}
	if _, err := s.Entry(ctx, entry.ID{1}); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("unknown entry: %v", err)
	}
}

func TestStore_ReadOnlyPoolCannotWrite(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	if _, err := s.read.Exec(`DELETE FROM entries`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

func TestStore_LinkTestsExpire(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	now := time.Now()
	old := []hotline.LinkTest{{Time: now.Add(-48 * time.Hour), Peer: "bravo", Endpoint: "b:1", OK: true, RTT: time.Millisecond}}
	if err := s.AddLinkTests(ctx, old, 1000*time.Hour); err != nil {
		t.Fatal(err)
	}
	fresh := []hotline.LinkTest{
		{Time: now, Peer: "bravo", Endpoint: "b:1", Error: "timeout"},
		{Time: now, Peer: "charlie", Endpoint: "c:1", OK: true, RTT: 2 * time.Millisecond},
	}
	if err := s.AddLinkTests(ctx, fresh, 24*time.Hour); err != nil {
		t.Fatal(err)
	}
	got, err := s.LinkTests(ctx, "bravo", 10)
	if err != nil || len(got) != 1 || got[0].OK || got[0].Error != "timeout" {
		t.Fatalf("bravo's tests after expiry: %+v, %v", got, err)
	}
	all, err := s.LinkTests(ctx, "", 10)
	if err != nil || len(all) != 2 || all[0].Peer != "charlie" || all[0].RTT != 2*time.Millisecond {
		t.Fatalf("all tests: %+v, %v", all, err)
	}
}

func TestStore_OperatorAccounts(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "store.db")
	s := open(t, path)
	if _, err := s.Operator(ctx, "duty"); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("unknown operator: %v", err)
	}
	locked := time.UnixMilli(time.Now().Add(time.Minute).UnixMilli())
	if err := s.PutOperator(ctx, hotline.Operator{Name: "duty", Lang: "zh-Hans", Password: "$argon2id$x", Failures: 3, LockedUntil: locked}); err != nil {
		t.Fatal(err)
	}
	if err := s.PutOperator(ctx, hotline.Operator{Name: "admin"}); err != nil {
		t.Fatal(err)
	}
	first, _ := s.Operator(ctx, "duty")
	// Replacing keeps the creation time and changes the rest.
	if err := s.PutOperator(ctx, hotline.Operator{Name: "duty", Lang: "en", Password: first.Password, LockedUntil: locked}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	defer s.Close()
	op, err := s.Operator(ctx, "duty")
	if err != nil || op.Lang != "en" || op.Password != "$argon2id$x" || op.Failures != 0 || !op.LockedUntil.Equal(locked) || !op.Created.Equal(first.Created) {
		t.Fatalf("operator after reopen: %+v, %v (first %+v)", op, err, first)
	}
	ops, err := s.Operators(ctx)
	if err != nil || len(ops) != 2 || ops[0].Name != "admin" || ops[1].Name != "duty" {
		t.Fatalf("operators: %+v, %v", ops, err)
	}

	// The narrow updates change only their own columns.
	if err := s.SetLoginState(ctx, "duty", 2, time.Time{}, 59000123); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOperatorLang(ctx, "duty", "zh-Hans"); err != nil {
		t.Fatal(err)
	}
	op, err = s.Operator(ctx, "duty")
	if err != nil || op.Lang != "zh-Hans" || op.Password != "$argon2id$x" || op.Failures != 2 || !op.LockedUntil.IsZero() || op.TOTPStep != 59000123 {
		t.Fatalf("after the narrow updates: %+v, %v", op, err)
	}
	if err := s.SetLoginState(ctx, "nobody", 1, time.Time{}, 0); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("login state of nobody: %v", err)
	}
	if _, err := s.Operator(ctx, "nobody"); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("a login state created an account: %v", err)
	}
	// An operator known only by an API token gets an account, without a
	// login, when they first choose a language.
	if err := s.SetOperatorLang(ctx, "api-only", "en"); err != nil {
		t.Fatal(err)
	}
	if op, err := s.Operator(ctx, "api-only"); err != nil || op.Lang != "en" || op.Password != "" || op.Created.IsZero() {
		t.Fatalf("api-only operator: %+v, %v", op, err)
	}
}

// TestStore_UsageCountsEachPartyByChannelAndDay: Append keeps a count of
// each party's entries and bytes per channel and day, in the same
// transaction, which quotas read at start-up instead of scanning entries.
func TestStore_UsageCountsEachPartyByChannelAndDay(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	w := &feedWriter{t: t, key: key, ch: entry.ChannelID{1}}
	day1 := time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	e1, e2, e3 := w.next("one"), w.next("two"), w.next("three")
	if err := s.Append(ctx, day1, []hotline.Write{{Entry: e1}, {Entry: e2}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Append(ctx, day1.Add(2*time.Hour), []hotline.Write{{Entry: e3}}); err != nil {
		t.Fatal(err)
	}
	size := func(es ...*entry.Entry) (n int64) {
		for _, e := range es {
			n += int64(len(e.HeaderBytes) + len(e.Sig) + len(e.Body))
		}
		return n
	}
	total, today, err := s.Usage(ctx, hotline.Day(day1))
	if err != nil {
		t.Fatal(err)
	}
	if len(total) != 1 || total[0].Party != "alpha" || total[0].Entries != 3 || total[0].Bytes != size(e1, e2, e3) {
		t.Fatalf("total %+v", total)
	}
	if len(today) != 1 || today[0].Entries != 2 || today[0].Bytes != size(e1, e2) || today[0].Channel != w.ch {
		t.Fatalf("on day 1 %+v", today)
	}
	// A write that only changes a channel's state counts nothing.
	def := entry.Definition{Name: "x", Level: "policy", Proposer: "bravo", Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelDeclined, Label: "x", Stored: day1}
	if err := s.Append(ctx, day1, []hotline.Write{{Channel: ch}}); err != nil {
		t.Fatal(err)
	}
	chs, err := s.Channels(ctx)
	if err != nil || len(chs) != 1 || chs[0].State != hotline.ChannelDeclined || chs[0].Label != "x" || !chs[0].Stored.Equal(day1) {
		t.Fatalf("channels %+v, %v", chs, err)
	}
	if total, _, _ := s.Usage(ctx, hotline.Day(day1)); total[0].Entries != 3 {
		t.Fatalf("a state change counted as usage: %+v", total)
	}
}

// TestStore_EvidenceIsListedInPagesWithoutItsData: lists cost what they
// show; the data is read one record at a time.
func TestStore_EvidenceIsListedInPagesWithoutItsData(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	now := time.Now()
	for i := range 30 {
		kind := "rejected"
		if i%10 == 0 {
			kind = "equivocation"
		}
		ev := hotline.Evidence{Time: now, Kind: kind, Peer: "alpha", Detail: "bad", Data: make([]byte, 1000+i), Channel: entry.ChannelID{7}, Party: "alpha", Seq: uint64(i)}
		if err := s.AddEvidence(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.EvidenceList(ctx, hotline.EvidenceQuery{Limit: 10})
	if err != nil || len(page) != 10 || page[0].N != 30 || page[9].N != 21 || page[0].Data != nil || page[0].Size != 1029 || page[0].Seq != 29 {
		t.Fatalf("first page: %+v, %v", page, err)
	}
	next, err := s.EvidenceList(ctx, hotline.EvidenceQuery{Before: page[9].N, Limit: 10})
	if err != nil || len(next) != 10 || next[0].N != 20 {
		t.Fatalf("second page: %+v, %v", next, err)
	}
	eq, err := s.EvidenceList(ctx, hotline.EvidenceQuery{Kind: "equivocation", Limit: 100})
	if err != nil || len(eq) != 3 || eq[2].N != 1 || eq[0].Channel != (entry.ChannelID{7}) {
		t.Fatalf("equivocations: %+v, %v", eq, err)
	}
	rec, err := s.EvidenceRecord(ctx, 5)
	if err != nil || len(rec.Data) != 1004 || rec.Kind != "rejected" {
		t.Fatalf("record 5: %+v, %v", rec, err)
	}
	if _, err := s.EvidenceRecord(ctx, 99); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("record 99: %v", err)
	}
	counts, err := s.EvidenceUsage(ctx, now.Add(-time.Minute))
	if err != nil || len(counts) != 2 {
		t.Fatalf("usage: %+v, %v", counts, err)
	}
	for _, c := range counts {
		if (c.Kind == "equivocation" && c.Records != 3) || (c.Kind == "rejected" && c.Records != 27) {
			t.Fatalf("usage: %+v", counts)
		}
	}
	kept, err := s.EvidenceCounts(ctx)
	if err != nil || len(kept) != 2 || kept["equivocation"] != 3 || kept["rejected"] != 27 {
		t.Fatalf("counts kept: %v, %v", kept, err)
	}
}

// TestStore_TokensAndOperatorsEnd: tokens are listed by id and revoked;
// a disabled or removed operator's tokens stop working at once, and its
// session epoch moves.
func TestStore_TokensAndOperatorsEnd(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	duty, night := sha256.Sum256([]byte("duty token")), sha256.Sum256([]byte("night token"))
	for op, h := range map[string][32]byte{"duty": duty, "night": night} {
		if err := s.AddOperatorToken(ctx, op, h); err != nil {
			t.Fatal(err)
		}
	}
	tokens, err := s.OperatorTokens(ctx)
	if err != nil || len(tokens) != 2 {
		t.Fatalf("tokens: %+v, %v", tokens, err)
	}
	dutyID := fmt.Sprintf("%x", duty[:8])
	if _, err := s.RevokeOperatorToken(ctx, "zz"); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("a bad id: %v", err)
	}
	if _, err := s.RevokeOperatorToken(ctx, "0000"); hotline.ErrorCode(err) != hotline.ENOTFOUND && dutyID[:4] != "0000" {
		t.Fatalf("an unknown id: %v", err)
	}
	got, err := s.RevokeOperatorToken(ctx, dutyID[:6])
	if err != nil || got.Operator != "duty" || got.ID != dutyID {
		t.Fatalf("revoke: %+v, %v", got, err)
	}
	if _, err := s.OperatorByToken(ctx, duty); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("a revoked token: %v", err)
	}
	if err := s.PutOperator(ctx, hotline.Operator{Name: "night", Password: "$argon2id$x"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SetOperatorDisabled(ctx, "night", true); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OperatorByToken(ctx, night); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("a disabled operator's token: %v", err)
	}
	if op, _ := s.Operator(ctx, "night"); !op.Disabled || op.SessionEpoch != 1 {
		t.Fatalf("disabled: %+v", op)
	}
	if err := s.SetOperatorDisabled(ctx, "night", false); err != nil {
		t.Fatal(err)
	}
	if op, err := s.OperatorByToken(ctx, night); err != nil || op != "night" {
		t.Fatalf("enabled again: %q, %v", op, err)
	}
	if err := s.RemoveOperator(ctx, "night"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OperatorByToken(ctx, night); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("a removed operator's token: %v", err)
	}
	if err := s.RemoveOperator(ctx, "night"); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("removed twice: %v", err)
	}
	if err := s.SetOperatorDisabled(ctx, "nobody", true); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("disable nobody: %v", err)
	}
}

// TestStore_MigrationToVersion7 opens a store written at schema version
// 6, with two channels of one name from two proposers, entries on two
// days and evidence: the migrations label them apart (first stored keeps
// the name), count usage from the entries and count the evidence.
func TestStore_MigrationToVersion7(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for v := range 6 {
		if _, err := db.Exec(migrations[v]); err != nil {
			t.Fatalf("migration %d: %v", v+1, err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 6`); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	var ids []entry.ChannelID
	for i, proposer := range []string{"bravo", "alpha"} {
		def := entry.Definition{Name: "same-name", Level: "policy", Proposer: proposer, Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}, Created: int64(i)}
		d, _ := entry.EncodeBody(&def)
		id := def.ChannelID()
		ids = append(ids, id)
		if _, err := db.Exec(`INSERT INTO channels (id, name, level, proposer, definition, state) VALUES (?,?,?,?,?,?)`, id[:], def.Name, def.Level, proposer, d, "active"); err != nil {
			t.Fatal(err)
		}
		w := &feedWriter{t: t, key: key, ch: id}
		e := w.next("first")
		e.Author = proposer
		received := time.Date(2026, 11, 30+i, 12, 0, 0, 0, time.UTC).UnixMilli()
		eid := e.ID()
		if _, err := db.Exec(`INSERT INTO entries (id, channel, author, seq, kind, header, sig, body, received) VALUES (?,?,?,?,?,?,?,?,?)`,
			eid[:], id[:], proposer, 1, "message", e.HeaderBytes, e.Sig, e.Body, received); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := db.Exec(`INSERT INTO evidence (time, kind, peer, detail) VALUES (1, 'rejected', 'bravo', 'bad')`); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := open(t, path)
	defer s.Close()
	if kept, err := s.EvidenceCounts(ctx); err != nil || len(kept) != 1 || kept["rejected"] != 2 {
		t.Fatalf("evidence counts after the migration: %v, %v", kept, err)
	}
	chs, err := s.Channels(ctx)
	if err != nil || len(chs) != 2 {
		t.Fatalf("%+v, %v", chs, err)
	}
	labels := map[entry.ChannelID]string{}
	for _, c := range chs {
		labels[c.ID] = c.Label
	}
	if labels[ids[0]] != "same-name" || labels[ids[1]] != "same-name~"+ids[1].String()[:8] {
		t.Fatalf("labels after the migration: %v", labels)
	}
	total, _, err := s.Usage(ctx, 0)
	if err != nil || len(total) != 2 {
		t.Fatalf("usage after the migration: %+v, %v", total, err)
	}
}

// TestOpen_NewStoreIsPrivate: a new store file, and its WAL, are readable
// by the node's user alone, whatever the umask.
func TestOpen_NewStoreIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	defer s.Close()
	if err := s.AddOperatorToken(context.Background(), "duty", sha256.Sum256([]byte("t"))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %s, want -rw-------", p, fi.Mode().Perm())
		}
	}
}

// TestStore_EntriesByPrefix: a prefix of an id, of any length, finds the
// entries of the channel whose ids start with it, through the id index.
func TestStore_EntriesByPrefix(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	w := &feedWriter{t: t, key: key, ch: entry.ChannelID{1}}
	other := &feedWriter{t: t, key: key, ch: entry.ChannelID{2}}
	var writes []hotline.Write
	var es []*entry.Entry
	for i := range 200 {
		e := w.next(fmt.Sprint("message ", i))
		es = append(es, e)
		writes = append(writes, hotline.Write{Entry: e}, hotline.Write{Entry: other.next(fmt.Sprint("elsewhere ", i))})
	}
	if err := s.Append(ctx, time.Now(), writes); err != nil {
		t.Fatal(err)
	}
	for _, e := range es[:20] {
		id := e.ID().String()
		for _, n := range []int{8, 9, 64} {
			got, err := s.EntriesByPrefix(ctx, w.ch, id[:n], 2)
			if err != nil || len(got) != 1 || got[0].ID() != e.ID() {
				t.Fatalf("prefix %s: %d entries, %v", id[:n], len(got), err)
			}
		}
		if got, _ := s.EntriesByPrefix(ctx, other.ch, id[:12], 2); len(got) != 0 {
			t.Fatalf("an entry of another channel found by prefix")
		}
	}
	// A one-digit prefix matches about a sixteenth of the channel.
	if got, err := s.EntriesByPrefix(ctx, w.ch, "a", 1000); err != nil || len(got) < 2 || len(got) > 40 {
		t.Fatalf("prefix a: %d, %v", len(got), err)
	}
	if _, err := s.EntriesByPrefix(ctx, w.ch, "xyz", 2); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("a prefix not in hex: %v", err)
	}
}

// TestStore_LatestOfAKindUsesAnIndex: the newest entry of a kind in a
// feed is found by the (channel, author, kind, seq) index, whatever came
// after it: SQLite's plan says so.
func TestStore_LatestOfAKindUsesAnIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	plan := queryPlan(t, s, `SELECT `+entryCols+` FROM entries WHERE channel = ? AND author = ? AND kind = ? ORDER BY seq DESC LIMIT 1`, []byte{1}, "alpha", "directory")
	if len(plan) != 1 || !strings.Contains(plan[0], "entries_kind") || strings.Contains(plan[0], "TEMP B-TREE") {
		t.Fatalf("plan: %q", plan)
	}
}

// TestStore_FirstCoveringReceiptUsesAnIndex: the first receipt that
// covers an entry is found by the (channel, receiver, party, seq,
// receipt_seq) index, without a sort or a scan of the channel.
func TestStore_FirstCoveringReceiptUsesAnIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	plan := queryPlan(t, s, `SELECT r.receipt_seq, r.time, e.received
		FROM receipts r JOIN entries e ON e.channel = r.channel AND e.author = r.receiver AND e.seq = r.receipt_seq
		WHERE r.channel = ? AND r.receiver = ? AND r.party = ? AND r.seq >= ?
		ORDER BY r.seq, r.receipt_seq LIMIT 1`, []byte{1}, "bravo", "alpha", 5)
	joined := strings.Join(plan, "; ")
	if !strings.Contains(joined, "receipts_covering") || strings.Contains(joined, "TEMP B-TREE") || strings.Contains(joined, "SCAN") {
		t.Fatalf("plan: %q", plan)
	}
}

// TestStore_UnreadIsKeptAsACount: the count Append keeps equals the count
// of other members' messages with no read or ack by the party, through
// messages, first and repeated marks, and a reopen.
func TestStore_UnreadIsKeptAsACount(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	def := entry.Definition{Name: "three", Level: "policy", Proposer: "alpha",
		Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}, {Party: "charlie", Key: "c"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelActive, Label: "three"}
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Channel: ch}}); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	alpha := &feedWriter{t: t, key: key, ch: ch.ID}
	mark := func(w *feedWriter, party string, kind entry.Kind, target *entry.Entry) hotline.Write {
		w.seq++
		body, _ := entry.EncodeBody(&entry.Mark{Target: target.Ref()})
		e, err := entry.Sign(entry.Header{Channel: w.ch, Author: party, Seq: w.seq, Prev: w.prev, Time: time.Now().UnixMilli(), Kind: kind}, body, w.key)
		if err != nil {
			t.Fatal(err)
		}
		w.prev = e.ID()
		return hotline.Write{Entry: e, Mark: &hotline.MarkRow{Kind: kind, Target: target.Ref(), Party: party, Seq: e.Seq, Time: time.Now()}}
	}
	bravo, charlie := &feedWriter{t: t, key: key, ch: ch.ID}, &feedWriter{t: t, key: key, ch: ch.ID}
	var msgs []*entry.Entry
	for i := range 10 {
		e := alpha.next(fmt.Sprint("m", i))
		msgs = append(msgs, e)
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e}}); err != nil {
			t.Fatal(err)
		}
	}
	// Bravo reads three, then acks one of them and one more; charlie acks
	// one twice over (read and ack in one batch).
	ws := []hotline.Write{mark(bravo, "bravo", entry.KindRead, msgs[0]), mark(bravo, "bravo", entry.KindRead, msgs[1]), mark(bravo, "bravo", entry.KindRead, msgs[2])}
	ws = append(ws, mark(bravo, "bravo", entry.KindAck, msgs[2]), mark(bravo, "bravo", entry.KindAck, msgs[3]))
	ws = append(ws, mark(charlie, "charlie", entry.KindRead, msgs[5]), mark(charlie, "charlie", entry.KindAck, msgs[5]))
	if err := s.Append(ctx, time.Now(), ws); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		for _, party := range []string{"alpha", "bravo", "charlie"} {
			var want int
			if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries e
				WHERE e.channel = ? AND e.kind = 'message' AND e.author <> ?
				AND NOT EXISTS (SELECT 1 FROM marks m WHERE m.target_id = e.id AND m.party = ? AND m.kind IN ('read', 'ack'))`,
				ch.ID[:], party, party).Scan(&want); err != nil {
				t.Fatal(err)
			}
			got, err := s.Unread(ctx, ch.ID, party)
			if err != nil || got != want {
				t.Fatalf("%s: unread %d, %v; counting gives %d", party, got, err, want)
			}
			var wantFirst hotline.Position
			var seq int64
			err = s.read.QueryRowContext(ctx, `SELECT depth, author, seq FROM entries e
				WHERE e.channel = ? AND e.kind = 'message' AND e.author <> ?
				AND NOT EXISTS (SELECT 1 FROM marks m WHERE m.target_id = e.id AND m.party = ? AND m.kind IN ('read', 'ack'))
				ORDER BY depth, author, seq LIMIT 1`, ch.ID[:], party, party).Scan(&wantFirst.Depth, &wantFirst.Author, &seq)
			wantFirst.Seq = uint64(seq)
			first, ok, ferr := s.FirstUnread(ctx, ch.ID, party)
			if ferr != nil || ok != (err == nil) || (ok && first != wantFirst) {
				t.Fatalf("%s: first unread %v (%v, %v); a scan gives %v (%v)", party, first, ok, ferr, wantFirst, err)
			}
		}
	}
	check()
	if got, _ := s.Unread(ctx, ch.ID, "bravo"); got != 6 {
		t.Fatalf("bravo's unread: %d, want 6", got)
	}
	// Charlie reads the newest first, then the oldest: its first unread
	// stays, then moves past everything it has read.
	for _, i := range []int{9, 8, 0, 1, 2, 3, 4} {
		if err := s.Append(ctx, time.Now(), []hotline.Write{mark(charlie, "charlie", entry.KindRead, msgs[i])}); err != nil {
			t.Fatal(err)
		}
		check()
	}
	s.Close()
	s = open(t, path)
	defer s.Close()
	check()
}

// queryPlan returns SQLite's plan for query, one detail line per step.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.read.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}
