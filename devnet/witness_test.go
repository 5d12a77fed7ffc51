package devnet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/peer"
)

// TestWitness_RefusesAndKeepsContradictions speaks the C2SP tlog-witness
// add-checkpoint protocol to bravo with alpha's real keys, as a
// compromised alpha node would: malformed, unsigned, unknown and
// out-of-date requests get the protocol's status codes; a checkpoint that
// contradicts alpha's own entries is refused and kept as evidence that
// proves it offline, with the alarm raised.
func TestWitness_RefusesAndKeepsContradictions(t *testing.T) {
	a := newAttacker(t)
	ctx := context.Background()
	arch, err := audit.Decode(bytes.NewReader(exportOf(t, a.bravo, "alpha-bravo-policy")), nil)
	if err != nil {
		t.Fatal(err)
	}
	var leaves []tlog.Hash
	for _, r := range arch.Entries {
		e, err := entry.Decode(r.Entry)
		if err != nil {
			t.Fatal(err)
		}
		if e.Author == "alpha" {
			leaves = append(leaves, checkpoint.RecordHash(e))
		}
	}
	size := int64(len(leaves))
	origin := checkpoint.Origin(a.channel, "alpha")
	sign := func(key *identity.SigningKey, c checkpoint.Checkpoint) []byte {
		n, err := checkpoint.Sign(c, "alpha", key.Priv)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	var stored []tlog.Hash // alpha's tree as tlog stored hashes
	read := tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			out[i] = stored[x]
		}
		return out, nil
	})
	for i, l := range leaves {
		hs, err := tlog.StoredHashesForRecordHash(int64(i), l, read)
		if err != nil {
			t.Fatal(err)
		}
		stored = append(stored, hs...)
	}
	add := func(old int64, note []byte) (string, int) {
		var proof tlog.TreeProof
		if old > 0 {
			var err error
			if proof, err = tlog.ProveTree(size, old, read); err != nil {
				t.Fatal(err)
			}
		}
		body := (&checkpoint.AddCheckpoint{OldSize: old, Proof: proof, Note: note}).Encode()
		lines, err := a.client.AddCheckpoint(ctx, body)
		var se *peer.StatusError
		if errors.As(err, &se) {
			return se.Body, se.Code
		} else if err != nil {
			t.Fatal(err)
		}
		return string(lines), http.StatusOK
	}
	good := sign(a.alpha.Key, checkpoint.Checkpoint{Origin: origin, Size: size, Root: audit.RootOf(leaves)})

	// What bravo last cosigned, learnt as a witness client does: ask from 0.
	lines, code := add(0, good)
	if code == http.StatusConflict {
		old, err := strconv.ParseInt(lines, 10, 64)
		if err != nil || old > size {
			t.Fatalf("409 with size %q", lines)
		}
		lines, code = add(old, good)
	}
	if code != http.StatusOK || !strings.HasPrefix(lines, "— bravo ") {
		t.Fatalf("a true checkpoint: %d %q", code, lines)
	}
	if _, err := checkpoint.Open(checkpoint.Merge(good, []byte(strings.SplitAfter(string(good), "\n\n")[0]+lines)),
		checkpoint.Keys{"alpha": {a.alpha.Key.Public()}, "bravo": {mustDir(t, a.bravo).Key.Public()}}); err != nil {
		t.Fatalf("bravo's cosignature does not verify: %v", err)
	}

	// A tree one leaf longer than bravo holds, with a true consistency
	// proof from what bravo cosigned: bravo cannot check the new leaf, so
	// it does not cosign (409); the same checkpoint without its proof is
	// 422, as is a proof that does not lead to the checkpoint's root.
	extra, err := tlog.StoredHashesForRecordHash(size, tlog.Hash{0xfe}, read)
	if err != nil {
		t.Fatal(err)
	}
	stored = append(stored, extra...)
	longerRoot, err := tlog.TreeHash(size+1, read)
	if err != nil {
		t.Fatal(err)
	}
	longerProof, err := tlog.ProveTree(size+1, size, read)
	if err != nil {
		t.Fatal(err)
	}
	stored = stored[:len(stored)-len(extra)] // alpha's real tree again
	longerNote := sign(a.alpha.Key, checkpoint.Checkpoint{Origin: origin, Size: size + 1, Root: longerRoot})
	badProof := slices.Clone(longerProof)
	badProof[0][0] ^= 1

	impostor, _ := identity.GenerateSigningKey("alpha")
	for _, c := range []struct {
		name string
		body []byte
		code int
	}{
		{"not a request", []byte("hello"), http.StatusBadRequest},
		{"old size beyond the checkpoint", (&checkpoint.AddCheckpoint{OldSize: size + 5, Note: good}).Encode(), http.StatusBadRequest},
		{"signed by another key", (&checkpoint.AddCheckpoint{OldSize: size, Note: sign(impostor, checkpoint.Checkpoint{Origin: origin, Size: size, Root: audit.RootOf(leaves)})}).Encode(), http.StatusForbidden},
		{"unknown origin", (&checkpoint.AddCheckpoint{Note: sign(a.alpha.Key, checkpoint.Checkpoint{Origin: checkpoint.Origin(entry.ChannelID{9}, "alpha"), Size: 1})}).Encode(), http.StatusNotFound},
		{"stale old size", (&checkpoint.AddCheckpoint{OldSize: 0, Note: good}).Encode(), http.StatusConflict},
		{"more than bravo holds", (&checkpoint.AddCheckpoint{OldSize: size, Proof: longerProof, Note: longerNote}).Encode(), http.StatusConflict},
		{"no consistency proof", (&checkpoint.AddCheckpoint{OldSize: size, Note: longerNote}).Encode(), http.StatusUnprocessableEntity},
		{"a consistency proof that does not verify", (&checkpoint.AddCheckpoint{OldSize: size, Proof: badProof, Note: longerNote}).Encode(), http.StatusUnprocessableEntity},
	} {
		_, err := a.client.AddCheckpoint(ctx, c.body)
		var se *peer.StatusError
		if !errors.As(err, &se) || se.Code != c.code {
			t.Errorf("%s: got %v, want status %d", c.name, err, c.code)
		}
	}
	if got := counter(t, a.bravo, "hotline_equivocations_total"); got != 0 {
		t.Fatalf("refusals counted as equivocations: %v", got)
	}

	// A checkpoint of the same size with another root, signed by alpha's
	// real key: alpha contradicts itself.
	lie := sign(a.alpha.Key, checkpoint.Checkpoint{Origin: origin, Size: size, Root: tlog.Hash{0xba, 0xd}})
	if _, code := add(size, lie); code != http.StatusConflict {
		t.Fatalf("a contradicting checkpoint: status %d", code)
	}
	if got := counter(t, a.bravo, "hotline_equivocations_total"); got != 1 {
		t.Fatalf("hotline_equivocations_total = %v", got)
	}
	docs := evidenceFiles(t, a.bravo)
	if len(docs) == 0 {
		t.Fatal("no evidence kept of the contradicting checkpoint")
	}
	doc := docs[0]
	explain, err := doc.Check()
	if err != nil || doc.Kind != audit.CheckpointConflict {
		t.Fatalf("evidence %s: %v", doc.Kind, err)
	}
	t.Log(explain)
	// The same file with the lie's signature broken no longer proves anything.
	doc.Checkpoints[0] = strings.Replace(doc.Checkpoints[0], fmt.Sprintf("\n%d\n", size), fmt.Sprintf("\n%d\n", size+1), 1)
	if _, err := doc.Check(); err == nil {
		t.Fatal("altered evidence still proves its case")
	}
}
