package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

const markCols = `kind, action, target, target_seq, target_id, party, operator, seq, time, reply`

func collectMarks(rows *sql.Rows) ([]hotline.MarkRow, error) {
	defer rows.Close()
	var out []hotline.MarkRow
	for rows.Next() {
		var m hotline.MarkRow
		var kind string
		var tseq, seq, t int64
		var tid []byte
		if err := rows.Scan(&kind, &m.Action, &m.Target.Party, &tseq, &tid, &m.Party, &m.Operator, &seq, &t, &m.Reply); err != nil {
			return nil, err
		}
		m.Kind, m.Target.Seq, m.Seq, m.Time = entry.Kind(kind), uint64(tseq), uint64(seq), time.UnixMilli(t).UTC()
		copy(m.Target.ID[:], tid)
		out = append(out, m)
	}
	return out, rows.Err()
}

// AddWatch watches entry e for its deadline until it is answered.
func AddWatch(ctx context.Context, tx dbtx, e *entry.Entry) error {
	id := e.ID()
	_, err := tx.ExecContext(ctx, `INSERT INTO watches (id, channel, author, seq, kind) VALUES (?,?,?,?,?) ON CONFLICT (id) DO NOTHING`,
		id[:], e.Channel[:], e.Author, int64(e.Seq), string(e.Kind))
	return err
}

// Answers implements hotline.Store.
func (s *Store) Answers(ctx context.Context, ch entry.ChannelID, target entry.Ref) (*hotline.Answers, error) {
	tx, err := s.beginRead(ctx)
	if err != nil {
		return nil, fmt.Errorf("read answers: %w", err)
	}
	defer tx.Rollback()
	// The first receipt by each receiving member that covers the target:
	// receipts are cumulative, so it is the one of the lowest seq at or
	// past the target's, found in the (channel, receiver, party, seq)
	// index, whatever the channel's size.
	receivers, err := channelMembers(ctx, tx, ch, target.Party)
	if err != nil {
		return nil, fmt.Errorf("read answers: %w", err)
	}
	a := &hotline.Answers{}
	for _, receiver := range receivers {
		r := hotline.ReceiptRow{Receiver: receiver, Party: target.Party, Seq: target.Seq}
		var rseq, t, held int64
		err := tx.QueryRowContext(ctx, `SELECT r.receipt_seq, r.time, e.received
			FROM receipts r JOIN entries e ON e.channel = r.channel AND e.author = r.receiver AND e.seq = r.receipt_seq
			WHERE r.channel = ? AND r.receiver = ? AND r.party = ? AND r.seq >= ?
			ORDER BY r.seq, r.receipt_seq LIMIT 1`, ch[:], receiver, target.Party, int64(target.Seq)).Scan(&rseq, &t, &held)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("read answers: %w", err)
		}
		r.ReceiptSeq, r.Time, r.Held = uint64(rseq), time.UnixMilli(t).UTC(), time.UnixMilli(held).UTC()
		a.Receipts = append(a.Receipts, r)
	}
	mrows, err := tx.QueryContext(ctx, `SELECT `+markCols+` FROM marks WHERE target_id = ? ORDER BY time, party, seq`, target.ID[:])
	if err != nil {
		return nil, fmt.Errorf("read answers: %w", err)
	}
	if a.Marks, err = collectMarks(mrows); err != nil {
		return nil, fmt.Errorf("read answers: %w", err)
	}
	return a, nil
}

// OpenWatches implements hotline.Store.
func (s *Store) OpenWatches(ctx context.Context) ([]hotline.Watch, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT id, channel, author, seq, kind FROM watches WHERE open = 1`)
	if err != nil {
		return nil, fmt.Errorf("read watches: %w", err)
	}
	defer rows.Close()
	var out []hotline.Watch
	for rows.Next() {
		var w hotline.Watch
		var id, ch []byte
		var seq int64
		var kind string
		if err := rows.Scan(&id, &ch, &w.Entry.Party, &seq, &kind); err != nil {
			return nil, err
		}
		copy(w.Entry.ID[:], id)
		copy(w.Channel[:], ch)
		w.Entry.Seq, w.Kind = uint64(seq), entry.Kind(kind)
		out = append(out, w)
	}
	return out, rows.Err()
}

// CloseWatch implements hotline.Store.
func (s *Store) CloseWatch(ctx context.Context, id entry.ID) error {
	if _, err := s.write.ExecContext(ctx, `UPDATE watches SET open = 0 WHERE id = ?`, id[:]); err != nil {
		return s.storeErr("close watch", err)
	}
	return nil
}

// AddLadderStep implements hotline.Store.
func (s *Store) AddLadderStep(ctx context.Context, st hotline.LadderStep) error {
	res, err := s.write.ExecContext(ctx, `INSERT INTO ladder_steps (entry, ladder, step, time, detail) VALUES (?,?,?,?,?) ON CONFLICT DO NOTHING`,
		st.Entry[:], st.Ladder, st.Step, st.Time.UnixMilli(), st.Detail)
	if err != nil {
		return s.storeErr("record ladder step", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return hotline.Errorf(hotline.ECONFLICT, "%s step %d of %s is already recorded", st.Ladder, st.Step, st.Entry)
	}
	return nil
}

// LadderSteps implements hotline.Store.
func (s *Store) LadderSteps(ctx context.Context, id entry.ID) ([]hotline.LadderStep, error) {
	rows, err := s.read.QueryContext(ctx, `SELECT ladder, step, time, detail FROM ladder_steps WHERE entry = ? ORDER BY ladder, step`, id[:])
	if err != nil {
		return nil, fmt.Errorf("read ladder steps: %w", err)
	}
	defer rows.Close()
	var out []hotline.LadderStep
	for rows.Next() {
		st := hotline.LadderStep{Entry: id}
		var t int64
		if err := rows.Scan(&st.Ladder, &st.Step, &t, &st.Detail); err != nil {
			return nil, err
		}
		st.Time = time.UnixMilli(t).UTC()
		out = append(out, st)
	}
	return out, rows.Err()
}
