// Package sqlstore is hotline.Store over database/sql, in the SQL that
// SQLite and PostgreSQL both speak: every query, the Merkle trees, pages,
// deadlines and operators. A backend (package sqlite, package postgres)
// opens its database, keeps its schema, and gives a Store what differs: how
// to begin a transaction, how its errors read, and its placeholders.
package sqlstore

import (
	"cmp"
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/storecache"
)

// DB runs statements with ? placeholders (?N for a numbered one) on a
// database or in a transaction.
type DB interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}

// Tx is a transaction.
type Tx interface {
	DB
	Commit() error
	Rollback() error
}

// dbtx is the name the store's helpers use for DB.
type dbtx = DB

// Backend is what a database gives the store.
type Backend struct {
	// Read runs reads and Write writes; they may be one pool.
	Read, Write DB
	// BeginWrite begins a write transaction, and BeginRead a read-only
	// one that reads one snapshot.
	BeginWrite, BeginRead func(ctx context.Context) (Tx, error)
	// Err classifies a failed write: an error the operator can fix and the
	// node recovers from (a full disk, a read-only database, a lost
	// connection) becomes EUNAVAILABLE.
	Err func(op string, err error) error
}

// Store is a hotline.Store on a Backend.
type Store struct {
	read, write           DB
	beginWrite, beginRead func(ctx context.Context) (Tx, error)
	fail                  func(op string, err error) error
	trees                 trees
	// The look-ups every API request makes, prepared once.
	operatorByToken, operatorByName, readEpoch *sql.Stmt
	// The writer's look-up of an id it no longer keeps in memory.
	idAt *sql.Stmt
	// Token and operator look-ups, cached while the access epoch holds.
	access storecache.Access
	// heads holds the seq and depth of each feed's newest entry, as
	// committed: most entries reference their feeds' heads, so most
	// depths are known without a query.
	headsMu sync.Mutex
	heads   map[hotline.Feed]depthAt
	// The newest entries of each feed, as committed.
	tails storecache.Tails
}

// depthAt is an entry's seq and causal depth.
type depthAt struct {
	seq   uint64
	depth int64
}

var _ hotline.Store = (*Store)(nil)

// New returns a Store on b, whose schema must be current.
func New(ctx context.Context, b Backend) (*Store, error) {
	s := &Store{read: b.Read, write: b.Write, beginWrite: b.BeginWrite, beginRead: b.BeginRead, fail: b.Err}
	var err error
	if s.operatorByToken, err = s.read.PrepareContext(ctx, `SELECT t.operator FROM operator_tokens t
		WHERE t.hash = ? AND NOT EXISTS (SELECT 1 FROM operators o WHERE o.name = t.operator AND o.disabled <> 0)`); err == nil {
		s.operatorByName, err = s.read.PrepareContext(ctx, operatorColumns+`WHERE name = ?`)
	}
	if err == nil {
		s.readEpoch, err = s.read.PrepareContext(ctx, `SELECT epoch FROM access_epoch WHERE id = 1`)
	}
	if err == nil {
		s.idAt, err = s.read.PrepareContext(ctx, `SELECT id FROM entries WHERE channel = ? AND author = ? AND seq = ?`)
	}
	if err != nil {
		s.Close()
		return nil, err
	}
	s.access.ReadEpoch = s.readAccessEpoch
	return s, nil
}

// Close releases the store's prepared statements; the backend closes its
// database.
func (s *Store) Close() error {
	for _, st := range []*sql.Stmt{s.operatorByToken, s.operatorByName, s.readEpoch, s.idAt} {
		if st != nil {
			st.Close()
		}
	}
	return nil
}

// Access returns the store's cache of operator look-ups.
func (s *Store) Access() *storecache.Access { return &s.access }

// Tails returns the store's newest entries of each feed.
func (s *Store) Tails() *storecache.Tails { return &s.tails }

// storeErr classifies a failed write with the backend's Err.
func (s *Store) storeErr(op string, err error) error { return s.fail(op, err) }

