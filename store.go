package hotline

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/entry"
)

// ChannelState is where a channel is in its agreement.
type ChannelState string

// Channel states.
const (
	// ChannelProposed: this party proposed it; not every member has accepted.
	ChannelProposed ChannelState = "proposed"
	// ChannelInvited: another party proposed it; this party has not accepted.
	ChannelInvited ChannelState = "invited"
	// ChannelActive: every member has signed its acceptance.
	ChannelActive ChannelState = "active"
	// ChannelDeclined: another party proposed it and an operator here
	// declined it. Nothing more of it is synced or shown by default.
	ChannelDeclined ChannelState = "declined"
	// ChannelExpired: another party proposed it and nobody here accepted
	// it within the invitation expiry.
	ChannelExpired ChannelState = "expired"
)

// Joined reports whether this party has proposed or accepted the channel:
// only then does the node relay its feeds to the other members.
func (s ChannelState) Joined() bool { return s == ChannelProposed || s == ChannelActive }

// Channel is a channel as this node knows it.
type Channel struct {
	ID         entry.ChannelID
	Definition entry.Definition
	State      ChannelState
	Accepted   []string // members whose proposal or acceptance this node holds
	// Label is the channel's name at this node, unique here: its agreed
	// name, or, if that was already taken here when it arrived, the name
	// and the first 8 hex digits of its id (see ChannelLabel). Operators
	// name channels by label; a peer can never take a label already used.
	Label string
	// Stored is when this node first stored the channel, by its clock.
	Stored time.Time
}

// ChannelLabel returns the label a channel named name gets at a node
// where taken reports the labels in use: the name itself if free, else
// "NAME~ID8" with the first 8 hex digits of the id (then more, should
// that be taken too).
func ChannelLabel(name string, id entry.ChannelID, taken func(label string) bool) string {
	if !taken(name) {
		return name
	}
	hexID := id.String()
	for n := 8; n < len(hexID); n += 4 {
		if l := name + "~" + hexID[:n]; !taken(l) {
			return l
		}
	}
	return name + "~" + hexID
}

// Level returns the channel's level.
func (c *Channel) Level() Level { return Level(c.Definition.Level) }

// IsMember reports whether party is a member of the channel.
func (c *Channel) IsMember(party string) bool {
	_, ok := c.Definition.Member(party)
	return ok
}

// Operator is a person's account at this party's node: the language they
// read in and, for the console, their login secrets.
type Operator struct {
	Name string
	// Lang is the language phrases are shown in; empty means the
	// channel's default.
	Lang string
	// Password is the encoded password hash (empty: no console login).
	Password string
	// TOTP is the base32 TOTP secret (empty: no second factor).
	TOTP string
	// Failures counts failed logins since the last success; LockedUntil
	// is when the next attempt is allowed.
	Failures    int
	LockedUntil time.Time
	// TOTPStep is the TOTP time step of the last code accepted: each code
	// logs in once (RFC 6238, section 5.2), and never an older one.
	TOTPStep int64
	// Disabled refuses the operator's logins and API tokens.
	Disabled bool
	// SessionEpoch changes whenever the operator's console sessions must
	// end (a new password, disabled): a session records the epoch it was
	// opened in and is valid only while it is unchanged.
	SessionEpoch int64
	Created      time.Time
	// Role is the operator's role, as the party's roster shows it ("duty
	// director"); Keys are the operator's personal keys, removed ones
	// included (with their Removed time), so that what they signed stays
	// checkable.
	Role string
	Keys []OperatorKey
}

// OperatorKey is one of an operator's personal keys (see package
// release): an Ed25519 key or a WebAuthn passkey.
type OperatorKey struct {
	Key     entry.PersonalKey `json:"key"`
	Label   string            `json:"label,omitempty"`
	Added   time.Time         `json:"added"`
	Removed time.Time         `json:"removed,omitzero"`
}

