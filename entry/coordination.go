package entry

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"fmt"
	"slices"
	"time"
)

// Limits on the coordination bodies: policies, calls, escalations and
// directories.
const (
	MaxShortText     = 256 // names, forms of address, purposes, reasons
	MaxCallTimes     = 8   // times proposed in one call request
	MaxCounterparts  = 64  // counterparts in one directory
	MaxLanguages     = 8   // languages of one counterpart
	MaxAlternates    = 8   // alternates of one counterpart
	MaxCallWithin    = 30 * 24 * time.Hour
	MaxCallMinutes   = 24 * 60
	DefaultCallReply = 48 * time.Hour // response deadline of a call request when the channel sets none
)

// Policy is a channel's agreed acknowledgement and escalation policy. It is
// part of the channel definition, so every member signs it by accepting.
type Policy struct {
	// AckWithin is the acknowledgement deadline, in milliseconds, a
	// message gets when its sender sets none; zero means messages need no
	// acknowledgement unless their sender asks for one.
	AckWithin int64 `cbor:"1,keyasint,omitempty"`
	// CallWithin is how long, in milliseconds, the other members have to
	// answer a call request; zero means DefaultCallReply.
	CallWithin int64 `cbor:"2,keyasint,omitempty"`
	// EscalateTo is the higher-level channel, with the same members, into
	// which an unanswered entry is escalated; nil means none.
	EscalateTo *ChannelID `cbor:"3,keyasint,omitempty"`
	// NoticeLead is how long, in milliseconds, before the event a notice
	// (such as a missile launch notice) must be sent; zero means
	// DefaultNoticeLead.
	NoticeLead int64 `cbor:"4,keyasint,omitempty"`
	// PrecedenceAck is the agreed acknowledgement time of messages above
	// ROUTINE, by precedence; nil: their objectives (AckFor).
	PrecedenceAck *PrecedenceAck `cbor:"5,keyasint,omitempty"`
	// Release requires messages at or above a precedence to be released
	// by operators other than their drafter; nil: none is required.
	Release *ReleaseRule `cbor:"6,keyasint,omitempty"`
	// RecordCalls has each party's node record the calls it holds in the
	// channel, on its own side, and put each recording's SHA-256 in the
	// held record; false: nothing is recorded.
	RecordCalls bool `cbor:"7,keyasint,omitempty"`
}

// ReleaseRule is a channel's agreed release authority: each message at
// or above Precedence carries the personal signatures of Releasers
// operators other than its drafter, which the party's roster in the
// channel lists.
type ReleaseRule struct {
	Precedence string `cbor:"1,keyasint"` // routine: every message
	Releasers  int64  `cbor:"2,keyasint"`
}

// MaxReleasers bounds the releasers a rule may require.
const MaxReleasers = 3

// ReleasersFor returns how many operators other than the drafter must
// release a message of precedence prec ("" is routine): 0 when none.
func (p *Policy) ReleasersFor(prec string) int {
	if p == nil || p.Release == nil || PrecedenceRank(prec) > PrecedenceRank(p.Release.Precedence) {
		return 0
	}
	return int(p.Release.Releasers)
}

// DefaultNoticeLead is the lead time of launch notices when the channel's
// agreement sets none: 24 hours, as in the 1988 agreement on notifications
// of launches of ballistic missiles.
const DefaultNoticeLead = 24 * time.Hour

// MaxNoticeLead bounds an agreed notice lead time.
const MaxNoticeLead = 90 * 24 * time.Hour

// NoticeLeadTime returns the notice lead time the policy sets.
func (p *Policy) NoticeLeadTime() time.Duration {
	if p == nil || p.NoticeLead == 0 {
		return DefaultNoticeLead
	}
	return time.Duration(p.NoticeLead) * time.Millisecond
}

