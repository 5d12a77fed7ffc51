package entry

import (
	"crypto/sha256"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/fxamacker/cbor/v2"
)

var (
	encMode cbor.EncMode
	decMode cbor.DecMode
)

func init() {
	var err error
	encMode, err = cbor.CoreDetEncOptions().EncMode()
	if err != nil {
		panic(err)
	}
	decMode, err = cbor.DecOptions{
		DupMapKey:         cbor.DupMapKeyEnforcedAPF,
		MaxNestedLevels:   8,
		MaxArrayElements:  256,
		MaxMapPairs:       32,
		IndefLength:       cbor.IndefLengthForbidden,
		TagsMd:            cbor.TagsForbidden,
		ExtraReturnErrors: cbor.ExtraDecErrorUnknownField,
		UTF8:              cbor.UTF8RejectInvalid,
	}.DecMode()
	if err != nil {
		panic(err)
	}
}

// Message is the body of a message entry: free text in its authoritative
// language, or a catalog phrase (then Text is its rendering in Lang, the
// author's language, and the phrase is what counts).
type Message struct {
	Text string `cbor:"1,keyasint"`
	Lang string `cbor:"2,keyasint,omitempty"` // BCP 47 tag of Text, its authoritative language
	// AckWithin is the acknowledgement deadline in milliseconds, counted
	// from delivery; zero means no acknowledgement is requested.
	AckWithin int64 `cbor:"3,keyasint,omitempty"`
	// Phrase is set when the message is a standard phrase.
	Phrase *Phrase `cbor:"4,keyasint,omitempty"`
	// Unofficial holds the author's own translations of Text, shown marked
	// as such; Text in Lang stays authoritative.
	Unofficial []Rendering `cbor:"5,keyasint,omitempty"`
	// Precedence is Flash, Immediate or Priority; none is ROUTINE.
	Precedence string `cbor:"6,keyasint,omitempty"`
	// Releases are operators' personal signatures over the message's
	// content (ReleaseStatement), sorted by operator.
	Releases []Release `cbor:"7,keyasint,omitempty"`
}

// Phrase is a standard phrase: a template of a catalog and its field
// values in canonical form, sorted by name.
type Phrase struct {
	Catalog [32]byte     `cbor:"1,keyasint"` // the catalog's hash
	Code    string       `cbor:"2,keyasint"`
	Fields  []FieldValue `cbor:"3,keyasint,omitempty"`
}

// FieldValue is one field of a phrase.
type FieldValue struct {
	Name  string `cbor:"1,keyasint"`
	Value string `cbor:"2,keyasint"`
}

// Rendering is a text in a language.
type Rendering struct {
	Lang string `cbor:"1,keyasint"`
	Text string `cbor:"2,keyasint"`
}

// Limits on phrases and translations.
const (
	MaxPhraseFields = 16
	MaxUnofficial   = 4
	MaxCodeBytes    = 32
)

// Check validates a message body.
func (m *Message) Check() error {
	if err := checkText("message text", m.Text, true); err != nil {
		return err
	}
	// Lang is checked for length only: entries written before tags were
	// checked must still decode. Nodes check new tags with CheckLang.
	if len(m.Lang) > MaxLangBytes {
		return fmt.Errorf("%w: language tag is %d bytes, limit %d", ErrTooLarge, len(m.Lang), MaxLangBytes)
	}
	if m.AckWithin < 0 || time.Duration(m.AckWithin)*time.Millisecond > MaxAckWithin {
		return fmt.Errorf("%w: acknowledgement deadline must be between 0 and %s", ErrMalformed, MaxAckWithin)
	}
	if err := checkPrecedence(m.Precedence); err != nil {
		return err
	}
	if m.Phrase != nil {
		if err := m.Phrase.Check(); err != nil {
			return err
		}
		if m.Lang == "" {
			return fmt.Errorf("%w: a phrase message names the language of its text", ErrMalformed)
		}
	}
	if len(m.Unofficial) > MaxUnofficial {
		return fmt.Errorf("%w: a message carries at most %d translations", ErrMalformed, MaxUnofficial)
	}
	for i, r := range m.Unofficial {
		if err := CheckLang(r.Lang, true); err != nil {
			return err
		}
		if r.Lang == m.Lang || (i > 0 && m.Unofficial[i-1].Lang >= r.Lang) {
			return fmt.Errorf("%w: translations must be in other languages than the original, sorted, one per language", ErrMalformed)
		}
		if err := checkText("translation", r.Text, true); err != nil {
			return err
		}
	}
	return checkReleases(m.Releases)
}

