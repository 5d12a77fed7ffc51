package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
)

// trees keeps, per feed, the hashes on the right edge of its Merkle tree
// (at most one per level): all that appending the next record needs, so an
// append reads nothing back from the database. Anything not cached (after
// a restart) is read from the tree_hashes table.
type trees struct {
	mu    sync.Mutex
	edges map[hotline.Feed]map[int64]tlog.Hash
}

// treeTx appends records to the trees of feeds within one transaction; its
// edges replace the shared ones only if the transaction commits.
type treeTx struct {
	tx    dbtx
	ins   *sql.Stmt
	size  *sql.Stmt
	edges map[hotline.Feed]map[int64]tlog.Hash
	t     *trees
}

func (t *trees) begin(ctx context.Context, tx dbtx) (*treeTx, error) {
	ins, err := tx.PrepareContext(ctx, `INSERT INTO tree_hashes (channel, party, idx, hash) VALUES (?,?,?,?)`)
	if err != nil {
		return nil, err
	}
	size, err := tx.PrepareContext(ctx, `INSERT INTO tree_sizes (channel, party, size) VALUES (?,?,?)
		ON CONFLICT (channel, party) DO UPDATE SET size = excluded.size`)
	if err != nil {
		ins.Close()
		return nil, err
	}
	return &treeTx{tx: tx, ins: ins, size: size, edges: map[hotline.Feed]map[int64]tlog.Hash{}, t: t}, nil
}

func (tt *treeTx) close() {
	tt.ins.Close()
	tt.size.Close()
}

// add appends entry e (record seq-1) to its feed's tree.
func (tt *treeTx) add(ctx context.Context, e *entry.Entry) error {
	f := hotline.Feed{Channel: e.Channel, Party: e.Author}
	edge, ok := tt.edges[f]
	if !ok {
		tt.t.mu.Lock()
		edge = make(map[int64]tlog.Hash, len(tt.t.edges[f]))
		for k, v := range tt.t.edges[f] {
			edge[k] = v
		}
		tt.t.mu.Unlock()
		tt.edges[f] = edge
	}
	n := int64(e.Seq) - 1
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			h, ok := edge[x]
			if !ok {
				var b []byte
				err := tt.tx.QueryRowContext(ctx, `SELECT hash FROM tree_hashes WHERE channel = ? AND party = ? AND idx = ?`, f.Channel[:], f.Party, x).Scan(&b)
				if err != nil || len(b) != len(h) {
					return nil, fmt.Errorf("tree hash %d of %s/%s: %v", x, f.Channel, f.Party, err)
				}
				copy(h[:], b)
			}
			out[i] = h
		}
		return out, nil
	})
	hashes, err := tlog.StoredHashesForRecordHash(n, checkpoint.RecordHash(e), read)
	if err != nil {
		return err
	}
	base := tlog.StoredHashIndex(0, n)
	for i, h := range hashes {
		if _, err := tt.ins.ExecContext(ctx, f.Channel[:], f.Party, base+int64(i), h[:]); err != nil {
			return err
		}
		edge[base+int64(i)] = h
	}
	if _, err := tt.size.ExecContext(ctx, f.Channel[:], f.Party, n+1); err != nil {
		return err
	}
	// Keep only the right edge of the tree of size n+1: for every level
	// whose bit is set in the size, the last complete subtree.
	keep := map[int64]bool{}
	for level, size := 0, n+1; size > 0; level, size = level+1, size>>1 {
		if size&1 == 1 {
			keep[tlog.StoredHashIndex(level, size-1)] = true
		}
	}
	for k := range edge {
		if !keep[k] {
			delete(edge, k)
		}
	}
	return nil
}

// commit installs the transaction's tree edges; call it only after the
// transaction committed.
func (tt *treeTx) commit() {
	tt.t.mu.Lock()
	defer tt.t.mu.Unlock()
	if tt.t.edges == nil {
		tt.t.edges = map[hotline.Feed]map[int64]tlog.Hash{}
	}
	for f, e := range tt.edges {
		tt.t.edges[f] = e
	}
}

// BackfillTrees builds the tree of every feed whose entries were stored
// before a schema kept trees (or, defensively, whose tree is short of
// its entries), in batches.
func (s *Store) BackfillTrees(ctx context.Context) error {
	rows, err := s.write.QueryContext(ctx, `SELECT e.channel, e.author, MAX(e.seq), COALESCE(t.size, 0) FROM entries e
		LEFT JOIN tree_sizes t ON t.channel = e.channel AND t.party = e.author
		GROUP BY e.channel, e.author HAVING MAX(e.seq) > COALESCE(t.size, 0)`)
	if err != nil {
		return err
	}
	type short struct {
		f          hotline.Feed
		head, size int64
	}
	var todo []short
	for rows.Next() {
		var ch []byte
		var sh short
		if err := rows.Scan(&ch, &sh.f.Party, &sh.head, &sh.size); err != nil {
			rows.Close()
			return err
		}
		copy(sh.f.Channel[:], ch)
		todo = append(todo, sh)
	}
	rows.Close()
	for _, sh := range todo {
		for from := sh.size + 1; from <= sh.head; from += 1000 {
			if err := s.backfillBatch(ctx, sh.f, from, 1000); err != nil {
				return fmt.Errorf("build Merkle tree of %s/%s: %w", sh.f.Channel, sh.f.Party, err)
			}
		}
	}
	return nil
}