// Append implements hotline.Store.
func (s *Store) Append(ctx context.Context, received time.Time, writes []hotline.Write) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return s.storeErr("append: begin", err)
	}
	defer tx.Rollback()
	now := received.UnixMilli()
	insEntry, err := tx.PrepareContext(ctx, `INSERT INTO entries (id, channel, author, seq, kind, header, sig, body, received, depth) VALUES (?,?,?,?,?,?,?,?,?,?) RETURNING local`)
	if err != nil {
		return s.storeErr("append: prepare", err)
	}
	defer insEntry.Close()
	depthOf, err := tx.PrepareContext(ctx, `SELECT depth FROM entries WHERE channel = ? AND author = ? AND seq = ?`)
	if err != nil {
		return s.storeErr("append: prepare", err)
	}
	defer depthOf.Close()
	tt := s.trees.begin(tx)
	type usageKey struct {
		party   string
		channel entry.ChannelID
	}
	usage := make(map[usageKey]*hotline.Usage)
	// The batch's changes to the unread counts, applied once per channel
	// and party at the end: messages add to every other member's count,
	// the first read or ack of a message by a party takes one off its own.
	messages := make(map[usageKey]int64) // by author and channel
	marked := make(map[usageKey]int64)   // by marking party and channel
	// The first unread message moves back to the earliest new message,
	// and on past what a party's reads cover.
	earliest := make(map[usageKey]hotline.Position) // by author and channel
	reading := make(map[usageKey]bool)              // by marking party and channel
	heads := make(map[hotline.Feed]depthAt)         // this batch's, kept once it commits
	var added []*hotline.Stored                     // kept as the feeds' tails once it commits
	for _, w := range writes {
		if w.Draft != nil {
			if err := putDraft(ctx, tx, w.Draft); err != nil {
				return s.storeErr("append: draft", err)
			}
		}
		e := w.Entry
		if e == nil {
			if w.Channel != nil {
				if err := putChannel(ctx, tx, w.Channel); err != nil {
					return s.storeErr("append: channel", err)
				}
			}
			continue
		}
		id := e.ID()
		k := usageKey{e.Author, e.Channel}
		u := usage[k]
		if u == nil {
			u = &hotline.Usage{Party: e.Author, Channel: e.Channel}
			usage[k] = u
		}
		u.Entries++
		u.Bytes += int64(len(e.HeaderBytes) + len(e.Sig) + len(e.Body))
		var depthErr error
		depth := hotline.Depth(e, func(party string, seq uint64) int64 {
			f := hotline.Feed{Channel: e.Channel, Party: party}
			if h, ok := heads[f]; ok && h.seq == seq {
				return h.depth
			}
			if h, ok := s.head(f); ok && h.seq == seq {
				return h.depth
			}
			var d int64
			if err := depthOf.QueryRowContext(ctx, e.Channel[:], party, int64(seq)).Scan(&d); err != nil && depthErr == nil {
				depthErr = fmt.Errorf("depth of %s/%d, which %s/%d follows: %w", party, seq, e.Author, e.Seq, err)
			}
			return d
		})
		heads[hotline.Feed{Channel: e.Channel, Party: e.Author}] = depthAt{e.Seq, depth}
		if depthErr != nil {
			return s.storeErr("append entry", depthErr)
		}
		var local int64
		if err := insEntry.QueryRowContext(ctx, id[:], e.Channel[:], e.Author, int64(e.Seq), string(e.Kind), e.HeaderBytes, e.Sig, e.Body, now, depth).Scan(&local); err != nil {
			return s.storeErr(fmt.Sprintf("append entry %s/%d", e.Author, e.Seq), err)
		}
		added = append(added, &hotline.Stored{Entry: e, Local: local, Received: time.UnixMilli(now).UTC(), Depth: depth})
		if err := tt.add(ctx, e); err != nil {
			return s.storeErr(fmt.Sprintf("append entry %s/%d to its Merkle tree", e.Author, e.Seq), err)
		}
		if w.Channel != nil {
			if err := putChannel(ctx, tx, w.Channel); err != nil {
				return s.storeErr("append: channel", err)
			}
		}
		for _, r := range w.Receipts {
			if _, err := tx.ExecContext(ctx, `INSERT INTO receipts (channel, receiver, party, seq, receipt_seq, time) VALUES (?,?,?,?,?,?)`,
				e.Channel[:], r.Receiver, r.Party, int64(r.Seq), int64(r.ReceiptSeq), r.Time.UnixMilli()); err != nil {
				return s.storeErr("append: receipt", err)
			}
		}
		if e.Kind == entry.KindMessage {
			messages[k]++
			pos := hotline.Position{Depth: depth, Author: e.Author, Seq: e.Seq}
			if p, ok := earliest[k]; !ok || pos.Less(p) {
				earliest[k] = pos
			}
		}
		if m := w.Mark; m != nil && (m.Kind == entry.KindRead || m.Kind == entry.KindAck) {
			// The messages it marks that this party had not read or acked
			// before (earlier in this batch too).
			first, last := m.Target.Seq, m.Target.Seq
			if m.From != 0 {
				first = m.From
			}
			var fresh int64
			if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries e
				WHERE e.channel = ? AND e.author = ? AND e.kind = 'message' AND e.seq BETWEEN ? AND ?
				AND NOT EXISTS (SELECT 1 FROM marks k WHERE k.target_id = e.id AND k.party = ? AND k.kind IN ('read', 'ack'))`,
				e.Channel[:], m.Target.Party, int64(first), int64(last), m.Party).Scan(&fresh); err != nil {
				return s.storeErr("append: unread count", err)
			}
			marked[usageKey{m.Party, e.Channel}] += fresh
			reading[usageKey{m.Party, e.Channel}] = true
		}
		if m := w.Mark; m != nil {
			n, err := insertMark(ctx, tx, e.Channel, m)
			if err != nil {
				return s.storeErr("append: mark", err)
			}
			u.Bytes += markRowBytes * (n - 1) // a cumulative read's rows count against its author's share
		}
		if w.Watch {
			if err := AddWatch(ctx, tx, e); err != nil {
				return s.storeErr("append: watch", err)
			}
		}
	}
	day := hotline.Day(received)
	for _, u := range usage {
		if _, err := tx.ExecContext(ctx, `INSERT INTO usage (party, channel, day, entries, bytes) VALUES (?,?,?,?,?)
			ON CONFLICT (party, channel, day) DO UPDATE SET entries = usage.entries + excluded.entries, bytes = usage.bytes + excluded.bytes`,
			u.Party, u.Channel[:], day, u.Entries, u.Bytes); err != nil {
			return s.storeErr("append: usage", err)
		}
	}
	for k, n := range messages {
		if _, err := tx.ExecContext(ctx, `INSERT INTO unread (channel, party, n)
			SELECT channel, party, CAST(? AS BIGINT) FROM channel_members WHERE channel = ? AND party <> ?
			ON CONFLICT (channel, party) DO UPDATE SET n = unread.n + excluded.n`, n, k.channel[:], k.party); err != nil {
			return s.storeErr("append: unread count", err)
		}
	}
	for k, n := range marked { // after the messages: a message and its read may share a batch
		if _, err := tx.ExecContext(ctx, `UPDATE unread SET n = CASE WHEN n > ? THEN n - ? ELSE 0 END WHERE channel = ? AND party = ?`, n, n, k.channel[:], k.party); err != nil {
			return s.storeErr("append: unread count", err)
		}
	}
	for k, p := range earliest {
		if _, err := tx.ExecContext(ctx, `UPDATE unread SET first_depth = ?, first_author = ?, first_seq = ?
			WHERE channel = ? AND party <> ? AND (first_depth IS NULL OR (first_depth, first_author, first_seq) > (?, ?, ?))`,
			p.Depth, p.Author, int64(p.Seq), k.channel[:], k.party, p.Depth, p.Author, int64(p.Seq)); err != nil {
			return s.storeErr("append: first unread", err)
		}
	}
	for k := range reading { // after the messages, which may have moved it back
		if err := s.moveFirstUnread(ctx, tx, k.channel, k.party); err != nil {
			return s.storeErr("append: first unread", err)
		}
	}
	if err := tt.flush(ctx); err != nil {
		return s.storeErr("append: Merkle trees", err)
	}
	if err := tx.Commit(); err != nil && !s.committed(ctx, writes) {
		return s.storeErr("append: commit", err)
	}
	tt.commit()
	s.tails.Add(added)
	s.headsMu.Lock()
	if s.heads == nil {
		s.heads = make(map[hotline.Feed]depthAt)
	}
	for f, h := range heads {
		s.heads[f] = h
	}
	s.headsMu.Unlock()
	return nil
}

// committed reports whether the batch of writes is in the store though
// its commit failed: a database server can apply a commit and lose the
// connection before it answers. The batch's last entry, looked up on
// another connection, tells; if it cannot be looked up, the batch counts
// as not committed.
func (s *Store) committed(ctx context.Context, writes []hotline.Write) bool {
	for i := len(writes) - 1; i >= 0; i-- {
		if e := writes[i].Entry; e != nil {
			id, ok, err := s.IDAt(ctx, hotline.Feed{Channel: e.Channel, Party: e.Author}, e.Seq)
			return err == nil && ok && id == e.ID()
		}
	}
	return false
}

// head returns the seq and depth of feed f's newest committed entry, if
// known since the store was opened.
func (s *Store) head(f hotline.Feed) (depthAt, bool) {
	s.headsMu.Lock()
	defer s.headsMu.Unlock()
	h, ok := s.heads[f]
	return h, ok
}

// Usage implements hotline.Store.
func (s *Store) Usage(ctx context.Context, day int64) (total, onDay []hotline.Usage, err error) {
	scan := func(query string, args ...any) ([]hotline.Usage, error) {
		rows, err := s.read.QueryContext(ctx, query, args...)
		if err != nil {
			return nil, fmt.Errorf("read store usage: %w", err)
		}
		defer rows.Close()
		var out []hotline.Usage
		for rows.Next() {
			var u hotline.Usage
			var ch []byte
			if err := rows.Scan(&u.Party, &ch, &u.Entries, &u.Bytes); err != nil {
				return nil, fmt.Errorf("read store usage: %w", err)
			}
			copy(u.Channel[:], ch)
			out = append(out, u)
		}
		return out, rows.Err()
	}
	if total, err = scan(`SELECT party, channel, CAST(SUM(entries) AS BIGINT), CAST(SUM(bytes) AS BIGINT) FROM usage GROUP BY party, channel`); err != nil {
		return nil, nil, err
	}
	if onDay, err = scan(`SELECT party, channel, entries, bytes FROM usage WHERE day = ?`, day); err != nil {
		return nil, nil, err
	}
	return total, onDay, nil
}

func putChannel(ctx context.Context, tx dbtx, c *hotline.Channel) error {
	def, err := entry.EncodeBody(&c.Definition)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO channels (id, name, level, proposer, definition, state, label, stored) VALUES (?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET state = excluded.state`,
		c.ID[:], c.Definition.Name, c.Definition.Level, c.Definition.Proposer, def, string(c.State), c.Label, unixMilliOrZero(c.Stored)); err != nil {
		return err
	}
	for _, m := range c.Definition.Members {
		accepted := 0
		for _, a := range c.Accepted {
			if a == m.Party {
				accepted = 1
			}
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO channel_members (channel, party, key, accepted) VALUES (?,?,?,?)
			ON CONFLICT (channel, party) DO UPDATE SET accepted = excluded.accepted`, c.ID[:], m.Party, m.Key, accepted); err != nil {
			return err
		}
	}
	return nil
}

// Channels implements hotline.Store.
func (s *Store) Channels(ctx context.Context) ([]hotline.Channel, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT c.id, c.definition, c.state, c.label, c.stored,
		COALESCE((SELECT string_agg(party, ',' ORDER BY party) FROM channel_members m WHERE m.channel = c.id AND m.accepted = 1), '')
		FROM channels c ORDER BY c.level, c.name, c.id`)
	if err != nil {
		return nil, fmt.Errorf("list channels: %w", err)
	}
	defer rows.Close()
	var out []hotline.Channel
	for rows.Next() {
		var id, def []byte
		var state, label, accepted string
		var stored int64
		if err := rows.Scan(&id, &def, &state, &label, &stored, &accepted); err != nil {
			return nil, err
		}
		c := hotline.Channel{State: hotline.ChannelState(state), Label: label}
		if stored != 0 {
			c.Stored = time.UnixMilli(stored).UTC()
		}
		copy(c.ID[:], id)
		if err := entry.Unmarshal(def, &c.Definition); err != nil {
			return nil, fmt.Errorf("list channels: stored definition: %w", err)
		}
		if accepted != "" {
			c.Accepted = strings.Split(accepted, ",")
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// Heads implements hotline.Store. Each feed's tree size is its head's
// seq, so this reads one row per feed, never the entries.
func (s *Store) Heads(ctx context.Context) (map[hotline.Feed]hotline.Head, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT t.channel, t.party, t.size, e.id FROM tree_sizes t
		JOIN entries e ON e.channel = t.channel AND e.author = t.party AND e.seq = t.size`)
	if err != nil {
		return nil, fmt.Errorf("read heads: %w", err)
	}
	defer rows.Close()
	heads := make(map[hotline.Feed]hotline.Head)
	for rows.Next() {
		var ch, id []byte
		var f hotline.Feed
		var h hotline.Head
		var seq int64
		if err := rows.Scan(&ch, &f.Party, &seq, &id); err != nil {
			return nil, err
		}
		copy(f.Channel[:], ch)
		copy(h.ID[:], id)
		h.Seq = uint64(seq)
		heads[f] = h
	}
	return heads, rows.Err()
}

// EntryCols are the columns of an entry that ScanEntry reads.
const EntryCols = `local, header, sig, body, received, depth`

// ScanEntry reads an entry selected with EntryCols.
func ScanEntry(sc interface{ Scan(...any) error }) (*hotline.Stored, error) {
	var local, received, depth int64
	var header, sig, body []byte
	if err := sc.Scan(&local, &header, &sig, &body, &received, &depth); err != nil {
		return nil, err
	}
	e, err := entry.FromParts(header, sig, body)
	if err != nil {
		return nil, fmt.Errorf("stored entry %d is corrupt: %w", local, err)
	}
	return &hotline.Stored{Entry: e, Local: local, Received: time.UnixMilli(received).UTC(), Depth: depth}, nil
}

// Entry implements hotline.Store.
func (s *Store) Entry(ctx context.Context, id entry.ID) (*hotline.Stored, error) {
	st, err := ScanEntry(s.read.QueryRowContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE id = ?`, id[:]))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no entry %s", id)
	}
	return st, err
}

// EntriesByPrefix implements hotline.Store.
func (s *Store) EntriesByPrefix(ctx context.Context, ch entry.ChannelID, prefix string, limit int) ([]*hotline.Stored, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) > 64 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, hotline.Errorf(hotline.EINVALID, "entry id prefix %q: give hex digits", prefix)
	}
	lo, err1 := hex.DecodeString(prefix + strings.Repeat("0", 64-len(prefix)))
	hi, err2 := hex.DecodeString(prefix + strings.Repeat("f", 64-len(prefix)))
	if err1 != nil || err2 != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "entry id prefix %q: give hex digits", prefix)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE id BETWEEN ? AND ? AND channel = ? LIMIT ?`, lo, hi, ch[:], limit)
	if err != nil {
		return nil, fmt.Errorf("find entry by prefix: %w", err)
	}
	return collect(rows)
}

// channelMembers lists the parties of channel ch but except, in order.
func channelMembers(ctx context.Context, tx dbtx, ch entry.ChannelID, except string) ([]string, error) {
	rows, err := tx.QueryContext(ctx, `SELECT party FROM channel_members WHERE channel = ? AND party <> ? ORDER BY party`, ch[:], except)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var p string
		if err := rows.Scan(&p); err != nil {
			return nil, err
		}
		out = append(out, p)
	}
	return out, rows.Err()
}

// EntriesOfKind implements hotline.Store: one range of the (channel,
// author, kind, seq) index per member and kind, merged by storage order.
func (s *Store) EntriesOfKind(ctx context.Context, ch entry.ChannelID, kinds ...entry.Kind) ([]*hotline.Stored, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("read entries by kind: %w", err)
	}
	defer tx.Rollback()
	members, err := channelMembers(ctx, tx, ch, "")
	if err != nil {
		return nil, fmt.Errorf("read entries by kind: %w", err)
	}
	var out []*hotline.Stored
	for _, m := range members {
		for _, k := range kinds {
			rows, err := tx.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND author = ? AND kind = ? ORDER BY seq`, ch[:], m, string(k))
			if err != nil {
				return nil, fmt.Errorf("read entries by kind: %w", err)
			}
			got, err := collect(rows)
			if err != nil {
				return nil, fmt.Errorf("read entries by kind: %w", err)
			}
			out = append(out, got...)
		}
	}
	slices.SortFunc(out, func(a, b *hotline.Stored) int { return cmp.Compare(a.Local, b.Local) })
	return out, nil
}

