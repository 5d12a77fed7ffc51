package sqlite

import (
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/sqlstore"
	"github.com/hotline-project/hotline/storetest"
)

func open(t testing.TB, path string) *Store {
	t.Helper()
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestStore_ReadOnlyPoolCannotWrite(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	if _, err := s.read.Exec(`DELETE FROM entries`); err == nil {
		t.Fatal("the read pool accepted a write")
	}
}

// TestStore_MigrationToVersion7 opens a store written at schema version
// 6, with two channels of one name from two proposers, entries on two
// days and evidence: the migrations label them apart (first stored keeps
// the name), count usage from the entries and count the evidence.
func TestStore_MigrationToVersion7(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	for v := range 6 {
		if _, err := db.Exec(migrations[v]); err != nil {
			t.Fatalf("migration %d: %v", v+1, err)
		}
	}
	if _, err := db.Exec(`PRAGMA user_version = 6`); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	var ids []entry.ChannelID
	for i, proposer := range []string{"bravo", "alpha"} {
		def := entry.Definition{Name: "same-name", Level: "policy", Proposer: proposer, Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}}, Created: int64(i)}
		d, _ := entry.EncodeBody(&def)
		id := def.ChannelID()
		ids = append(ids, id)
		if _, err := db.Exec(`INSERT INTO channels (id, name, level, proposer, definition, state) VALUES (?,?,?,?,?,?)`, id[:], def.Name, def.Level, proposer, d, "active"); err != nil {
			t.Fatal(err)
		}
		w := &storetest.FeedWriter{T: t, Key: key, Channel: id}
		e := w.Next("first")
		e.Author = proposer
		received := time.Date(2026, 11, 30+i, 12, 0, 0, 0, time.UTC).UnixMilli()
		eid := e.ID()
		if _, err := db.Exec(`INSERT INTO entries (id, channel, author, seq, kind, header, sig, body, received) VALUES (?,?,?,?,?,?,?,?,?)`,
			eid[:], id[:], proposer, 1, "message", e.HeaderBytes, e.Sig, e.Body, received); err != nil {
			t.Fatal(err)
		}
	}
	for range 2 {
		if _, err := db.Exec(`INSERT INTO evidence (time, kind, peer, detail) VALUES (1, 'rejected', 'bravo', 'bad')`); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := open(t, path)
	defer s.Close()
	if kept, err := s.EvidenceCounts(ctx); err != nil || len(kept) != 1 || kept["rejected"] != 2 {
		t.Fatalf("evidence counts after the migration: %v, %v", kept, err)
	}
	chs, err := s.Channels(ctx)
	if err != nil || len(chs) != 2 {
		t.Fatalf("%+v, %v", chs, err)
	}
	labels := map[entry.ChannelID]string{}
	for _, c := range chs {
		labels[c.ID] = c.Label
	}
	if labels[ids[0]] != "same-name" || labels[ids[1]] != "same-name~"+ids[1].String()[:8] {
		t.Fatalf("labels after the migration: %v", labels)
	}
	total, _, err := s.Usage(ctx, 0)
	if err != nil || len(total) != 2 {
		t.Fatalf("usage after the migration: %+v, %v", total, err)
	}
}

// TestOpen_NewStoreIsPrivate: a new store file, and its WAL, are readable
// by the node's user alone, whatever the umask.
func TestOpen_NewStoreIsPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	defer s.Close()
	if err := s.AddOperatorToken(context.Background(), "duty", sha256.Sum256([]byte("t"))); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s is %s, want -rw-------", p, fi.Mode().Perm())
		}
	}
}

// TestStore_LatestOfAKindUsesAnIndex: the newest entry of a kind in a
// feed is found by the (channel, author, kind, seq) index, whatever came
// after it: SQLite's plan says so.
func TestStore_LatestOfAKindUsesAnIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	plan := queryPlan(t, s, `SELECT `+sqlstore.EntryCols+` FROM entries WHERE channel = ? AND author = ? AND kind = ? ORDER BY seq DESC LIMIT 1`, []byte{1}, "alpha", "directory")
	if len(plan) != 1 || !strings.Contains(plan[0], "entries_kind") || strings.Contains(plan[0], "TEMP B-TREE") {
		t.Fatalf("plan: %q", plan)
	}
}

