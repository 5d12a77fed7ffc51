package sqlite

import (
	"context"
	"database/sql"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/sqlstore"
)

// migrations are applied in order; migration i brings the schema to
// version i+1. Never edit one that has shipped: append a new one.
var migrations = []string{
	// 1: channels, entries, derived indexes, evidence, operators.
	`
CREATE TABLE channels (
	id         BLOB PRIMARY KEY,
	name       TEXT NOT NULL,
	level      TEXT NOT NULL,
	proposer   TEXT NOT NULL,
	definition BLOB NOT NULL,
	state      TEXT NOT NULL
) STRICT;

CREATE TABLE channel_members (
	channel  BLOB NOT NULL REFERENCES channels(id),
	party    TEXT NOT NULL,
	key      TEXT NOT NULL,
	accepted INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (channel, party)
) STRICT;

CREATE TABLE entries (
	local    INTEGER PRIMARY KEY AUTOINCREMENT,
	id       BLOB NOT NULL UNIQUE,
	channel  BLOB NOT NULL,
	author   TEXT NOT NULL,
	seq      INTEGER NOT NULL,
	kind     TEXT NOT NULL,
	header   BLOB NOT NULL,
	sig      BLOB NOT NULL,
	body     BLOB,
	received INTEGER NOT NULL,
	UNIQUE (channel, author, seq)
) STRICT;
CREATE INDEX entries_channel ON entries (channel, local);

CREATE TABLE receipts (
	channel     BLOB NOT NULL,
	receiver    TEXT NOT NULL,
	party       TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	receipt_seq INTEGER NOT NULL,
	time        INTEGER NOT NULL,
	PRIMARY KEY (channel, receiver, party, receipt_seq)
) STRICT;

CREATE TABLE marks (
	channel     BLOB NOT NULL,
	kind        TEXT NOT NULL,
	target      TEXT NOT NULL,
	target_seq  INTEGER NOT NULL,
	target_id   BLOB NOT NULL,
	party       TEXT NOT NULL,
	operator    TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	time        INTEGER NOT NULL,
	reply       TEXT NOT NULL,
	PRIMARY KEY (channel, party, seq)
) STRICT;
CREATE INDEX marks_target ON marks (channel, target, target_seq);

CREATE TABLE evidence (
	n      INTEGER PRIMARY KEY AUTOINCREMENT,
	time   INTEGER NOT NULL,
	kind   TEXT NOT NULL,
	peer   TEXT NOT NULL,
	detail TEXT NOT NULL,
	data   BLOB
) STRICT;

CREATE TABLE operator_tokens (
	hash     BLOB PRIMARY KEY,
	operator TEXT NOT NULL,
	created  INTEGER NOT NULL
) STRICT;
`,
	// 2: link tests (heartbeats) per peer and endpoint, kept as a history.
	`
CREATE TABLE link_tests (
	n        INTEGER PRIMARY KEY AUTOINCREMENT,
	time     INTEGER NOT NULL,
	peer     TEXT NOT NULL,
	endpoint TEXT NOT NULL,
	ok       INTEGER NOT NULL,
	rtt_us   INTEGER NOT NULL,
	error    TEXT NOT NULL
) STRICT;
CREATE INDEX link_tests_peer ON link_tests (peer, time);
`,
	// 3: per-feed Merkle trees (tlog stored hashes) and signed checkpoints
	// with their signature lines (the author's and the cosigners').
	`
CREATE TABLE tree_hashes (
	channel BLOB NOT NULL,
	party   TEXT NOT NULL,
	idx     INTEGER NOT NULL,
	hash    BLOB NOT NULL,
	PRIMARY KEY (channel, party, idx)
) STRICT, WITHOUT ROWID;

CREATE TABLE tree_sizes (
	channel BLOB NOT NULL,
	party   TEXT NOT NULL,
	size    INTEGER NOT NULL,
	PRIMARY KEY (channel, party)
) STRICT, WITHOUT ROWID;

CREATE TABLE checkpoints (
	channel BLOB NOT NULL,
	party   TEXT NOT NULL,
	size    INTEGER NOT NULL,
	body    TEXT NOT NULL,
	time    INTEGER NOT NULL,
	PRIMARY KEY (channel, party, size)
) STRICT, WITHOUT ROWID;

CREATE TABLE checkpoint_sigs (
	channel BLOB NOT NULL,
	party   TEXT NOT NULL,
	size    INTEGER NOT NULL,
	signer  TEXT NOT NULL,
	line    TEXT NOT NULL,
	PRIMARY KEY (channel, party, size, signer)
) STRICT, WITHOUT ROWID;
CREATE INDEX checkpoint_sigs_signer ON checkpoint_sigs (channel, party, signer, size);
`,
	// 4: deadlines. Marks also index call answers and escalations (by
	// action, and by target id across channels); watched entries (messages
	// asking for an acknowledgement, call requests) until answered; and
	// the ladder steps run for them, so a restart repeats none.
	`
ALTER TABLE marks ADD COLUMN action TEXT NOT NULL DEFAULT '';
CREATE INDEX marks_target_id ON marks (target_id);

CREATE TABLE watches (
	id      BLOB PRIMARY KEY,
	channel BLOB NOT NULL,
	author  TEXT NOT NULL,
	seq     INTEGER NOT NULL,
	kind    TEXT NOT NULL,
	open    INTEGER NOT NULL DEFAULT 1
) STRICT, WITHOUT ROWID;
CREATE INDEX watches_open ON watches (open) WHERE open = 1;

CREATE TABLE ladder_steps (
	entry  BLOB NOT NULL,
	ladder TEXT NOT NULL,
	step   INTEGER NOT NULL,
	time   INTEGER NOT NULL,
	detail TEXT NOT NULL,
	PRIMARY KEY (entry, ladder, step)
) STRICT, WITHOUT ROWID;
`,
	// 5: operator accounts: reading language, console password, second
	// factor and lock-out state.
	`
CREATE TABLE operators (
	name         TEXT PRIMARY KEY,
	lang         TEXT NOT NULL DEFAULT '',
	password     TEXT NOT NULL DEFAULT '',
	totp         TEXT NOT NULL DEFAULT '',
	failures     INTEGER NOT NULL DEFAULT 0,
	locked_until INTEGER NOT NULL DEFAULT 0,
	created      INTEGER NOT NULL
) STRICT;
`,
	// 6: the TOTP step of the last code accepted, so each code logs in once.
	`
ALTER TABLE operators ADD COLUMN totp_step INTEGER NOT NULL DEFAULT 0;
`,
	// 7: bounds against a hostile peer, and local hygiene. Channels get a
	// local label (names are local: a peer's proposal never takes a name
	// in use here) and the time this node first stored them (invitations
	// expire). Usage counts each party's entries and bytes per channel and
	// day, for quotas, without scanning entries. Evidence names the feed
	// and seq (or checkpoint size) it is about, and is listed without its
	// data. Operators can be disabled, and a session epoch ends their
	// console sessions when their password changes or they are disabled.
	`
ALTER TABLE channels ADD COLUMN label TEXT NOT NULL DEFAULT '';
ALTER TABLE channels ADD COLUMN stored INTEGER NOT NULL DEFAULT 0;
UPDATE channels SET stored = COALESCE((SELECT received FROM entries e
	WHERE e.channel = channels.id AND e.author = channels.proposer AND e.seq = 1), 0);

CREATE TABLE usage (
	party   TEXT NOT NULL,
	channel BLOB NOT NULL,
	day     INTEGER NOT NULL,
	entries INTEGER NOT NULL,
	bytes   INTEGER NOT NULL,
	PRIMARY KEY (party, channel, day)
) STRICT, WITHOUT ROWID;
INSERT INTO usage (party, channel, day, entries, bytes)
	SELECT author, channel, received / 86400000, COUNT(*), SUM(length(header) + length(sig) + COALESCE(length(body), 0))
	FROM entries GROUP BY author, channel, received / 86400000;

ALTER TABLE evidence ADD COLUMN channel BLOB;
ALTER TABLE evidence ADD COLUMN party TEXT NOT NULL DEFAULT '';
ALTER TABLE evidence ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
CREATE INDEX evidence_time ON evidence (time);
CREATE INDEX evidence_kind ON evidence (kind, n);

ALTER TABLE operators ADD COLUMN disabled INTEGER NOT NULL DEFAULT 0;
ALTER TABLE operators ADD COLUMN session_epoch INTEGER NOT NULL DEFAULT 0;
`,
	// 8: facts about the store itself, so that opening it reads no whole
	// table: "trees" is set once every feed's Merkle tree is known to be
	// in step with its entries (Append keeps it so from then on). And two
	// indexes, so that the newest entry of a kind in a feed (a party's
	// directory) and the first receipt that covers an entry are found
	// without reading the rest of the channel. And each member's count of
	// unread messages per channel, kept by Append rather than counted, and
	// the count of evidence records by kind, kept by a trigger.
	`
CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX entries_kind ON entries (channel, author, kind, seq);
CREATE INDEX receipts_covering ON receipts (channel, receiver, party, seq, receipt_seq);

CREATE TABLE unread (
	channel BLOB NOT NULL,
	party   TEXT NOT NULL,
	n       INTEGER NOT NULL,
	PRIMARY KEY (channel, party)
) STRICT, WITHOUT ROWID;
INSERT INTO unread (channel, party, n)
	SELECT m.channel, m.party, (SELECT COUNT(*) FROM entries e
		WHERE e.channel = m.channel AND e.kind = 'message' AND e.author <> m.party
		AND NOT EXISTS (SELECT 1 FROM marks k WHERE k.target_id = e.id AND k.party = m.party AND k.kind IN ('read', 'ack')))
	FROM channel_members m;

CREATE TABLE evidence_counts (
	kind TEXT PRIMARY KEY,
	n    INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
INSERT INTO evidence_counts (kind, n) SELECT kind, COUNT(*) FROM evidence GROUP BY kind;
CREATE TRIGGER evidence_counted AFTER INSERT ON evidence BEGIN
	INSERT INTO evidence_counts (kind, n) VALUES (NEW.kind, 1)
		ON CONFLICT (kind) DO UPDATE SET n = n + 1;
END;
`,
	// 9: each entry's causal depth, so that a channel's log is read in
	// channel order a page at a time through an index (see
	// hotline.Position); the depth of entries already stored is filled
	// in by backfillDepths. And marks keyed by the message they mark as
	// well, since a cumulative read marks many messages in one entry;
	// translations are indexed as marks of the message they translate,
	// so a page finds its messages' translations without reading the
	// channel. And each member's first unread message in each channel,
	// kept by Append beside the count, so that "jump to the first unread"
	// reads one row.
	`
ALTER TABLE entries ADD COLUMN depth INTEGER NOT NULL DEFAULT 0;

CREATE TABLE marks_v9 (
	channel     BLOB NOT NULL,
	kind        TEXT NOT NULL,
	action      TEXT NOT NULL DEFAULT '',
	target      TEXT NOT NULL,
	target_seq  INTEGER NOT NULL,
	target_id   BLOB NOT NULL,
	party       TEXT NOT NULL,
	operator    TEXT NOT NULL,
	seq         INTEGER NOT NULL,
	time        INTEGER NOT NULL,
	reply       TEXT NOT NULL,
	PRIMARY KEY (channel, party, seq, target_seq)
) STRICT;
INSERT INTO marks_v9 (channel, kind, action, target, target_seq, target_id, party, operator, seq, time, reply)
	SELECT channel, kind, action, target, target_seq, target_id, party, operator, seq, time, reply FROM marks;
DROP TABLE marks;
ALTER TABLE marks_v9 RENAME TO marks;
CREATE INDEX marks_target ON marks (channel, target, target_seq);
CREATE INDEX marks_target_id ON marks (target_id);

ALTER TABLE unread ADD COLUMN first_depth INTEGER;
ALTER TABLE unread ADD COLUMN first_author TEXT;
ALTER TABLE unread ADD COLUMN first_seq INTEGER;
`,
	// 10: the access epoch, bumped by every change to operators or their
	// tokens, whichever process makes it (the CLI writes this file while
	// the node runs). The node caches token and operator look-ups and
	// drops the cache when the epoch moves (see access.go).
	`
CREATE TABLE access_epoch (
	id    INTEGER PRIMARY KEY CHECK (id = 1),
	epoch INTEGER NOT NULL
) STRICT;
INSERT INTO access_epoch (id, epoch) VALUES (1, 1);
CREATE TRIGGER operators_insert_epoch AFTER INSERT ON operators BEGIN UPDATE access_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER operators_update_epoch AFTER UPDATE ON operators BEGIN UPDATE access_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER operators_delete_epoch AFTER DELETE ON operators BEGIN UPDATE access_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER tokens_insert_epoch AFTER INSERT ON operator_tokens BEGIN UPDATE access_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER tokens_update_epoch AFTER UPDATE ON operator_tokens BEGIN UPDATE access_epoch SET epoch = epoch + 1; END;
CREATE TRIGGER tokens_delete_epoch AFTER DELETE ON operator_tokens BEGIN UPDATE access_epoch SET epoch = epoch + 1; END;
`,
	// 11: key entries, few in any store, found without reading the rest:
	// a node reads them all at start (see package keychain).
	`
CREATE INDEX entries_key ON entries (local) WHERE kind = 'key';
`,
	// 12: operators' roles and personal keys (JSON), and drafts held
	// until operators other than their drafter release them.
	`
ALTER TABLE operators ADD COLUMN role TEXT NOT NULL DEFAULT '';
ALTER TABLE operators ADD COLUMN keys TEXT NOT NULL DEFAULT '';
CREATE TABLE drafts (
	id       TEXT PRIMARY KEY,
	channel  BLOB NOT NULL,
	drafter  TEXT NOT NULL,
	created  INTEGER NOT NULL,
	updated  INTEGER NOT NULL,
	state    TEXT NOT NULL,
	message  BLOB NOT NULL,
	releases BLOB NOT NULL,
	history  TEXT NOT NULL,
	entry    BLOB
) STRICT;
CREATE INDEX drafts_state ON drafts (state, created, id);
`,
}