// Draft states.
const (
	DraftAwaiting  = "awaiting"  // waiting for its releasers
	DraftReleased  = "released"  // released, signed and sent: Entry is the message
	DraftReturned  = "returned"  // sent back to its drafter, with a comment
	DraftWithdrawn = "withdrawn" // withdrawn by its drafter
)

// Draft is a message held until operators other than its drafter release
// it (a channel's release rule). Nothing of it leaves the node until
// then.
type Draft struct {
	ID      string
	Channel entry.ChannelID
	Drafter string
	Created time.Time
	Updated time.Time
	State   string
	// Message is the message's canonical encoding, without releases;
	// Releases, the personal signatures gathered so far.
	Message  []byte
	Releases []entry.Release
	History  []DraftEvent
	// Entry is the message entry it became, once released.
	Entry entry.ID
}

// DraftEvent is one thing done to a draft, and who did it.
type DraftEvent struct {
	Time     time.Time `json:"time"`
	Operator string    `json:"operator"`
	Action   string    `json:"action"` // drafted, released, returned, withdrawn, sent
	Comment  string    `json:"comment,omitempty"`
}

// OperatorToken is an API token as listed: never the token itself.
type OperatorToken struct {
	ID       string // the first 16 hex digits of the token's SHA-256, to name it
	Operator string
	Created  time.Time
}

// Feed names one party's feed in one channel.
type Feed struct {
	Channel entry.ChannelID
	Party   string
}

// Head is the newest entry of a feed that a node holds.
type Head struct {
	Seq uint64
	ID  entry.ID
}

// Stored is an entry as a node stores it.
type Stored struct {
	*entry.Entry
	Local    int64     // this node's storage order; a causal order of everything it holds
	Received time.Time // when this node stored it, by this node's clock
	Depth    int64     // its causal depth (see Depth)
}

// Position returns the entry's place in its channel's order.
func (st *Stored) Position() Position {
	return Position{Depth: st.Depth, Author: st.Author, Seq: st.Seq}
}

// Depth returns an entry's causal depth in its channel: one more than the
// deepest of its predecessor in its feed and the entries it references,
// whose depths at returns (0 for none). Every node holding an entry holds
// what it references, so every node computes the same depth.
func Depth(e *entry.Entry, at func(party string, seq uint64) int64) int64 {
	d := int64(0)
	if e.Seq > 1 {
		d = at(e.Author, e.Seq-1)
	}
	for _, r := range e.Refs {
		d = max(d, at(r.Party, r.Seq))
	}
	return d + 1
}

// Position is an entry's place in its channel's order, the order every
// view shows: by causal depth, then author, then seq. It is a
// deterministic causal order: an entry comes after its predecessor and
// after everything it references, and two nodes holding the same entries
// order them alike, whatever order they arrived in. No timestamp is used.
type Position struct {
	Depth  int64
	Author string
	Seq    uint64
}

// Less reports whether p comes before q in channel order.
func (p Position) Less(q Position) bool {
	if p.Depth != q.Depth {
		return p.Depth < q.Depth
	}
	if p.Author != q.Author {
		return p.Author < q.Author
	}
	return p.Seq < q.Seq
}

// JustBefore returns the position right before p, so that a page after
// it starts at p itself. p must be an entry's position (seq ≥ 1).
func (p Position) JustBefore() Position {
	return Position{Depth: p.Depth, Author: p.Author, Seq: p.Seq - 1}
}

// String is the position as a cursor: "DEPTH.SEQ.AUTHOR".
func (p Position) String() string { return fmt.Sprintf("%d.%d.%s", p.Depth, p.Seq, p.Author) }

