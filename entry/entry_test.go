package entry

import (
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"time"
)

func mustKey(tb testing.TB, seed byte) (ed25519.PublicKey, ed25519.PrivateKey) {
	tb.Helper()
	priv := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{seed}, 32))
	return priv.Public().(ed25519.PublicKey), priv
}

func mustMessage(tb testing.TB, text string) (*Entry, ed25519.PublicKey) {
	tb.Helper()
	pub, priv := mustKey(tb, 1)
	body, err := EncodeBody(&Message{Text: text, Lang: "en", AckWithin: 60000})
	if err != nil {
		tb.Fatal(err)
	}
	e, err := Sign(Header{Channel: ChannelID{7}, Author: "alpha", Seq: 2, Prev: ID{9}, Time: 1700000000000,
		Kind: KindMessage, Operator: "duty", Refs: []Ref{{Party: "bravo", Seq: 3, ID: ID{4}}}}, body, priv)
	if err != nil {
		tb.Fatal(err)
	}
	return e, pub
}

func TestEntry_RoundTrip(t *testing.T) {
	e, pub := mustMessage(t, "hello")
	got, err := Decode(e.Encode())
	if err != nil {
		t.Fatal(err)
	}
	if err := got.Verify(pub); err != nil {
		t.Fatal(err)
	}
	if got.ID() != e.ID() || got.Seq != 2 || got.Author != "alpha" || got.Operator != "duty" {
		t.Fatalf("decoded %+v, want %+v", got.Header, e.Header)
	}
	b, err := DecodeBody(got)
	if err != nil {
		t.Fatal(err)
	}
	if m := b.(*Message); m.Text != "hello" || m.AckWithin != 60000 {
		t.Fatalf("body = %+v", m)
	}
}

// Redacting a body keeps the id and the signature valid: the signature
// commits to the body by hash only.
func TestEntry_RedactedBodyStillVerifies(t *testing.T) {
	e, pub := mustMessage(t, "secret")
	red, err := FromParts(e.HeaderBytes, e.Sig, nil)
	if err != nil {
		t.Fatal(err)
	}
	if red.ID() != e.ID() {
		t.Fatal("redaction changed the id")
	}
	if err := red.Verify(pub); err != nil {
		t.Fatal(err)
	}
	if _, err := DecodeBody(red); err == nil {
		t.Fatal("decoded a redacted body")
	}
}

func TestEntry_Tampering(t *testing.T) {
	e, pub := mustMessage(t, "hello")
	other, _ := mustKey(t, 2)
	tests := []struct {
		name string
		mod  func(*Entry) *Entry
		pub  ed25519.PublicKey
		want error
	}{
		{"wrong key", func(e *Entry) *Entry { return e }, other, ErrBadSignature},
		{"body swapped", func(e *Entry) *Entry {
			b, _ := EncodeBody(&Message{Text: "goodbye"})
			c := *e
			c.Body = b
			return &c
		}, pub, ErrBodyMismatch},
		{"signature flipped", func(e *Entry) *Entry {
			c := *e
			c.Sig = bytes.Clone(e.Sig)
			c.Sig[5] ^= 1
			return &c
		}, pub, ErrBadSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.mod(e).Verify(tt.pub); !errors.Is(err, tt.want) {
				t.Fatalf("Verify = %v, want %v", err, tt.want)
			}
		})
	}
	// A flipped header byte either fails to decode or fails to verify.
	for i := range e.HeaderBytes {
		h := bytes.Clone(e.HeaderBytes)
		h[i] ^= 0x01
		if d, err := FromParts(h, e.Sig, e.Body); err == nil && d.Verify(pub) == nil {
			t.Fatalf("header byte %d flipped and still verified", i)
		}
	}
}