// TestStore_FirstCoveringReceiptUsesAnIndex: the first receipt that
// covers an entry is found by the (channel, receiver, party, seq,
// receipt_seq) index, without a sort or a scan of the channel.
func TestStore_FirstCoveringReceiptUsesAnIndex(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	plan := queryPlan(t, s, `SELECT r.receipt_seq, r.time, e.received
		FROM receipts r JOIN entries e ON e.channel = r.channel AND e.author = r.receiver AND e.seq = r.receipt_seq
		WHERE r.channel = ? AND r.receiver = ? AND r.party = ? AND r.seq >= ?
		ORDER BY r.seq, r.receipt_seq LIMIT 1`, []byte{1}, "bravo", "alpha", 5)
	joined := strings.Join(plan, "; ")
	if !strings.Contains(joined, "receipts_covering") || strings.Contains(joined, "TEMP B-TREE") || strings.Contains(joined, "SCAN") {
		t.Fatalf("plan: %q", plan)
	}
}

// TestStore_UnreadIsKeptAsACount: the count Append keeps equals the count
// of other members' messages with no read or ack by the party, through
// messages, first and repeated marks, and a reopen.
func TestStore_UnreadIsKeptAsACount(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "hotline.db")
	s := open(t, path)
	def := entry.Definition{Name: "three", Level: "policy", Proposer: "alpha",
		Members: []entry.Member{{Party: "alpha", Key: "a"}, {Party: "bravo", Key: "b"}, {Party: "charlie", Key: "c"}}}
	ch := &hotline.Channel{ID: def.ChannelID(), Definition: def, State: hotline.ChannelActive, Label: "three"}
	if err := s.Append(ctx, time.Now(), []hotline.Write{{Channel: ch}}); err != nil {
		t.Fatal(err)
	}
	_, key, _ := ed25519.GenerateKey(nil)
	alpha := &storetest.FeedWriter{T: t, Key: key, Channel: ch.ID}
	mark := func(w *storetest.FeedWriter, party string, kind entry.Kind, target *entry.Entry) hotline.Write {
		w.Author = party
		e := w.Write(kind, &entry.Mark{Target: target.Ref()})
		return hotline.Write{Entry: e, Mark: &hotline.MarkRow{Kind: kind, Target: target.Ref(), Party: party, Seq: e.Seq, Time: time.Now()}}
	}
	bravo, charlie := &storetest.FeedWriter{T: t, Key: key, Channel: ch.ID}, &storetest.FeedWriter{T: t, Key: key, Channel: ch.ID}
	var msgs []*entry.Entry
	for i := range 10 {
		e := alpha.Next(fmt.Sprint("m", i))
		msgs = append(msgs, e)
		if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: e}}); err != nil {
			t.Fatal(err)
		}
	}
	// Bravo reads three, then acks one of them and one more; charlie acks
	// one twice over (read and ack in one batch).
	ws := []hotline.Write{mark(bravo, "bravo", entry.KindRead, msgs[0]), mark(bravo, "bravo", entry.KindRead, msgs[1]), mark(bravo, "bravo", entry.KindRead, msgs[2])}
	ws = append(ws, mark(bravo, "bravo", entry.KindAck, msgs[2]), mark(bravo, "bravo", entry.KindAck, msgs[3]))
	ws = append(ws, mark(charlie, "charlie", entry.KindRead, msgs[5]), mark(charlie, "charlie", entry.KindAck, msgs[5]))
	if err := s.Append(ctx, time.Now(), ws); err != nil {
		t.Fatal(err)
	}
	check := func() {
		t.Helper()
		for _, party := range []string{"alpha", "bravo", "charlie"} {
			var want int
			if err := s.read.QueryRowContext(ctx, `SELECT COUNT(*) FROM entries e
				WHERE e.channel = ? AND e.kind = 'message' AND e.author <> ?
				AND NOT EXISTS (SELECT 1 FROM marks m WHERE m.target_id = e.id AND m.party = ? AND m.kind IN ('read', 'ack'))`,
				ch.ID[:], party, party).Scan(&want); err != nil {
				t.Fatal(err)
			}
			got, err := s.Unread(ctx, ch.ID, party)
			if err != nil || got != want {
				t.Fatalf("%s: unread %d, %v; counting gives %d", party, got, err, want)
			}
			var wantFirst hotline.Position
			var seq int64
			err = s.read.QueryRowContext(ctx, `SELECT depth, author, seq FROM entries e
				WHERE e.channel = ? AND e.kind = 'message' AND e.author <> ?
				AND NOT EXISTS (SELECT 1 FROM marks m WHERE m.target_id = e.id AND m.party = ? AND m.kind IN ('read', 'ack'))
				ORDER BY depth, author, seq LIMIT 1`, ch.ID[:], party, party).Scan(&wantFirst.Depth, &wantFirst.Author, &seq)
			wantFirst.Seq = uint64(seq)
			first, ok, ferr := s.FirstUnread(ctx, ch.ID, party)
			if ferr != nil || ok != (err == nil) || (ok && first != wantFirst) {
				t.Fatalf("%s: first unread %v (%v, %v); a scan gives %v (%v)", party, first, ok, ferr, wantFirst, err)
			}
		}
	}
	check()
	if got, _ := s.Unread(ctx, ch.ID, "bravo"); got != 6 {
		t.Fatalf("bravo's unread: %d, want 6", got)
	}
	// Charlie reads the newest first, then the oldest: its first unread
	// stays, then moves past everything it has read.
	for _, i := range []int{9, 8, 0, 1, 2, 3, 4} {
		if err := s.Append(ctx, time.Now(), []hotline.Write{mark(charlie, "charlie", entry.KindRead, msgs[i])}); err != nil {
			t.Fatal(err)
		}
		check()
	}
	s.Close()
	s = open(t, path)
	defer s.Close()
	check()
}

