package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// markRowBytes is what one index row of a mark is counted as in its
// author's store usage: a cumulative read adds one row per message.
const markRowBytes = 96

// insertMark writes the index rows of a mark: one, or for a cumulative
// read one per message of the target's feed in its range. It returns how
// many rows it wrote.
func insertMark(ctx context.Context, tx dbtx, ch entry.ChannelID, m *hotline.MarkRow) (int64, error) {
	if m.From == 0 {
		_, err := tx.ExecContext(ctx, `INSERT INTO marks (channel, kind, action, target, target_seq, target_id, party, operator, seq, time, reply) VALUES (?,?,?,?,?,?,?,?,?,?,?)`,
			ch[:], string(m.Kind), m.Action, m.Target.Party, int64(m.Target.Seq), m.Target.ID[:], m.Party, m.Operator, int64(m.Seq), m.Time.UnixMilli(), m.Reply)
		return 1, err
	}
	res, err := tx.ExecContext(ctx, `INSERT INTO marks (channel, kind, action, target, target_seq, target_id, party, operator, seq, time, reply)
		SELECT e.channel, CAST(? AS TEXT), CAST(? AS TEXT), e.author, e.seq, e.id, CAST(? AS TEXT), CAST(? AS TEXT), CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS TEXT) FROM entries e
		WHERE e.channel = ? AND e.author = ? AND e.kind = 'message' AND e.seq BETWEEN ? AND ?`,
		string(m.Kind), m.Action, m.Party, m.Operator, int64(m.Seq), m.Time.UnixMilli(), m.Reply,
		ch[:], m.Target.Party, int64(m.From), int64(m.Target.Seq))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// IndexTranslation writes the mark row of a translation entry: it marks
// the message it translates.
func IndexTranslation(ctx context.Context, tx dbtx, e *entry.Entry) error {
	body, err := entry.DecodeBody(e)
	if err != nil {
		return fmt.Errorf("stored translation %s/%d: %w", e.Author, e.Seq, err)
	}
	t := body.(*entry.Translation)
	_, err = insertMark(ctx, tx, e.Channel, &hotline.MarkRow{Kind: entry.KindTranslation, Target: t.Of, Party: e.Author, Operator: e.Operator, Seq: e.Seq, Time: e.AuthorTime()})
	return err
}

// Page implements hotline.Store. It reads in one transaction so the
// entries and their index rows are consistent.
func (s *Store) Page(ctx context.Context, ch entry.ChannelID, q hotline.PageQuery) (*hotline.Page, error) {
	if q.Limit <= 0 {
		return nil, fmt.Errorf("read page: limit %d", q.Limit)
	}
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("read page: %w", err)
	}
	defer tx.Rollback()
	p := &hotline.Page{}
	// One more than asked for tells whether there is more that way.
	var rows *sql.Rows
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(local), 0) FROM entries WHERE channel = ?`, ch[:]).Scan(&p.Stored); err != nil {
		return nil, fmt.Errorf("read page: %w", err)
	}
	switch {
	case q.StoredAfter != nil:
		rows, err = tx.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND local > ? ORDER BY local LIMIT ?`, ch[:], *q.StoredAfter, q.Limit+1)
	case q.After != nil:
		rows, err = tx.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND (depth, author, seq) > (?, ?, ?)
			ORDER BY depth, author, seq LIMIT ?`, ch[:], q.After.Depth, q.After.Author, int64(q.After.Seq), q.Limit+1)
	case q.Before != nil:
		rows, err = tx.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND (depth, author, seq) < (?, ?, ?)
			ORDER BY depth DESC, author DESC, seq DESC LIMIT ?`, ch[:], q.Before.Depth, q.Before.Author, int64(q.Before.Seq), q.Limit+1)
	default:
		rows, err = tx.QueryContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ?
			ORDER BY depth DESC, author DESC, seq DESC LIMIT ?`, ch[:], q.Limit+1)
	}
	if err != nil {
		return nil, fmt.Errorf("read page: %w", err)
	}
	if p.Entries, err = collect(rows); err != nil {
		return nil, fmt.Errorf("read page: %w", err)
	}
	more := len(p.Entries) > q.Limit
	if more {
		p.Entries = p.Entries[:q.Limit]
	}
	if q.StoredAfter != nil {
		p.Later, p.Earlier = more, *q.StoredAfter > 0
		if err := s.pageIndex(ctx, tx, ch, p); err != nil {
			return nil, fmt.Errorf("read page: %w", err)
		}
		return p, nil
	}
	if q.After != nil {
		p.Later, p.Earlier = more, true
	} else {
		for i, j := 0, len(p.Entries)-1; i < j; i, j = i+1, j-1 {
			p.Entries[i], p.Entries[j] = p.Entries[j], p.Entries[i]
		}
		p.Earlier, p.Later = more, q.Before != nil
	}
	if q.After != nil || q.Before != nil {
		// The cursor's own side: is anything there? (A cursor past the
		// end, or before the start, has nothing.)
		var side *hotline.Position
		op, ord := "<=", "DESC"
		if q.After != nil {
			side = q.After
		} else {
			side, op, ord = q.Before, ">=", "ASC"
		}
		var beyond int
		err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM entries WHERE channel = ? AND (depth, author, seq) `+op+` (?, ?, ?)
			ORDER BY depth `+ord+`, author `+ord+`, seq `+ord+` LIMIT 1) AS beyond`, ch[:], side.Depth, side.Author, int64(side.Seq)).Scan(&beyond)
		if err != nil {
			return nil, fmt.Errorf("read page: %w", err)
		}
		if q.After != nil {
			p.Earlier = beyond > 0
		} else {
			p.Later = beyond > 0
		}
	}
	if err := s.pageIndex(ctx, tx, ch, p); err != nil {
		return nil, fmt.Errorf("read page: %w", err)
	}
	return p, nil
}

