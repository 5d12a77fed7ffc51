package postgres

// migrations are the schema versions, in order: migrations[i] takes the
// schema from version i to i+1, in one transaction, and schema_version
// records where a database is. The schema is the SQLite store's at its
// version 10, in PostgreSQL's terms: text compares byte by byte (COLLATE
// "C", as SQLite's BINARY does), so that channel order, which sorts by
// author, is the same on both and in Go.
var migrations = []string{
	// 1: the whole store.
	`
CREATE TABLE channels (
	id         BYTEA PRIMARY KEY,
	name       TEXT COLLATE "C" NOT NULL,
	level      TEXT COLLATE "C" NOT NULL,
	proposer   TEXT COLLATE "C" NOT NULL,
	definition BYTEA NOT NULL,
	state      TEXT COLLATE "C" NOT NULL,
	label      TEXT COLLATE "C" NOT NULL DEFAULT '',
	stored     BIGINT NOT NULL DEFAULT 0
);

CREATE TABLE channel_members (
	channel  BYTEA NOT NULL REFERENCES channels(id),
	party    TEXT COLLATE "C" NOT NULL,
	key      TEXT COLLATE "C" NOT NULL,
	accepted BIGINT NOT NULL DEFAULT 0,
	PRIMARY KEY (channel, party)
);

CREATE TABLE entries (
	local    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id       BYTEA NOT NULL UNIQUE,
	channel  BYTEA NOT NULL,
	author   TEXT COLLATE "C" NOT NULL,
	seq      BIGINT NOT NULL,
	kind     TEXT COLLATE "C" NOT NULL,
	header   BYTEA NOT NULL,
	sig      BYTEA NOT NULL,
	body     BYTEA,
	received BIGINT NOT NULL,
	depth    BIGINT NOT NULL DEFAULT 0,
	UNIQUE (channel, author, seq)
);
CREATE INDEX entries_channel ON entries (channel, local);
CREATE INDEX entries_kind ON entries (channel, author, kind, seq);
CREATE INDEX entries_order ON entries (channel, depth, author, seq);

CREATE TABLE receipts (
	channel     BYTEA NOT NULL,
	receiver    TEXT COLLATE "C" NOT NULL,
	party       TEXT COLLATE "C" NOT NULL,
	seq         BIGINT NOT NULL,
	receipt_seq BIGINT NOT NULL,
	time        BIGINT NOT NULL,
	PRIMARY KEY (channel, receiver, party, receipt_seq)
);
CREATE INDEX receipts_covering ON receipts (channel, receiver, party, seq, receipt_seq);

CREATE TABLE marks (
	channel     BYTEA NOT NULL,
	kind        TEXT COLLATE "C" NOT NULL,
	action      TEXT COLLATE "C" NOT NULL DEFAULT '',
	target      TEXT COLLATE "C" NOT NULL,
	target_seq  BIGINT NOT NULL,
	target_id   BYTEA NOT NULL,
	party       TEXT COLLATE "C" NOT NULL,
	operator    TEXT COLLATE "C" NOT NULL,
	seq         BIGINT NOT NULL,
	time        BIGINT NOT NULL,
	reply       TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (channel, party, seq, target_seq)
);
CREATE INDEX marks_target ON marks (channel, target, target_seq);
CREATE INDEX marks_target_id ON marks (target_id);

CREATE TABLE evidence (
	n       BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time    BIGINT NOT NULL,
	kind    TEXT COLLATE "C" NOT NULL,
	peer    TEXT COLLATE "C" NOT NULL,
	detail  TEXT COLLATE "C" NOT NULL,
	data    BYTEA,
	channel BYTEA,
	party   TEXT COLLATE "C" NOT NULL DEFAULT '',
	seq     BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX evidence_time ON evidence (time);
CREATE INDEX evidence_kind ON evidence (kind, n);

CREATE TABLE evidence_counts (
	kind TEXT COLLATE "C" PRIMARY KEY,
	n    BIGINT NOT NULL
);
CREATE FUNCTION evidence_counted() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	INSERT INTO evidence_counts (kind, n) VALUES (NEW.kind, 1)
		ON CONFLICT (kind) DO UPDATE SET n = evidence_counts.n + 1;
	RETURN NULL;
END $$;
CREATE TRIGGER evidence_counted AFTER INSERT ON evidence FOR EACH ROW EXECUTE FUNCTION evidence_counted();

CREATE TABLE operator_tokens (
	hash     BYTEA PRIMARY KEY,
	operator TEXT COLLATE "C" NOT NULL,
	created  BIGINT NOT NULL
);

CREATE TABLE operators (
	name          TEXT COLLATE "C" PRIMARY KEY,
	lang          TEXT COLLATE "C" NOT NULL DEFAULT '',
	password      TEXT COLLATE "C" NOT NULL DEFAULT '',
	totp          TEXT COLLATE "C" NOT NULL DEFAULT '',
	failures      BIGINT NOT NULL DEFAULT 0,
	locked_until  BIGINT NOT NULL DEFAULT 0,
	created       BIGINT NOT NULL,
	totp_step     BIGINT NOT NULL DEFAULT 0,
	disabled      BIGINT NOT NULL DEFAULT 0,
	session_epoch BIGINT NOT NULL DEFAULT 0
);

-- The access epoch: bumped by every change to operators or tokens, in
-- the same transaction, so that a node's cached look-ups end at once
-- (see access.go).
CREATE TABLE access_epoch (
	id    BIGINT PRIMARY KEY CHECK (id = 1),
	epoch BIGINT NOT NULL
);
INSERT INTO access_epoch (id, epoch) VALUES (1, 1);
CREATE FUNCTION access_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
	UPDATE access_epoch SET epoch = epoch + 1;
	RETURN NULL;
END $$;
CREATE TRIGGER operators_epoch AFTER INSERT OR UPDATE OR DELETE ON operators FOR EACH STATEMENT EXECUTE FUNCTION access_changed();
CREATE TRIGGER tokens_epoch AFTER INSERT OR UPDATE OR DELETE ON operator_tokens FOR EACH STATEMENT EXECUTE FUNCTION access_changed();

CREATE TABLE link_tests (
	n        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	time     BIGINT NOT NULL,
	peer     TEXT COLLATE "C" NOT NULL,
	endpoint TEXT COLLATE "C" NOT NULL,
	ok       BIGINT NOT NULL,
	rtt_us   BIGINT NOT NULL,
	error    TEXT COLLATE "C" NOT NULL
);
CREATE INDEX link_tests_peer ON link_tests (peer, time);

CREATE TABLE tree_hashes (
	channel BYTEA NOT NULL,
	party   TEXT COLLATE "C" NOT NULL,
	idx     BIGINT NOT NULL,
	hash    BYTEA NOT NULL,
	PRIMARY KEY (channel, party, idx)
);

CREATE TABLE tree_sizes (
	channel BYTEA NOT NULL,
	party   TEXT COLLATE "C" NOT NULL,
	size    BIGINT NOT NULL,
	PRIMARY KEY (channel, party)
);

CREATE TABLE checkpoints (
	channel BYTEA NOT NULL,
	party   TEXT COLLATE "C" NOT NULL,
	size    BIGINT NOT NULL,
	body    TEXT COLLATE "C" NOT NULL,
	time    BIGINT NOT NULL,
	PRIMARY KEY (channel, party, size)
);

CREATE TABLE checkpoint_sigs (
	channel BYTEA NOT NULL,
	party   TEXT COLLATE "C" NOT NULL,
	size    BIGINT NOT NULL,
	signer  TEXT COLLATE "C" NOT NULL,
	line    TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (channel, party, size, signer)
);
CREATE INDEX checkpoint_sigs_signer ON checkpoint_sigs (channel, party, signer, size);

CREATE TABLE watches (
	id      BYTEA PRIMARY KEY,
	channel BYTEA NOT NULL,
	author  TEXT COLLATE "C" NOT NULL,
	seq     BIGINT NOT NULL,
	kind    TEXT COLLATE "C" NOT NULL,
	open    BIGINT NOT NULL DEFAULT 1
);
CREATE INDEX watches_open ON watches (open) WHERE open = 1;

CREATE TABLE ladder_steps (
	entry  BYTEA NOT NULL,
	ladder TEXT COLLATE "C" NOT NULL,
	step   BIGINT NOT NULL,
	time   BIGINT NOT NULL,
	detail TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (entry, ladder, step)
);

CREATE TABLE usage (
	party   TEXT COLLATE "C" NOT NULL,
	channel BYTEA NOT NULL,
	day     BIGINT NOT NULL,
	entries BIGINT NOT NULL,
	bytes   BIGINT NOT NULL,
	PRIMARY KEY (party, channel, day)
);

CREATE TABLE unread (
	channel      BYTEA NOT NULL,
	party        TEXT COLLATE "C" NOT NULL,
	n            BIGINT NOT NULL,
	first_depth  BIGINT,
	first_author TEXT COLLATE "C",
	first_seq    BIGINT,
	PRIMARY KEY (channel, party)
);
`,
	// 2: the lease that makes one of a party's replicas its writer
	// (lease.go). One row; epoch counts the takeovers, so a commit that
	// checks it fences off every replica that held the lease before.
	`
CREATE TABLE replica_lease (
	id      INTEGER PRIMARY KEY CHECK (id = 1),
	epoch   BIGINT NOT NULL,
	holder  TEXT NOT NULL,
	api     TEXT NOT NULL,
	peer    TEXT NOT NULL,
	expires TIMESTAMPTZ NOT NULL
);
INSERT INTO replica_lease (id, epoch, holder, api, peer, expires) VALUES (1, 0, '', '', '', '-infinity');
`,
	// 3: key entries, few in any store, found without reading the rest:
	// a node reads them all at start (see package keychain).
	`
CREATE INDEX entries_key ON entries (local) WHERE kind = 'key';
`,
	// 4: operators' roles and personal keys (JSON), and drafts held
	// until operators other than their drafter release them.
	`
ALTER TABLE operators ADD COLUMN role TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE operators ADD COLUMN keys TEXT COLLATE "C" NOT NULL DEFAULT '';
CREATE TABLE drafts (
	id       TEXT COLLATE "C" PRIMARY KEY,
	channel  BYTEA NOT NULL,
	drafter  TEXT COLLATE "C" NOT NULL,
	created  BIGINT NOT NULL,
	updated  BIGINT NOT NULL,
	state    TEXT COLLATE "C" NOT NULL,
	message  BYTEA NOT NULL,
	releases BYTEA NOT NULL,
	history  TEXT NOT NULL,
	entry    BYTEA
);
CREATE INDEX drafts_state ON drafts (state, created, id);
`,
}
