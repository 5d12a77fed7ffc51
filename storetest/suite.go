package storetest

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
	"golang.org/x/mod/sumdb/tlog"
)

func testAppendIsAllOrNothingAndDurable(t *testing.T, b Backend) {
	ctx := context.Background()
	path := b.Place(t)
	s := b.Open(t, path)
	_, key, _ := ed25519.GenerateKey(nil)
	def := entry.Definition{Name: "alpha-bravo-policy", Level: "policy", Proposer: "alpha",
		Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelProposed, Accepted: []string{"alpha"}}
	w := &FeedWriter{T: t, Key: key, Channel: ch.ID}

	e1, e2 := w.Next("one"), w.Next("two")
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e1, Channel: ch}, {Entry: e2}}); err != nil {
		t.Fatal(err)
	}
	// A batch that fails part-way (its second entry repeats a seq) leaves nothing.
	e3 := w.Next("three")
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
	s = b.Open(t, path)
	defer s.Close()
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

func testLinkTestsExpire(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
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

func testOperatorAccounts(t *testing.T, b Backend) {
	ctx := context.Background()
	path := b.Place(t)
	s := b.Open(t, path)
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
	s = b.Open(t, path)
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
	// A role and personal keys, a removed one included, survive as they are.
	added := time.UnixMilli(time.Now().UnixMilli())
	op.Role, op.Keys = "duty director", []hotline.OperatorKey{
		{Key: entry.PersonalKey{Type: entry.KeyEd25519, Public: make([]byte, 32)}, Label: "laptop", Added: added, Removed: added.Add(time.Hour)},
		{Key: entry.PersonalKey{Type: entry.KeyWebAuthn, Public: []byte{0xa5, 1}, ID: []byte{7, 7}, RPID: "localhost"}, Added: added},
	}
	if err := s.PutOperator(ctx, op); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Operator(ctx, "duty"); err != nil || got.Role != op.Role || len(got.Keys) != 2 || !got.Keys[0].Removed.Equal(added.Add(time.Hour)) ||
		!got.Keys[1].Key.Equal(&op.Keys[1].Key) || !got.Keys[1].Removed.IsZero() || got.Lang != "zh-Hans" {
		t.Fatalf("operator with keys: %+v, %v", got, err)
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

// testUsageCountsEachPartyByChannelAndDay: Append keeps a count of
// each party's entries and bytes per channel and day, in the same
// transaction, which quotas read at start-up instead of scanning entries.
func testUsageCountsEachPartyByChannelAndDay(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
	defer s.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	w := &FeedWriter{T: t, Key: key, Channel: entry.ChannelID{1}}
	day1 := time.Date(2026, 12, 1, 23, 0, 0, 0, time.UTC)
	e1, e2, e3 := w.Next("one"), w.Next("two"), w.Next("three")
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
	if len(today) != 1 || today[0].Entries != 2 || today[0].Bytes != size(e1, e2) || today[0].Channel != w.Channel {
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

// testEvidenceIsListedInPagesWithoutItsData: lists cost what they
// show; the data is read one record at a time.
func testEvidenceIsListedInPagesWithoutItsData(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
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

// testTokensAndOperatorsEnd: tokens are listed by id and revoked;
// a disabled or removed operator's tokens stop working at once, and its
// session epoch moves.
func testTokensAndOperatorsEnd(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
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

// testEntriesByPrefix: a prefix of an id, of any length, finds the
// entries of the channel whose ids start with it, through the id index.
func testEntriesByPrefix(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
	defer s.Close()
	_, key, _ := ed25519.GenerateKey(nil)
	w := &FeedWriter{T: t, Key: key, Channel: entry.ChannelID{1}}
	other := &FeedWriter{T: t, Key: key, Channel: entry.ChannelID{2}}
	var writes []hotline.Write
	var es []*entry.Entry
	for i := range 200 {
		e := w.Next(fmt.Sprint("message ", i))
		es = append(es, e)
		writes = append(writes, hotline.Write{Entry: e}, hotline.Write{Entry: other.Next(fmt.Sprint("elsewhere ", i))})
	}
	if err := s.Append(ctx, time.Now(), writes); err != nil {
		t.Fatal(err)
	}
	for _, e := range es[:20] {
		id := e.ID().String()
		for _, n := range []int{8, 9, 64} {
			got, err := s.EntriesByPrefix(ctx, w.Channel, id[:n], 2)
			if err != nil || len(got) != 1 || got[0].ID() != e.ID() {
				t.Fatalf("prefix %s: %d entries, %v", id[:n], len(got), err)
			}
		}
		if got, _ := s.EntriesByPrefix(ctx, other.Channel, id[:12], 2); len(got) != 0 {
			t.Fatalf("an entry of another channel found by prefix")
		}
	}
	// A one-digit prefix matches about a sixteenth of the channel.
	if got, err := s.EntriesByPrefix(ctx, w.Channel, "a", 1000); err != nil || len(got) < 2 || len(got) > 40 {
		t.Fatalf("prefix a: %d, %v", len(got), err)
	}
	if _, err := s.EntriesByPrefix(ctx, w.Channel, "xyz", 2); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("a prefix not in hex: %v", err)
	}
}

// testPagesWalkChannelOrder: pages read forwards from the start, or
// back from the newest, cover the channel in channel order, each entry
// once, with Earlier and Later telling whether there is more; whatever
// order the entries were stored in.
func testPagesWalkChannelOrder(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
	defer s.Close()
	ch := ThreeParties(t, s)
	c := NewChatter(t, ch.ID)
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
		e := c.Message(author, fmt.Sprint("m", i), sees...)
		all = append(all, e)
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e}}); err != nil {
			t.Fatal(err)
		}
	}
	want := ChannelOrder(all)
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

// testPageCarriesItsIndexRows: a page brings each message's first
// covering receipt per member, its marks (one row per message a
// cumulative read covers) and its translations, and nothing about
// messages outside it.
func testPageCarriesItsIndexRows(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
	defer s.Close()
	ch := ThreeParties(t, s)
	c := NewChatter(t, ch.ID)
	var msgs []*entry.Entry
	for i := range 6 {
		e := c.Message("alpha", fmt.Sprint("m", i))
		msgs = append(msgs, e)
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e}}); err != nil {
			t.Fatal(err)
		}
	}
	// Bravo receipts up to the fourth, then reads the second to the fifth
	// in one cumulative read, and translates the third.
	rc := c.Write("bravo", entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{msgs[3].Ref()}}, "alpha")
	read := c.Write("bravo", entry.KindRead, &entry.Mark{Target: msgs[4].Ref(), From: msgs[1].Seq}, "alpha")
	tr := c.Write("bravo", entry.KindTranslation, &entry.Translation{Of: msgs[2].Ref(), Lang: "zh-Hans", Stage: entry.StageSight, Translator: "Li", Text: "三"}, "alpha")
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