// pageIndex reads the receipts, marks and translations of a page's
// messages: a bounded number of index look-ups per message.
func (s *Store) pageIndex(ctx context.Context, tx dbtx, ch entry.ChannelID, p *hotline.Page) error {
	var ids []any
	for _, st := range p.Entries {
		if st.Kind == entry.KindMessage {
			id := st.ID()
			ids = append(ids, id[:])
		}
	}
	if len(ids) == 0 {
		return nil
	}
	rows, err := tx.QueryContext(ctx, `SELECT `+markCols+` FROM marks WHERE target_id IN (?`+strings.Repeat(",?", len(ids)-1)+`) ORDER BY time, party, seq`, ids...)
	if err != nil {
		return err
	}
	if p.Marks, err = collectMarks(rows); err != nil {
		return err
	}
	for _, m := range p.Marks {
		if m.Kind != entry.KindTranslation {
			continue
		}
		st, err := ScanEntry(tx.QueryRowContext(ctx, `SELECT `+EntryCols+` FROM entries WHERE channel = ? AND author = ? AND seq = ?`, ch[:], m.Party, int64(m.Seq)))
		if err != nil {
			return fmt.Errorf("translation %s/%d: %w", m.Party, m.Seq, err)
		}
		p.Translations = append(p.Translations, st)
	}
	var members []string
	if members, err = channelMembers(ctx, tx, ch, ""); err != nil {
		return err
	}
	first, err := tx.PrepareContext(ctx, `SELECT r.receiver, r.party, r.seq, r.receipt_seq, r.time, e.received
		FROM receipts r JOIN entries e ON e.channel = r.channel AND e.author = r.receiver AND e.seq = r.receipt_seq
		WHERE r.channel = ? AND r.receiver = ? AND r.party = ? AND r.seq >= ? ORDER BY r.seq, r.receipt_seq LIMIT 1`)
	if err != nil {
		return err
	}
	defer first.Close()
	// The first receipt covering a seq covers every lower seq it is the
	// first to cover too: messages of a feed come in seq order in a page,
	// so one look-up serves a run of them.
	last := make(map[[2]string]hotline.ReceiptRow)
	for _, st := range p.Entries {
		if st.Kind != entry.KindMessage {
			continue
		}
		for _, m := range members {
			if m == st.Author {
				continue
			}
			k := [2]string{m, st.Author}
			if r, ok := last[k]; ok && r.Seq >= st.Seq {
				continue
			}
			var r hotline.ReceiptRow
			var seq, rseq, t, held int64
			err := first.QueryRowContext(ctx, ch[:], m, st.Author, int64(st.Seq)).Scan(&r.Receiver, &r.Party, &seq, &rseq, &t, &held)
			if err == sql.ErrNoRows {
				continue
			}
			if err != nil {
				return err
			}
			r.Seq, r.ReceiptSeq, r.Time, r.Held = uint64(seq), uint64(rseq), time.UnixMilli(t).UTC(), time.UnixMilli(held).UTC()
			last[k] = r
			p.Receipts = append(p.Receipts, r)
		}
	}
	return nil
}