// Check validates a phrase's structure; the catalog checks its values.
func (p *Phrase) Check() error {
	if p.Code == "" || len(p.Code) > MaxCodeBytes || !utf8.ValidString(p.Code) {
		return fmt.Errorf("%w: phrase code must be 1 to %d bytes", ErrMalformed, MaxCodeBytes)
	}
	if len(p.Fields) > MaxPhraseFields {
		return fmt.Errorf("%w: a phrase has at most %d fields", ErrMalformed, MaxPhraseFields)
	}
	for i, f := range p.Fields {
		if f.Name == "" || len(f.Name) > MaxCodeBytes || (i > 0 && p.Fields[i-1].Name >= f.Name) {
			return fmt.Errorf("%w: phrase fields must be named, sorted by name, one per name", ErrMalformed)
		}
		if err := checkText("phrase field "+f.Name, f.Value, true); err != nil {
			return err
		}
	}
	return nil
}

// Translation stages, in the order a translation matures.
const (
	StageSight    = "sight"    // read off at sight, to know at once what it says
	StageRough    = "rough"    // a full working translation
	StageOfficial = "official" // reviewed, to be relied on
)

// Translation is the body of a translation entry: a translation of a
// message of the channel, by a named translator, at a stage.
type Translation struct {
	Of         Ref    `cbor:"1,keyasint"`
	Lang       string `cbor:"2,keyasint"`
	Stage      string `cbor:"3,keyasint"`
	Translator string `cbor:"4,keyasint"`
	Text       string `cbor:"5,keyasint"`
}

// Check validates a translation body.
func (t *Translation) Check() error {
	if err := CheckName("message party", t.Of.Party); err != nil {
		return err
	}
	if err := CheckLang(t.Lang, true); err != nil {
		return err
	}
	switch t.Stage {
	case StageSight, StageRough, StageOfficial:
	default:
		return fmt.Errorf("%w: translation stage %q: use sight, rough or official", ErrMalformed, t.Stage)
	}
	if err := checkText("translator", t.Translator, true); err != nil {
		return err
	}
	if len(t.Translator) > 200 {
		return fmt.Errorf("%w: translator is %d bytes, limit 200", ErrTooLarge, len(t.Translator))
	}
	return checkText("translation", t.Text, true)
}

// CheckLang checks the shape of a BCP 47 language tag.
func CheckLang(tag string, required bool) error {
	if tag == "" && !required {
		return nil
	}
	if tag == "" || len(tag) > MaxLangBytes {
		return fmt.Errorf("%w: language tag must be 1 to %d bytes", ErrMalformed, MaxLangBytes)
	}
	for i, r := range tag {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' && i > 0) {
			return fmt.Errorf("%w: language tag %q is not a BCP 47 tag such as en or zh-Hans", ErrMalformed, tag)
		}
	}
	return nil
}

// Receipt is the body of a receipt entry: the author durably holds each
// listed feed of the channel up to and including the referenced entry.
type Receipt struct {
	Holds []Ref `cbor:"1,keyasint"`
}

// Check validates a receipt body.
func (r *Receipt) Check() error {
	if len(r.Holds) == 0 || len(r.Holds) > MaxRefs {
		return fmt.Errorf("%w: a receipt holds 1 to %d feeds, got %d", ErrMalformed, MaxRefs, len(r.Holds))
	}
	for i, h := range r.Holds {
		if err := CheckName("receipt party", h.Party); err != nil {
			return err
		}
		if h.Seq == 0 {
			return fmt.Errorf("%w: receipt for seq 0", ErrMalformed)
		}
		if i > 0 && r.Holds[i-1].Party >= h.Party {
			return fmt.Errorf("%w: receipt feeds must be sorted by party, without repeats", ErrMalformed)
		}
	}
	return nil
}