// Check validates a policy.
func (p *Policy) Check() error {
	if p.AckWithin < 0 || time.Duration(p.AckWithin)*time.Millisecond > MaxAckWithin {
		return fmt.Errorf("%w: acknowledgement deadline must be between 0 and %s", ErrMalformed, MaxAckWithin)
	}
	if p.CallWithin < 0 || time.Duration(p.CallWithin)*time.Millisecond > MaxCallWithin {
		return fmt.Errorf("%w: call response deadline must be between 0 and %s", ErrMalformed, MaxCallWithin)
	}
	if p.NoticeLead < 0 || time.Duration(p.NoticeLead)*time.Millisecond > MaxNoticeLead {
		return fmt.Errorf("%w: notice lead time must be between 0 and %s", ErrMalformed, MaxNoticeLead)
	}
	if r := p.Release; r != nil {
		if !slices.Contains(Precedences, r.Precedence) || r.Releasers < 1 || r.Releasers > MaxReleasers {
			return fmt.Errorf("%w: a release rule names a precedence (flash, immediate, priority or routine) and 1 to %d releasers", ErrMalformed, MaxReleasers)
		}
	}
	if p.PrecedenceAck != nil {
		if *p.PrecedenceAck == (PrecedenceAck{}) {
			return fmt.Errorf("%w: an empty precedence policy is left out", ErrMalformed)
		}
		return p.PrecedenceAck.check()
	}
	return nil
}

// CallReplyWithin returns the call response deadline the policy sets.
func (p *Policy) CallReplyWithin() time.Duration {
	if p == nil || p.CallWithin == 0 {
		return DefaultCallReply
	}
	return time.Duration(p.CallWithin) * time.Millisecond
}

// Call actions.
const (
	// CallPropose requests a call; with Re set, it answers the request Re
	// by proposing other times (a counter-proposal).
	CallPropose = "propose"
	CallAccept  = "accept"  // accepts one proposed time of request Re
	CallDecline = "decline" // declines request Re, with a reason
	// CallLapse records, by the requester, that request Re got no answer
	// before its response deadline.
	CallLapse = "lapse"
	// CallReadout is the author's account of call Re; with Sigs it is a
	// draft joint readout, signed by its author.
	CallReadout = "readout"
	// CallCosign co-signs the joint readout Draft of call Re: it carries
	// the same text with every signature gathered so far, its author's
	// included.
	CallCosign = "cosign"
	// CallHeld records that call Re was held: Held says when, who of
	// each party was on it, the SHA-256 of each party's recordings and
	// how its audio came in. Without Draft it is written by the
	// requester, with its signature in Sigs; with Draft (the requester's
	// record) it is another party's co-signature, carrying the same
	// record and every signature gathered so far.
	CallHeld = "held"
)

// Participant is one person in a call, named by party and directory role.
type Participant struct {
	Party string `cbor:"1,keyasint" json:"party"`
	Role  string `cbor:"2,keyasint" json:"role"`
}

// PartySig is one party's Ed25519 signature over a joint statement.
type PartySig struct {
	Party string `cbor:"1,keyasint"`
	Sig   []byte `cbor:"2,keyasint"`
}

// Call is the body of a call entry.
type Call struct {
	Action       string        `cbor:"1,keyasint"`
	Re           *Ref          `cbor:"2,keyasint,omitempty"` // the request answered or reported on
	Purpose      string        `cbor:"3,keyasint,omitempty"`
	Times        []int64       `cbor:"4,keyasint,omitempty"` // Unix milliseconds, ascending
	Minutes      uint32        `cbor:"5,keyasint,omitempty"` // planned length
	Participants []Participant `cbor:"6,keyasint,omitempty"`
	Level        string        `cbor:"7,keyasint,omitempty"` // who talks: a level name
	Reason       string        `cbor:"8,keyasint,omitempty"`
	Text         string        `cbor:"9,keyasint,omitempty"`
	Lang         string        `cbor:"10,keyasint,omitempty"`
	Draft        *Ref          `cbor:"11,keyasint,omitempty"` // cosign: the joint readout draft
	Sigs         []PartySig    `cbor:"12,keyasint,omitempty"` // joint readouts, sorted by party
	Held         *Held         `cbor:"13,keyasint,omitempty"` // held records
	// Record is the held record of the call a readout reports on, when
	// its author held one.
	Record *Ref `cbor:"14,keyasint,omitempty"`
}