// testMerkleTreeFollowsFeed appends a feed in uneven batches across
// restarts and a failed batch, and checks the stored tree against one
// computed from scratch, with inclusion and consistency proofs that
// tlog's own checkers accept.
func testMerkleTreeFollowsFeed(t *testing.T, b Backend) {
	ctx := context.Background()
	path := b.Place(t)
	s := b.Open(t, path)
	_, key, _ := ed25519.GenerateKey(nil)
	w := &FeedWriter{T: t, Key: key, Channel: entry.ChannelID{7}}
	f := hotline.Feed{Channel: w.Channel, Party: "alpha"}
	var all []*entry.Entry
	var leaves []tlog.Hash
	appendN := func(n int) {
		var ws []hotline.Write
		for range n {
			e := w.Next("m")
			ws = append(ws, hotline.Write{Entry: e})
		}
		if err := s.Append(ctx, time.Now(), ws); err != nil {
			t.Fatal(err)
		}
		for _, x := range ws {
			all = append(all, x.Entry)
			leaves = append(leaves, checkpoint.RecordHash(x.Entry))
		}
	}
	for _, n := range []int{1, 2, 5, 1, 13} {
		appendN(n)
	}
	// A failed batch must not leave its tree hashes behind.
	bad := w.Next("lost")
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: bad}, {Entry: all[0]}}); err == nil {
		t.Fatal("duplicate stored")
	}
	w.seq, w.prev = uint64(len(all)), all[len(all)-1].ID()
	s.Close()
	s = b.Open(t, path) // cold edge cache: appends read the edge back from disk
	appendN(7)
	appendN(40)
	defer s.Close()

	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return s.TreeHashes(ctx, f, idx) })
	for size := int64(1); size <= int64(len(leaves)); size++ {
		got, err := tlog.TreeHash(size, reader)
		if err != nil {
			t.Fatal(err)
		}
		if want := RootOf(leaves[:size]); got != want {
			t.Fatalf("tree hash at size %d: stored tree gives %x, from scratch %x", size, got, want)
		}
	}
	n := int64(len(leaves))
	root, _ := tlog.TreeHash(n, reader)
	for i := range n {
		p, err := tlog.ProveRecord(n, i, reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckRecord(p, n, root, i, leaves[i]); err != nil {
			t.Fatalf("inclusion of record %d: %v", i, err)
		}
	}
	for old := int64(1); old < n; old += 3 {
		p, err := tlog.ProveTree(n, old, reader)
		if err != nil {
			t.Fatal(err)
		}
		if err := tlog.CheckTree(p, n, root, old, RootOf(leaves[:old])); err != nil {
			t.Fatalf("consistency %d→%d: %v", old, n, err)
		}
	}
}