// Mark is the body of a read or ack entry: an operator of the author party
// opened or acknowledged the target message. A read with From set is
// cumulative: the operator read every message of the target's feed from
// seq From up to and including the target, in one entry.
type Mark struct {
	Target Ref    `cbor:"1,keyasint"`
	Reply  string `cbor:"2,keyasint,omitempty"`
	From   uint64 `cbor:"3,keyasint,omitempty"`
}

// MaxReadSpan is how many seqs of one feed a cumulative read may cover:
// more than a screen holds, and a bound on the index rows one entry adds.
const MaxReadSpan = 1024

// Check validates a read or ack body.
func (m *Mark) Check() error {
	if err := CheckName("target party", m.Target.Party); err != nil {
		return err
	}
	if m.Target.Seq == 0 {
		return fmt.Errorf("%w: target seq 0", ErrMalformed)
	}
	if m.From != 0 && (m.From >= m.Target.Seq || m.Target.Seq-m.From >= MaxReadSpan) {
		return fmt.Errorf("%w: a cumulative read covers seq 1 ≤ from < target seq, at most %d seqs; got %d to %d", ErrMalformed, MaxReadSpan, m.From, m.Target.Seq)
	}
	return checkText("reply", m.Reply, false)
}

// Seqs returns the first and last seq of the target's feed the mark
// covers: the target alone, or From to the target for a cumulative read.
func (m *Mark) Seqs() (first, last uint64) {
	if m.From != 0 {
		return m.From, m.Target.Seq
	}
	return m.Target.Seq, m.Target.Seq
}

// Config actions.
const (
	ActionPropose = "propose"
	ActionAccept  = "accept"
)

// Config is the body of a config entry: a channel proposal (the first entry
// of the proposer's feed) or an acceptance (the first entry of every other
// member's feed).
type Config struct {
	Action     string      `cbor:"1,keyasint"`
	Definition *Definition `cbor:"2,keyasint,omitempty"` // for propose
	Proposal   *Ref        `cbor:"3,keyasint,omitempty"` // for accept: the proposal entry
}

// Member is a party in a channel, with the signed-note verifier key every
// member pinned for it when the channel was agreed.
type Member struct {
	Party string `cbor:"1,keyasint"`
	Key   string `cbor:"2,keyasint"`
}

// Definition is a channel's agreed settings. Its hash is the channel id.
type Definition struct {
	Name     string   `cbor:"1,keyasint"`
	Level    string   `cbor:"2,keyasint"`
	Proposer string   `cbor:"3,keyasint"`
	Members  []Member `cbor:"4,keyasint"` // sorted by party, proposer included
	Created  int64    `cbor:"5,keyasint"` // proposer's clock, Unix milliseconds
	Nonce    [16]byte `cbor:"6,keyasint"` // makes ids of otherwise equal proposals differ
	// Policy is the agreed acknowledgement and escalation policy; nil
	// means the level's defaults and no escalation target.
	Policy *Policy `cbor:"7,keyasint,omitempty"`
	// Catalog is the hash of the phrase catalog the members agreed on;
	// nil means phrases cannot be used in the channel.
	Catalog *[32]byte `cbor:"8,keyasint,omitempty"`
	// Lang is the channel's default language, in which a phrase is shown
	// to a reader who has set no preference; empty means English.
	Lang string `cbor:"9,keyasint,omitempty"`
}

// channelDomain separates channel-id hashes from every other hash.
const channelDomain = "hotline channel v1\n"

// ChannelID returns the channel id that d defines.
func (d *Definition) ChannelID() ChannelID {
	b, err := encMode.Marshal(d)
	if err != nil {
		panic("entry: encode definition: " + err.Error())
	}
	return sha256.Sum256(append([]byte(channelDomain), b...))
}

// Member returns the member entry for party, if any.
func (d *Definition) Member(party string) (Member, bool) {
	for _, m := range d.Members {
		if m.Party == party {
			return m, true
		}
	}
	return Member{}, false
}

