package audit

import (
	"crypto/ed25519"
	"fmt"
	"runtime"
	"slices"
	"sort"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/tlog"

	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
	"github.com/hotline-project/hotline/keychain"
	"github.com/hotline-project/hotline/release"
)

// Report is the outcome of verifying an archive: what the channel holds,
// as proven by signatures, and every failure found. OK is true only when
// there are no failures.
type Report struct {
	OK         bool      `json:"ok"`
	Channel    string    `json:"channel"`
	Name       string    `json:"name"`
	Level      string    `json:"level"`
	Members    []string  `json:"members"`
	ExportedBy string    `json:"exported_by"`
	ExportedAt time.Time `json:"exported_at"`
	Keys       []KeyInfo `json:"keys"`
	// KeyChanges are the key entries, in archive order.
	KeyChanges []KeyChangeInfo `json:"key_changes"`
	// Revocations are the members' revocations of their keys; Disputed,
	// the entries they no longer vouch for.
	Revocations []RevocationInfo `json:"revocations"`
	Disputed    []DisputedInfo   `json:"disputed"`
	Feeds       []FeedInfo       `json:"feeds"`
	Messages    []MessageInfo    `json:"messages"`
	// Calls, JointReadouts and Escalations are the channel's call
	// requests with their answers, its co-signed readouts and the
	// escalations posted into it.
	Calls         []CallInfo     `json:"calls"`
	JointReadouts []JointReadout `json:"joint_readouts"`
	// HeldCalls are the records of calls held, with the signatures
	// checked for each (the requester's and the co-signatures).
	HeldCalls   []HeldCall       `json:"held_calls"`
	Escalations []EscalationInfo `json:"escalations"`
	// Recordings are the files given to check against the held records'
	// hashes (CheckRecordings).
	Recordings []RecordingCheck `json:"recordings,omitempty"`
	Failures   []Failure        `json:"failures"`
	Warnings   []string         `json:"warnings"`
	Verified   int              `json:"entries_verified"`
}

// KeyInfo is a key the archive carries, and the seqs of its party's
// feed it signs (absent: unbounded).
type KeyInfo struct {
	Party string  `json:"party"`
	Key   string  `json:"key"`
	From  *uint64 `json:"from,omitempty"`
	Until *uint64 `json:"until,omitempty"`
}

// KeyChangeInfo is a key entry: from the entry after Seq on, Party's
// feed is signed by New, which also signed the change.
type KeyChangeInfo struct {
	Party    string    `json:"party"`
	Seq      uint64    `json:"seq"`
	Operator string    `json:"operator,omitempty"`
	Time     time.Time `json:"time"`
	Old      string    `json:"old"`
	New      string    `json:"new"`
	TLS      string    `json:"tls"`
}

// RevocationInfo is a member's revocation of one of its keys, signed by
// its new key (which the reader confirms with the party, as any key).
type RevocationInfo struct {
	Party   string    `json:"party"`
	Revoked string    `json:"revoked"`
	NewKey  string    `json:"new_key"`
	Time    time.Time `json:"time"`
	// From is the first seq of the member's feed in this channel that
	// the revocation no longer trusts.
	From uint64 `json:"from"`
}

// ReleaseInfo is an operator's personal signature on a message, checked
// against its party's roster in the channel.
type ReleaseInfo struct {
	Operator string `json:"operator"`
	Role     string `json:"role,omitempty"`
	KeyType  string `json:"key_type"` // ed25519 or webauthn
	Key      string `json:"key"`      // the key's id (release.KeyID)
}

// DisputedInfo is an entry its author's revocation no longer vouches for.
type DisputedInfo struct {
	Party string `json:"party"`
	Seq   uint64 `json:"seq"`
	Kind  string `json:"kind"`
}

// FeedInfo sums up one member's feed and its checkpoints.
type FeedInfo struct {
	Party       string               `json:"party"`
	Entries     int                  `json:"entries"`
	Checkpoints int                  `json:"checkpoints"`
	Checkpoint  int64                `json:"checkpointed"` // size of the largest checkpoint
	CosignedBy  map[string]time.Time `json:"cosigned_by"`  // party → time, of the largest cosigned checkpoint
	Cosigned    int64                `json:"cosigned"`     // size of the largest checkpoint cosigned by every other member
}