func (s *Store) backfillBatch(ctx context.Context, f hotline.Feed, from int64, limit int) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND author = ? AND seq >= ? ORDER BY seq LIMIT ?`,
		f.Channel[:], f.Party, from, limit)
	if err != nil {
		return err
	}
	es, err := collect(rows)
	if err != nil {
		return err
	}
	tt, err := s.trees.begin(ctx, tx)
	if err != nil {
		return err
	}
	defer tt.close()
	for _, e := range es {
		if err := tt.add(ctx, e.Entry); err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	tt.commit()
	return nil
}

// TreeHashes implements hotline.Store.
func (s *Store) TreeHashes(ctx context.Context, f hotline.Feed, indexes []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(indexes))
	for i, x := range indexes {
		var b []byte
		err := s.read.QueryRowContext(ctx, `SELECT hash FROM tree_hashes WHERE channel = ? AND party = ? AND idx = ?`, f.Channel[:], f.Party, x).Scan(&b)
		if errors.Is(err, sql.ErrNoRows) {
			return nil, hotline.Errorf(hotline.ENOTFOUND, "no tree hash %d in feed %s/%s", x, f.Channel, f.Party)
		}
		if err != nil {
			return nil, fmt.Errorf("read tree hash: %w", err)
		}
		copy(out[i][:], b)
	}
	return out, nil
}

// AddCheckpoint implements hotline.Store.
func (s *Store) AddCheckpoint(ctx context.Context, f hotline.Feed, c hotline.StoredCheckpoint) error {
	body, sigs, ok := strings.Cut(string(c.Note), "\n\n")
	if !ok {
		return hotline.Errorf(hotline.EINVALID, "checkpoint note has no signatures")
	}
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return s.storeErr("add checkpoint: begin", err)
	}
	defer tx.Rollback()
	// Insert it unless one of that size is stored (waiting for a
	// concurrent insert of it to end), then compare with what is.
	if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoints (channel, party, size, body, time) VALUES (?,?,?,?,?)
		ON CONFLICT (channel, party, size) DO NOTHING`, f.Channel[:], f.Party, c.Size, body, c.Time.UnixMilli()); err != nil {
		return s.storeErr("add checkpoint", err)
	}
	var have string
	if err := tx.QueryRowContext(ctx, `SELECT body FROM checkpoints WHERE channel = ? AND party = ? AND size = ?`, f.Channel[:], f.Party, c.Size).Scan(&have); err != nil {
		return s.storeErr("add checkpoint", err)
	}
	if have != body {
		return hotline.Errorf(hotline.ECONFLICT, "a different checkpoint of size %d of feed %s/%s is stored", c.Size, f.Channel, f.Party)
	}
	for _, line := range strings.SplitAfter(sigs, "\n") {
		if line == "" {
			continue
		}
		signer, _, _ := strings.Cut(strings.TrimPrefix(line, "— "), " ")
		if _, err := tx.ExecContext(ctx, `INSERT INTO checkpoint_sigs (channel, party, size, signer, line) VALUES (?,?,?,?,?)
			ON CONFLICT (channel, party, size, signer) DO UPDATE SET line = excluded.line`,
			f.Channel[:], f.Party, c.Size, signer, line); err != nil {
			return s.storeErr("add checkpoint signature", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.storeErr("add checkpoint: commit", err)
	}
	return nil
}

// Checkpoints implements hotline.Store.
func (s *Store) Checkpoints(ctx context.Context, f hotline.Feed) ([]hotline.StoredCheckpoint, error) {
	return s.checkpoints(ctx, `SELECT c.size, c.body, c.time, s.signer, s.line FROM checkpoints c
		JOIN checkpoint_sigs s USING (channel, party, size) WHERE c.channel = ? AND c.party = ? ORDER BY c.size, s.signer`, f.Channel[:], f.Party)
}

// LatestCheckpoint implements hotline.Store.
func (s *Store) LatestCheckpoint(ctx context.Context, f hotline.Feed, signer string) (*hotline.StoredCheckpoint, error) {
	cs, err := s.checkpoints(ctx, `SELECT c.size, c.body, c.time, s.signer, s.line FROM checkpoints c
		JOIN checkpoint_sigs s USING (channel, party, size)
		WHERE c.channel = ?1 AND c.party = ?2 AND c.size = (SELECT MAX(size) FROM checkpoint_sigs
			WHERE channel = ?1 AND party = ?2 AND (CAST(?3 AS TEXT) = '' OR signer = ?3))
		ORDER BY s.signer`, f.Channel[:], f.Party, signer)
	if err != nil {
		return nil, err
	}
	if len(cs) == 0 {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no checkpoint of feed %s/%s signed by %q", f.Channel, f.Party, signer)
	}
	return &cs[0], nil
}

func (s *Store) checkpoints(ctx context.Context, query string, args ...any) ([]hotline.StoredCheckpoint, error) {
	rows, err := s.read.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read checkpoints: %w", err)
	}
	defer rows.Close()
	var out []hotline.StoredCheckpoint
	var sigs strings.Builder
	flush := func() {
		if len(out) > 0 {
			last := &out[len(out)-1]
			last.Note = append(last.Note, sigs.String()...)
			sigs.Reset()
		}
	}
	for rows.Next() {
		var size, t int64
		var body, signer, line string
		if err := rows.Scan(&size, &body, &t, &signer, &line); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Size != size {
			flush()
			out = append(out, hotline.StoredCheckpoint{Size: size, Time: time.UnixMilli(t).UTC(), Note: []byte(body + "\n\n")})
		}
		last := &out[len(out)-1]
		last.Signers = append(last.Signers, signer)
		sigs.WriteString(line)
	}
	flush()
	return out, rows.Err()
}
