package audit

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// TestRootOf checks the in-memory root against tlog's own tree code.
func TestRootOf(t *testing.T) {
	var stored []tlog.Hash
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	var leaves []tlog.Hash
	if RootOf(nil) != sha256.Sum256(nil) {
		t.Fatal("empty tree root is not SHA-256 of nothing")
	}
	for i := range 70 {
		l := tlog.RecordHash([]byte{byte(i)})
		hs, _ := tlog.StoredHashesForRecordHash(int64(i), l, read)
		stored = append(stored, hs...)
		leaves = append(leaves, l)
		want, _ := tlog.TreeHash(int64(i+1), read)
		if got := RootOf(leaves); got != want {
			t.Fatalf("size %d: root %x, tlog says %x", i+1, got, want)
		}
	}
}

// sampleArchive writes a small, valid archive: alpha's proposal of a
// channel with bravo, not yet accepted or checkpointed.
func sampleArchive(t testing.TB) []byte {
	key, _ := identity.GenerateSigningKey("alpha")
	bravo, _ := identity.GenerateSigningKey("bravo")
	def := &entry.Definition{Name: "pair", Level: "track2", Proposer: "alpha", Created: 1,
		Members: []entry.Member{{Party: "alpha", Key: key.VerifierKey()}, {Party: "bravo", Key: bravo.VerifierKey()}}}
	body, _ := entry.EncodeBody(&entry.Config{Action: "propose", Definition: def})
	e, err := entry.Sign(entry.Header{Channel: def.ChannelID(), Author: "alpha", Seq: 1, Time: 1, Kind: entry.KindConfig}, body, key.Priv)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	w, _ := NewWriter(&b, Header{Channel: def.ChannelID().String(), Name: "pair", Level: "track2", ExportedBy: "alpha", ExportedAt: time.Unix(2, 0), Entries: 1})
	w.Key("alpha", key.VerifierKey(), nil, nil)
	w.Key("bravo", bravo.VerifierKey(), nil, nil)
	w.Entry(e, time.Unix(1, 0))
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVerifySample(t *testing.T) {
	a, err := Decode(bytes.NewReader(sampleArchive(t)), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := Verify(a)
	if !r.OK || r.Verified != 1 || len(r.Warnings) != 1 {
		t.Fatalf("report: %+v", r)
	}
}

func FuzzDecodeArchive(f *testing.F) {
	f.Add(sampleArchive(f))
	f.Add([]byte(`{"format":"hotline-archive","version":1,"entries":0}` + "\n" + `{"type":"end"}` + "\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Decode(bytes.NewReader(b), nil)
		if err != nil {
			return
		}
		Verify(a) // whatever it holds, verifying must not panic
	})
}

func FuzzDecodeEvidence(f *testing.F) {
	key, _ := identity.GenerateSigningKey("alpha")
	e1, _ := entry.Sign(entry.Header{Author: "alpha", Seq: 1, Time: 1, Kind: entry.KindMessage}, []byte{0xa1, 1, 0x61, 0x78}, key.Priv)
	e2, _ := entry.Sign(entry.Header{Author: "alpha", Seq: 1, Time: 2, Kind: entry.KindMessage}, []byte{0xa1, 1, 0x61, 0x79}, key.Priv)
	ev := &Evidence{Kind: EntryEquivocation, Channel: entry.ChannelID{}.String(), Party: "alpha", Key: key.VerifierKey(), Entries: [][]byte{e1.Encode(), e2.Encode()}}
	good := ev.Encode()
	if _, err := ev.Check(); err != nil {
		f.Fatalf("sample evidence: %v", err)
	}
	f.Add(good)
	f.Fuzz(func(t *testing.T, b []byte) {
		ev, err := DecodeEvidence(b)
		if err != nil {
			return
		}
		ev.Check()
	})
}

// TestEvidence_EncodeToStreamsAMismatch: a checkpoint that misstates its
// author's feed, with the feed's entries streamed in without their
// bodies, decodes and proves the lie; a checkpoint that tells the truth
// proves nothing.
func TestEvidence_EncodeToStreamsAMismatch(t *testing.T) {
	key, _ := identity.GenerateSigningKey("alpha")
	ch := entry.ChannelID{3}
	var es []*entry.Entry
	var leaves []tlog.Hash
	var prev entry.ID
	for i := range 50 {
		body, _ := entry.EncodeBody(&entry.Message{Text: strings.Repeat("m", i+1), Lang: "en"})
		e, err := entry.Sign(entry.Header{Channel: ch, Author: "alpha", Seq: uint64(i + 1), Prev: prev, Time: 1, Kind: entry.KindMessage}, body, key.Priv)
		if err != nil {
			t.Fatal(err)
		}
		prev = e.ID()
		es = append(es, e)
		leaves = append(leaves, checkpoint.RecordHash(e))
	}
	for _, tc := range []struct {
		name  string
		root  tlog.Hash
		prove bool
	}{{"a lie", tlog.Hash{0xba, 0xd}, true}, {"the truth", RootOf(leaves), false}} {
		note, err := checkpoint.Sign(checkpoint.Checkpoint{Origin: checkpoint.Origin(ch, "alpha"), Size: 50, Root: tc.root}, "alpha", key.Priv)
		if err != nil {
			t.Fatal(err)
		}
		ev := &Evidence{Kind: CheckpointMismatch, Channel: ch.String(), Party: "alpha", Key: key.VerifierKey(), Checkpoints: []string{string(note)}, Detail: "test"}
		var buf bytes.Buffer
		err = ev.EncodeTo(&buf, func(yield func([]byte) error) error {
			for _, e := range es {
				bare := *e
				bare.Body = nil
				if err := yield(bare.Encode()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		doc, err := DecodeEvidence(buf.Bytes())
		if err != nil {
			t.Fatalf("%s: the streamed file does not decode: %v\n%s", tc.name, err, buf.Bytes()[:200])
		}
		explain, err := doc.Check()
		if tc.prove && (err != nil || !strings.Contains(explain, "PROVEN")) {
			t.Fatalf("%s: %v\n%s", tc.name, err, explain)
		}
		if !tc.prove && err == nil {
			t.Fatalf("%s proved something: %s", tc.name, explain)
		}
	}
}

// Decode parses lines a chunk at a time on every core; what it reports
// about a damaged archive, and where, does not depend on the chunks.
func TestDecode_ErrorsNameTheirLineAcrossChunks(t *testing.T) {
	data := benchArchive(t, decodeChunk) // 2 × decodeChunk + 2 entries
	lines := bytes.Split(bytes.TrimSuffix(data, []byte("\n")), []byte("\n"))
	a, err := Decode(bytes.NewReader(data), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Entries) != 2*decodeChunk+2 || len(a.Keys) != 2 || len(a.Checkpoints) != 2 {
		t.Fatalf("decoded %d entries, %d keys, %d checkpoints", len(a.Entries), len(a.Keys), len(a.Checkpoints))
	}
	if r := Verify(a); !r.OK {
		t.Fatalf("does not verify: %+v", r.Failures)
	}
	join := func(ls [][]byte) []byte { return append(bytes.Join(ls, []byte("\n")), '\n') }
	with := func(i int, b []byte) []byte {
		ls := slices.Clone(lines)
		ls[i-1] = b
		return join(ls)
	}
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"a bad line in a later chunk", with(decodeChunk+7, []byte(`{"type":"entry","entry":"not base64"}`)), fmt.Sprintf("archive line %d: not a valid record", decodeChunk+7)},
		{"an unknown field", with(3, []byte(`{"type":"key","party":"alpha","extra":1}`)), "archive line 3: not a valid record"},
		{"a key among the entries", with(2*decodeChunk, lines[1]), fmt.Sprintf("archive line %d: a key record after the key records are over", 2*decodeChunk)},
		{"no end record", join(lines[:len(lines)-1]), fmt.Sprintf("ends at line %d without its end record", len(lines)-1)},
		{"data after the end record", join(append(slices.Clone(lines), []byte(`{}`))), fmt.Sprintf("archive line %d: data after the end record", len(lines)+1)},
	} {
		if _, err := Decode(bytes.NewReader(c.data), nil); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q", c.name, err, c.want)
		}
	}
}