// MessageInfo is one message with its proven delivery, reads and acks.
type MessageInfo struct {
	ID        string    `json:"id"`
	Author    string    `json:"author"`
	Operator  string    `json:"operator,omitempty"`
	Seq       uint64    `json:"seq"`
	Time      time.Time `json:"time"` // author's clock, signed
	Text      string    `json:"text"`
	Lang      string    `json:"lang,omitempty"`
	AckWithin string    `json:"ack_within,omitempty"`
	// Precedence is flash, immediate or priority, as signed; absent for
	// routine.
	Precedence string `json:"precedence,omitempty"`
	// Disputed is set when its author revoked the key that signed it,
	// from a point at or before it.
	Disputed bool `json:"disputed,omitempty"`
	// Releases are the operators' personal signatures it carries, each
	// checked: who released it, in what role, with which key.
	Releases []ReleaseInfo `json:"releases,omitempty"`
	Received []Delivery    `json:"received"` // per other member: its signed receipt
	Read     []Mark        `json:"read"`
	Acked    []Mark        `json:"acked"`
	Overdue  string        `json:"overdue,omitempty"`
}

// Delivery is a member's signed statement that its node held a message.
type Delivery struct {
	Party   string    `json:"party"`
	Time    time.Time `json:"time"`    // the receipt's time, by the receiver's clock
	Receipt string    `json:"receipt"` // the receipt entry, party/seq
}

// Mark is a read or an acknowledgement.
type Mark struct {
	Party    string    `json:"party"`
	Operator string    `json:"operator"`
	Time     time.Time `json:"time"`
	Reply    string    `json:"reply,omitempty"`
	Entry    string    `json:"entry"` // party/seq
}

// Failure is one thing that does not hold, and where.
type Failure struct {
	Where string `json:"where"`
	What  string `json:"what"`
}

type verifier struct {
	r    *Report
	keys map[string][]KeyInfo
	pubs map[string][]ed25519.PublicKey
	// signedBy is the key each verified entry's signature verifies under.
	signedBy map[entry.ID]string
	// feedKey is the key that signs each party's next entry, as its key
	// entries say, from the channel definition's on.
	feedKey map[string]string
	// isDisputed holds the entries a revocation no longer vouches for.
	isDisputed map[entry.ID]bool
	// rosters is each party's newest roster so far in the archive;
	// releases, the personal signatures checked, by message.
	rosters  map[string]*entry.Roster
	releases map[entry.ID][]ReleaseInfo
	feeds    map[string][]*entry.Entry // by party, index seq-1
	byID     map[entry.ID]*entry.Entry
	bodies   map[entry.ID]any
	now      time.Time
}

func (v *verifier) fail(where, format string, args ...any) {
	v.r.Failures = append(v.r.Failures, Failure{Where: where, What: fmt.Sprintf(format, args...)})
}

// Verify checks every signature, feed, checkpoint, cosignature, receipt,
// mark and causal reference of an archive and reports what it proves.
func Verify(a *Archive) *Report {
	h := a.Header
	r := &Report{Channel: h.Channel, Name: h.Name, Level: h.Level, ExportedBy: h.ExportedBy, ExportedAt: h.ExportedAt,
		Failures: []Failure{}, Warnings: []string{}, KeyChanges: []KeyChangeInfo{}, Revocations: []RevocationInfo{}, Disputed: []DisputedInfo{}, Messages: []MessageInfo{}, Calls: []CallInfo{}, JointReadouts: []JointReadout{}, HeldCalls: []HeldCall{}, Escalations: []EscalationInfo{}}
	v := &verifier{r: r, keys: map[string][]KeyInfo{}, pubs: map[string][]ed25519.PublicKey{}, feeds: map[string][]*entry.Entry{},
		signedBy: map[entry.ID]string{}, feedKey: map[string]string{}, isDisputed: map[entry.ID]bool{},
		rosters: map[string]*entry.Roster{}, releases: map[entry.ID][]ReleaseInfo{},
		byID: map[entry.ID]*entry.Entry{}, bodies: map[entry.ID]any{}, now: h.ExportedAt}
	ch, err := entry.ParseChannelID(h.Channel)
	if err != nil {
		v.fail("header", "channel id: %v", err)
		return v.finish()
	}
	for i, k := range a.Keys {
		party, pub, err := identity.ParseVerifierKey(k.Key)
		if err != nil || party != k.Party {
			v.fail(fmt.Sprintf("key record %d", i+1), "not a verifier key of %s: %v", k.Party, err)
			continue
		}
		info := KeyInfo{Party: party, Key: k.Key, From: k.From, Until: k.Until}
		v.keys[party] = append(v.keys[party], info)
		v.pubs[party] = append(v.pubs[party], pub)
		r.Keys = append(r.Keys, info)
	}
	entries := v.decodeAndVerify(a.Entries)
	def := v.checkFeeds(ch, entries)
	if def == nil {
		return v.finish()
	}
	for _, m := range def.Members {
		r.Members = append(r.Members, m.Party)
	}
	v.checkKeyPeriods()
	v.checkRevocations(ch, def, a.Revocations)
	v.checkCheckpoints(ch, def, a.Checkpoints)
	v.report(def, entries)
	v.reportCalls(def, entries)
	return v.finish()
}

