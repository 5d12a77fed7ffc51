// Package storecopy moves a node's store from its SQLite file to an
// empty PostgreSQL database, table by table, and then checks the copy
// through the PostgreSQL store itself: every entry byte for byte and
// against its author's signature, every feed's Merkle tree head against
// one computed from its entries, and every table's row count.
package storecopy

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"strings"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/keychain"
	"github.com/hotline-project/hotline/postgres"
	"github.com/hotline-project/hotline/sqlite"
)

// tables are copied in this order (members after their channels); the
// access epoch and the evidence counts are the target's own (its
// triggers keep them), and SQLite's bookkeeping tables stay behind.
var tables = []string{
	"channels", "channel_members", "entries", "receipts", "marks", "evidence",
	"operators", "operator_tokens", "link_tests", "tree_hashes", "tree_sizes",
	"checkpoints", "checkpoint_sigs", "watches", "ladder_steps", "usage", "unread", "drafts",
}

// identities are the columns the target numbers itself: copied as they
// are, after which the target numbers on from the largest.
var identities = map[string]string{"entries": "local", "evidence": "n", "link_tests": "n"}

// batchRows is how many rows go in one INSERT.
const batchRows = 500

// Report is what a copy did.
type Report struct {
	Rows    map[string]int64 // rows copied, by table
	Entries int64            // entries checked
	Feeds   int              // feed trees checked
}

// Copy copies the SQLite store at path, which must not be written
// meanwhile (stop the node), into the PostgreSQL database dsn names,
// which must hold no store yet, and checks the copy. Progress goes to
// progress.
func Copy(ctx context.Context, path, dsn string, progress io.Writer) (*Report, error) {
	// Open both through their stores first: the source is migrated to the
	// current schema, and the target gets it.
	src, err := sqlite.Open(ctx, path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	dst, err := postgres.Open(ctx, dsn)
	if err != nil {
		return nil, err
	}
	defer dst.Close()
	if heads, err := dst.Heads(ctx); err != nil {
		return nil, err
	} else if chans, err := dst.Channels(ctx); err != nil {
		return nil, err
	} else if len(heads) > 0 || len(chans) > 0 {
		return nil, hotline.Errorf(hotline.ECONFLICT, "the database %s already holds a store (%d channels): copy into an empty one", postgres.Redact(dsn), len(chans))
	}
	from, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	if err != nil {
		return nil, err
	}
	defer from.Close()
	to, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	defer to.Close()

	rep := &Report{Rows: make(map[string]int64)}
	tx, err := to.BeginTx(ctx, nil)
	if err != nil {
		return nil, err
	}
	defer tx.Rollback()
	for _, t := range tables {
		n, err := copyTable(ctx, from, tx, t, progress)
		if err != nil {
			return nil, fmt.Errorf("copy table %s: %w", t, err)
		}
		rep.Rows[t] = n
	}
	for t, col := range identities {
		if _, err := tx.ExecContext(ctx, fmt.Sprintf(`SELECT setval(pg_get_serial_sequence('%s', '%s'), COALESCE((SELECT MAX(%s) FROM %s), 0) + 1, false)`, t, col, col, t)); err != nil {
			return nil, fmt.Errorf("number on from the copied %s: %w", t, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return nil, fmt.Errorf("commit the copy: %w", err)
	}
	fmt.Fprintf(progress, "copied %d tables; checking the copy ...\n", len(tables))

	// The tables hold the same number of rows on both sides.
	for _, t := range tables {
		var a, b int64
		if err := from.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&a); err != nil {
			return nil, err
		}
		if err := to.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&b); err != nil {
			return nil, err
		}
		if a != b || a != rep.Rows[t] {
			return nil, fmt.Errorf("table %s: %d rows in SQLite, %d copied, %d in PostgreSQL", t, a, rep.Rows[t], b)
		}
	}
	if err := check(ctx, src, dst, rep, progress); err != nil {
		return nil, err
	}
	return rep, nil
}

// copyTable copies every row of table t, with the columns the target
// has, in statements of batchRows rows.
func copyTable(ctx context.Context, from *sql.DB, to *sql.Tx, t string, progress io.Writer) (int64, error) {
	rows, err := to.QueryContext(ctx, `SELECT column_name FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position`, t)
	if err != nil {
		return 0, err
	}
	var cols []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			rows.Close()
			return 0, err
		}
		cols = append(cols, c)
	}
	rows.Close()
	if len(cols) == 0 {
		return 0, fmt.Errorf("the target has no table %s", t)
	}
	src, err := from.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+t)
	if err != nil {
		return 0, err
	}
	defer src.Close()
	overriding := ""
	if _, ok := identities[t]; ok {
		overriding = " OVERRIDING SYSTEM VALUE"
	}
	insert := func(batch []any) error {
		n := len(batch) / len(cols)
		var q strings.Builder
		fmt.Fprintf(&q, "INSERT INTO %s (%s)%s VALUES ", t, strings.Join(cols, ", "), overriding)
		for i := range n {
			if i > 0 {
				q.WriteByte(',')
			}
			q.WriteByte('(')
			for j := range cols {
				if j > 0 {
					q.WriteByte(',')
				}
				fmt.Fprintf(&q, "$%d", i*len(cols)+j+1)
			}
			q.WriteByte(')')
		}
		_, err := to.ExecContext(ctx, q.String(), batch...)
		return err
	}
	var batch []any
	var n int64
	for src.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := src.Scan(ptrs...); err != nil {
			return n, err
		}
		batch = append(batch, vals...)
		n++
		if n%batchRows == 0 {
			if err := insert(batch); err != nil {
				return n, err
			}
			batch = batch[:0]
		}
		if n%100000 == 0 {
			fmt.Fprintf(progress, "  %s: %d rows\n", t, n)
		}
	}
	if err := src.Err(); err != nil {
		return n, err
	}
	if len(batch) > 0 {
		if err := insert(batch); err != nil {
			return n, err
		}
	}
	fmt.Fprintf(progress, "  %s: %d rows\n", t, n)
	return n, nil
}