// Check validates a definition; it does not know the valid levels, which
// the caller checks.
func (d *Definition) Check() error {
	if err := CheckName("channel", d.Name); err != nil {
		return err
	}
	if err := CheckName("level", d.Level); err != nil {
		return err
	}
	if err := CheckTime("channel creation time", d.Created); err != nil {
		return err
	}
	if len(d.Members) < 2 || len(d.Members) > MaxMembers {
		return fmt.Errorf("%w: a channel has 2 to %d members, got %d", ErrMalformed, MaxMembers, len(d.Members))
	}
	proposer := false
	for i, m := range d.Members {
		if err := CheckName("member", m.Party); err != nil {
			return err
		}
		if len(m.Key) == 0 || len(m.Key) > 256 {
			return fmt.Errorf("%w: member %s has no usable key", ErrMalformed, m.Party)
		}
		if i > 0 && d.Members[i-1].Party >= m.Party {
			return fmt.Errorf("%w: members must be sorted by party, without repeats", ErrMalformed)
		}
		proposer = proposer || m.Party == d.Proposer
	}
	if !proposer {
		return fmt.Errorf("%w: proposer %q is not a member", ErrMalformed, d.Proposer)
	}
	if err := CheckLang(d.Lang, false); err != nil {
		return err
	}
	if d.Policy != nil {
		return d.Policy.Check()
	}
	return nil
}

// Check validates a config body.
func (c *Config) Check() error {
	switch c.Action {
	case ActionPropose:
		if c.Definition == nil || c.Proposal != nil {
			return fmt.Errorf("%w: a proposal carries a definition and nothing else", ErrMalformed)
		}
		return c.Definition.Check()
	case ActionAccept:
		if c.Proposal == nil || c.Definition != nil {
			return fmt.Errorf("%w: an acceptance names the proposal and nothing else", ErrMalformed)
		}
		return CheckName("proposal party", c.Proposal.Party)
	}
	return fmt.Errorf("%w: unknown config action %q", ErrMalformed, c.Action)
}

func checkText(what, s string, required bool) error {
	if required && s == "" {
		return fmt.Errorf("%w: %s is empty", ErrMalformed, what)
	}
	if len(s) > MaxTextBytes {
		return fmt.Errorf("%w: %s is %d bytes, limit %d", ErrTooLarge, what, len(s), MaxTextBytes)
	}
	if !utf8.ValidString(s) {
		return fmt.Errorf("%w: %s is not valid UTF-8", ErrMalformed, what)
	}
	return nil
}

// EncodeBody returns the canonical encoding of a body value.
func EncodeBody(v any) ([]byte, error) {
	b, err := encMode.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("entry: encode body: %w", err)
	}
	return b, nil
}

// checker is a body that can validate itself.
type checker interface{ Check() error }

// DecodeBody decodes the body of e into the type its kind calls for
// (*Message, *Receipt, *Mark, *Config, *Call, *Escalation, *Directory,
// *Translation, *KeyChange or *Roster)
// and validates it. The body must be
// present and canonical.
func DecodeBody(e *Entry) (any, error) {
	if e.Body == nil {
		return nil, fmt.Errorf("%w: body has been redacted", ErrMalformed)
	}
	var v checker
	switch e.Kind {
	case KindMessage:
		v = new(Message)
	case KindReceipt:
		v = new(Receipt)
	case KindRead, KindAck:
		v = new(Mark)
	case KindConfig:
		v = new(Config)
	case KindCall:
		v = new(Call)
	case KindEscalation:
		v = new(Escalation)
	case KindDirectory:
		v = new(Directory)
	case KindTranslation:
		v = new(Translation)
	case KindKey:
		v = new(KeyChange)
	case KindRoster:
		v = new(Roster)
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", ErrMalformed, e.Kind)
	}
	if err := decMode.Unmarshal(e.Body, v); err != nil {
		return nil, fmt.Errorf("%w: %s body: %v", ErrMalformed, e.Kind, err)
	}
	if canon, err := encMode.Marshal(v); err != nil || string(canon) != string(e.Body) {
		return nil, fmt.Errorf("%w: %s body is not in canonical form", ErrMalformed, e.Kind)
	}
	if err := v.Check(); err != nil {
		return nil, err
	}
	if m, ok := v.(*Mark); ok && e.Kind == KindAck && m.From != 0 {
		return nil, fmt.Errorf("%w: an ack names one message; only a read may be cumulative", ErrMalformed)
	}
	return v, nil
}

// Marshal encodes v canonically; for protocol messages built on entries.
func Marshal(v any) ([]byte, error) { return encMode.Marshal(v) }

// Unmarshal decodes b into v with the same limits as entries.
func Unmarshal(b []byte, v any) error { return decMode.Unmarshal(b, v) }