func (v *verifier) finish() *Report {
	v.r.OK = len(v.r.Failures) == 0
	return v.r
}

// decodeAndVerify decodes every entry and checks its signature with its
// author's keys, in parallel on every core, noting which key it verifies
// under (checkFeeds checks it is the key valid at the entry's position).
// It returns the entries that verified, in archive order; the rest are
// failures.
func (v *verifier) decodeAndVerify(recs []Record) []*entry.Entry {
	out := make([]*entry.Entry, len(recs))
	by := make([]string, len(recs))
	errs := make([]error, len(recs))
	var wg sync.WaitGroup
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(recs); i += workers {
				e, err := entry.Decode(recs[i].Entry)
				if err != nil {
					errs[i] = err
					continue
				}
				keys := v.pubs[e.Author]
				if len(keys) == 0 {
					errs[i] = fmt.Errorf("entry %s/%d: the archive has no key of %s", e.Author, e.Seq, e.Author)
					continue
				}
				for k, pub := range keys {
					if err = e.Verify(pub); err == nil {
						by[i] = v.keys[e.Author][k].Key
						break
					}
				}
				if err != nil {
					errs[i] = fmt.Errorf("entry %s/%d (%s): %v: its bytes were altered or it was not signed by %s", e.Author, e.Seq, e.ID(), err, e.Author)
					continue
				}
				out[i] = e
			}
		}()
	}
	wg.Wait()
	var ok []*entry.Entry
	for i, e := range out {
		if errs[i] != nil {
			v.fail(fmt.Sprintf("entry record %d", i+1), "%v", errs[i])
			continue
		}
		ok = append(ok, e)
		v.signedBy[e.ID()] = by[i]
		v.r.Verified++
	}
	return ok
}