// Limits on held records.
const (
	MaxAttendance = 256 // joins of one party's people to one call
	MaxRecordings = 16  // recordings one party kept of one call
)

// Held is the record of a call that was held, one section per party that
// was on it, sorted by party.
type Held struct {
	Start    int64         `cbor:"1,keyasint"` // Unix ms: the first party's first join
	End      int64         `cbor:"2,keyasint"` // the last party's last leave
	Sections []HeldSection `cbor:"3,keyasint"`
}

// HeldSection is one party's account of a call: its people's attendance,
// its recordings, and how each other party's audio came in.
type HeldSection struct {
	Party      string          `cbor:"1,keyasint"`
	Start      int64           `cbor:"2,keyasint"`
	End        int64           `cbor:"3,keyasint"`
	Attendance []Attendance    `cbor:"4,keyasint,omitempty"`
	Recordings []RecordingHash `cbor:"5,keyasint,omitempty"`
	Quality    []CallQuality   `cbor:"6,keyasint,omitempty"`
}

// Attendance is one person's time on a call, by directory role.
type Attendance struct {
	Role        string `cbor:"1,keyasint"`
	Operator    string `cbor:"2,keyasint,omitempty"`
	Interpreter bool   `cbor:"3,keyasint,omitempty"`
	Joined      int64  `cbor:"4,keyasint"`
	Left        int64  `cbor:"5,keyasint"`
}

// RecordingHash names a recording its party keeps, by SHA-256.
type RecordingHash struct {
	File   string `cbor:"1,keyasint"`
	SHA256 []byte `cbor:"2,keyasint"`
	Bytes  int64  `cbor:"3,keyasint"`
	Millis int64  `cbor:"4,keyasint"` // its length
}

// CallQuality is how the audio from party From came in over a call.
type CallQuality struct {
	From      string `cbor:"1,keyasint"`
	Received  int64  `cbor:"2,keyasint"` // packets
	Lost      int64  `cbor:"3,keyasint"`
	JitterUs  int64  `cbor:"4,keyasint"` // highest interarrival jitter, µs
	RTTUs     int64  `cbor:"5,keyasint"` // highest round trip, µs
	LatencyUs int64  `cbor:"6,keyasint"` // highest estimated one-way delay, µs
	Breaks    int64  `cbor:"7,keyasint,omitempty"`
}