// KeyChanges implements hotline.Store, through the partial index on key
// entries.
func (s *Store) KeyChanges(ctx context.Context) ([]*hotline.Stored, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE kind = 'key' ORDER BY local`)
	if err != nil {
		return nil, fmt.Errorf("read key changes: %w", err)
	}
	got, err := collect(rows)
	if err != nil {
		return nil, fmt.Errorf("read key changes: %w", err)
	}
	return got, nil
}

// Latest implements hotline.Store.
func (s *Store) Latest(ctx context.Context, f hotline.Feed, kind entry.Kind) (*hotline.Stored, error) {
	st, err := ScanEntry(s.read.QueryRowContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND author = ? AND kind = ? ORDER BY seq DESC LIMIT 1`,
		f.Channel[:], f.Party, string(kind)))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no %s entry of %s in channel %s", kind, f.Party, f.Channel)
	}
	return st, err
}

// Feed implements hotline.Store.
func (s *Store) Feed(ctx context.Context, f hotline.Feed, from uint64, limit int) ([]*hotline.Stored, error) {
	if out, ok := s.tails.Feed(f, from, limit); ok {
		return out, nil
	}
	return s.feedRows(ctx, f, from, limit)
}

// feedRows is Feed from the table alone.
func (s *Store) feedRows(ctx context.Context, f hotline.Feed, from uint64, limit int) ([]*hotline.Stored, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND author = ? AND seq >= ? ORDER BY seq LIMIT ?`,
		f.Channel[:], f.Party, int64(from), limit)
	if err != nil {
		return nil, fmt.Errorf("read feed: %w", err)
	}
	return collect(rows)
}

// IDAt implements hotline.Store.
func (s *Store) IDAt(ctx context.Context, f hotline.Feed, seq uint64) (entry.ID, bool, error) {
	var b []byte
	err := s.idAt.QueryRowContext(ctx, f.Channel[:], f.Party, int64(seq)).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return entry.ID{}, false, nil
	}
	if err != nil {
		return entry.ID{}, false, fmt.Errorf("read entry id %s/%d: %w", f.Party, seq, err)
	}
	var id entry.ID
	copy(id[:], b)
	return id, true, nil
}

// ChannelEntries implements hotline.Store.
func (s *Store) ChannelEntries(ctx context.Context, ch entry.ChannelID, after int64, limit int) ([]*hotline.Stored, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND local > ? ORDER BY local LIMIT ?`, ch[:], after, limit)
	if err != nil {
		return nil, fmt.Errorf("read channel: %w", err)
	}
	return collect(rows)
}