// checkFeeds checks that the entries form the channel: the proposal's
// definition is the channel's, every feed is gap-free and chained, every
// entry comes after what it references and its references match, and
// every body is valid. It returns the channel's definition.
func (v *verifier) checkFeeds(ch entry.ChannelID, entries []*entry.Entry) *entry.Definition {
	var def *entry.Definition
	var err error
	for _, e := range entries {
		where := fmt.Sprintf("entry %s/%d", e.Author, e.Seq)
		if e.Channel != ch {
			v.fail(where, "belongs to channel %s, not %s", e.Channel, ch)
			continue
		}
		if other, dup := v.byID[e.ID()]; dup {
			v.fail(where, "appears twice (as %s/%d)", other.Author, other.Seq)
			continue
		}
		feed := v.feeds[e.Author]
		switch {
		case e.Seq <= uint64(len(feed)) && feed[e.Seq-1].ID() != e.ID():
			v.fail(where, "EQUIVOCATION: %s signed two different entries with seq %d (%s and %s)", e.Author, e.Seq, feed[e.Seq-1].ID(), e.ID())
			continue
		case e.Seq != uint64(len(feed))+1:
			v.fail(where, "out of place: %s's feed holds %d entries before it here, so seq %d is missing or the entries were reordered", e.Author, len(feed), len(feed)+1)
			continue
		case e.Seq > 1 && e.Prev != feed[e.Seq-2].ID():
			v.fail(where, "does not chain to %s/%d: its prev is %s, that entry's id is %s", e.Author, e.Seq-1, e.Prev, feed[e.Seq-2].ID())
			continue
		}
		for _, ref := range e.Refs {
			rf := v.feeds[ref.Party]
			if ref.Seq > uint64(len(rf)) {
				v.fail(where, "refers to %s, which is not before it in the archive (missing, or entries reordered)", ref)
			} else if rf[ref.Seq-1].ID() != ref.ID {
				v.fail(where, "refers to %s with id %s, but that entry's id is %s", ref, ref.ID, rf[ref.Seq-1].ID())
			}
		}
		var body any
		if e.Body == nil {
			v.r.Warnings = append(v.r.Warnings, fmt.Sprintf("%s: its body has been redacted; its signature, place and fingerprint still verify", where))
		} else if body, err = entry.DecodeBody(e); err != nil {
			v.fail(where, "%v", err)
		}
		if def == nil {
			c, ok := body.(*entry.Config)
			if !ok || c.Definition == nil || c.Definition.ChannelID() != ch {
				v.fail(where, "the first entry must be the channel's proposal, whose definition hashes to the channel id")
				return nil
			}
			def = c.Definition
			for _, m := range def.Members {
				if _, pub, err := identity.ParseVerifierKey(m.Key); err == nil && !hasKey(v.pubs[m.Party], pub) {
					v.fail("channel definition", "member %s's key %s, as agreed in the channel, is not among the archive's keys for %s", m.Party, m.Key, m.Party)
				}
				v.feedKey[m.Party] = m.Key
			}
		}
		if want := v.feedKey[e.Author]; want != "" && v.signedBy[e.ID()] != want {
			v.fail(where, "signed by %s's key %s, but the key valid at this position of its feed is %s", e.Author, v.signedBy[e.ID()], want)
		}
		if kc, ok := body.(*entry.KeyChange); ok {
			v.keyChange(where, e, kc)
		}
		if _, member := def.Member(e.Author); !member {
			v.fail(where, "%s is not a member of the channel", e.Author)
		}
		v.feeds[e.Author] = append(feed, e)
		v.byID[e.ID()] = e
		v.bodies[e.ID()] = body
		v.checkTargets(where, e, body)
		switch b := body.(type) {
		case *entry.Call:
			v.checkCall(where, def, ch, e, b)
		case *entry.Roster:
			v.rosters[e.Author] = b
		case *entry.Message:
			v.checkReleases(where, def, ch, e, b)
		}
	}
	if def == nil && len(v.r.Failures) == 0 {
		v.fail("archive", "holds no entries")
	}
	return def
}

// keyChange checks a key entry against the key that signed it, and makes
// its new key the one that signs the rest of the author's feed.
func (v *verifier) keyChange(where string, e *entry.Entry, kc *entry.KeyChange) {
	old := v.feedKey[e.Author]
	c, err := keychain.ParseChange(e, kc, old)
	if err != nil {
		v.fail(where, "%v", err)
		return
	}
	v.feedKey[e.Author] = c.New.Verifier
	v.r.KeyChanges = append(v.r.KeyChanges, KeyChangeInfo{Party: e.Author, Seq: e.Seq, Operator: e.Operator, Time: e.AuthorTime(),
		Old: old, New: c.New.Verifier, TLS: string(c.New.TLS)})
}

// checkReleases checks a message's personal signatures against its
// author's newest roster before it, and the channel's release rule.
func (v *verifier) checkReleases(where string, def *entry.Definition, ch entry.ChannelID, e *entry.Entry, m *entry.Message) {
	required := def.Policy.ReleasersFor(m.Precedence)
	if len(m.Releases) == 0 && required == 0 {
		return
	}
	roster := v.rosters[e.Author]
	if _, err := release.Check(ch, m, e.Operator, roster, e.AuthorTime(), required); err != nil {
		v.fail(where, "%v", err)
		return
	}
	for i := range m.Releases {
		r := &m.Releases[i]
		rk, _ := roster.Lookup(r.Operator, &r.Key)
		v.releases[e.ID()] = append(v.releases[e.ID()], ReleaseInfo{Operator: r.Operator, Role: rk.Role, KeyType: r.Key.Type, Key: release.KeyID(&r.Key)})
	}
}