// ParsePosition parses a cursor written by Position.String.
func ParsePosition(s string) (Position, error) {
	parts := strings.SplitN(s, ".", 3)
	if len(parts) == 3 {
		d, err1 := strconv.ParseInt(parts[0], 10, 64)
		seq, err2 := strconv.ParseUint(parts[1], 10, 64)
		if err1 == nil && err2 == nil && d >= 0 && entry.CheckName("author", parts[2]) == nil {
			return Position{Depth: d, Author: parts[2], Seq: seq}, nil
		}
	}
	return Position{}, Errorf(EINVALID, "cursor %q is not a position in a channel's log (DEPTH.SEQ.AUTHOR, as a page's next or prev gives it)", s)
}

// PageQuery selects a page of a channel's log in channel order: the
// entries after After, or else those before Before, or else the newest.
// Or, with StoredAfter, the entries this node stored after that point of
// its storage order (Stored.Local), in storage order: how a reader
// follows a live log, since an entry that arrives late can take its
// place in channel order before entries already read.
type PageQuery struct {
	After       *Position
	Before      *Position
	StoredAfter *int64
	Limit       int
}

// Page is a page of a channel's log with the index rows its views need,
// read in one snapshot.
type Page struct {
	Entries []*Stored // in channel order
	// Earlier and Later report whether the channel has entries before
	// the first and after the last of Entries (in storage order, for a
	// StoredAfter page).
	Earlier, Later bool
	// Stored is the newest point of the channel's storage order when the
	// page was read: every entry stored up to it was in the channel then.
	Stored int64
	// Receipts holds, for each message of the page and each other member,
	// the first receipt that covers it, if any, with Held filled in.
	Receipts []ReceiptRow
	// Marks holds every mark of the page's messages: reads, acks, call
	// answers, escalations and translations.
	Marks []MarkRow
	// Translations are the translation entries Marks name.
	Translations []*Stored
}

// ReceiptRow is the index row derived from one feed named in a receipt:
// Receiver durably held Party's feed up to Seq, by the receipt entry
// ReceiptSeq of Receiver's feed, written at Time by the receiver's clock.
type ReceiptRow struct {
	Receiver   string
	Party      string
	Seq        uint64
	ReceiptSeq uint64
	Time       time.Time
	// Held is when this node stored the receipt entry, by this node's
	// clock; filled in when reading, ignored when writing.
	Held time.Time
}

// MarkRow is the index row derived from an entry that answers or reports on
// another: a read or ack of a message, a translation of a message, a call
// entry about a call request (Action says which), or an escalation of an
// unanswered entry (whose Target may be in another channel).
type MarkRow struct {
	Kind   entry.Kind // read, ack, translation, call or escalation
	Action string     // for call entries: the call action
	Target entry.Ref
	// From is set for a cumulative read: it marks every message of
	// Target's feed from seq From to Target.Seq, and the store keeps a row
	// for each of them (with that message as Target).
	From     uint64
	Party    string
	Operator string
	Seq      uint64 // the mark entry's seq in Party's feed
	Time     time.Time
	Reply    string
}

// Write is one entry to store with the index rows derived from it. The
// store writes all of it, or nothing. A Write without an Entry changes
// only its Channel's local state (declined or expired).
type Write struct {
	Entry    *entry.Entry
	Channel  *Channel     // set when the entry creates or changes a channel
	Receipts []ReceiptRow // from a receipt entry
	Mark     *MarkRow     // from a read, ack, call or escalation entry
	// Watch is set for an entry with a deadline this node must watch: a
	// message that asks for an acknowledgement, or a call request.
	Watch bool
	// Draft, when set, is saved in the same transaction: the draft a
	// released message came from, marked sent with it.
	Draft *Draft
}

// Answers is what a node holds in answer to one entry, for its deadline:
// the first receipt of it by each receiving member, and every mark that
// targets it (reads, acks, call answers, escalations), in any channel.
type Answers struct {
	Receipts []ReceiptRow // with Held filled in
	Marks    []MarkRow
}

// Watch is an entry whose deadline a node watches until it is answered.
type Watch struct {
	Channel entry.ChannelID
	Entry   entry.Ref
	Kind    entry.Kind
}