func testCheckpoints(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
	defer s.Close()
	f := hotline.Feed{Channel: entry.ChannelID{1}, Party: "alpha"}
	note := func(sigs ...string) []byte {
		b := "hotline/x/alpha\n3\nroot\n\n"
		for _, s := range sigs {
			b += "— " + s + " sig" + s + "\n"
		}
		return []byte(b)
	}
	if _, err := s.LatestCheckpoint(ctx, f, ""); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("empty store: %v", err)
	}
	if err := s.AddCheckpoint(ctx, f, hotline.StoredCheckpoint{Size: 3, Note: note("alpha"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.AddCheckpoint(ctx, f, hotline.StoredCheckpoint{Size: 3, Note: note("alpha", "bravo"), Time: time.Now()}); err != nil {
		t.Fatal(err)
	}
	other := []byte("hotline/x/alpha\n3\nother\n\n— alpha x\n")
	if err := s.AddCheckpoint(ctx, f, hotline.StoredCheckpoint{Size: 3, Note: other, Time: time.Now()}); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Fatalf("a different checkpoint of the same size: %v", err)
	}
	c, err := s.LatestCheckpoint(ctx, f, "bravo")
	if err != nil {
		t.Fatal(err)
	}
	if string(c.Note) != string(note("alpha", "bravo")) || len(c.Signers) != 2 {
		t.Fatalf("merged checkpoint:\n%s signers %v", c.Note, c.Signers)
	}
	if _, err := s.LatestCheckpoint(ctx, f, "charlie"); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("signer with no checkpoint: %v", err)
	}
}

// testDrafts: drafts are saved, read back, listed by state oldest first,
// and a draft saved with an entry goes in that entry's transaction: a
// batch that fails leaves the draft as it was.
func testDrafts(t *testing.T, b Backend) {
	ctx := context.Background()
	path := b.Place(t)
	s := b.Open(t, path)
	if _, err := s.Draft(ctx, "nothere"); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("unknown draft: %v", err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	def := entry.Definition{Name: "alpha-bravo-strategic", Level: "strategic", Proposer: "alpha",
		Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelProposed, Accepted: []string{"alpha"}}
	t0 := time.UnixMilli(time.Now().UnixMilli())
	for i := range 3 {
		d := hotline.Draft{ID: fmt.Sprintf("d%d", i), Channel: ch.ID, Drafter: "duty", Created: t0.Add(time.Duration(i) * time.Second), Updated: t0,
			State: hotline.DraftAwaiting, Message: []byte{0xa1, 1, 0x61, 'x'}, History: []hotline.DraftEvent{{Time: t0, Operator: "duty", Action: "drafted"}}}
		if err := s.PutDraft(ctx, d); err != nil {
			t.Fatal(err)
		}
	}
	d, err := s.Draft(ctx, "d1")
	if err != nil || d.Drafter != "duty" || d.Channel != ch.ID || !d.Created.Equal(t0.Add(time.Second)) || len(d.History) != 1 || d.Entry != (entry.ID{}) {
		t.Fatalf("draft d1: %+v, %v", d, err)
	}
	// A release added, and the draft returned, are saved.
	d.Releases = []entry.Release{{Operator: "chief", Key: entry.PersonalKey{Type: entry.KeyEd25519, Public: make([]byte, 32)}, Sig: []byte{1, 2}}}
	d.State, d.Updated = hotline.DraftReturned, t0.Add(time.Minute)
	d.History = append(d.History, hotline.DraftEvent{Time: t0.Add(time.Minute), Operator: "chief", Action: "returned", Comment: "too strong"})
	if err := s.PutDraft(ctx, *d); err != nil {
		t.Fatal(err)
	}
	awaiting, err := s.Drafts(ctx, hotline.DraftAwaiting, 10)
	if err != nil || len(awaiting) != 2 || awaiting[0].ID != "d0" || awaiting[1].ID != "d2" {
		t.Fatalf("awaiting drafts: %+v, %v", awaiting, err)
	}
	if first, err := s.Drafts(ctx, hotline.DraftAwaiting, 1); err != nil || len(first) != 1 || first[0].ID != "d0" {
		t.Fatalf("a page of one: %+v, %v", first, err)
	}
	// Sent with its message: in the same transaction, or not at all.
	w := &FeedWriter{T: t, Key: key, Channel: ch.ID}
	e1 := w.Next("released")
	sent := awaiting[0]
	sent.State, sent.Entry = hotline.DraftReleased, e1.ID()
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e1, Channel: ch, Draft: &sent}, {Entry: e1}}); err == nil {
		t.Fatal("a batch repeating an entry was stored")
	}
	if got, _ := s.Draft(ctx, sent.ID); got.State != hotline.DraftAwaiting {
		t.Fatalf("a failed batch changed its draft: %+v", got)
	}
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e1, Channel: ch, Draft: &sent}}); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = b.Open(t, path)
	defer s.Close()
	got, err := s.Draft(ctx, sent.ID)
	if err != nil || got.State != hotline.DraftReleased || got.Entry != e1.ID() {
		t.Fatalf("the sent draft after reopening: %+v, %v", got, err)
	}
	if r, _ := s.Draft(ctx, "d1"); len(r.Releases) != 1 || r.Releases[0].Operator != "chief" || r.History[1].Comment != "too strong" {
		t.Fatalf("the returned draft after reopening: %+v", r)
	}
}