// queryPlan returns SQLite's plan for query, one detail line per step.
func queryPlan(t *testing.T, s *Store, query string, args ...any) []string {
	t.Helper()
	rows, err := s.read.Query(`EXPLAIN QUERY PLAN `+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

// Every write transaction runs on the writer's one connection and learns
// its statements after it ends; writes from several goroutines at once
// (the writer's appends, link tests, evidence, checkpoints), each the
// first of its kind, must not wait on each other for ever.
func TestStore_ConcurrentWritersLearnStatementsWithoutDeadlock(t *testing.T) {
	ctx := context.Background()
	s := open(t, filepath.Join(t.TempDir(), "hotline.db"))
	defer s.Close()
	ch := storetest.ThreeParties(t, s)
	c := storetest.NewChatter(t, ch.ID)
	done := make(chan error, 4)
	go func() {
		for i := range 50 {
			if err := s.Append(ctx, time.Now(), []hotline.Write{{Entry: c.Message("alpha", fmt.Sprint(i))}}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for i := range 50 {
			if err := s.AddLinkTests(ctx, []hotline.LinkTest{{Time: time.Now(), Peer: "bravo", Endpoint: "x", OK: true}}, time.Hour); err != nil {
				done <- err
				return
			}
			if err := s.AddEvidence(ctx, hotline.Evidence{Time: time.Now(), Kind: "rejected", Peer: "bravo", Detail: fmt.Sprint(i)}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	go func() {
		for i := range 50 {
			f := hotline.Feed{Channel: ch.ID, Party: "bravo"}
			note := fmt.Appendf(nil, "hotline/x/bravo\n%d\nroot\n\n— bravo sig\n", i+1)
			if err := s.AddCheckpoint(ctx, f, hotline.StoredCheckpoint{Size: int64(i + 1), Note: note, Time: time.Now()}); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for range 3 {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatal("concurrent writes did not finish: they wait on each other")
		}
	}
}
