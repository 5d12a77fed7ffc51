package sqlite

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"path/filepath"
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

func open(t *testing.T, path string) *Store {
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
