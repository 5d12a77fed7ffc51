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
)

// TestStore_MerkleTreeFollowsFeed appends a feed in uneven batches across
// restarts and a failed batch, and checks the stored tree against one
// computed from scratch, with inclusion and consistency proofs that
// tlog's own checkers accept.
func TestStore_MerkleTreeFollowsFeed(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	_, key, _ := ed25519.GenerateKey(nil)
	w := &feedWriter{t: t, key: key, ch: entry.ChannelID{7}}
	f := hotline.Feed{Channel: w.ch, Party: "alpha"}
	var all []*entry.Entry
	var leaves []tlog.Hash
	appendN := func(n int) {
		var ws []hotline.Write
		for range n {
			e := w.next("m")
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
	bad := w.next("lost")
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: bad}, {Entry: all[0]}}); err == nil {
		t.Fatal("duplicate stored")
	}
	w.seq, w.prev = uint64(len(all)), all[len(all)-1].ID()
	s.Close()
	s = open(t, path) // cold edge cache: appends read the edge back from disk
	appendN(7)
	appendN(40)
	defer s.Close()

	reader := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return s.TreeHashes(ctx, f, idx) })
	for size := int64(1); size <= int64(len(leaves)); size++ {
		got, err := tlog.TreeHash(size, reader)
		if err != nil {
			t.Fatal(err)
		}
		if want := rootOf(leaves[:size]); got != want {
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
		if err := tlog.CheckTree(p, n, root, old, rootOf(leaves[:old])); err != nil {
			t.Fatalf("consistency %d→%d: %v", old, n, err)
		}
	}
}

// TestStore_BackfillsTreesOfOldStores drops the tree tables' rows and the
// marker that says they are complete, as in a store written before they
// existed, and checks reopening rebuilds them.
func TestStore_BackfillsTreesOfOldStores(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	_, key, _ := ed25519.GenerateKey(nil)
	w := &feedWriter{t: t, key: key, ch: entry.ChannelID{9}}
	var leaves []tlog.Hash
	for range 2500 / 100 {
		var ws []hotline.Write
		for range 100 {
			e := w.next("m")
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
	f := hotline.Feed{Channel: w.ch, Party: "alpha"}
	got, err := tlog.TreeHash(int64(len(leaves)), tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) { return s.TreeHashes(ctx, f, idx) }))
	if err != nil {
		t.Fatal(err)
	}
	if want := rootOf(leaves); got != want {
		t.Fatalf("rebuilt root %x, want %x", got, want)
	}
}

// rootOf computes an RFC 6962 root from leaf hashes, independently of the
// stored-hash layout.
func rootOf(leaves []tlog.Hash) tlog.Hash {
	if len(leaves) == 1 {
		return leaves[0]
	}
	k := 1
	for k*2 < len(leaves) {
		k *= 2
	}
	return tlog.NodeHash(rootOf(leaves[:k]), rootOf(leaves[k:]))
}

func TestStore_Checkpoints(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
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