// FirstUnread implements hotline.Store. Append keeps the position beside
// the count, so reading it costs one row.
func (s *Store) FirstUnread(ctx context.Context, ch entry.ChannelID, party string) (hotline.Position, bool, error) {
	var n int64
	var depth, seq sql.NullInt64
	var author sql.NullString
	err := s.read.QueryRowContext(ctx, `SELECT n, first_depth, first_author, first_seq FROM unread WHERE channel = ? AND party = ?`, ch[:], party).
		Scan(&n, &depth, &author, &seq)
	if err == sql.ErrNoRows || (err == nil && (n == 0 || !depth.Valid)) {
		return hotline.Position{}, false, nil
	}
	if err != nil {
		return hotline.Position{}, false, fmt.Errorf("find first unread: %w", err)
	}
	return hotline.Position{Depth: depth.Int64, Author: author.String, Seq: uint64(seq.Int64)}, true, nil
}

// moveFirstUnread moves party's first unread message in ch on past what
// it has read, after a batch with its reads or acks: from where it was,
// to the next message by another party that nobody at party has read or
// acknowledged (none: NULL). The position only moves forward over
// messages read, so over time it costs each message once.
func (s *Store) moveFirstUnread(ctx context.Context, tx dbtx, ch entry.ChannelID, party string) error {
	var depth, seq sql.NullInt64
	var author sql.NullString
	err := tx.QueryRowContext(ctx, `SELECT first_depth, first_author, first_seq FROM unread WHERE channel = ? AND party = ?`, ch[:], party).Scan(&depth, &author, &seq)
	if err == sql.ErrNoRows || (err == nil && !depth.Valid) {
		return nil
	}
	if err != nil {
		return err
	}
	from := hotline.Position{Depth: depth.Int64, Author: author.String, Seq: uint64(seq.Int64)}
	return AdvanceFirstUnread(ctx, tx, ch, party, from.JustBefore())
}

// AdvanceFirstUnread sets party's first unread message in ch to the first,
// in channel order after position after, that is by another party and
// that nobody at party has read or acknowledged.
func AdvanceFirstUnread(ctx context.Context, tx dbtx, ch entry.ChannelID, party string, after hotline.Position) error {
	var p hotline.Position
	var seq int64
	err := tx.QueryRowContext(ctx, `SELECT depth, author, seq FROM entries e
		WHERE channel = ? AND (depth, author, seq) > (?, ?, ?) AND kind = 'message' AND author <> ?
		AND NOT EXISTS (SELECT 1 FROM marks k WHERE k.target_id = e.id AND k.party = ? AND k.kind IN ('read', 'ack'))
		ORDER BY depth, author, seq LIMIT 1`, ch[:], after.Depth, after.Author, int64(after.Seq), party, party).Scan(&p.Depth, &p.Author, &seq)
	if err == sql.ErrNoRows {
		_, err = tx.ExecContext(ctx, `UPDATE unread SET first_depth = NULL, first_author = NULL, first_seq = NULL WHERE channel = ? AND party = ?`, ch[:], party)
		return err
	}
	if err != nil {
		return err
	}
	_, err = tx.ExecContext(ctx, `UPDATE unread SET first_depth = ?, first_author = ?, first_seq = ? WHERE channel = ? AND party = ?`,
		p.Depth, p.Author, seq, ch[:], party)
	return err
}