// Check validates a held record.
func (h *Held) Check() error {
	if h.Start <= 0 || h.End < h.Start {
		return fmt.Errorf("%w: a held call ends (%d) before it starts (%d)", ErrMalformed, h.End, h.Start)
	}
	if err := CheckTime("call start", h.Start); err != nil {
		return err
	}
	if len(h.Sections) == 0 || len(h.Sections) > MaxMembers {
		return fmt.Errorf("%w: a held record has 1 to %d sections, got %d", ErrMalformed, MaxMembers, len(h.Sections))
	}
	for i, s := range h.Sections {
		if err := CheckName("section party", s.Party); err != nil {
			return err
		}
		if i > 0 && h.Sections[i-1].Party >= s.Party {
			return fmt.Errorf("%w: sections must be sorted by party, without repeats", ErrMalformed)
		}
		if s.Start < h.Start || s.End > h.End || s.End < s.Start {
			return fmt.Errorf("%w: %s's section runs outside the call", ErrMalformed, s.Party)
		}
		if len(s.Attendance) > MaxAttendance || len(s.Recordings) > MaxRecordings || len(s.Quality) > MaxMembers {
			return fmt.Errorf("%w: %s's section: %d joins (limit %d), %d recordings (limit %d), %d links", ErrTooLarge,
				s.Party, len(s.Attendance), MaxAttendance, len(s.Recordings), MaxRecordings, len(s.Quality))
		}
		for _, a := range s.Attendance {
			if err := CheckName("attendance role", a.Role); err != nil {
				return err
			}
			if err := checkShort("operator", a.Operator, false); err != nil {
				return err
			}
			if a.Joined < s.Start || a.Left < a.Joined || a.Left > s.End {
				return fmt.Errorf("%w: %s/%s joined at %d and left at %d, outside the section", ErrMalformed, s.Party, a.Role, a.Joined, a.Left)
			}
		}
		for _, r := range s.Recordings {
			if err := checkShort("recording file", r.File, true); err != nil {
				return err
			}
			if len(r.SHA256) != sha256.Size || r.Bytes < 0 || r.Millis < 0 {
				return fmt.Errorf("%w: recording %s: a SHA-256 and a size", ErrMalformed, r.File)
			}
		}
		for _, q := range s.Quality {
			if err := CheckName("quality party", q.From); err != nil {
				return err
			}
			if q.Received < 0 || q.Lost < 0 || q.JitterUs < 0 || q.RTTUs < 0 || q.LatencyUs < 0 || q.Breaks < 0 {
				return fmt.Errorf("%w: %s's quality of %s: negative figures", ErrMalformed, s.Party, q.From)
			}
		}
	}
	return nil
}

// Section returns party's section, if the record has one.
func (h *Held) Section(party string) (*HeldSection, bool) {
	for i := range h.Sections {
		if h.Sections[i].Party == party {
			return &h.Sections[i], true
		}
	}
	return nil, false
}