// checkKeyPeriods checks the key records' periods against the feeds'
// key entries: each record with a period must name the seqs its key
// signs.
func (v *verifier) checkKeyPeriods() {
	type period struct{ from, until uint64 }
	actual := map[string]map[string]period{} // party → key → seqs it signs
	for party, feed := range v.feeds {
		actual[party] = map[string]period{}
		for _, e := range feed {
			k := v.signedBy[e.ID()]
			p, seen := actual[party][k]
			if !seen {
				p.from = e.Seq
			}
			p.until = e.Seq
			actual[party][k] = p
		}
	}
	for _, k := range v.r.Keys {
		if k.From == nil && k.Until == nil {
			continue
		}
		p, used := actual[k.Party][k.Key]
		if !used {
			continue // no entry of its period is in the archive
		}
		if (k.From != nil && *k.From > p.from) || (k.Until != nil && *k.Until < p.until) {
			v.fail("key record", "%s's key %s is recorded for seqs %s to %s, but signs seqs %d to %d of its feed", k.Party, k.Key, seqOrOpen(k.From), seqOrOpen(k.Until), p.from, p.until)
		}
	}
}

// checkRevocations checks each revocation's signature by the new key it
// names, which must be one of its party's keys in the archive, and marks
// the entries of the party's feed it no longer trusts as disputed: from
// its point on, if the revoked key signed any of the feed.
func (v *verifier) checkRevocations(ch entry.ChannelID, def *entry.Definition, recs []Record) {
	for i, rec := range recs {
		where := fmt.Sprintf("revocation record %d", i+1)
		r, err := keychain.ParseRevocation([]byte(rec.Note))
		if err != nil {
			v.fail(where, "%v", err)
			continue
		}
		if r.Identity.Party != rec.Party {
			v.fail(where, "is %s's, recorded as %s's", r.Identity.Party, rec.Party)
			continue
		}
		if _, member := def.Member(r.Identity.Party); !member {
			v.fail(where, "%s is not a member of the channel", r.Identity.Party)
			continue
		}
		if !slices.ContainsFunc(v.keys[r.Identity.Party], func(k KeyInfo) bool { return k.Key == r.Identity.Key }) {
			v.fail(where, "signed by %s, which is not among the archive's keys for %s", r.Identity.Key, r.Identity.Party)
			continue
		}
		from := r.From(ch)
		v.r.Revocations = append(v.r.Revocations, RevocationInfo{Party: r.Identity.Party, Revoked: r.Revoked, NewKey: r.Identity.Key, Time: r.Time, From: from})
		feed := v.feeds[r.Identity.Party]
		signed := false
		for _, e := range feed {
			signed = signed || v.signedBy[e.ID()] == r.Revoked
		}
		if m, _ := def.Member(r.Identity.Party); !signed && m.Key != r.Revoked {
			continue // the revoked key signed nothing here
		}
		for seq := from; seq <= uint64(len(feed)); seq++ {
			e := feed[seq-1]
			if !v.isDisputed[e.ID()] {
				v.isDisputed[e.ID()] = true
				v.r.Disputed = append(v.r.Disputed, DisputedInfo{Party: e.Author, Seq: e.Seq, Kind: string(e.Kind)})
			}
		}
	}
}

func seqOrOpen(s *uint64) string {
	if s == nil {
		return "(open)"
	}
	return fmt.Sprint(*s)
}

func hasKey(keys []ed25519.PublicKey, k ed25519.PublicKey) bool {
	for _, x := range keys {
		if x.Equal(k) {
			return true
		}
	}
	return false
}

// checkTargets checks that what a receipt or mark names exists, with the
// id it names.
func (v *verifier) checkTargets(where string, e *entry.Entry, body any) {
	check := func(what string, ref entry.Ref) {
		rf := v.feeds[ref.Party]
		if ref.Seq == 0 || ref.Seq > uint64(len(rf)) {
			v.fail(where, "%s %s, an entry not in the archive before it", what, ref)
		} else if rf[ref.Seq-1].ID() != ref.ID {
			v.fail(where, "%s %s with id %s, but that entry's id is %s", what, ref, ref.ID, rf[ref.Seq-1].ID())
		}
	}
	switch b := body.(type) {
	case *entry.Receipt:
		for _, h := range b.Holds {
			check("receipts", h)
		}
	case *entry.Mark:
		check("marks", b.Target)
	case *entry.Call:
		if b.Re != nil {
			check("answers call request", *b.Re)
		}
		if b.Draft != nil {
			check("co-signs draft", *b.Draft)
		}
	}
}

