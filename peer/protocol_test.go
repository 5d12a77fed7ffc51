package peer

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"

	"github.com/hotline-project/hotline/entry"
)

func testEntries(t testing.TB, n int) []*entry.Entry {
	_, key, _ := ed25519.GenerateKey(nil)
	var out []*entry.Entry
	var prev entry.ID
	for i := range n {
		body, err := entry.EncodeBody(&entry.Message{Text: strings.Repeat("m", i+1), Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		e, err := entry.Sign(entry.Header{Channel: entry.ChannelID{1}, Author: "alpha", Seq: uint64(i + 1), Prev: prev, Time: 1, Kind: entry.KindMessage}, body, key)
		if err != nil {
			t.Fatal(err)
		}
		prev = e.ID()
		out = append(out, e)
	}
	return out
}

func TestSplitEntries_RoundTrip(t *testing.T) {
	es := testEntries(t, 5)
	raws, err := SplitEntries(EncodeEntries(es))
	if err != nil || len(raws) != 5 {
		t.Fatalf("%d entries, %v", len(raws), err)
	}
	for i, raw := range raws {
		e, err := entry.Decode(raw)
		if err != nil || e.ID() != es[i].ID() {
			t.Fatalf("entry %d: %v", i, err)
		}
	}
	if raws, err := SplitEntries(nil); err != nil || len(raws) != 0 {
		t.Fatalf("empty batch: %d, %v", len(raws), err)
	}
}

func TestSplitEntries_Limits(t *testing.T) {
	one := testEntries(t, 1)[0].Encode()
	tooMany := bytes.Repeat(one, MaxBatchEntries+1)
	if _, err := SplitEntries(tooMany); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("too many entries: %v", err)
	}
	if _, err := SplitEntries(make([]byte, MaxBatchBytes+1)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("too many bytes: %v", err)
	}
	if _, err := SplitEntries(append(bytes.Clone(one), 0x83, 0x41)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "entry 2") {
		t.Fatalf("truncated second entry: %v", err)
	}
}

func TestDecodeHeads(t *testing.T) {
	in := Heads{Heads: []FeedHead{{Channel: entry.ChannelID{1}, Party: "alpha", Seq: 3, ID: entry.ID{9}}}}
	got, err := DecodeHeads(marshal(in))
	if err != nil || len(got.Heads) != 1 || got.Heads[0] != in.Heads[0] || got.After != nil || got.Through != nil {
		t.Fatalf("%+v, %v", got, err)
	}
	// A page: channels above After up to Through.
	after, through := entry.ChannelID{0}, entry.ChannelID{2}
	page := Heads{Heads: in.Heads, After: &after, Through: &through}
	if got, err := DecodeHeads(marshal(page)); err != nil || *got.After != after || *got.Through != through {
		t.Fatalf("page: %+v, %v", got, err)
	}
	outside := Heads{Heads: in.Heads, After: &through}
	if _, err := DecodeHeads(marshal(outside)); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "outside the page") {
		t.Fatalf("head outside its page: %v", err)
	}
	empty := Heads{After: &through, Through: &after}
	if _, err := DecodeHeads(marshal(empty)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("empty range: %v", err)
	}
	bad := Heads{Heads: []FeedHead{{Party: "Not A Name!"}}}
	if _, err := DecodeHeads(marshal(bad)); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad party name: %v", err)
	}
	if _, err := DecodeHeads([]byte{0xa1, 0x01}); !errors.Is(err, ErrMalformed) {
		t.Fatalf("truncated: %v", err)
	}
}

func FuzzSplitEntries(f *testing.F) {
	f.Add(EncodeEntries(testEntries(f, 2)))
	f.Add([]byte{0x83, 0x40, 0x40, 0xf6})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		raws, err := SplitEntries(b)
		if err != nil {
			return
		}
		if len(raws) > MaxBatchEntries {
			t.Fatalf("%d entries accepted", len(raws))
		}
		// The split is exact: the pieces concatenate to the input.
		if !bytes.Equal(bytes.Join(raws, nil), b) {
			t.Fatal("pieces do not add up to the batch")
		}
		for _, raw := range raws {
			entry.Decode(raw) // must not panic
		}
	})
}

