package audit

import (
	"bytes"
	"crypto/ed25519"
	"fmt"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// benchArchive builds a real two-party channel of n messages by alpha,
// each receipted by bravo, with both feeds checkpointed and cosigned.
func benchArchive(b testing.TB, n int) []byte {
	alpha, _ := identity.GenerateSigningKey("alpha")
	bravo, _ := identity.GenerateSigningKey("bravo")
	def := &entry.Definition{Name: "bench", Level: "policy", Proposer: "alpha", Created: 1,
		Members: []entry.Member{{Party: "alpha", Key: alpha.VerifierKey()}, {Party: "bravo", Key: bravo.VerifierKey()}}}
	ch := def.ChannelID()
	feeds := map[string][]*entry.Entry{}
	var order []*entry.Entry
	write := func(k *identity.SigningKey, kind entry.Kind, v any, refs []entry.Ref) *entry.Entry {
		body, err := entry.EncodeBody(v)
		if err != nil {
			b.Fatal(err)
		}
		f := feeds[k.Party]
		h := entry.Header{Channel: ch, Author: k.Party, Seq: uint64(len(f) + 1), Time: time.Now().UnixMilli(), Kind: kind, Operator: "duty", Refs: refs}
		if len(f) > 0 {
			h.Prev = f[len(f)-1].ID()
		}
		e, err := entry.Sign(h, body, k.Priv)
		if err != nil {
			b.Fatal(err)
		}
		feeds[k.Party] = append(f, e)
		order = append(order, e)
		return e
	}
	p := write(alpha, entry.KindConfig, &entry.Config{Action: "propose", Definition: def}, nil)
	acc := write(bravo, entry.KindConfig, &entry.Config{Action: "accept", Proposal: &entry.Ref{Party: "alpha", Seq: 1, ID: p.ID()}}, []entry.Ref{p.Ref()})
	last := acc
	for i := range n {
		m := write(alpha, entry.KindMessage, &entry.Message{Text: fmt.Sprintf("message %d of the benchmark, about as long as a real one", i), Lang: "en"}, []entry.Ref{last.Ref()})
		last = write(bravo, entry.KindReceipt, &entry.Receipt{Holds: []entry.Ref{m.Ref()}}, []entry.Ref{m.Ref()})
	}
	var buf bytes.Buffer
	w, _ := NewWriter(&buf, Header{Channel: ch.String(), Name: "bench", Level: "policy", ExportedBy: "alpha", ExportedAt: time.Now(), Entries: len(order)})
	w.Key("alpha", alpha.VerifierKey(), nil, nil)
	w.Key("bravo", bravo.VerifierKey(), nil, nil)
	for _, e := range order {
		w.Entry(e, time.Now())
	}
	keys := map[string]*identity.SigningKey{"alpha": alpha, "bravo": bravo}
	for _, party := range []string{"alpha", "bravo"} {
		var leaves []tlog.Hash
		for _, e := range feeds[party] {
			leaves = append(leaves, checkpoint.RecordHash(e))
		}
		c := checkpoint.Checkpoint{Origin: checkpoint.Origin(ch, party), Size: int64(len(leaves)), Root: RootOf(leaves)}
		note, _ := checkpoint.Sign(c, party, keys[party].Priv)
		other := map[string]string{"alpha": "bravo", "bravo": "alpha"}[party]
		line, _ := checkpoint.Cosign(c.Body(), other, keys[other].Priv, time.Now())
		w.Checkpoint(party, checkpoint.Merge(note, []byte(c.Body()+"\n"+line)))
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	return buf.Bytes()
}

// BenchmarkVerifyArchive measures offline verification of a whole archive
// (decode, every signature in parallel, chains, references, receipts,
// trees and checkpoints), in entries per second.
func BenchmarkVerifyArchive(b *testing.B) {
	data := benchArchive(b, 10000)
	b.ResetTimer()
	entries := 0
	for b.Loop() {
		a, err := Decode(bytes.NewReader(data), nil)
		if err != nil {
			b.Fatal(err)
		}
		r := Verify(a)
		if !r.OK || len(r.Warnings) != 0 {
			b.Fatalf("benchmark archive does not verify: %+v", r.Failures)
		}
		entries += r.Verified
	}
	b.ReportMetric(float64(entries)/b.Elapsed().Seconds(), "entries/s")
}

// BenchmarkEd25519Verify is the raw signature check rate on all cores, the
// ceiling for BenchmarkVerifyArchive.
func BenchmarkEd25519Verify(b *testing.B) {
	pub, priv, _ := ed25519.GenerateKey(nil)
	msg := bytes.Repeat([]byte{1}, 200)
	sig := ed25519.Sign(priv, msg)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("verify")
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "verifies/s")
}