// LadderStep records that one step of an escalation or reminder ladder ran
// for an entry.
type LadderStep struct {
	Entry  entry.ID
	Ladder string // "escalation" or "reminder"
	Step   int
	Time   time.Time
	Detail string // what the step did, for operators
}

// Evidence is a record of bad input that a node refused but keeps: an
// equivocation (two signed entries with one seq, or a checkpoint that
// contradicts another or the author's entries) or a rejected entry.
type Evidence struct {
	N      int64 // its number at this node, from 1; set by the store
	Time   time.Time
	Kind   string // "equivocation", "rejected"
	Peer   string // the party that sent it, as authenticated by TLS
	Detail string
	// Channel, Party and Seq name what it is about, when known: the feed,
	// and the seq of the entry or the size of the checkpoint.
	Channel entry.ChannelID
	Party   string
	Seq     uint64
	// Data is the evidence: for an equivocation, an evidence file (see
	// package audit), which names the author's entries by reference when
	// they are in this node's store; for a rejected entry, its bytes.
	// Lists leave it out and give its Size.
	Data []byte
	Size int
}

// EvidenceQuery selects evidence records, newest first.
type EvidenceQuery struct {
	Before int64  // only records numbered below it; 0: from the newest
	Kind   string // "" for every kind
	Peer   string // "" for every peer
	Limit  int
}

// EvidenceCount is how many evidence records a peer caused, of one kind,
// and their bytes.
type EvidenceCount struct {
	Peer    string
	Kind    string
	Records int64
	Bytes   int64
}

// Usage is how much of the store one party's entries in one channel
// take: how many entries, and their encoded bytes.
type Usage struct {
	Party   string
	Channel entry.ChannelID
	Entries int64
	Bytes   int64
}

// Day is the day number, since the Unix epoch in UTC, of t: the unit
// store usage is counted in.
func Day(t time.Time) int64 { return t.UnixMilli() / (24 * 60 * 60 * 1000) }

// StoredCheckpoint is a signed checkpoint of one feed as a node keeps it:
// the note with every signature the node has verified (the author's and
// the cosigners'), merged over time.
type StoredCheckpoint struct {
	Size    int64
	Note    []byte
	Signers []string  // parties whose signature or cosignature is in Note, sorted
	Time    time.Time // when this node first stored it, by its clock
}

// LinkTest is the outcome of one heartbeat to one endpoint of a peer.
type LinkTest struct {
	Time     time.Time     `json:"time"`
	Peer     string        `json:"peer"`
	Endpoint string        `json:"endpoint"`
	OK       bool          `json:"ok"`
	RTT      time.Duration `json:"rtt_ns"`
	Error    string        `json:"error,omitempty"`
}