// migrationHooks run in Go, in the same transaction, right after the SQL of
// the schema version they are keyed by: for changes SQL cannot derive.
var migrationHooks = map[int]func(ctx context.Context, tx *sql.Tx) error{
	4: backfillWatches,
	7: backfillLabels,
	9: backfillDepths,
}

// backfillDepths computes the causal depth of every entry stored before
// schema version 9, channel by channel in storage order (which is causal),
// indexes translations as marks, and then builds the channel-order index.
func backfillDepths(ctx context.Context, tx *sql.Tx) error {
	type pos struct {
		author string
		seq    uint64
	}
	var channels [][]byte
	rows, err := tx.QueryContext(ctx, `SELECT DISTINCT channel FROM entries`)
	if err != nil {
		return err
	}
	for rows.Next() {
		var ch []byte
		if err := rows.Scan(&ch); err != nil {
			rows.Close()
			return err
		}
		channels = append(channels, ch)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	set, err := tx.PrepareContext(ctx, `UPDATE entries SET depth = ? WHERE local = ?`)
	if err != nil {
		return err
	}
	defer set.Close()
	for _, ch := range channels {
		depth := make(map[pos]int64)
		type row struct{ local, depth int64 }
		var all []row
		var translations []*entry.Entry
		rows, err := tx.QueryContext(ctx, `SELECT `+sqlstore.EntryCols+` FROM entries WHERE channel = ? ORDER BY local`, ch)
		if err != nil {
			return err
		}
		for rows.Next() {
			st, err := sqlstore.ScanEntry(rows)
			if err != nil {
				rows.Close()
				return err
			}
			d := hotline.Depth(st.Entry, func(party string, seq uint64) int64 { return depth[pos{party, seq}] })
			depth[pos{st.Author, st.Seq}] = d
			all = append(all, row{st.Local, d})
			if st.Kind == entry.KindTranslation && st.Body != nil {
				translations = append(translations, st.Entry)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range all {
			if _, err := set.ExecContext(ctx, r.depth, r.local); err != nil {
				return err
			}
		}
		for _, e := range translations {
			if err := sqlstore.IndexTranslation(ctx, tx, e); err != nil {
				return err
			}
		}
	}
	if _, err := tx.ExecContext(ctx, `CREATE INDEX entries_order ON entries (channel, depth, author, seq)`); err != nil {
		return err
	}
	rows, err = tx.QueryContext(ctx, `SELECT channel, party FROM unread WHERE n > 0`)
	if err != nil {
		return err
	}
	type member struct {
		ch    entry.ChannelID
		party string
	}
	var behind []member
	for rows.Next() {
		var m member
		var ch []byte
		if err := rows.Scan(&ch, &m.party); err != nil {
			rows.Close()
			return err
		}
		copy(m.ch[:], ch)
		behind = append(behind, m)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, m := range behind {
		if err := sqlstore.AdvanceFirstUnread(ctx, tx, m.ch, m.party, hotline.Position{}); err != nil {
			return err
		}
	}
	return nil
}

// backfillLabels gives every channel of a store written before schema
// version 7 its local label: its name, or, for a later channel with a
// name already taken, the name and its short id (see hotline.Channel).
func backfillLabels(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT id, name FROM channels ORDER BY stored, rowid`)
	if err != nil {
		return err
	}
	type row struct {
		id   []byte
		name string
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.name); err != nil {
			rows.Close()
			return err
		}
		all = append(all, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	taken := make(map[string]bool)
	for _, r := range all {
		var id entry.ChannelID
		copy(id[:], r.id)
		label := hotline.ChannelLabel(r.name, id, func(l string) bool { return taken[l] })
		taken[label] = true
		if _, err := tx.ExecContext(ctx, `UPDATE channels SET label = ? WHERE id = ?`, label, r.id); err != nil {
			return err
		}
	}
	return nil
}

// backfillWatches watches the messages a store written before schema
// version 4 holds that ask for an acknowledgement; the node closes those
// already acknowledged when it first looks at them.
func backfillWatches(ctx context.Context, tx *sql.Tx) error {
	rows, err := tx.QueryContext(ctx, `SELECT header, sig, body FROM entries WHERE kind = 'message' AND body IS NOT NULL`)
	if err != nil {
		return err
	}
	var watch []*entry.Entry
	for rows.Next() {
		var header, sig, body []byte
		if err := rows.Scan(&header, &sig, &body); err != nil {
			rows.Close()
			return err
		}
		e, err := entry.FromParts(header, sig, body)
		if err != nil {
			rows.Close()
			return err
		}
		if m, err := entry.DecodeBody(e); err == nil && m.(*entry.Message).AckWithin > 0 {
			watch = append(watch, e)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, e := range watch {
		if err := sqlstore.AddWatch(ctx, tx, e); err != nil {
			return err
		}
	}
	return nil
}