func collect(rows *sql.Rows) ([]*hotline.Stored, error) {
	defer rows.Close()
	var out []*hotline.Stored
	for rows.Next() {
		st, err := ScanEntry(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, st)
	}
	return out, rows.Err()
}

// AddEvidence implements hotline.Store.
func (s *Store) AddEvidence(ctx context.Context, ev hotline.Evidence) error {
	var ch []byte
	if ev.Channel != (entry.ChannelID{}) {
		ch = ev.Channel[:]
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO evidence (time, kind, peer, detail, data, channel, party, seq) VALUES (?,?,?,?,?,?,?,?)`,
		ev.Time.UnixMilli(), ev.Kind, ev.Peer, ev.Detail, ev.Data, ch, ev.Party, int64(ev.Seq))
	if err != nil {
		return s.storeErr("add evidence", err)
	}
	return nil
}

const evidenceCols = `n, time, kind, peer, detail, channel, party, seq, COALESCE(length(data), 0)`

func scanEvidence(sc interface{ Scan(...any) error }, data *[]byte) (hotline.Evidence, error) {
	var ev hotline.Evidence
	var t, seq int64
	var ch []byte
	dest := []any{&ev.N, &t, &ev.Kind, &ev.Peer, &ev.Detail, &ch, &ev.Party, &seq, &ev.Size}
	if data != nil {
		dest = append(dest, data)
	}
	if err := sc.Scan(dest...); err != nil {
		return ev, err
	}
	ev.Time, ev.Seq = time.UnixMilli(t).UTC(), uint64(seq)
	copy(ev.Channel[:], ch)
	return ev, nil
}

// EvidenceList implements hotline.Store.
func (s *Store) EvidenceList(ctx context.Context, q hotline.EvidenceQuery) ([]hotline.Evidence, error) {
	where, args := []string{"true"}, []any{}
	if q.Before > 0 {
		where, args = append(where, "n < ?"), append(args, q.Before)
	}
	if q.Kind != "" {
		where, args = append(where, "kind = ?"), append(args, q.Kind)
	}
	if q.Peer != "" {
		where, args = append(where, "peer = ?"), append(args, q.Peer)
	}
	rows, err := s.read.QueryContext(ctx, `SELECT `+evidenceCols+` FROM evidence WHERE `+strings.Join(where, " AND ")+` ORDER BY n DESC LIMIT ?`,
		append(args, q.Limit)...)
	if err != nil {
		return nil, fmt.Errorf("list evidence: %w", err)
	}
	defer rows.Close()
	var out []hotline.Evidence
	for rows.Next() {
		ev, err := scanEvidence(rows, nil)
		if err != nil {
			return nil, fmt.Errorf("list evidence: %w", err)
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

// EvidenceRecord implements hotline.Store.
func (s *Store) EvidenceRecord(ctx context.Context, n int64) (*hotline.Evidence, error) {
	var data []byte
	ev, err := scanEvidence(s.read.QueryRowContext(ctx, `SELECT `+evidenceCols+`, data FROM evidence WHERE n = ?`, n), &data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no evidence record %d on this node (see hotline evidence)", n)
	}
	if err != nil {
		return nil, fmt.Errorf("read evidence %d: %w", n, err)
	}
	ev.Data = data
	return &ev, nil
}

// EvidenceUsage implements hotline.Store.
func (s *Store) EvidenceUsage(ctx context.Context, since time.Time) ([]hotline.EvidenceCount, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT peer, kind, COUNT(*), CAST(COALESCE(SUM(length(data)), 0) AS BIGINT) FROM evidence WHERE time >= ? GROUP BY peer, kind`, since.UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("count evidence: %w", err)
	}
	defer rows.Close()
	var out []hotline.EvidenceCount
	for rows.Next() {
		var c hotline.EvidenceCount
		if err := rows.Scan(&c.Peer, &c.Kind, &c.Records, &c.Bytes); err != nil {
			return nil, fmt.Errorf("count evidence: %w", err)
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// EvidenceCounts implements hotline.Store.
func (s *Store) EvidenceCounts(ctx context.Context) (map[string]int64, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT kind, n FROM evidence_counts`)
	if err != nil {
		return nil, fmt.Errorf("count evidence: %w", err)
	}
	defer rows.Close()
	out := make(map[string]int64)
	for rows.Next() {
		var kind string
		var n int64
		if err := rows.Scan(&kind, &n); err != nil {
			return nil, fmt.Errorf("count evidence: %w", err)
		}
		out[kind] = n
	}
	return out, rows.Err()
}

// AddLinkTests implements hotline.Store.
func (s *Store) AddLinkTests(ctx context.Context, tests []hotline.LinkTest, keep time.Duration) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return s.storeErr("link tests: begin", err)
	}
	defer tx.Rollback()
	for _, lt := range tests {
		if _, err := tx.ExecContext(ctx, `INSERT INTO link_tests (time, peer, endpoint, ok, rtt_us, error) VALUES (?,?,?,?,?,?)`,
			lt.Time.UnixMilli(), lt.Peer, lt.Endpoint, b2i(lt.OK), lt.RTT.Microseconds(), lt.Error); err != nil {
			return s.storeErr("link tests: insert", err)
		}
	}
	// Expire per peer, so the (peer, time) index serves the delete rather
	// than a scan of the whole history on every heartbeat.
	expired := make(map[string]bool)
	for _, lt := range tests {
		if expired[lt.Peer] {
			continue
		}
		expired[lt.Peer] = true
		if _, err := tx.ExecContext(ctx, `DELETE FROM link_tests WHERE peer = ? AND time < ?`, lt.Peer, lt.Time.Add(-keep).UnixMilli()); err != nil {
			return s.storeErr("link tests: expire", err)
		}
	}
	if err := tx.Commit(); err != nil {
		return s.storeErr("link tests: commit", err)
	}
	return nil
}

// LinkTests implements hotline.Store.
func (s *Store) LinkTests(ctx context.Context, peer string, limit int) ([]hotline.LinkTest, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT time, peer, endpoint, ok, rtt_us, error FROM link_tests
		WHERE ? = '' OR peer = ? ORDER BY n DESC LIMIT ?`, peer, peer, limit)
	if err != nil {
		return nil, fmt.Errorf("link tests: %w", err)
	}
	defer rows.Close()
	var out []hotline.LinkTest
	for rows.Next() {
		var lt hotline.LinkTest
		var t, rtt int64
		if err := rows.Scan(&t, &lt.Peer, &lt.Endpoint, &lt.OK, &rtt, &lt.Error); err != nil {
			return nil, fmt.Errorf("link tests: %w", err)
		}
		lt.Time, lt.RTT = time.UnixMilli(t).UTC(), time.Duration(rtt)*time.Microsecond
		out = append(out, lt)
	}
	return out, rows.Err()
}

// AddOperatorToken implements hotline.Store.
func (s *Store) AddOperatorToken(ctx context.Context, operator string, tokenHash [32]byte) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO operator_tokens (hash, operator, created) VALUES (?,?,?)`,
		tokenHash[:], operator, time.Now().UnixMilli())
	if err != nil {
		return s.storeErr("add operator token", err)
	}
	return nil
}

// Unread implements hotline.Store. Append keeps the count, so reading it
// costs one row whatever the channel holds.
func (s *Store) Unread(ctx context.Context, ch entry.ChannelID, party string) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT n FROM unread WHERE channel = ? AND party = ?`, ch[:], party).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, s.storeErr("read unread messages", err)
	}
	return n, nil
}