// Check validates a call body.
func (c *Call) Check() error {
	needRe := c.Action != CallPropose
	if needRe && c.Re == nil {
		return fmt.Errorf("%w: a call %s names the request it answers", ErrMalformed, c.Action)
	}
	if c.Re != nil {
		if err := checkRef("call request", *c.Re); err != nil {
			return err
		}
	}
	switch c.Action {
	case CallPropose:
		if err := checkShort("call purpose", c.Purpose, true); err != nil {
			return err
		}
		if len(c.Times) == 0 || len(c.Times) > MaxCallTimes {
			return fmt.Errorf("%w: a call request proposes 1 to %d times, got %d", ErrMalformed, MaxCallTimes, len(c.Times))
		}
		for i, t := range c.Times {
			if t <= 0 || (i > 0 && c.Times[i-1] >= t) {
				return fmt.Errorf("%w: proposed times must be positive, ascending, without repeats", ErrMalformed)
			}
			if err := CheckTime("proposed call time", t); err != nil {
				return err
			}
		}
		if c.Minutes == 0 || c.Minutes > MaxCallMinutes {
			return fmt.Errorf("%w: call length must be 1 to %d minutes", ErrMalformed, MaxCallMinutes)
		}
		if len(c.Participants) == 0 || len(c.Participants) > MaxCounterparts {
			return fmt.Errorf("%w: a call request names 1 to %d participants", ErrMalformed, MaxCounterparts)
		}
		for i, p := range c.Participants {
			if err := CheckName("participant party", p.Party); err != nil {
				return err
			}
			if err := CheckName("participant role", p.Role); err != nil {
				return err
			}
			if i > 0 && (c.Participants[i-1].Party > p.Party || c.Participants[i-1] == p ||
				(c.Participants[i-1].Party == p.Party && c.Participants[i-1].Role > p.Role)) {
				return fmt.Errorf("%w: participants must be sorted by party and role, without repeats", ErrMalformed)
			}
		}
		if err := CheckName("call level", c.Level); err != nil {
			return err
		}
		return c.only("propose", c.Held == nil && c.Record == nil && c.Reason == "" && c.Text == "" && c.Lang == "" && c.Draft == nil && c.Sigs == nil)
	case CallAccept:
		if len(c.Times) != 1 || c.Times[0] <= 0 {
			return fmt.Errorf("%w: a call acceptance names exactly one of the proposed times", ErrMalformed)
		}
		if err := CheckTime("accepted call time", c.Times[0]); err != nil {
			return err
		}
		return c.only("accept", c.Held == nil && c.Record == nil && c.Purpose == "" && c.Minutes == 0 && c.Participants == nil && c.Level == "" && c.Reason == "" && c.Text == "" && c.Lang == "" && c.Draft == nil && c.Sigs == nil)
	case CallDecline:
		if err := checkText("reason", c.Reason, true); err != nil {
			return err
		}
		return c.only("decline", c.Held == nil && c.Record == nil && c.Purpose == "" && c.Times == nil && c.Minutes == 0 && c.Participants == nil && c.Level == "" && c.Text == "" && c.Lang == "" && c.Draft == nil && c.Sigs == nil)
	case CallLapse:
		return c.only("lapse", c.Held == nil && c.Record == nil && c.Purpose == "" && c.Times == nil && c.Minutes == 0 && c.Participants == nil && c.Level == "" && c.Reason == "" && c.Text == "" && c.Lang == "" && c.Draft == nil && c.Sigs == nil)
	case CallHeld:
		if c.Held == nil {
			return fmt.Errorf("%w: a held record carries the record", ErrMalformed)
		}
		if err := c.Held.Check(); err != nil {
			return err
		}
		if c.Draft == nil && len(c.Sigs) != 1 || c.Draft != nil && len(c.Sigs) < 2 {
			return fmt.Errorf("%w: a held record carries its author's signature; a co-signature, two or more", ErrMalformed)
		}
		if c.Draft != nil {
			if err := checkRef("held record", *c.Draft); err != nil {
				return err
			}
		}
		if err := c.checkSigs(); err != nil {
			return err
		}
		return c.only(c.Action, c.Purpose == "" && c.Times == nil && c.Minutes == 0 && c.Participants == nil && c.Level == "" && c.Reason == "" && c.Text == "" && c.Lang == "" && c.Record == nil)
	case CallReadout, CallCosign:
		if c.Record != nil {
			if err := checkRef("held record", *c.Record); err != nil {
				return err
			}
		}
		if err := checkText("readout", c.Text, true); err != nil {
			return err
		}
		if len(c.Lang) > MaxLangBytes {
			return fmt.Errorf("%w: language tag is %d bytes, limit %d", ErrTooLarge, len(c.Lang), MaxLangBytes)
		}
		if c.Action == CallCosign {
			if c.Draft == nil || len(c.Sigs) < 2 {
				return fmt.Errorf("%w: a co-signature names the draft and carries two or more signatures", ErrMalformed)
			}
			if err := checkRef("joint readout draft", *c.Draft); err != nil {
				return err
			}
		} else if c.Draft != nil || len(c.Sigs) > 1 {
			return fmt.Errorf("%w: a readout carries at most its author's signature", ErrMalformed)
		}
		if err := c.checkSigs(); err != nil {
			return err
		}
		return c.only(c.Action, c.Purpose == "" && c.Times == nil && c.Minutes == 0 && c.Participants == nil && c.Level == "" && c.Reason == "" && c.Held == nil)
	}
	return fmt.Errorf("%w: unknown call action %q", ErrMalformed, c.Action)
}

// checkSigs checks the form of the parties' signatures.
func (c *Call) checkSigs() error {
	if len(c.Sigs) > MaxMembers {
		return fmt.Errorf("%w: %d signatures, limit %d", ErrTooLarge, len(c.Sigs), MaxMembers)
	}
	for i, s := range c.Sigs {
		if err := CheckName("signing party", s.Party); err != nil {
			return err
		}
		if len(s.Sig) != ed25519.SignatureSize {
			return fmt.Errorf("%w: signature of %s is %d bytes", ErrMalformed, s.Party, len(s.Sig))
		}
		if i > 0 && c.Sigs[i-1].Party >= s.Party {
			return fmt.Errorf("%w: signatures must be sorted by party, without repeats", ErrMalformed)
		}
	}
	return nil
}

