package entry

import (
	"fmt"
	"slices"
	"time"
)

// Precedences of a message, in the sense of military message handling:
// how fast it must be handled. A message without one is ROUTINE; the
// body carries no precedence for it, so each meaning has one encoding.
const (
	Flash     = "flash"
	Immediate = "immediate"
	Priority  = "priority"
	Routine   = "routine"
)

// Precedences are the precedences from the highest down.
var Precedences = []string{Flash, Immediate, Priority, Routine}

// PrecedenceRank orders precedences from the highest (0, FLASH) down;
// "" is ROUTINE.
func PrecedenceRank(p string) int {
	if p == "" {
		p = Routine
	}
	if i := slices.Index(Precedences, p); i >= 0 {
		return i
	}
	return len(Precedences)
}

// PrecedenceObjective is how soon a message of precedence p is to be
// acknowledged when the channel's policy agrees no time for it: FLASH 10
// minutes, IMMEDIATE 30 minutes, PRIORITY 3 hours (the speed-of-service
// objectives of military message handling). ROUTINE has none here: it
// takes the channel's own default.
func PrecedenceObjective(p string) time.Duration {
	switch p {
	case Flash:
		return 10 * time.Minute
	case Immediate:
		return 30 * time.Minute
	case Priority:
		return 3 * time.Hour
	}
	return 0
}

// checkPrecedence accepts the precedences a body may carry: none
// (ROUTINE), or one above it.
func checkPrecedence(p string) error {
	switch p {
	case "", Flash, Immediate, Priority:
		return nil
	case Routine:
		return fmt.Errorf("%w: a routine message carries no precedence (leave it out)", ErrMalformed)
	}
	return fmt.Errorf("%w: precedence %q: use flash, immediate or priority, or none for routine", ErrMalformed, p)
}

// PrecedenceAck is a channel's agreed acknowledgement time for each
// precedence above ROUTINE, in milliseconds; zero means the objective
// (PrecedenceObjective), capped by the channel's routine default.
type PrecedenceAck struct {
	Flash     int64 `cbor:"1,keyasint,omitempty"`
	Immediate int64 `cbor:"2,keyasint,omitempty"`
	Priority  int64 `cbor:"3,keyasint,omitempty"`
}

func (a *PrecedenceAck) check() error {
	for _, v := range []int64{a.Flash, a.Immediate, a.Priority} {
		if v < 0 || time.Duration(v)*time.Millisecond > MaxAckWithin {
			return fmt.Errorf("%w: acknowledgement time of a precedence must be between 0 and %s", ErrMalformed, MaxAckWithin)
		}
	}
	return nil
}

// AckFor returns the acknowledgement time a message of precedence p gets
// when its sender sets none, given routine, the channel's default for a
// routine message (its policy's, or its level's; zero: none): an agreed
// time for p, else p's objective, but never longer than routine.
func (p *Policy) AckFor(prec string, routine time.Duration) time.Duration {
	if prec == "" || prec == Routine {
		return routine
	}
	if p != nil && p.PrecedenceAck != nil {
		var agreed int64
		switch prec {
		case Flash:
			agreed = p.PrecedenceAck.Flash
		case Immediate:
			agreed = p.PrecedenceAck.Immediate
		case Priority:
			agreed = p.PrecedenceAck.Priority
		}
		if agreed > 0 {
			return time.Duration(agreed) * time.Millisecond
		}
	}
	obj := PrecedenceObjective(prec)
	if routine > 0 && routine < obj {
		return routine
	}
	return obj
}