func TestDecode_Rejects(t *testing.T) {
	e, _ := mustMessage(t, "hello")
	_, priv := mustKey(t, 1)
	tests := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrMalformed},
		{"garbage", []byte("not cbor at all"), ErrMalformed},
		{"truncated", e.Encode()[:40], ErrMalformed},
		{"oversized", make([]byte, MaxEntrySize+1), ErrTooLarge},
		{"trailing bytes", append(e.Encode(), 0), ErrMalformed},
		{"indefinite length", append([]byte{0x9f}, append(e.Encode()[1:], 0xff)...), ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Decode(tt.in); !errors.Is(err, tt.want) {
				t.Fatalf("Decode = %v, want %v", err, tt.want)
			}
		})
	}
	// Non-canonical header: same fields, map keys out of order.
	nc := []byte{0xa2, 0x01, 0x41, 0x00, 0x00, 0x01}
	if _, err := FromParts(nc, e.Sig, nil); !errors.Is(err, ErrMalformed) {
		t.Fatalf("non-canonical header accepted: %v", err)
	}
	// Limits checked at signing too.
	big, _ := EncodeBody(&Message{Text: strings.Repeat("x", MaxEntrySize)})
	if _, err := Sign(Header{Channel: ChannelID{1}, Author: "alpha", Seq: 1, Kind: KindMessage}, big, priv); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("oversized entry signed: %v", err)
	}
	if _, err := Sign(Header{Channel: ChannelID{1}, Author: "Alpha!", Seq: 1, Kind: KindMessage}, nil, priv); !errors.Is(err, ErrMalformed) {
		t.Fatalf("bad author name signed: %v", err)
	}
	if _, err := Sign(Header{Channel: ChannelID{1}, Author: "alpha", Seq: 1, Kind: KindMessage,
		Refs: []Ref{{Party: "alpha", Seq: 1}}}, nil, priv); !errors.Is(err, ErrMalformed) {
		t.Fatalf("self reference signed: %v", err)
	}
}