func FuzzDecodeHeads(f *testing.F) {
	f.Add(marshal(Heads{Heads: []FeedHead{{Channel: entry.ChannelID{1}, Party: "alpha", Seq: 3}}}))
	f.Add([]byte{0xa0})
	f.Add(marshal(Heads{After: &entry.ChannelID{1}, Through: &entry.ChannelID{3}, Heads: []FeedHead{{Channel: entry.ChannelID{2}, Party: "bravo", Seq: 1}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		page, err := DecodeHeads(b)
		if err != nil {
			return
		}
		for _, h := range page.Heads {
			if entry.CheckName("party", h.Party) != nil {
				t.Fatalf("invalid party %q accepted", h.Party)
			}
			if !page.Covers(h.Channel) {
				t.Fatalf("head of channel %s outside its page accepted", h.Channel)
			}
		}
	})
}

func FuzzDecodePushResult(f *testing.F) {
	f.Add(marshal(PushResult{Stored: 1, Rejected: []Rejection{{Error: "x"}}}))
	f.Fuzz(func(t *testing.T, b []byte) {
		DecodePushResult(b) // must not panic
	})
}

func TestHeartbeat_SignAndOpen(t *testing.T) {
	pub, key, _ := ed25519.GenerateKey(nil)
	otherPub, _, _ := ed25519.GenerateKey(nil)
	hb := Heartbeat{From: "alpha", To: "bravo", Time: 42, Nonce: [16]byte{1, 2}}
	signed, err := SignHeartbeat(hb, key)
	if err != nil {
		t.Fatal(err)
	}
	got, err := OpenHeartbeat(signed, pub)
	if err != nil || *got != hb {
		t.Fatalf("%+v, %v", got, err)
	}
	if _, err := OpenHeartbeat(signed, otherPub); !errors.Is(err, ErrHeartbeatSignature) {
		t.Fatalf("wrong key: %v", err)
	}
	tampered := bytes.Clone(signed)
	tampered[len(tampered)-1] ^= 1
	if _, err := OpenHeartbeat(tampered, pub); err == nil {
		t.Fatal("tampered heartbeat accepted")
	}
	if _, err := OpenHeartbeat(make([]byte, maxHeartbeat+1), pub); !errors.Is(err, ErrMalformed) {
		t.Fatalf("oversized: %v", err)
	}
}

func FuzzDecodeHeartbeat(f *testing.F) {
	_, key, _ := ed25519.GenerateKey(nil)
	signed, err := SignHeartbeat(Heartbeat{From: "alpha", To: "bravo", Time: 1}, key)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(signed)
	f.Add([]byte{0xa2, 0x01, 0x40, 0x02, 0x40})
	f.Fuzz(func(t *testing.T, b []byte) {
		hb, err := DecodeHeartbeat(b)
		if err == nil && hb == nil {
			t.Fatal("nil heartbeat without error")
		}
	})
}

func FuzzDecodeCallRequest(f *testing.F) {
	f.Add(marshal(&CallRequest{Op: CallOffer, SDP: "v=0\r\n"}))
	f.Add(marshal(&CallRequest{Op: CallRing}))
	f.Add(marshal(&CallRequest{Op: CallSection, Section: []byte(`{"party":"bravo"}`)}))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeCallRequest(b)
		if err != nil {
			if !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not ErrMalformed", err)
			}
			return
		}
		switch r.Op {
		case CallOffer:
			if r.SDP == "" {
				t.Fatal("an offer without a description")
			}
		case CallRing, CallSection:
		default:
			t.Fatalf("op %q accepted", r.Op)
		}
	})
}
