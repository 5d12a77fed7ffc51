package postgres_test

import (
	"context"
	"crypto/ed25519"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/postgres/pgtest"
	"github.com/hotline-project/hotline/storetest"
)

// Two replicas share a database: one holds the lease and writes; once it
// lapses the other takes over at the next epoch, and from then on the
// first one's writes fail and leave nothing, even though it never noticed
// that it lost the lease.
func TestLease_ATakeoverFencesOffTheDeposedWriter(t *testing.T) {
	ctx := context.Background()
	dsn := pgtest.Database(t)
	a, b := open(t, dsn), open(t, dsn)
	defer a.Close()
	defer b.Close()
	if h, err := a.Holder(ctx); err != nil || h.Live() || h.Epoch != 0 {
		t.Fatalf("holder of a new database's lease: %+v, %v", h, err)
	}
	ra := hotline.LeaseHolder{Name: "a", API: "127.0.0.1:1", Peer: "127.0.0.1:2"}
	rb := hotline.LeaseHolder{Name: "b", API: "127.0.0.1:3", Peer: "127.0.0.1:4"}

	h, ok, err := a.Acquire(ctx, ra, time.Minute)
	if err != nil || !ok || h.Epoch != 1 || h.Name != "a" || !h.Live() {
		t.Fatalf("first acquire: %+v, %v, %v", h, ok, err)
	}
	a.Fence(h.Epoch)
	if got, ok, err := b.Acquire(ctx, rb, time.Minute); err != nil || ok || got.Name != "a" || got.API != ra.API || got.Epoch != 1 {
		t.Fatalf("acquire of a live lease: %+v, %v, %v", got, ok, err)
	}

	_, key, _ := ed25519.GenerateKey(nil)
	def := entry.Definition{Name: "alpha-bravo-policy", Level: "policy", Proposer: "alpha",
		Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelProposed, Accepted: []string{"alpha"}}
	wa := &storetest.FeedWriter{T: t, Key: key, Channel: ch.ID}
	if err := a.Append(ctx, time.Now(), []hotline.Write{{Entry: wa.Next("by a, holding the lease"), Channel: ch}}); err != nil {
		t.Fatal(err)
	}

	// a lapses without noticing (it is paused, say); b takes over.
	if ok, err := a.Renew(ctx, 1, time.Millisecond); err != nil || !ok {
		t.Fatalf("renew: %v, %v", ok, err)
	}
	time.Sleep(5 * time.Millisecond)
	h, ok, err = b.Acquire(ctx, rb, time.Minute)
	if err != nil || !ok || h.Epoch != 2 || h.Name != "b" {
		t.Fatalf("takeover: %+v, %v, %v", h, ok, err)
	}
	b.Fence(h.Epoch)

	// a resumes: its next write fails, and writes nothing.
	next := wa.Next("the feed's second entry")
	err = a.Append(ctx, time.Now(), []hotline.Write{{Entry: next}})
	if hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
		t.Fatalf("write by the deposed replica: %v; want unavailable", err)
	}
	if ok, err := a.Renew(ctx, 1, time.Minute); err != nil || ok {
		t.Fatalf("the deposed replica renewed: %v, %v", ok, err)
	}
	feed := hotline.Feed{Channel: ch.ID, Party: "alpha"}
	if got, err := b.Feed(ctx, feed, 1, 10); err != nil || len(got) != 1 {
		t.Fatalf("feed after the deposed write: %d entries, %v; want 1", len(got), err)
	}

	// The new writer writes the feed on from where a left it.
	if err := b.Append(ctx, time.Now(), []hotline.Write{{Entry: next}}); err != nil {
		t.Fatalf("write by the new writer: %v", err)
	}

	// A clean stop releases the lease: a standby takes it at once.
	if err := b.Release(ctx, 2); err != nil {
		t.Fatal(err)
	}
	if h, err := a.Holder(ctx); err != nil || h.Live() || h.Epoch != 2 {
		t.Fatalf("holder of a released lease: %+v, %v", h, err)
	}
	if h, ok, err := a.Acquire(ctx, ra, time.Minute); err != nil || !ok || h.Epoch != 3 {
		t.Fatalf("acquire after release: %+v, %v, %v", h, ok, err)
	}
	if h, err := b.Holder(ctx); err != nil || h.Name != "a" || h.Epoch != 3 || !h.Live() {
		t.Fatalf("holder: %+v, %v", h, err)
	}
}