func TestDecodeBody_Limits(t *testing.T) {
	_, priv := mustKey(t, 1)
	tests := []struct {
		name string
		kind Kind
		body any
		want error
	}{
		{"empty text", KindMessage, &Message{}, ErrMalformed},
		{"long text", KindMessage, &Message{Text: strings.Repeat("x", MaxTextBytes+1)}, ErrTooLarge},
		{"negative deadline", KindMessage, &Message{Text: "x", AckWithin: -1}, ErrMalformed},
		{"empty receipt", KindReceipt, &Receipt{}, ErrMalformed},
		{"unsorted receipt", KindReceipt, &Receipt{Holds: []Ref{{Party: "b", Seq: 1}, {Party: "a", Seq: 1}}}, ErrMalformed},
		{"ack of seq 0", KindAck, &Mark{Target: Ref{Party: "a"}}, ErrMalformed},
		{"propose without definition", KindConfig, &Config{Action: ActionPropose}, ErrMalformed},
		{"one-member channel", KindConfig, &Config{Action: ActionPropose, Definition: &Definition{
			Name: "c", Level: "policy", Proposer: "a", Members: []Member{{Party: "a", Key: "k"}}}}, ErrMalformed},
		{"unknown action", KindConfig, &Config{Action: "seize"}, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := EncodeBody(tt.body)
			if err != nil {
				t.Fatal(err)
			}
			e, err := Sign(Header{Channel: ChannelID{1}, Author: "alpha", Seq: 1, Kind: tt.kind}, b, priv)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeBody(e); !errors.Is(err, tt.want) {
				t.Fatalf("DecodeBody = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestDefinition_ChannelIDIsStable(t *testing.T) {
	d := &Definition{Name: "alpha-bravo", Level: "strategic", Proposer: "alpha",
		Members: []Member{{Party: "alpha", Key: "ka"}, {Party: "bravo", Key: "kb"}}, Created: 1, Nonce: [16]byte{1}}
	a, b := d.ChannelID(), d.ChannelID()
	d2 := *d
	d2.Nonce[0] = 2
	if a != b || a == d2.ChannelID() {
		t.Fatal("channel id is not a stable function of the definition")
	}
}

func FuzzDecode(f *testing.F) {
	e, pub := mustMessage(f, "seed")
	f.Add(e.Encode())
	f.Add([]byte{0x83, 0x40, 0x40, 0xf6})
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes (one representation
		// per entry), and body decoding never panics.
		if !bytes.Equal(e.Encode(), b) {
			t.Fatalf("decoded entry re-encodes differently")
		}
		_, _ = DecodeBody(e)
		_ = e.Verify(pub)
	})
}

// FuzzDecodeBody feeds arbitrary bodies, under every kind, to the body
// decoder: it must refuse or return a body that passes its own checks,
// and never panic.
func FuzzDecodeBody(f *testing.F) {
	_, priv := mustKey(f, 1)
	re := &Ref{Party: "bravo", Seq: 3}
	for _, v := range []any{&Message{Text: "x"}, &Receipt{Holds: []Ref{{Party: "bravo", Seq: 1}}}, &Mark{Target: Ref{Party: "bravo", Seq: 1}},
		&Config{Action: ActionAccept, Proposal: &Ref{Party: "bravo", Seq: 1}},
		&Config{Action: ActionPropose, Definition: &Definition{Name: "c", Level: "theatre", Proposer: "alpha",
			Members: []Member{{Party: "alpha", Key: "k"}, {Party: "bravo", Key: "k"}}, Policy: &Policy{AckWithin: 1000, EscalateTo: &ChannelID{1}}}},
		&Call{Action: CallPropose, Purpose: "p", Times: []int64{1, 2}, Minutes: 30, Participants: []Participant{{Party: "bravo", Role: "minister"}}, Level: "strategic"},
		&Call{Action: CallAccept, Re: re, Times: []int64{2}},
		&Call{Action: CallCosign, Re: re, Draft: re, Text: "t", Sigs: []PartySig{{Party: "alpha", Sig: make([]byte, 64)}, {Party: "bravo", Sig: make([]byte, 64)}}},
		&Escalation{Source: ChannelID{1}, Entry: *re, Deadline: 5, Text: "late"},
		&Directory{Counterparts: []Counterpart{{Level: "strategic", Role: "minister", Name: "N", Languages: []string{"zh"}, Alternates: []string{"D"}}}},
		&Message{Text: "t", Lang: "en", Phrase: &Phrase{Catalog: [32]byte{1}, Code: "ENC-INTENT", Fields: []FieldValue{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}}},
		&Message{Text: "t", Lang: "en", Unofficial: []Rendering{{Lang: "zh-Hans", Text: "u"}}},
		&Translation{Of: *re, Lang: "zh-Hans", Stage: StageOfficial, Translator: "T", Text: "x"},
		&Config{Action: ActionPropose, Definition: &Definition{Name: "c", Level: "theatre", Proposer: "alpha", Catalog: &[32]byte{2}, Lang: "zh-Hans",
			Members: []Member{{Party: "alpha", Key: "k"}, {Party: "bravo", Key: "k"}}, Policy: &Policy{NoticeLead: 1000}}},
		&Message{Text: "t", Precedence: Flash, AckWithin: 60000},
		&KeyChange{Key: "alpha+01234567+AQ", TLS: "sha256:" + strings.Repeat("ab", 32), Sig: make([]byte, 64)},
		&Roster{Keys: []RosterKey{{Operator: "duty", Role: "duty director", Key: PersonalKey{Type: KeyEd25519, Public: make([]byte, 32)}, From: 1}}},
		&Message{Text: "t", Releases: []Release{{Operator: "duty", Key: PersonalKey{Type: KeyWebAuthn, Public: []byte{1}, ID: []byte{2}, RPID: "localhost"}, Sig: []byte{3}, AuthData: []byte{4}, ClientData: []byte("{}")}}},
		&Config{Action: ActionPropose, Definition: &Definition{Name: "c", Level: "strategic", Proposer: "alpha",
			Members: []Member{{Party: "alpha", Key: "k"}, {Party: "bravo", Key: "k"}}, Policy: &Policy{PrecedenceAck: &PrecedenceAck{Flash: 60000}, RecordCalls: true}}},
		&Call{Action: CallHeld, Re: re, Sigs: []PartySig{{Party: "alpha", Sig: make([]byte, 64)}}, Held: &Held{Start: 1000, End: 9000, Sections: []HeldSection{
			{Party: "alpha", Start: 1000, End: 9000, Attendance: []Attendance{{Role: "minister", Operator: "ann", Joined: 1000, Left: 8000}},
				Recordings: []RecordingHash{{File: "a.wav", SHA256: make([]byte, 32), Bytes: 44, Millis: 8000}},
				Quality:    []CallQuality{{From: "bravo", Received: 400, Lost: 20, JitterUs: 3000, RTTUs: 300000, LatencyUs: 190000, Breaks: 1}}},
			{Party: "bravo", Start: 2000, End: 9000}}}},
		&Call{Action: CallReadout, Re: re, Record: re, Text: "t"},
	} {
		b, err := EncodeBody(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(0), b)
	}
	kinds := []Kind{KindMessage, KindReceipt, KindRead, KindAck, KindConfig, KindCall, KindEscalation, KindDirectory, KindTranslation, KindKey, KindRoster}
	f.Fuzz(func(t *testing.T, k uint8, body []byte) {
		kind := kinds[int(k)%len(kinds)]
		e, err := Sign(Header{Channel: ChannelID{7}, Author: "alpha", Seq: 2, Prev: ID{9}, Time: 1, Kind: kind}, body, priv)
		if err != nil {
			return
		}
		v, err := DecodeBody(e)
		if err != nil {
			return
		}
		if c, ok := v.(interface{ Check() error }); ok && c.Check() != nil {
			t.Fatalf("%s body accepted but fails its check", kind)
		}
	})
}

func TestMessage_PhrasesAndTranslationsAreChecked(t *testing.T) {
	ok := func() *Message {
		return &Message{Text: "t", Lang: "en", Phrase: &Phrase{Code: "X", Fields: []FieldValue{{Name: "a", Value: "1"}, {Name: "b", Value: "2"}}},
			Unofficial: nil}
	}
	if err := ok().Check(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(m *Message){
		"unsorted fields":       func(m *Message) { m.Phrase.Fields[0].Name = "c" },
		"repeated field":        func(m *Message) { m.Phrase.Fields[1].Name = "a" },
		"empty value":           func(m *Message) { m.Phrase.Fields[0].Value = "" },
		"no code":               func(m *Message) { m.Phrase.Code = "" },
		"phrase without lang":   func(m *Message) { m.Lang = "" },
		"translation same lang": func(m *Message) { m.Phrase = nil; m.Unofficial = []Rendering{{Lang: "en", Text: "x"}} },
		"translations unsorted": func(m *Message) {
			m.Phrase = nil
			m.Unofficial = []Rendering{{Lang: "zh", Text: "x"}, {Lang: "ru", Text: "y"}}
		},
		"translation bad tag":    func(m *Message) { m.Phrase = nil; m.Unofficial = []Rendering{{Lang: "zh Hans", Text: "x"}} },
		"translation empty text": func(m *Message) { m.Phrase = nil; m.Unofficial = []Rendering{{Lang: "zh", Text: ""}} },
	} {
		m := ok()
		f(m)
		if err := m.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	tr := Translation{Of: Ref{Party: "alpha", Seq: 1}, Lang: "zh-Hans", Stage: StageRough, Translator: "T", Text: "x"}
	if err := tr.Check(); err != nil {
		t.Fatal(err)
	}
	for name, f := range map[string]func(t *Translation){
		"stage":      func(t *Translation) { t.Stage = "final" },
		"lang":       func(t *Translation) { t.Lang = "" },
		"translator": func(t *Translation) { t.Translator = "" },
		"text":       func(t *Translation) { t.Text = "" },
		"party":      func(t *Translation) { t.Of.Party = "" },
	} {
		c := tr
		f(&c)
		if err := c.Check(); err == nil {
			t.Errorf("translation with bad %s: accepted", name)
		}
	}
}

// TestDecode_ImpossibleTimes: a signed entry dated outside 1970–2200 is
// malformed, so a hostile author cannot store a time that readers cannot
// show (RFC 3339, and so JSON, stops at year 9999).
func TestDecode_ImpossibleTimes(t *testing.T) {
	_, priv := mustKey(t, 1)
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	for name, ms := range map[string]int64{"year 10000": year10000, "before 1970": -1, "year 2200": MaxTime} {
		t.Run(name, func(t *testing.T) {
			h := Header{Version: Version, Channel: ChannelID{1}, Author: "alpha", Seq: 1, Time: ms, Kind: KindMessage, BodyHash: sha256.Sum256(nil)}
			hb, err := encMode.Marshal(h)
			if err != nil {
				t.Fatal(err)
			}
			e := &Entry{Header: h, HeaderBytes: hb, Sig: ed25519.Sign(priv, signedMessage(hb))}
			if _, err := Decode(e.Encode()); !errors.Is(err, ErrMalformed) || !strings.Contains(err.Error(), "outside the times") {
				t.Fatalf("Decode = %v, want a malformed time", err)
			}
			if _, err := Sign(h, nil, priv); !errors.Is(err, ErrMalformed) {
				t.Fatalf("Sign = %v, want a malformed time", err)
			}
		})
	}
	for name, body := range map[string]interface{ Check() error }{
		"call time":           &Call{Action: CallPropose, Purpose: "p", Times: []int64{year10000}, Minutes: 30, Participants: []Participant{{"alpha", "minister"}}, Level: "policy"},
		"escalation deadline": &Escalation{Entry: Ref{Party: "alpha", Seq: 1, ID: ID{1}}, Deadline: year10000, Text: "late"},
	} {
		if err := body.Check(); !errors.Is(err, ErrMalformed) {
			t.Fatalf("%s in year 10000 passed its check: %v", name, err)
		}
	}
}