// checkCheckpoints checks every checkpoint against the feed it heads: the
// author's signature, every cosignature, and the root against the tree of
// the feed's entries.
func (v *verifier) checkCheckpoints(ch entry.ChannelID, def *entry.Definition, recs []Record) {
	// Each feed's tree is built on a core of its own.
	trees := map[string]*memTree{}
	var wg sync.WaitGroup
	for party, feed := range v.feeds {
		t := &memTree{hashes: make([]tlog.Hash, 0, 2*len(feed))}
		trees[party] = t
		wg.Go(func() {
			for _, e := range feed {
				t.add(checkpoint.RecordHash(e))
			}
		})
	}
	wg.Wait()
	infos := map[string]*FeedInfo{}
	for _, m := range def.Members {
		infos[m.Party] = &FeedInfo{Party: m.Party, Entries: len(v.feeds[m.Party]), CosignedBy: map[string]time.Time{}}
	}
	// A checkpoint is signed, and cosigned, by a key its party held at
	// the time: any of its keys in the archive.
	keys := checkpoint.Keys{}
	for _, m := range def.Members {
		keys[m.Party] = v.pubs[m.Party]
	}
	for i, rec := range recs {
		where := fmt.Sprintf("checkpoint record %d (%s's feed)", i+1, rec.Party)
		info, member := infos[rec.Party]
		if !member {
			v.fail(where, "%s is not a member of the channel", rec.Party)
			continue
		}
		s, err := checkpoint.Open([]byte(rec.Note), keys)
		if err != nil {
			v.fail(where, "%v", err)
			continue
		}
		if s.Channel != ch || s.Author != rec.Party {
			v.fail(where, "is a checkpoint of %s", s.Origin)
			continue
		}
		where = fmt.Sprintf("checkpoint of %s's feed at size %d", s.Author, s.Size)
		t := trees[s.Author]
		if s.Size > t.size() {
			v.fail(where, "covers %d entries but the archive holds %d of %s's feed: entries were removed", s.Size, t.size(), s.Author)
			continue
		}
		if root := t.root(s.Size); root != s.Root {
			v.fail(where, "root %s does not match the tree of the feed's entries (%s): the feed was altered, or %s signed a false checkpoint",
				b64(s.Root), b64(root), s.Author)
			continue
		}
		info.Checkpoints++
		info.Checkpoint = max(info.Checkpoint, s.Size)
		for p, at := range s.Cosigners {
			if _, member := infos[p]; !member {
				continue
			}
			if prev, ok := info.CosignedBy[p]; !ok || at.After(prev) {
				info.CosignedBy[p] = at
			}
		}
		if len(s.Cosigners) == len(def.Members)-1 {
			info.Cosigned = max(info.Cosigned, s.Size)
		}
	}
	for _, m := range def.Members {
		info := infos[m.Party]
		v.r.Feeds = append(v.r.Feeds, *info)
		n := int64(info.Entries)
		switch {
		case n == 0:
		case info.Checkpoint < n:
			v.r.Warnings = append(v.r.Warnings, fmt.Sprintf("%s's feed: entries %d to %d are signed but not yet in a signed checkpoint", m.Party, info.Checkpoint+1, n))
		case info.Cosigned < n && len(def.Members) > 1:
			v.r.Warnings = append(v.r.Warnings, fmt.Sprintf("%s's feed: entries %d to %d are in %s's signed checkpoint but not yet cosigned by every other member", m.Party, info.Cosigned+1, n, m.Party))
		}
	}
}

// memTree is a feed's Merkle tree in memory, as tlog stored hashes.
type memTree struct {
	hashes []tlog.Hash
	n      int64 // records
}

func (t *memTree) size() int64 { return t.n }

func (t *memTree) read(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x >= int64(len(t.hashes)) {
			return nil, fmt.Errorf("hash %d not stored", x)
		}
		out[i] = t.hashes[x]
	}
	return out, nil
}

func (t *memTree) add(leaf tlog.Hash) {
	n := t.size()
	hs, err := tlog.StoredHashesForRecordHash(n, leaf, tlog.HashReaderFunc(t.read))
	if err != nil {
		panic("audit: in-memory tree: " + err.Error())
	}
	t.hashes = append(t.hashes, hs...)
	t.n++
}