// check reads every feed back through the PostgreSQL store: each entry
// must equal the source's byte for byte and verify with its author's key
// at its position (the channel definition's, as the feed's key entries
// move it on), and the feed's tree head must equal the source's and the
// one its entries make.
func check(ctx context.Context, src *sqlite.Store, dst *postgres.Store, rep *Report, progress io.Writer) error {
	chans, err := dst.Channels(ctx)
	if err != nil {
		return err
	}
	keys := make(map[hotline.Feed]keychain.Key)
	for _, c := range chans {
		for _, m := range c.Definition.Members {
			if k, err := keychain.ParseKey(m.Key, ""); err == nil {
				keys[hotline.Feed{Channel: c.ID, Party: m.Party}] = k
			}
		}
	}
	want, err := src.Heads(ctx)
	if err != nil {
		return err
	}
	got, err := dst.Heads(ctx)
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return fmt.Errorf("the copy holds %d feeds, the source %d", len(got), len(want))
	}
	for f, h := range want {
		if got[f] != h {
			return fmt.Errorf("feed %s/%s: head %d %s in the copy, %d %s in the source", f.Channel, f.Party, got[f].Seq, got[f].ID, h.Seq, h.ID)
		}
		key, ok := keys[f]
		if !ok {
			return fmt.Errorf("feed %s/%s: no key of %s in the channel's definition", f.Channel, f.Party, f.Party)
		}
		var leaves []tlog.Hash
		for from := uint64(1); from <= h.Seq; {
			a, err := src.Feed(ctx, f, from, 1000)
			if err != nil {
				return err
			}
			b, err := dst.Feed(ctx, f, from, 1000)
			if err != nil {
				return err
			}
			if len(a) == 0 || len(a) != len(b) {
				return fmt.Errorf("feed %s/%s from %d: %d entries in the copy, %d in the source", f.Channel, f.Party, from, len(b), len(a))
			}
			for i := range a {
				x, y := a[i], b[i]
				if x.ID() != y.ID() || string(x.Encode()) != string(y.Encode()) || x.Local != y.Local || x.Depth != y.Depth || !x.Received.Equal(y.Received) {
					return fmt.Errorf("entry %s/%d differs in the copy", f.Party, x.Seq)
				}
				if err := y.Verify(key.Pub); err != nil {
					return fmt.Errorf("entry %s/%d in the copy: %v", f.Party, y.Seq, err)
				}
				if y.Kind == entry.KindKey {
					body, err := entry.DecodeBody(y.Entry)
					if err != nil {
						return fmt.Errorf("entry %s/%d in the copy: %v", f.Party, y.Seq, err)
					}
					c, err := keychain.ParseChange(y.Entry, body.(*entry.KeyChange), key.Verifier)
					if err != nil {
						return fmt.Errorf("entry %s/%d in the copy: %v", f.Party, y.Seq, err)
					}
					key = c.New
				}
				leaves = append(leaves, checkpoint.RecordHash(y.Entry))
				rep.Entries++
			}
			from = a[len(a)-1].Seq + 1
		}
		size := int64(h.Seq)
		reader := func(st hotline.Store) tlog.HashReaderFunc {
			return func(idx []int64) ([]tlog.Hash, error) { return st.TreeHashes(ctx, f, idx) }
		}
		ta, err := tlog.TreeHash(size, reader(src))
		if err != nil {
			return fmt.Errorf("feed %s/%s: tree of the source: %w", f.Channel, f.Party, err)
		}
		tb, err := tlog.TreeHash(size, reader(dst))
		if err != nil {
			return fmt.Errorf("feed %s/%s: tree of the copy: %w", f.Channel, f.Party, err)
		}
		if ta != tb || tb != audit.RootOf(leaves) {
			return fmt.Errorf("feed %s/%s: the copy's tree head differs from the source's or from its entries'", f.Channel, f.Party)
		}
		rep.Feeds++
		fmt.Fprintf(progress, "  checked %s's feed of %s: %d entries, tree head %s\n", f.Party, f.Channel, h.Seq, tb)
	}
	return nil
}