// Operators implements hotline.Store.
func (s *Store) Operators(ctx context.Context) ([]hotline.Operator, error) {
	return scanOperators(s.read.QueryContext(ctx, operatorColumns+`ORDER BY name`))
}

// operatorColumns selects what scanOperators reads.
const operatorColumns = `SELECT name, lang, password, totp, failures, locked_until, totp_step, disabled, session_epoch, created, role, keys FROM operators `

func scanOperators(rows *sql.Rows, err error) ([]hotline.Operator, error) {
	if err != nil {
		return nil, fmt.Errorf("read operators: %w", err)
	}
	defer rows.Close()
	var out []hotline.Operator
	for rows.Next() {
		var op hotline.Operator
		var locked, created int64
		var keys string
		if err := rows.Scan(&op.Name, &op.Lang, &op.Password, &op.TOTP, &op.Failures, &locked, &op.TOTPStep, &op.Disabled, &op.SessionEpoch, &created, &op.Role, &keys); err != nil {
			return nil, fmt.Errorf("read operators: %w", err)
		}
		if keys != "" {
			if err := json.Unmarshal([]byte(keys), &op.Keys); err != nil {
				return nil, fmt.Errorf("read operators: keys of %s: %w", op.Name, err)
			}
		}
		if locked != 0 {
			op.LockedUntil = time.UnixMilli(locked)
		}
		op.Created = time.UnixMilli(created)
		out = append(out, op)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read operators: %w", err)
	}
	return out, nil
}

