package storetest

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// testReadsOfFeedsAndChannels: the ways to read entries back (by id, by
// seq, by feed, in storage order, the newest of a kind, every entry of some
// kinds) agree with what was appended.
func testReadsOfFeedsAndChannels(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
	defer s.Close()
	ch := ThreeParties(t, s)
	c := NewChatter(t, ch.ID)
	var all []*entry.Entry
	var newestMessage *entry.Entry
	for i := range 12 {
		m := c.Message("alpha", fmt.Sprint("m", i), "bravo")
		rc := c.Write("bravo", entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{m.Ref()}}, "alpha")
		ws := []hotline.Write{{Entry: m}, {Entry: rc, Receipts: []hotline.ReceiptRow{{Receiver: "bravo", Party: "alpha", Seq: m.Seq, ReceiptSeq: rc.Seq, Time: time.Now()}}}}
		all, newestMessage = append(all, m, rc), m
		if i%3 == 2 {
			// alpha marks bravo's receipt read: an entry of another kind
			// in alpha's feed, after its message.
			rd := c.Write("alpha", entry.KindRead, &entry.Mark{Target: rc.Ref()}, "bravo")
			ws = append(ws, hotline.Write{Entry: rd, Mark: &hotline.MarkRow{Kind: entry.KindRead, Target: rc.Ref(), Party: "alpha", Seq: rd.Seq, Time: time.Now()}})
			all = append(all, rd)
		}
		if err := s.Append(ctx, time.Now(), ws); err != nil {
			t.Fatal(err)
		}
	}
	alpha := hotline.Feed{Channel: ch.ID, Party: "alpha"}

	for _, e := range all {
		st, err := s.Entry(ctx, e.ID())
		if err != nil || st.ID() != e.ID() || string(st.Body) != string(e.Body) {
			t.Fatalf("Entry(%s): %v", e.ID(), err)
		}
		id, ok, err := s.IDAt(ctx, hotline.Feed{Channel: ch.ID, Party: e.Author}, e.Seq)
		if err != nil || !ok || id != e.ID() {
			t.Fatalf("IDAt(%s/%d) = %s, %v, %v; want %s", e.Author, e.Seq, id, ok, err, e.ID())
		}
	}
	if _, err := s.Entry(ctx, entry.ID{1, 2, 3}); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("Entry of an unknown id: %v", err)
	}
	if _, ok, err := s.IDAt(ctx, alpha, 1000); ok || err != nil {
		t.Fatalf("IDAt past the head: %v, %v", ok, err)
	}

	// ChannelEntries walks storage order a page at a time.
	var walked []entry.ID
	var after int64
	for {
		page, err := s.ChannelEntries(ctx, ch.ID, after, 5)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) == 0 {
			break
		}
		for _, st := range page {
			if st.Local <= after {
				t.Fatalf("ChannelEntries after %d gave local %d", after, st.Local)
			}
			after = st.Local
			walked = append(walked, st.ID())
		}
	}
	var want []entry.ID
	for _, e := range all {
		want = append(want, e.ID())
	}
	if !slices.Equal(walked, want) {
		t.Fatalf("ChannelEntries walked %d entries, not the %d appended in order", len(walked), len(want))
	}

	// The newest entry of a kind, and every entry of some kinds.
	last, err := s.Latest(ctx, alpha, entry.KindMessage)
	if err != nil || last.ID() != newestMessage.ID() {
		t.Fatalf("Latest message of alpha: %v, not its newest message (its newest entry is a read)", err)
	}
	if _, err := s.Latest(ctx, alpha, entry.KindAck); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("Latest of a kind alpha never wrote: %v", err)
	}
	got, err := s.EntriesOfKind(ctx, ch.ID, entry.KindReceipt, entry.KindRead)
	if err != nil {
		t.Fatal(err)
	}
	var wantKinds []entry.ID
	for _, e := range all {
		if e.Kind == entry.KindReceipt || e.Kind == entry.KindRead {
			wantKinds = append(wantKinds, e.ID())
		}
	}
	var gotIDs []entry.ID
	for _, st := range got {
		gotIDs = append(gotIDs, st.ID())
	}
	if !slices.Equal(gotIDs, wantKinds) {
		t.Fatalf("EntriesOfKind gave %d entries, want the %d receipts and reads in storage order", len(gotIDs), len(wantKinds))
	}
}

