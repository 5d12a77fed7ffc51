package sqlstore

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/fxamacker/cbor/v2"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// PutDraft implements hotline.Store.
func (s *Store) PutDraft(ctx context.Context, d hotline.Draft) error {
	if err := putDraft(ctx, s.write, &d); err != nil {
		return s.storeErr("save draft", err)
	}
	return nil
}

// putDraft saves d in tx (or any DB).
func putDraft(ctx context.Context, tx dbtx, d *hotline.Draft) error {
	rel, err := entry.Marshal(d.Releases)
	if err != nil {
		return err
	}
	hist, err := json.Marshal(d.History)
	if err != nil {
		return err
	}
	var ent []byte
	if d.Entry != (entry.ID{}) {
		ent = d.Entry[:]
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO drafts (id, channel, drafter, created, updated, state, message, releases, history, entry) VALUES (?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (id) DO UPDATE SET updated = excluded.updated, state = excluded.state, releases = excluded.releases, history = excluded.history, entry = excluded.entry`,
		d.ID, d.Channel[:], d.Drafter, d.Created.UnixMilli(), d.Updated.UnixMilli(), d.State, d.Message, rel, string(hist), ent)
	return err
}

const draftColumns = `SELECT id, channel, drafter, created, updated, state, message, releases, history, entry FROM drafts `

// Draft implements hotline.Store.
func (s *Store) Draft(ctx context.Context, id string) (*hotline.Draft, error) {
	ds, err := scanDrafts(s.read.QueryContext(ctx, draftColumns+`WHERE id = ?`, id))
	if err != nil {
		return nil, err
	}
	if len(ds) == 0 {
		return nil, hotline.Errorf(hotline.ENOTFOUND, "no draft %s", id)
	}
	return &ds[0], nil
}

// Drafts implements hotline.Store.
func (s *Store) Drafts(ctx context.Context, state string, limit int) ([]hotline.Draft, error) {
	return scanDrafts(s.read.QueryContext(ctx, draftColumns+`WHERE state = ? ORDER BY created, id LIMIT ?`, state, limit))
}

func scanDrafts(rows *sql.Rows, err error) ([]hotline.Draft, error) {
	if err != nil {
		return nil, fmt.Errorf("read drafts: %w", err)
	}
	defer rows.Close()
	var out []hotline.Draft
	for rows.Next() {
		var d hotline.Draft
		var ch, rel, ent []byte
		var created, updated int64
		var hist string
		if err := rows.Scan(&d.ID, &ch, &d.Drafter, &created, &updated, &d.State, &d.Message, &rel, &hist, &ent); err != nil {
			return nil, fmt.Errorf("read drafts: %w", err)
		}
		if len(ch) != len(d.Channel) || (ent != nil && len(ent) != len(d.Entry)) {
			return nil, errors.New("read drafts: a stored id is malformed")
		}
		copy(d.Channel[:], ch)
		copy(d.Entry[:], ent)
		d.Created, d.Updated = time.UnixMilli(created), time.UnixMilli(updated)
		if err := cbor.Unmarshal(rel, &d.Releases); err != nil {
			return nil, fmt.Errorf("read drafts: releases of %s: %w", d.ID, err)
		}
		if err := json.Unmarshal([]byte(hist), &d.History); err != nil {
			return nil, fmt.Errorf("read drafts: history of %s: %w", d.ID, err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}