// PutOperator implements hotline.Store.
func (s *Store) PutOperator(ctx context.Context, op hotline.Operator) error {
	if op.Created.IsZero() {
		op.Created = time.Now()
	}
	keys := ""
	if len(op.Keys) > 0 {
		b, err := json.Marshal(op.Keys)
		if err != nil {
			return err
		}
		keys = string(b)
	}
	_, err := s.write.ExecContext(ctx, `INSERT INTO operators (name, lang, password, totp, failures, locked_until, totp_step, disabled, session_epoch, created, role, keys)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (name) DO UPDATE SET lang = excluded.lang, password = excluded.password, totp = excluded.totp,
			failures = excluded.failures, locked_until = excluded.locked_until, totp_step = excluded.totp_step,
			disabled = excluded.disabled, session_epoch = excluded.session_epoch, role = excluded.role, keys = excluded.keys`,
		op.Name, op.Lang, op.Password, op.TOTP, op.Failures, unixMilliOrZero(op.LockedUntil), op.TOTPStep, b2i(op.Disabled), op.SessionEpoch, op.Created.UnixMilli(), op.Role, keys)
	if err != nil {
		return s.storeErr("save operator", err)
	}
	return nil
}

// SetOperatorLang implements hotline.Store.
func (s *Store) SetOperatorLang(ctx context.Context, name, lang string) error {
	_, err := s.write.ExecContext(ctx, `INSERT INTO operators (name, lang, created) VALUES (?,?,?)
		ON CONFLICT (name) DO UPDATE SET lang = excluded.lang`, name, lang, time.Now().UnixMilli())
	if err != nil {
		return s.storeErr("save operator language", err)
	}
	return nil
}

