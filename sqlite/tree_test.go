package sqlite

import (
	"context"
	"crypto/ed25519"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/storetest"
)

// TestStore_BackfillsTreesOfOldStores drops the tree tables' rows and the
// marker that says they are complete, as in a store written before they
// existed, and checks reopening rebuilds them.
func TestStore_BackfillsTreesOfOldStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	_, key, _ := ed25519.GenerateKey(nil)
	w := &storetest.FeedWriter{T: t, Key: key, Channel: entry.ChannelID{9}}
	var leaves []tlog.Hash
	for range 2500 / 100 {
		var ws []hotline.Write
		for range 100 {
			e := w.Next("m")
			ws = append(ws, hotline.Write{Entry: e})
			leaves = append(leaves, checkpoint.RecordHash(e))
		}
		if err := s.Append(ctx, time.Now(), ws); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.write.ExecContext(ctx, `DELETE FROM tree_hashes; DELETE FROM tree_sizes; DELETE FROM meta`); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s = open(t, path)
	defer s.Close()
	f := hotline.Feed{Channel: w.Channel, Party: "alpha"}
	got, err := tlog.TreeHash(int64(len(leaves)), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return s.TreeHashes(ctx, f, idx) }))
	if err != nil {
		t.Fatal(err)
	}
	if want := storetest.RootOf(leaves); got != want {
		t.Fatalf("rebuilt root %x, want %x", got, want)
	}
}
