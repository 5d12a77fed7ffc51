package checkpoint

import (
	"bytes"
	"crypto/ed25519"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/entry"
)

func testKeys(t testing.TB) (ed25519.PrivateKey, ed25519.PrivateKey, Keys) {
	_, a, _ := ed25519.GenerateKey(nil)
	_, b, _ := ed25519.GenerateKey(nil)
	return a, b, Keys{"alpha": {a.Public().(ed25519.PublicKey)}, "bravo": {b.Public().(ed25519.PublicKey)}}
}

func TestSignCosignOpen(t *testing.T) {
	a, b, keys := testKeys(t)
	c := Checkpoint{Origin: Origin(entry.ChannelID{1, 2}, "alpha"), Size: 42, Root: tlog.Hash{7}}
	signed, err := Sign(c, "alpha", a)
	if err != nil {
		t.Fatal(err)
	}
	// x/mod's own verifier accepts the author's signature.
	vkey, _ := note.NewEd25519VerifierKey("alpha", keys["alpha"][0])
	v, _ := note.NewVerifier(vkey)
	if _, err := note.Open(signed, note.VerifierList(v)); err != nil {
		t.Fatalf("x/mod refuses our checkpoint: %v", err)
	}
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	line, err := Cosign(c.Body(), "bravo", b, at)
	if err != nil || !strings.HasPrefix(line, "— bravo ") || !strings.HasSuffix(line, "\n") {
		t.Fatalf("cosignature line %q, %v", line, err)
	}
	full := Merge(signed, []byte(c.Body()+"\n"+line))
	s, err := Open(full, keys)
	if err != nil {
		t.Fatal(err)
	}
	if s.Size != 42 || s.Author != "alpha" || !s.Cosigners["bravo"].Equal(at) || s.Channel != (entry.ChannelID{1, 2}) {
		t.Fatalf("opened %+v", s)
	}
	// Without bravo's key the cosignature is dropped, not trusted.
	s, err = Open(full, Keys{"alpha": keys["alpha"]})
	if err != nil || len(s.Cosigners) != 0 || bytes.Contains(s.Note, []byte("bravo")) {
		t.Fatalf("unknown cosigner: %v %+v", err, s)
	}

	bad := []struct {
		name string
		note []byte
		keys Keys
	}{
		{"no author key", full, Keys{"bravo": keys["bravo"]}},
		{"only a cosignature", []byte(c.Body() + "\n" + line), keys},
		{"altered size", bytes.Replace(full, []byte("\n42\n"), []byte("\n43\n"), 1), keys},
		{"forged cosignature", []byte(strings.Replace(string(full), line, line[:len(line)-6]+"AAAA=\n", 1)), keys},
		{"author cosigning itself", mustCosign(t, c, "alpha", a), Keys{"alpha": keys["alpha"]}},
		{"extension line", append([]byte(c.Body()+"ext\n\n"), signed[len(c.Body())+1:]...), keys},
	}
	for _, tc := range bad {
		if _, err := Open(tc.note, tc.keys); err == nil {
			t.Errorf("%s: opened", tc.name)
		}
	}
}

func mustCosign(t *testing.T, c Checkpoint, party string, key ed25519.PrivateKey) []byte {
	line, err := Cosign(c.Body(), party, key, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return []byte(c.Body() + "\n" + line)
}

func TestWireRoundTrip(t *testing.T) {
	a, _, _ := testKeys(t)
	c := Checkpoint{Origin: Origin(entry.ChannelID{3}, "alpha"), Size: 5, Root: tlog.Hash{9}}
	n, _ := Sign(c, "alpha", a)
	req := &AddCheckpoint{OldSize: 3, Proof: tlog.TreeProof{{1}, {2}}, Note: n}
	got, err := ParseAddCheckpoint(req.Encode())
	if err != nil || got.OldSize != 3 || len(got.Proof) != 2 || !bytes.Equal(got.Note, n) {
		t.Fatalf("add-checkpoint round trip: %+v %v", got, err)
	}
	if !strings.HasPrefix(string(req.Encode()), "old 3\n") {
		t.Fatalf("request does not start with the old size line: %q", req.Encode())
	}
	p := &Proof{Entry: []byte("entry"), Index: 4, Inclusion: tlog.RecordProof{{5}}, Note: n}
	gp, err := ParseProof(p.Encode())
	if err != nil || gp.Index != 4 || string(gp.Entry) != "entry" || len(gp.Inclusion) != 1 || !bytes.Equal(gp.Note, n) {
		t.Fatalf("proof round trip: %+v %v", gp, err)
	}
	for _, bad := range []string{
		"", "old\n\nx", "old -1\n\nx", "old 01\n\nx", "old 0\nAAAA\n\nx", "old 2\nnot base64\n\nx",
		"old 2\n" + strings.Repeat("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n", 64) + "\nx",
	} {
		if _, err := ParseAddCheckpoint([]byte(bad)); err == nil {
			t.Errorf("add-checkpoint %q parsed", bad)
		}
	}
	for _, bad := range []string{"", "c2sp.org/tlog-proof@v1\n\nx", "c2sp.org/tlog-proof@v2\nindex 0\n\nx", ProofHeader + "\nextra !!\nindex 0\n\nx", ProofHeader + "\nindex x\n\nn"} {
		if _, err := ParseProof([]byte(bad)); err == nil {
			t.Errorf("proof %q parsed", bad)
		}
	}
}

func FuzzParseAddCheckpoint(f *testing.F) {
	a, _, keys := testKeys(f)
	n, _ := Sign(Checkpoint{Origin: Origin(entry.ChannelID{3}, "alpha"), Size: 5, Root: tlog.Hash{9}}, "alpha", a)
	f.Add((&AddCheckpoint{OldSize: 3, Proof: tlog.TreeProof{{1}}, Note: n}).Encode())
	f.Add([]byte("old 0\n\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseAddCheckpoint(b)
		if err != nil {
			return
		}
		if _, err := ParseAddCheckpoint(r.Encode()); err != nil {
			t.Fatalf("re-encoded request does not parse: %v", err)
		}
		Open(r.Note, keys) // must not panic
	})
}

func FuzzParseProof(f *testing.F) {
	a, _, keys := testKeys(f)
	n, _ := Sign(Checkpoint{Origin: Origin(entry.ChannelID{3}, "alpha"), Size: 5, Root: tlog.Hash{9}}, "alpha", a)
	f.Add((&Proof{Entry: []byte{1, 2}, Index: 2, Inclusion: tlog.RecordProof{{1}}, Note: n}).Encode())
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := ParseProof(b)
		if err != nil {
			return
		}
		if _, err := ParseProof(p.Encode()); err != nil {
			t.Fatalf("re-encoded proof does not parse: %v", err)
		}
		Open(p.Note, keys)
	})
}