// SetLoginState implements hotline.Store.
func (s *Store) SetLoginState(ctx context.Context, name string, failures int, lockedUntil time.Time, totpStep int64) error {
	res, err := s.write.ExecContext(ctx, `UPDATE operators SET failures = ?, locked_until = ?, totp_step = ? WHERE name = ?`,
		failures, unixMilliOrZero(lockedUntil), totpStep, name)
	if err != nil {
		return s.storeErr("save login state", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return hotline.Errorf(hotline.ENOTFOUND, "no operator %q on this node", name)
	}
	return nil
}

// b2i stores a flag as 0 or 1, which every database reads back as a bool.
func b2i(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

// unixMilliOrZero stores the zero time as 0, which reads back as zero.
func unixMilliOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// OperatorTokens implements hotline.Store.
func (s *Store) OperatorTokens(ctx context.Context) ([]hotline.OperatorToken, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT hash, operator, created FROM operator_tokens ORDER BY created, operator`)
	if err != nil {
		return nil, s.storeErr("list tokens", err)
	}
	defer rows.Close()
	var out []hotline.OperatorToken
	for rows.Next() {
		var hash []byte
		var t hotline.OperatorToken
		var created int64
		if err := rows.Scan(&hash, &t.Operator, &created); err != nil {
			return nil, s.storeErr("list tokens", err)
		}
		t.ID, t.Created = tokenID(hash), time.UnixMilli(created).UTC()
		out = append(out, t)
	}
	return out, rows.Err()
}

// tokenID names a token by the first 16 hex digits of its hash.
func tokenID(hash []byte) string { return fmt.Sprintf("%x", hash[:min(8, len(hash))]) }

// RevokeOperatorToken implements hotline.Store.
func (s *Store) RevokeOperatorToken(ctx context.Context, prefix string) (hotline.OperatorToken, error) {
	prefix = strings.ToLower(prefix)
	if len(prefix) < 4 || strings.Trim(prefix, "0123456789abcdef") != "" {
		return hotline.OperatorToken{}, hotline.Errorf(hotline.EINVALID, "token id %q: give at least 4 of the hex digits hotline token list shows", prefix)
	}
	tokens, err := s.OperatorTokens(ctx)
	if err != nil {
		return hotline.OperatorToken{}, err
	}
	var found []hotline.OperatorToken
	for _, t := range tokens {
		if strings.HasPrefix(t.ID, prefix) {
			found = append(found, t)
		}
	}
	switch len(found) {
	case 0:
		return hotline.OperatorToken{}, hotline.Errorf(hotline.ENOTFOUND, "no token %q on this node (see hotline token list)", prefix)
	case 1:
	default:
		return hotline.OperatorToken{}, hotline.Errorf(hotline.ECONFLICT, "token id %q names %d tokens; give more digits", prefix, len(found))
	}
	// The id is the first 8 bytes of the hash; delete every hash that
	// starts with them (a range of the key) so that exactly the token
	// listed goes.
	lo, err1 := hex.DecodeString(found[0].ID + strings.Repeat("0", 64-len(found[0].ID)))
	hi, err2 := hex.DecodeString(found[0].ID + strings.Repeat("f", 64-len(found[0].ID)))
	if err1 != nil || err2 != nil {
		return hotline.OperatorToken{}, fmt.Errorf("revoke token: stored id %q", found[0].ID)
	}
	res, err := s.write.ExecContext(ctx, `DELETE FROM operator_tokens WHERE hash BETWEEN ? AND ?`, lo, hi)
	if err != nil {
		return hotline.OperatorToken{}, s.storeErr("revoke token", err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return hotline.OperatorToken{}, hotline.Errorf(hotline.ECONFLICT, "token %s changed meanwhile; list the tokens again", found[0].ID)
	}
	return found[0], nil
}

// SetOperatorDisabled implements hotline.Store.
func (s *Store) SetOperatorDisabled(ctx context.Context, name string, disabled bool) error {
	res, err := s.write.ExecContext(ctx, `UPDATE operators SET disabled = ?, session_epoch = session_epoch + 1 WHERE name = ?`, b2i(disabled), name)
	if err != nil {
		return s.storeErr("disable operator", err)
	}
	if n, err := res.RowsAffected(); err != nil || n == 0 {
		return hotline.Errorf(hotline.ENOTFOUND, "no operator account %q on this node (see hotline operator list)", name)
	}
	return nil
}

// RemoveOperator implements hotline.Store.
func (s *Store) RemoveOperator(ctx context.Context, name string) error {
	tx, err := s.beginWrite(ctx)
	if err != nil {
		return s.storeErr("remove operator", err)
	}
	defer tx.Rollback()
	var n int64
	for _, q := range []string{`DELETE FROM operators WHERE name = ?`, `DELETE FROM operator_tokens WHERE operator = ?`} {
		res, err := tx.ExecContext(ctx, q, name)
		if err != nil {
			return s.storeErr("remove operator", err)
		}
		k, _ := res.RowsAffected()
		n += k
	}
	if n == 0 {
		return hotline.Errorf(hotline.ENOTFOUND, "no operator %q on this node (see hotline operator list and hotline token list)", name)
	}
	if err := tx.Commit(); err != nil {
		return s.storeErr("remove operator", err)
	}
	return nil
}