// testAnswersWatchesAndLadders: a watched message, the receipt that covers
// it and the marks that answer it are found by Answers; the watch stays
// open until closed; a ladder step is recorded once. A batch that fails
// leaves none of its index rows behind.
func testAnswersWatchesAndLadders(t *testing.T, b Backend) {
	ctx := context.Background()
	place := b.Place(t)
	s := b.Open(t, place)
	ch := ThreeParties(t, s)
	c := NewChatter(t, ch.ID)
	now := time.Now().Truncate(time.Millisecond)

	m := c.Message("alpha", "acknowledge this")
	if err := s.Append(ctx, now, []hotline.Write{{Entry: m, Watch: true}}); err != nil {
		t.Fatal(err)
	}
	watches, err := s.OpenWatches(ctx)
	if err != nil || len(watches) != 1 || watches[0].Entry != m.Ref() || watches[0].Channel != ch.ID || watches[0].Kind != entry.KindMessage {
		t.Fatalf("open watches %+v, %v", watches, err)
	}
	a, err := s.Answers(ctx, ch.ID, m.Ref())
	if err != nil || len(a.Receipts) != 0 || len(a.Marks) != 0 {
		t.Fatalf("answers before any: %+v, %v", a, err)
	}

	// A batch that fails part-way (its last entry repeats a seq) leaves no
	// receipt, mark or watch.
	rc := c.Write("bravo", entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{m.Ref()}}, "alpha")
	ack := c.Write("bravo", entry.KindAck, &entry.Mark{Target: m.Ref()}, "alpha")
	m2 := c.Message("alpha", "second", "bravo")
	bad := []hotline.Write{
		{Entry: rc, Receipts: []hotline.ReceiptRow{{Receiver: "bravo", Party: "alpha", Seq: m.Seq, ReceiptSeq: rc.Seq, Time: now}}},
		{Entry: ack, Mark: &hotline.MarkRow{Kind: entry.KindAck, Target: m.Ref(), Party: "bravo", Seq: ack.Seq, Time: now}},
		{Entry: m2, Watch: true},
		{Entry: m},
	}
	if err := s.Append(ctx, now, bad); err == nil {
		t.Fatal("a batch repeating an entry was stored")
	}
	if a, err := s.Answers(ctx, ch.ID, m.Ref()); err != nil || len(a.Receipts)+len(a.Marks) != 0 {
		t.Fatalf("answers after a failed batch: %+v, %v", a, err)
	}
	if watches, err := s.OpenWatches(ctx); err != nil || len(watches) != 1 {
		t.Fatalf("watches after a failed batch: %+v, %v", watches, err)
	}
	if n, err := s.Unread(ctx, ch.ID, "bravo"); err != nil || n != 1 {
		t.Fatalf("bravo's unread after a failed batch: %d, %v", n, err)
	}

	if err := s.Append(ctx, now.Add(time.Second), bad[:3]); err != nil {
		t.Fatal(err)
	}
	a, err = s.Answers(ctx, ch.ID, m.Ref())
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Receipts) != 1 || a.Receipts[0].Receiver != "bravo" || a.Receipts[0].ReceiptSeq != rc.Seq || !a.Receipts[0].Held.Equal(now.Add(time.Second)) {
		t.Fatalf("receipts of the message: %+v", a.Receipts)
	}
	if len(a.Marks) != 1 || a.Marks[0].Kind != entry.KindAck || a.Marks[0].Party != "bravo" || a.Marks[0].Seq != ack.Seq {
		t.Fatalf("marks of the message: %+v", a.Marks)
	}
	if n, err := s.Unread(ctx, ch.ID, "bravo"); err != nil || n != 1 {
		t.Fatalf("bravo's unread after acking one of two: %d, %v", n, err)
	}

	// Ladder steps are recorded once, in step order; the record survives
	// a restart, so a step is never run twice.
	steps := []hotline.LadderStep{
		{Entry: m.ID(), Ladder: "escalation", Step: 2, Time: now, Detail: "paged the duty director"},
		{Entry: m.ID(), Ladder: "escalation", Step: 1, Time: now, Detail: "alarm on the watch page"},
	}
	for _, st := range steps {
		if err := s.AddLadderStep(ctx, st); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.AddLadderStep(ctx, steps[0]); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Fatalf("a step recorded twice: %v", err)
	}
	if err := s.CloseWatch(ctx, m.ID()); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = b.Open(t, place)
	defer s.Close()
	got, err := s.LadderSteps(ctx, m.ID())
	if err != nil || len(got) != 2 || got[0].Step != 1 || got[1].Step != 2 || got[1].Detail != steps[0].Detail || got[0].Ladder != "escalation" {
		t.Fatalf("ladder steps %+v, %v", got, err)
	}
	if err := s.AddLadderStep(ctx, steps[1]); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Fatalf("a step recorded again after a restart: %v", err)
	}
	watches, err = s.OpenWatches(ctx)
	if err != nil || len(watches) != 1 || watches[0].Entry != m2.Ref() {
		t.Fatalf("open watches after closing the first: %+v, %v", watches, err)
	}
}

// testKeyChanges: every key entry of every channel, and nothing else, in
// storage order.
func testKeyChanges(t *testing.T, b Backend) {
	ctx := context.Background()
	s := b.Open(t, b.Place(t))
	defer s.Close()
	if got, err := s.KeyChanges(ctx); err != nil || len(got) != 0 {
		t.Fatalf("KeyChanges of an empty store: %d, %v", len(got), err)
	}
	var want []entry.ID
	for i, name := range []string{"one", "two"} {
		_, key, _ := ed25519.GenerateKey(nil)
		def := entry.Definition{Name: name, Level: "policy", Proposer: "alpha",
			Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}}
		ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelProposed, Accepted: []string{"alpha"}}
		w := &FeedWriter{T: t, Key: key, Channel: ch.ID}
		before := w.Next("before")
		kc := w.Write(entry.KindKey, &entry.KeyChange{Key: fmt.Sprintf("alpha+0000000%d+AQ", i), TLS: "sha256:" + strings.Repeat("0", 64), Sig: make([]byte, 64)})
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: before, Channel: ch}, {Entry: kc}, {Entry: w.Next("after")}}); err != nil {
			t.Fatal(err)
		}
		want = append(want, kc.ID())
	}
	got, err := s.KeyChanges(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []entry.ID
	for _, st := range got {
		ids = append(ids, st.ID())
	}
	if !slices.Equal(ids, want) {
		t.Fatalf("KeyChanges gave %d entries, want the %d key entries in storage order", len(ids), len(want))
	}
}