func (t *memTree) root(size int64) tlog.Hash {
	h, err := tlog.TreeHash(size, tlog.HashReaderFunc(t.read))
	if err != nil {
		panic("audit: in-memory tree: " + err.Error())
	}
	return h
}

// report lists every message with its receipts, reads and acks.
func (v *verifier) report(def *entry.Definition, entries []*entry.Entry) {
	idx := map[entry.ID]int{}
	for _, e := range entries {
		m, ok := v.bodies[e.ID()].(*entry.Message)
		if !ok {
			continue
		}
		mi := MessageInfo{ID: e.ID().String(), Author: e.Author, Operator: e.Operator, Seq: e.Seq, Time: e.AuthorTime(),
			Text: m.Text, Lang: m.Lang, Precedence: m.Precedence, Received: []Delivery{}, Read: []Mark{}, Acked: []Mark{}, Disputed: v.isDisputed[e.ID()], Releases: v.releases[e.ID()]}
		if m.AckWithin > 0 {
			mi.AckWithin = (time.Duration(m.AckWithin) * time.Millisecond).String()
		}
		idx[e.ID()] = len(v.r.Messages)
		v.r.Messages = append(v.r.Messages, mi)
	}
	// Receipts are cumulative: the first receipt by a member that holds
	// the author's feed up to a message's seq proves its delivery. Each
	// receiver's receipts of each feed are walked once, from where its
	// previous receipt stopped.
	upTo := map[[2]string]uint64{} // receiver, author → seq already attributed
	for _, e := range entries {
		switch b := v.bodies[e.ID()].(type) {
		case *entry.Receipt:
			for _, h := range b.Holds {
				held := v.feeds[h.Party]
				key := [2]string{e.Author, h.Party}
				for seq := upTo[key] + 1; seq <= h.Seq && seq <= uint64(len(held)); seq++ {
					if i, ok := idx[held[seq-1].ID()]; ok {
						v.r.Messages[i].Received = append(v.r.Messages[i].Received, Delivery{Party: e.Author, Time: e.AuthorTime(), Receipt: e.Ref().String()})
					}
				}
				upTo[key] = max(upTo[key], min(h.Seq, uint64(len(held))))
			}
		case *entry.Mark:
			// A cumulative read marks every message of the target's feed
			// in its range; any other mark, its target alone.
			mk := Mark{Party: e.Author, Operator: e.Operator, Time: e.AuthorTime(), Reply: b.Reply, Entry: e.Ref().String()}
			first, last := b.Seqs()
			feed := v.feeds[b.Target.Party]
			for seq := first; seq <= last && seq <= uint64(len(feed)); seq++ {
				i, ok := idx[feed[seq-1].ID()]
				if !ok {
					continue
				}
				if e.Kind == entry.KindAck {
					v.r.Messages[i].Acked = append(v.r.Messages[i].Acked, mk)
				} else {
					v.r.Messages[i].Read = append(v.r.Messages[i].Read, mk)
				}
			}
		}
	}
	for i := range v.r.Messages {
		v.overdue(def, &v.r.Messages[i])
	}
}

// overdue states, from signed times only, whether an acknowledgement came
// late or had not come by export: the deadline runs from each receiver's
// signed receipt, and its ack is timed by the same receiver's clock.
func (v *verifier) overdue(def *entry.Definition, m *MessageInfo) {
	if m.AckWithin == "" {
		return
	}
	within, _ := time.ParseDuration(m.AckWithin)
	var late []string
	for _, d := range m.Received {
		deadline := d.Time.Add(within)
		acked := false
		for _, a := range m.Acked {
			if a.Party == d.Party {
				acked = true
				if a.Time.After(deadline) {
					late = append(late, fmt.Sprintf("%s acknowledged %s after its deadline", d.Party, a.Time.Sub(deadline).Round(time.Second)))
				}
			}
		}
		if !acked && v.now.After(deadline) {
			late = append(late, fmt.Sprintf("%s had not acknowledged %s after its deadline, when the archive was exported", d.Party, v.now.Sub(deadline).Round(time.Second)))
		}
	}
	sort.Strings(late)
	for i, s := range late {
		if i > 0 {
			m.Overdue += "; "
		}
		m.Overdue += s
	}
}
