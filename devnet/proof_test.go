package devnet

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

const proofChannel = "alpha-bravo-strategic"

// exportOf exports a channel from a party's node through its API.
func exportOf(t *testing.T, p *Party, ch string) []byte {
	t.Helper()
	rc, err := clientOf(p).Export(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(rc); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func verifyArchive(t *testing.T, b []byte) (*audit.Report, error) {
	t.Helper()
	a, err := audit.Decode(bytes.NewReader(b), nil)
	if err != nil {
		return nil, err
	}
	return audit.Verify(a), nil
}

// fullyCosigned waits until an export of the channel from p verifies with
// every feed checkpointed and cosigned by every other member to its end.
func fullyCosigned(t *testing.T, p *Party, ch string) []byte {
	t.Helper()
	var b []byte
	eventually(t, p.Name+"'s export is fully checkpointed and cosigned", func() bool {
		b = exportOf(t, p, ch)
		r, err := verifyArchive(t, b)
		return err == nil && r.OK && len(r.Warnings) == 0
	})
	return b
}

// TestProof_ExportVerifyProve runs the proof issue's exchange on a real
// two-party network: messages both ways, a read and an ack; both nodes'
// exports verify offline and report the same proven story; a proof of one
// message verifies, and code nobody here wrote (x/mod's note verifier and
// tlog's proof checkers) accepts our checkpoints and proofs.
func TestProof_ExportVerifyProve(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ask, err := clientOf(alpha).Send(ctx, proofChannel, api.SendRequest{Text: "Request call at 0900Z", Lang: "en", AckWithin: ptr("10m")})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo holds the message", func() bool { return findEntry(t, clientOf(bravo), proofChannel, ask.ID) != nil })
	if _, err := clientOf(bravo).Mark(ctx, proofChannel, ask.ID, "read", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := clientOf(bravo).Mark(ctx, proofChannel, ask.ID, "ack", "Agreed, 0900Z"); err != nil {
		t.Fatal(err)
	}
	if _, err := clientOf(bravo).Send(ctx, proofChannel, api.SendRequest{Text: "Confirming", Lang: "en"}); err != nil {
		t.Fatal(err)
	}

	var reports [2]*audit.Report
	for i, p := range []*Party{alpha, bravo} {
		r, err := verifyArchive(t, fullyCosigned(t, p, proofChannel))
		if err != nil {
			t.Fatal(err)
		}
		reports[i] = r
		if r.ExportedBy != p.Name || len(r.Messages) != 2 {
			t.Fatalf("%s's export: by %s, %d messages", p.Name, r.ExportedBy, len(r.Messages))
		}
		m := r.Messages[0]
		if m.ID != ask.ID || m.Author != "alpha" || len(m.Received) != 1 || m.Received[0].Party != "bravo" ||
			len(m.Read) != 1 || len(m.Acked) != 1 || m.Acked[0].Reply != "Agreed, 0900Z" || m.Acked[0].Operator == "" || m.Overdue != "" {
			t.Fatalf("%s's export tells the first message as %+v", p.Name, m)
		}
		for _, f := range r.Feeds {
			other := map[string]string{"alpha": "bravo", "bravo": "alpha"}[f.Party]
			if _, ok := f.CosignedBy[other]; !ok || f.Cosigned != int64(f.Entries) {
				t.Fatalf("%s's export: %s's feed %+v is not cosigned by %s to its end", p.Name, f.Party, f, other)
			}
		}
	}
	a, _ := json.Marshal(reports[0].Messages)
	b, _ := json.Marshal(reports[1].Messages)
	if !bytes.Equal(a, b) {
		t.Fatalf("the two parties' archives tell different stories:\n%s\n%s", a, b)
	}

	// A proof of the message, checked by our verifier and by x/mod's code.
	proof, err := clientOf(bravo).Proof(ctx, proofChannel, ask.ID)
	if err != nil {
		t.Fatal(err)
	}
	keys := partyKeys(t, net, "alpha", "bravo")
	pr, err := audit.VerifyProof(proof, keys.checkpointKeys())
	if err != nil {
		t.Fatal(err)
	}
	if pr.ID != ask.ID || pr.Text != "Request call at 0900Z" {
		t.Fatalf("proof report %+v", pr)
	}
	if _, ok := pr.CosignedBy["bravo"]; !ok {
		t.Fatalf("proof's checkpoint is not cosigned by bravo: %+v", pr)
	}
	interop(t, proof, keys)
	if _, err := audit.VerifyProof(proof, partyKeys(t, net, "bravo").checkpointKeys()); err == nil {
		t.Fatal("a proof verified without the author's key")
	}
}

type keySet struct {
	pubs  map[string]ed25519.PublicKey
	vkeys map[string]string
}

// checkpointKeys are the keys as checkpoint.Open takes them.
func (ks keySet) checkpointKeys() checkpoint.Keys {
	out := checkpoint.Keys{}
	for p, k := range ks.pubs {
		out[p] = []ed25519.PublicKey{k}
	}
	return out
}

func partyKeys(t *testing.T, net *Network, parties ...string) keySet {
	t.Helper()
	ks := keySet{pubs: map[string]ed25519.PublicKey{}, vkeys: map[string]string{}}
	for _, name := range parties {
		d, err := config.Open(net.Party(name).Dir)
		if err != nil {
			t.Fatal(err)
		}
		ks.pubs[name], ks.vkeys[name] = d.Key.Public(), d.Key.VerifierKey()
	}
	return ks
}

// interop checks a proof with code nobody here wrote: the checkpoint
// signature with golang.org/x/mod/sumdb/note's own Ed25519 verifier, the
// cosignature as C2SP tlog-cosignature spells it out, and the inclusion
// proof with tlog.CheckRecord.
func interop(t *testing.T, proof []byte, keys keySet) {
	t.Helper()
	text := string(proof)
	head, signed, _ := strings.Cut(text, "\n\n")
	lines := strings.Split(head, "\n")
	wire, _ := base64.StdEncoding.DecodeString(strings.TrimPrefix(lines[1], "extra "))
	index, _ := strconv.ParseInt(strings.TrimPrefix(lines[2], "index "), 10, 64)
	var incl tlog.RecordProof
	for _, l := range lines[3:] {
		h, err := tlog.ParseHash(l)
		if err != nil {
			t.Fatal(err)
		}
		incl = append(incl, h)
	}
	v, err := note.NewVerifier(keys.vkeys["alpha"])
	if err != nil {
		t.Fatal(err)
	}
	n, err := note.Open([]byte(signed), note.VerifierList(v))
	if err != nil {
		t.Fatalf("x/mod's note verifier refuses our checkpoint: %v", err)
	}
	cp := strings.Split(n.Text, "\n")
	size, _ := strconv.ParseInt(cp[1], 10, 64)
	root, err := tlog.ParseHash(cp[2])
	if err != nil {
		t.Fatal(err)
	}
	var parts [][]byte // the wire form is CBOR [header, signature, body]
	if err := entry.Unmarshal(wire, &parts); err != nil || len(parts) != 3 {
		t.Fatalf("entry wire form: %v", err)
	}
	signedForm, _ := entry.Marshal([2][]byte{parts[0], parts[1]}) // the record: [header, signature]
	if err := tlog.CheckRecord(incl, size, root, index, tlog.RecordHash(signedForm)); err != nil {
		t.Fatalf("tlog.CheckRecord refuses our inclusion proof: %v", err)
	}
	// The cosignature, per c2sp.org/tlog-cosignature: key ID is
	// SHA-256(name "\n" 0x04 key)[:4]; the signature is a big-endian
	// timestamp then Ed25519 over "cosignature/v1\ntime T\n" + body.
	found := false
	for _, s := range n.UnverifiedSigs {
		if s.Name != "bravo" {
			continue
		}
		raw, _ := base64.StdEncoding.DecodeString(s.Base64)
		idHash := sha256.Sum256(append([]byte("bravo\n\x04"), keys.pubs["bravo"]...))
		wantID := binary.BigEndian.Uint32(idHash[:4])
		ts := binary.BigEndian.Uint64(raw[4:12])
		msg := "cosignature/v1\ntime " + strconv.FormatUint(ts, 10) + "\n" + n.Text
		if binary.BigEndian.Uint32(raw) == wantID && ed25519.Verify(keys.pubs["bravo"], []byte(msg), raw[12:]) {
			found = true
		}
	}
	if !found {
		t.Fatal("no cosignature by bravo that verifies as C2SP tlog-cosignature specifies")
	}
}

func ptr[T any](v T) *T { return &v }

// TestProof_TamperedArchivesFail changes a real, fully cosigned archive in
// each way the proof issue lists, and checks verification fails naming
// what failed and where.
func TestProof_TamperedArchivesFail(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha := net.Party("alpha")
	for _, text := range []string{"first", "second", "third"} {
		if _, err := clientOf(alpha).Send(ctx, proofChannel, api.SendRequest{Text: text, Lang: "en"}); err != nil {
			t.Fatal(err)
		}
	}
	good := fullyCosigned(t, alpha, proofChannel)
	bravoKey := mustDir(t, net.Party("bravo")).Key
	impostor, err := identity.GenerateSigningKey("alpha")
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name   string
		change func(a *archiveLines)
		want   string // in the decode error or in a failure
	}{
		{"flipped byte in a message", func(a *archiveLines) {
			i := a.find(t, func(e *entry.Entry) bool { return e.Kind == entry.KindMessage })
			a.recs[i].Entry[len(a.recs[i].Entry)-3] ^= 0x01
		}, "entry record"},
		{"removed entry", func(a *archiveLines) {
			i := a.find(t, func(e *entry.Entry) bool { return e.Kind == entry.KindMessage && e.Seq == 3 })
			a.remove(i)
		}, "seq 3 is missing"},
		{"removed entry, counts left", func(a *archiveLines) {
			i := a.find(t, func(e *entry.Entry) bool { return e.Kind == entry.KindMessage })
			a.recs = append(a.recs[:i], a.recs[i+1:]...)
		}, "records were removed"},
		{"reordered entries", func(a *archiveLines) {
			i := a.find(t, func(e *entry.Entry) bool { return e.Author == "alpha" && e.Seq == 3 })
			j := a.find(t, func(e *entry.Entry) bool { return e.Author == "alpha" && e.Seq == 4 })
			a.recs[i], a.recs[j] = a.recs[j], a.recs[i]
		}, "reordered"},
		{"receipt for an entry that does not exist", func(a *archiveLines) {
			var last *entry.Entry
			for i := range a.recs {
				if e := a.entry(t, i); e != nil && e.Author == "bravo" {
					last = e
				}
			}
			body, _ := entry.EncodeBody(&entry.Receipt{Holds: []entry.Ref{{Party: "alpha", Seq: 99, ID: entry.ID{1}}}})
			forged, err := entry.Sign(entry.Header{Channel: last.Channel, Author: "bravo", Seq: last.Seq + 1, Prev: last.ID(),
				Time: last.Time, Kind: entry.KindReceipt}, body, bravoKey.Priv)
			if err != nil {
				t.Fatal(err)
			}
			a.insertEntry(forged)
		}, "receipts alpha/99, an entry not in the archive"},
		{"checkpoint signed by the wrong key", func(a *archiveLines) {
			i := a.checkpoint(t, "alpha")
			body, _, _ := strings.Cut(a.recs[i].Note, "\n\n")
			c, err := checkpoint.ParseBody(body + "\n")
			if err != nil {
				t.Fatal(err)
			}
			note, err := checkpoint.Sign(c, "alpha", impostor.Priv)
			if err != nil {
				t.Fatal(err)
			}
			a.recs[i].Note = string(note)
		}, "checkpoint record"},
		{"forged cosignature", func(a *archiveLines) {
			i := a.checkpoint(t, "alpha")
			lines := strings.Split(a.recs[i].Note, "\n")
			for k, l := range lines {
				if rest, ok := strings.CutPrefix(l, "— bravo "); ok {
					raw, _ := base64.StdEncoding.DecodeString(rest)
					raw[len(raw)-1] ^= 0x80
					lines[k] = "— bravo " + base64.StdEncoding.EncodeToString(raw)
				}
			}
			a.recs[i].Note = strings.Join(lines, "\n")
		}, "signature by bravo does not verify"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := parseLines(t, good)
			c.change(a)
			r, err := verifyArchive(t, a.bytes())
			if err != nil {
				if !strings.Contains(err.Error(), c.want) {
					t.Fatalf("decode error %q does not say %q", err, c.want)
				}
				return
			}
			if r.OK {
				t.Fatal("the tampered archive verifies")
			}
			var all []string
			for _, f := range r.Failures {
				all = append(all, f.Where+": "+f.What)
			}
			if !strings.Contains(strings.Join(all, "\n"), c.want) {
				t.Fatalf("failures do not say %q:\n%s", c.want, strings.Join(all, "\n"))
			}
		})
	}
	// A body redacted under a retention rule is not tampering: everything
	// still verifies, and the report says the text is gone.
	red := parseLines(t, good)
	i := red.find(t, func(e *entry.Entry) bool { return e.Kind == entry.KindMessage })
	e := red.entry(t, i)
	e.Body = nil
	red.recs[i].Entry = e.Encode()
	if r, err := verifyArchive(t, red.bytes()); err != nil || !r.OK || !strings.Contains(strings.Join(r.Warnings, "\n"), "redacted") {
		t.Fatalf("an archive with a redacted body: %v %+v", err, r)
	}

	for name, b := range map[string][]byte{
		"truncated file":    good[:len(good)/2],
		"not an archive":    []byte("Minutes of the meeting of 3 March\n"),
		"empty file":        nil,
		"a proof, not this": []byte(checkpoint.ProofHeader + "\nindex 0\n\nx\n"),
	} {
		if _, err := verifyArchive(t, b); err == nil {
			t.Errorf("%s: decoded as an archive", name)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

func mustDir(t *testing.T, p *Party) *config.Dir {
	t.Helper()
	d, err := config.Open(p.Dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// archiveLines is an archive as header and records, for tampering.
type archiveLines struct {
	header audit.Header
	recs   []audit.Record
}

func parseLines(t *testing.T, b []byte) *archiveLines {
	t.Helper()
	lines := bytes.Split(bytes.TrimSuffix(b, []byte("\n")), []byte("\n"))
	a := &archiveLines{}
	if err := json.Unmarshal(lines[0], &a.header); err != nil {
		t.Fatal(err)
	}
	for _, l := range lines[1:] {
		var r audit.Record
		if err := json.Unmarshal(l, &r); err != nil {
			t.Fatal(err)
		}
		a.recs = append(a.recs, r)
	}
	return a
}

func (a *archiveLines) entry(t *testing.T, i int) *entry.Entry {
	if a.recs[i].Type != "entry" {
		return nil
	}
	e, err := entry.Decode(a.recs[i].Entry)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (a *archiveLines) find(t *testing.T, match func(*entry.Entry) bool) int {
	t.Helper()
	for i := range a.recs {
		if e := a.entry(t, i); e != nil && match(e) {
			return i
		}
	}
	t.Fatal("no such entry in the archive")
	return -1
}

func (a *archiveLines) checkpoint(t *testing.T, party string) int {
	t.Helper()
	for i := len(a.recs) - 1; i >= 0; i-- {
		if a.recs[i].Type == "checkpoint" && a.recs[i].Party == party {
			return i
		}
	}
	t.Fatal("no checkpoint of " + party)
	return -1
}

// remove drops record i and fixes the counts, as a careful forger would.
func (a *archiveLines) remove(i int) {
	a.recs = append(a.recs[:i], a.recs[i+1:]...)
	a.header.Entries--
	a.recs[len(a.recs)-1].Entries--
}

// insertEntry adds an entry after the last one and fixes the counts.
func (a *archiveLines) insertEntry(e *entry.Entry) {
	last := 0
	for i, r := range a.recs {
		if r.Type == "entry" {
			last = i
		}
	}
	rec := audit.Record{Type: "entry", Entry: e.Encode()}
	a.recs = append(a.recs[:last+1], append([]audit.Record{rec}, a.recs[last+1:]...)...)
	a.header.Entries++
	a.recs[len(a.recs)-1].Entries++
}

func (a *archiveLines) bytes() []byte {
	var b bytes.Buffer
	h, _ := json.Marshal(a.header)
	b.Write(append(h, '\n'))
	for _, r := range a.recs {
		l, _ := json.Marshal(r)
		b.Write(append(l, '\n'))
	}
	return b.Bytes()
}