// only reports a malformed body when ok is false: the action carries a
// field it does not use.
func (c *Call) only(action string, ok bool) error {
	if !ok {
		return fmt.Errorf("%w: a call %s carries fields it does not use", ErrMalformed, action)
	}
	return nil
}

// Joint returns whether the readout is a joint readout (it carries
// signatures over one text).
func (c *Call) Joint() bool {
	return (c.Action == CallReadout || c.Action == CallCosign) && len(c.Sigs) > 0
}

// jointDomain separates joint-readout signatures from every other use of a
// party's key.
const jointDomain = "hotline joint readout v1\n"

// JointStatement returns the bytes each party signs for a joint readout of
// call request re in channel ch: the domain, the channel id, the request's
// entry id, the language tag and the SHA-256 of the text.
func JointStatement(ch ChannelID, re ID, lang, text string) []byte {
	h := sha256.Sum256([]byte(text))
	msg := []byte(jointDomain)
	msg = append(msg, ch[:]...)
	msg = append(msg, re[:]...)
	msg = append(msg, byte(len(lang)))
	msg = append(msg, lang...)
	return append(msg, h[:]...)
}

// SignJoint returns party's signature of a joint readout.
func SignJoint(party string, key crypto.Signer, ch ChannelID, re ID, lang, text string) (PartySig, error) {
	sig, err := SignBytes(key, JointStatement(ch, re, lang, text))
	return PartySig{Party: party, Sig: sig}, err
}

// heldDomain separates held-record signatures from every other use of a
// party's key.
const heldDomain = "hotline call held v1\n"

// HeldStatement returns the bytes each party signs for the held record h
// of call request re in channel ch: the domain, the channel id, the
// request's entry id and the SHA-256 of the record's canonical encoding.
func HeldStatement(ch ChannelID, re ID, h *Held) []byte {
	enc, _ := Marshal(h)
	sum := sha256.Sum256(enc)
	msg := []byte(heldDomain)
	msg = append(msg, ch[:]...)
	msg = append(msg, re[:]...)
	return append(msg, sum[:]...)
}

// VerifyJoint checks every signature of a joint readout or held record
// of request re in channel ch; keysOf returns the keys a party may have signed it with (its
// keys in the channel so far: more than one once it rotated). It returns
// the parties whose signatures hold, or an error naming the first that
// does not.
func VerifyJoint(c *Call, ch ChannelID, keysOf func(party string) []ed25519.PublicKey) ([]string, error) {
	what := "joint readout"
	if c.Action == CallHeld {
		what = "held record"
	}
	if c.Re == nil {
		return nil, fmt.Errorf("%w: %s names no call", ErrMalformed, what)
	}
	msg := JointStatement(ch, c.Re.ID, c.Lang, c.Text)
	if c.Action == CallHeld {
		msg = HeldStatement(ch, c.Re.ID, c.Held)
	}
	var ok []string
	for _, s := range c.Sigs {
		keys := keysOf(s.Party)
		if len(keys) == 0 {
			return nil, fmt.Errorf("%w: %s signed by %s, whose key is not known", ErrBadSignature, what, s.Party)
		}
		if !slices.ContainsFunc(keys, func(pub ed25519.PublicKey) bool { return ed25519.Verify(pub, msg, s.Sig) }) {
			return nil, fmt.Errorf("%w: %s's signature of the %s", ErrBadSignature, s.Party, what)
		}
		ok = append(ok, s.Party)
	}
	return ok, nil
}

