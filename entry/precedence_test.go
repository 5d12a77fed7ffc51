package entry

import (
	"errors"
	"testing"
	"time"
)

// A message carries FLASH, IMMEDIATE or PRIORITY, or nothing for ROUTINE:
// "routine" spelled out, or anything else, is refused, so each meaning
// has one encoding.
func TestPrecedence_OneEncodingEach(t *testing.T) {
	for _, p := range []string{"", Flash, Immediate, Priority} {
		m := &Message{Text: "x", Precedence: p}
		if err := m.Check(); err != nil {
			t.Errorf("precedence %q: %v", p, err)
		}
		b, err := EncodeBody(m)
		if err != nil {
			t.Fatal(err)
		}
		back, err := DecodeBody(&Entry{Header: Header{Kind: KindMessage}, Body: b})
		if err != nil || back.(*Message).Precedence != p {
			t.Errorf("precedence %q does not round-trip: %v", p, err)
		}
	}
	for _, p := range []string{Routine, "FLASH", "override"} {
		if err := (&Message{Text: "x", Precedence: p}).Check(); !errors.Is(err, ErrMalformed) {
			t.Errorf("precedence %q: %v; want malformed", p, err)
		}
	}
	if err := (&Policy{PrecedenceAck: &PrecedenceAck{}}).Check(); !errors.Is(err, ErrMalformed) {
		t.Errorf("empty precedence policy: %v", err)
	}
	if err := (&Policy{PrecedenceAck: &PrecedenceAck{Flash: -1}}).Check(); !errors.Is(err, ErrMalformed) {
		t.Errorf("negative precedence time: %v", err)
	}
	if PrecedenceRank(Flash) >= PrecedenceRank(Immediate) || PrecedenceRank(Priority) >= PrecedenceRank("") {
		t.Error("precedences are not ranked from FLASH down")
	}
}

// Without an agreed time, a precedence gets its objective, but never
// longer than a routine message in the same channel; an agreed time wins.
func TestPolicy_AckFor(t *testing.T) {
	var none *Policy
	agreed := &Policy{PrecedenceAck: &PrecedenceAck{Flash: 90_000}}
	for _, c := range []struct {
		p       *Policy
		prec    string
		routine time.Duration
		want    time.Duration
	}{
		{none, Flash, 24 * time.Hour, 10 * time.Minute},
		{none, Priority, 24 * time.Hour, 3 * time.Hour},
		{none, Flash, 2 * time.Minute, 2 * time.Minute}, // a frontline channel is faster already
		{none, Immediate, 0, 30 * time.Minute},          // no routine deadline: the objective
		{none, "", 24 * time.Hour, 24 * time.Hour},
		{agreed, Flash, 24 * time.Hour, 90 * time.Second},
		{agreed, Immediate, 24 * time.Hour, 30 * time.Minute},
	} {
		if got := c.p.AckFor(c.prec, c.routine); got != c.want {
			t.Errorf("AckFor(%q, %s) = %s; want %s", c.prec, c.routine, got, c.want)
		}
	}
}