// Store is a node's durable state. Every method is safe for concurrent
// use; writes are serialised by the caller (one writer per node).
//
// Methods return an *Error with code ENOTFOUND when a named thing does not
// exist, EUNAVAILABLE when the store cannot be written (disk full, locked),
// and other errors for failures.
type Store interface {
	// Append durably stores the writes in one transaction, recording now
	// (the node's clock) as when they were received: when it returns nil,
	// every write is on disk (fsynced); when it returns an error, none is.
	// Entries MUST arrive in feed order, each continuing its feed.
	Append(ctx context.Context, now time.Time, writes []Write) error

	// Channels returns every channel this node knows.
	Channels(ctx context.Context) ([]Channel, error)
	// Heads returns the head of every non-empty feed this node holds.
	Heads(ctx context.Context) (map[Feed]Head, error)
	// Entry returns the entry with id.
	Entry(ctx context.Context, id entry.ID) (*Stored, error)
	// EntriesByPrefix returns up to limit entries of channel ch whose id,
	// in lower-case hex, starts with prefix (hex digits only), by a range
	// of the id index: it costs what it finds, not the channel's size.
	EntriesByPrefix(ctx context.Context, ch entry.ChannelID, prefix string, limit int) ([]*Stored, error)
	// IDAt returns the id of the entry at seq of feed f, and whether the
	// store holds it: the id alone, from the index, without the entry.
	IDAt(ctx context.Context, f Feed, seq uint64) (entry.ID, bool, error)
	// Feed returns up to limit entries of a feed with seq ≥ from, in order.
	Feed(ctx context.Context, f Feed, from uint64, limit int) ([]*Stored, error)
	// ChannelEntries returns up to limit entries of a channel stored after
	// local (this node's storage order), in that order.
	ChannelEntries(ctx context.Context, ch entry.ChannelID, after int64, limit int) ([]*Stored, error)
	// Latest returns the newest entry of kind in feed f, or an ENOTFOUND
	// error.
	Latest(ctx context.Context, f Feed, kind entry.Kind) (*Stored, error)
	// EntriesOfKind returns every entry of channel ch whose kind is one of
	// kinds, in this node's storage order, through an index: it costs what
	// it returns, not the channel's size.
	EntriesOfKind(ctx context.Context, ch entry.ChannelID, kinds ...entry.Kind) ([]*Stored, error)
	// PutDraft saves a draft, replacing the one with its id.
	PutDraft(ctx context.Context, d Draft) error
	// Draft returns the draft with id, or an ENOTFOUND error.
	Draft(ctx context.Context, id string) (*Draft, error)
	// Drafts returns up to limit drafts in state, oldest first, through
	// an index.
	Drafts(ctx context.Context, state string, limit int) ([]Draft, error)
	// KeyChanges returns every key entry (entry.KindKey) of every
	// channel, in storage order, through an index: a node reads them at
	// start to know which key signs which part of each feed.
	KeyChanges(ctx context.Context) ([]*Stored, error)
	// Page returns a page of a channel's log in channel order with the
	// index rows its views need: it costs the page, not the channel.
	Page(ctx context.Context, ch entry.ChannelID, q PageQuery) (*Page, error)
	// Unread counts the messages of ch by other parties that nobody at
	// party has read or acknowledged.
	Unread(ctx context.Context, ch entry.ChannelID, party string) (int, error)
	// FirstUnread returns the position of the first message of ch, in
	// channel order, by another party that nobody at party has read or
	// acknowledged; ok is false when there is none. Append keeps it beside
	// the count, so reading it costs one row.
	FirstUnread(ctx context.Context, ch entry.ChannelID, party string) (pos Position, ok bool, err error)

	// TreeHashes returns stored hashes of a feed's Merkle tree, by their
	// tlog stored-hash index (a tlog.HashReader). Append keeps the tree of
	// every feed in step with its entries.
	TreeHashes(ctx context.Context, f Feed, indexes []int64) ([]tlog.Hash, error)
	// AddCheckpoint stores a verified signed checkpoint of f, adding its
	// signature lines to those of a stored checkpoint of the same size (one
	// per signer, the newest kept). It returns ECONFLICT, storing nothing,
	// if a checkpoint of that size with another body is stored.
	AddCheckpoint(ctx context.Context, f Feed, c StoredCheckpoint) error
	// Checkpoints returns every checkpoint of f, by size.
	Checkpoints(ctx context.Context, f Feed) ([]StoredCheckpoint, error)
	// LatestCheckpoint returns the largest checkpoint of f that signer
	// signed or cosigned ("" for any), or an ENOTFOUND error.
	LatestCheckpoint(ctx context.Context, f Feed, signer string) (*StoredCheckpoint, error)

	// Answers returns what this node holds in answer to entry target of
	// channel ch: receipts of it in ch and marks of it in any channel.
	Answers(ctx context.Context, ch entry.ChannelID, target entry.Ref) (*Answers, error)
	// OpenWatches returns every watched entry not yet closed.
	OpenWatches(ctx context.Context) ([]Watch, error)
	// CloseWatch stops watching an entry: it has been answered, or its
	// ladders have run.
	CloseWatch(ctx context.Context, id entry.ID) error
	// AddLadderStep records that a ladder step ran. It returns ECONFLICT,
	// recording nothing, if that step is already recorded.
	AddLadderStep(ctx context.Context, s LadderStep) error
	// LadderSteps returns the recorded steps for an entry, in step order.
	LadderSteps(ctx context.Context, id entry.ID) ([]LadderStep, error)

	// Usage returns how much of the store each party's entries take, by
	// channel: in total, and on day (see Day). Append keeps it in step.
	Usage(ctx context.Context, day int64) (total, onDay []Usage, err error)

	// AddEvidence records refused input.
	AddEvidence(ctx context.Context, ev Evidence) error
	// EvidenceList returns evidence records, newest first, without their
	// data (Size gives its length).
	EvidenceList(ctx context.Context, q EvidenceQuery) ([]Evidence, error)
	// EvidenceRecord returns one evidence record with its data, or an
	// ENOTFOUND error.
	EvidenceRecord(ctx context.Context, n int64) (*Evidence, error)
	// EvidenceUsage counts the evidence records stored since, by peer and
	// kind.
	EvidenceUsage(ctx context.Context, since time.Time) ([]EvidenceCount, error)
	// EvidenceCounts returns how many evidence records the store keeps,
	// by kind: kept as records are added, never counted.
	EvidenceCounts(ctx context.Context) (map[string]int64, error)

	// AddLinkTests records heartbeat outcomes and forgets those older than
	// keep.
	AddLinkTests(ctx context.Context, tests []LinkTest, keep time.Duration) error
	// LinkTests returns the newest link tests, newest first; peer "" means
	// every peer.
	LinkTests(ctx context.Context, peer string, limit int) ([]LinkTest, error)

	// AddOperatorToken records a token for operator by its SHA-256 hash.
	AddOperatorToken(ctx context.Context, operator string, tokenHash [32]byte) error
	// OperatorByToken returns the operator whose token hashes to
	// tokenHash, or an ENOTFOUND error; a disabled operator's tokens are
	// not found.
	OperatorByToken(ctx context.Context, tokenHash [32]byte) (string, error)
	// OperatorTokens lists every API token, oldest first.
	OperatorTokens(ctx context.Context) ([]OperatorToken, error)
	// RevokeOperatorToken deletes the token whose ID starts with prefix
	// and returns it; ENOTFOUND if none does, ECONFLICT if several do.
	RevokeOperatorToken(ctx context.Context, prefix string) (OperatorToken, error)

	// Operator returns an operator's account, or an ENOTFOUND error. An
	// operator known only by an API token has no account until one of its
	// settings is saved.
	Operator(ctx context.Context, name string) (Operator, error)
	// PutOperator creates or replaces an operator's account.
	PutOperator(ctx context.Context, op Operator) error
	// SetOperatorLang sets the language an operator reads in, creating
	// the account if needed, and changes nothing else.
	SetOperatorLang(ctx context.Context, name, lang string) error
	// SetLoginState records what a login attempt changed: failures,
	// lock-out and the last TOTP step. It changes nothing else, so a
	// password set meanwhile is kept; ENOTFOUND if there is no account.
	SetLoginState(ctx context.Context, name string, failures int, lockedUntil time.Time, totpStep int64) error
	// Operators returns every operator account, by name.
	Operators(ctx context.Context) ([]Operator, error)
	// SetOperatorDisabled disables or enables an operator's account and
	// ends its console sessions (see Operator.SessionEpoch); ENOTFOUND if
	// there is no account.
	SetOperatorDisabled(ctx context.Context, name string, disabled bool) error
	// RemoveOperator deletes an operator's account and API tokens;
	// ENOTFOUND if it has neither. Entries it wrote keep its name.
	RemoveOperator(ctx context.Context, name string) error

	// Close releases the store; it waits for nothing in flight.
	Close() error
}