// Escalation is the body of an escalation entry: in a higher-level channel
// with the same members, the author reports that an entry it is owed an
// answer for in channel Source was left unanswered past its deadline.
type Escalation struct {
	Source   ChannelID `cbor:"1,keyasint"`
	Entry    Ref       `cbor:"2,keyasint"`
	Deadline int64     `cbor:"3,keyasint"` // when it fell due, by the author's clock, Unix milliseconds
	Text     string    `cbor:"4,keyasint"` // what is unanswered, for the reader
}

// Check validates an escalation body.
func (e *Escalation) Check() error {
	if err := checkRef("escalated entry", e.Entry); err != nil {
		return err
	}
	if e.Deadline <= 0 {
		return fmt.Errorf("%w: escalation without a deadline", ErrMalformed)
	}
	if err := CheckTime("escalation deadline", e.Deadline); err != nil {
		return err
	}
	return checkText("escalation text", e.Text, true)
}

// Counterpart is one person a party names as its counterpart at a level.
type Counterpart struct {
	Level      string   `cbor:"1,keyasint" json:"level"`
	Role       string   `cbor:"2,keyasint" json:"role"` // stable name that call requests address
	Name       string   `cbor:"3,keyasint" json:"name"`
	Address    string   `cbor:"4,keyasint,omitempty" json:"address,omitempty"`    // form of address
	Languages  []string `cbor:"5,keyasint,omitempty" json:"languages,omitempty"`  // BCP 47 tags, preferred first
	Alternates []string `cbor:"6,keyasint,omitempty" json:"alternates,omitempty"` // who stands in, by name
}

// Directory is the body of a directory entry: the author party's
// counterparts. The newest directory entry of a feed replaces older ones.
type Directory struct {
	Counterparts []Counterpart `cbor:"1,keyasint"`
}

// Check validates a directory body.
func (d *Directory) Check() error {
	if len(d.Counterparts) > MaxCounterparts {
		return fmt.Errorf("%w: %d counterparts, limit %d", ErrTooLarge, len(d.Counterparts), MaxCounterparts)
	}
	for i, c := range d.Counterparts {
		if err := CheckName("counterpart level", c.Level); err != nil {
			return err
		}
		if err := CheckName("counterpart role", c.Role); err != nil {
			return err
		}
		if slices.ContainsFunc(d.Counterparts[:i], func(o Counterpart) bool { return o.Role == c.Role }) {
			return fmt.Errorf("%w: role %s is listed twice", ErrMalformed, c.Role)
		}
		for _, f := range []struct{ what, s string }{{"counterpart name", c.Name}, {"form of address", c.Address}} {
			if err := checkShort(f.what, f.s, f.what == "counterpart name"); err != nil {
				return err
			}
		}
		if len(c.Languages) > MaxLanguages || len(c.Alternates) > MaxAlternates {
			return fmt.Errorf("%w: counterpart %s lists too many languages or alternates", ErrTooLarge, c.Role)
		}
		for _, l := range c.Languages {
			if l == "" || len(l) > MaxLangBytes {
				return fmt.Errorf("%w: counterpart %s has a bad language tag", ErrMalformed, c.Role)
			}
		}
		for _, a := range c.Alternates {
			if err := checkShort("alternate", a, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// Role returns the counterpart with role, if listed; a nil directory
// lists none.
func (d *Directory) Role(role string) (Counterpart, bool) {
	if d == nil {
		return Counterpart{}, false
	}
	for _, c := range d.Counterparts {
		if c.Role == role {
			return c, true
		}
	}
	return Counterpart{}, false
}

func checkShort(what, s string, required bool) error {
	if err := checkText(what, s, required); err != nil {
		return err
	}
	if len(s) > MaxShortText {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, what, len(s), MaxShortText)
	}
	return nil
}

func checkRef(what string, r Ref) error {
	if err := CheckName(what+" party", r.Party); err != nil {
		return err
	}
	if r.Seq == 0 {
		return fmt.Errorf("%w: %s seq 0", ErrMalformed, what)
	}
	return nil
}
