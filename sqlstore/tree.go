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
	tx      dbtx
	edges   map[hotline.Feed]map[int64]tlog.Hash
	t       *trees
	pending []any // channel, party, idx, hash: the rows of tree_hashes flush writes
	sizes   map[hotline.Feed]int64
}

func (t *trees) begin(tx dbtx) *treeTx {
	return &treeTx{tx: tx, edges: map[hotline.Feed]map[int64]tlog.Hash{}, t: t, sizes: map[hotline.Feed]int64{}}
}

// flush writes the hashes and sizes the adds made: several rows to a
// statement and each feed's size once, so that a batch costs a few round
// trips to a database server, not three an entry.
func (tt *treeTx) flush(ctx context.Context) error {
	if err := insertRows(ctx, tt.tx, `INSERT INTO tree_hashes (channel, party, idx, hash) VALUES `, 4, tt.pending); err != nil {
		return fmt.Errorf("tree hashes: %w", err)
	}
	tt.pending = tt.pending[:0]
	for f, size := range tt.sizes {
		if _, err := tt.tx.ExecContext(ctx, `INSERT INTO tree_sizes (channel, party, size) VALUES (?,?,?)
			ON CONFLICT (channel, party) DO UPDATE SET size = excluded.size`, f.Channel[:], f.Party, size); err != nil {
			return fmt.Errorf("tree size of %s/%s: %w", f.Channel, f.Party, err)
		}
	}
	clear(tt.sizes)
	return nil
}

// insertRows inserts rows of width values each (args holds them one row
// after another) with head, which ends in VALUES, in statements of up to
// 64 rows. The statements come in four sizes, so that a backend that
// prepares what it runs prepares each once.
func insertRows(ctx context.Context, tx dbtx, head string, width int, args []any) error {
	row := "(?" + strings.Repeat(",?", width-1) + ")"
	for len(args) > 0 {
		rows := len(args) / width
		k := 1
		for _, c := range []int{64, 16, 4} {
			if rows >= c {
				k = c
				break
			}
		}
		q := head + row + strings.Repeat(","+row, k-1)
		if _, err := tx.ExecContext(ctx, q, args[:k*width]...); err != nil {
			return err
		}
		args = args[k*width:]
	}
	return nil
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
		tt.pending = append(tt.pending, f.Channel[:], f.Party, base+int64(i), h[:])
		edge[base+int64(i)] = h
	}
	tt.sizes[f] = n + 1
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
	tt := s.trees.begin(tx)
	for _, e := range es {
		if err := tt.add(ctx, e.Entry); err != nil {
			return err
		}
	}
	if err := tt.flush(ctx); err != nil {
		return err
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
