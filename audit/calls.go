package audit

import (
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/identity"
)

// CallInfo is one call request in an archive with every signed answer.
type CallInfo struct {
	ID        string       `json:"id"`
	Requester string       `json:"requester"`
	Operator  string       `json:"operator,omitempty"`
	Time      time.Time    `json:"time"` // requester's clock, signed
	Purpose   string       `json:"purpose"`
	Level     string       `json:"level"`
	Times     []time.Time  `json:"times"`
	Answers   []CallAnswer `json:"answers"`
}

// CallAnswer is one signed entry about a call request: an acceptance, a
// decline, a counter-proposal, the requester's record that it went
// unanswered, or a readout.
type CallAnswer struct {
	Party  string     `json:"party"`
	Action string     `json:"action"`
	Entry  string     `json:"entry"` // party/seq
	Time   time.Time  `json:"time"`  // signer's clock
	At     *time.Time `json:"at,omitempty"`
	Reason string     `json:"reason,omitempty"`
	Text   string     `json:"text,omitempty"`
}

// JointReadout is a readout text signed by several parties, each
// signature checked against the key the channel pins for its party.
type JointReadout struct {
	Entry  string   `json:"entry"` // the entry carrying the signatures, party/seq
	Call   string   `json:"call"`  // the call request's id
	Text   string   `json:"text"`
	Lang   string   `json:"lang,omitempty"`
	Signed []string `json:"signed"`
	All    bool     `json:"all_members"` // every member signed
}

// EscalationInfo is a signed escalation entry: its author reported an
// entry of another channel unanswered past its deadline.
type EscalationInfo struct {
	Entry    string    `json:"entry"` // party/seq
	Source   string    `json:"source_channel"`
	Target   string    `json:"escalated_entry"` // party/seq in the source channel
	Deadline time.Time `json:"deadline"`
	Text     string    `json:"text"`
}

// checkCalls checks, for a call entry, that what it names is a call
// request (or a joint readout draft) of the archive, and the signatures of
// a joint readout.
func (v *verifier) checkCall(where string, def *entry.Definition, ch entry.ChannelID, e *entry.Entry, c *entry.Call) {
	if c.Re != nil {
		if rb, ok := v.bodies[c.Re.ID].(*entry.Call); v.byID[c.Re.ID] != nil && (!ok || rb.Action != entry.CallPropose) {
			v.fail(where, "answers %s, which is not a call request", c.Re)
		}
	}
	if !c.Joint() && c.Action != entry.CallHeld {
		return
	}
	// A party signs with the key its feed is at, or, if it rotated since
	// it signed, an earlier key of its feed.
	keysOf := func(party string) []ed25519.PublicKey {
		m, ok := def.Member(party)
		if !ok {
			return nil
		}
		var out []ed25519.PublicKey
		if _, pub, err := identity.ParseVerifierKey(m.Key); err == nil {
			out = append(out, pub)
		}
		for _, kc := range v.r.KeyChanges {
			if kc.Party == party {
				if _, pub, err := identity.ParseVerifierKey(kc.New); err == nil {
					out = append(out, pub)
				}
			}
		}
		return out
	}
	if _, err := entry.VerifyJoint(c, ch, keysOf); err != nil {
		v.fail(where, "%v", err) // the error names what was signed
	}
}

// reportCalls lists the call requests with their answers, the joint
// readouts and the escalations.
func (v *verifier) reportCalls(def *entry.Definition, entries []*entry.Entry) {
	idx := map[entry.ID]int{}
	for _, e := range entries {
		switch b := v.bodies[e.ID()].(type) {
		case *entry.Call:
			if b.Action == entry.CallPropose {
				ci := CallInfo{ID: e.ID().String(), Requester: e.Author, Operator: e.Operator, Time: e.AuthorTime(), Purpose: b.Purpose, Level: b.Level, Answers: []CallAnswer{}}
				for _, t := range b.Times {
					ci.Times = append(ci.Times, time.UnixMilli(t).UTC())
				}
				idx[e.ID()] = len(v.r.Calls)
				v.r.Calls = append(v.r.Calls, ci)
			}
			if b.Re == nil {
				continue
			}
			if i, ok := idx[b.Re.ID]; ok {
				a := CallAnswer{Party: e.Author, Action: b.Action, Entry: e.Ref().String(), Time: e.AuthorTime(), Reason: b.Reason, Text: b.Text}
				if b.Action == entry.CallAccept {
					at := time.UnixMilli(b.Times[0]).UTC()
					a.At = &at
				}
				v.r.Calls[i].Answers = append(v.r.Calls[i].Answers, a)
			}
			if b.Action == entry.CallHeld {
				v.reportHeld(e, b)
			}
			if b.Joint() {
				j := JointReadout{Entry: e.Ref().String(), Call: b.Re.ID.String(), Text: b.Text, Lang: b.Lang}
				for _, s := range b.Sigs {
					j.Signed = append(j.Signed, s.Party)
				}
				j.All = len(j.Signed) == len(def.Members)
				v.r.JointReadouts = append(v.r.JointReadouts, j)
			}
		case *entry.Escalation:
			v.r.Escalations = append(v.r.Escalations, EscalationInfo{Entry: e.Ref().String(), Source: b.Source.String(),
				Target: fmt.Sprintf("%s/%d", b.Entry.Party, b.Entry.Seq), Deadline: time.UnixMilli(b.Deadline).UTC(), Text: b.Text})
		}
	}
}

// HeldCall is the record of a held call: when, who of each party was on
// it, the SHA-256 of each party's recordings, and which parties signed
// it (each signature checked).
type HeldCall struct {
	Entry    string        `json:"entry"` // the requester's record, party/seq
	Call     string        `json:"call"`  // the call request's id
	Start    time.Time     `json:"start"`
	End      time.Time     `json:"end"`
	Signed   []string      `json:"signed"`
	Sections []HeldSection `json:"sections"`
}

// HeldSection is one party's part of a held record.
type HeldSection struct {
	Party      string           `json:"party"`
	Attendance []HeldAttendance `json:"attendance"`
	Recordings []HeldRecording  `json:"recordings"`
	Quality    []HeldQuality    `json:"quality"`
}

// HeldAttendance is one person's time on the call.
type HeldAttendance struct {
	Role        string    `json:"role"`
	Operator    string    `json:"operator,omitempty"`
	Interpreter bool      `json:"interpreter,omitempty"`
	Joined      time.Time `json:"joined"`
	Left        time.Time `json:"left"`
}

// HeldRecording is a recording a party kept, by SHA-256.
type HeldRecording struct {
	File    string  `json:"file"`
	SHA256  string  `json:"sha256"`
	Bytes   int64   `json:"bytes"`
	Seconds float64 `json:"seconds"`
}

// HeldQuality is how a party received another's audio.
type HeldQuality struct {
	From      string  `json:"from"`
	Received  int64   `json:"received"`
	Lost      int64   `json:"lost"`
	JitterMs  float64 `json:"jitter_ms"`
	RTTMs     float64 `json:"rtt_ms"`
	LatencyMs float64 `json:"latency_ms"`
}

// reportHeld adds a held record to the report, or, for a co-signature,
// the parties it adds to the record's signatures (VerifyJoint checked
// them, in checkCall).
func (v *verifier) reportHeld(e *entry.Entry, c *entry.Call) {
	if c.Draft != nil {
		for i := range v.r.HeldCalls {
			h := &v.r.HeldCalls[i]
			if h.Entry != c.Draft.String() {
				continue
			}
			for _, s := range c.Sigs {
				if !slices.Contains(h.Signed, s.Party) {
					h.Signed = append(h.Signed, s.Party)
				}
			}
			slices.Sort(h.Signed)
		}
		return
	}
	ms := func(t int64) time.Time { return time.UnixMilli(t).UTC() }
	h := HeldCall{Entry: e.Ref().String(), Call: c.Re.ID.String(), Start: ms(c.Held.Start), End: ms(c.Held.End), Signed: []string{}, Sections: []HeldSection{}}
	for _, s := range c.Sigs {
		h.Signed = append(h.Signed, s.Party)
	}
	for _, s := range c.Held.Sections {
		hs := HeldSection{Party: s.Party, Attendance: []HeldAttendance{}, Recordings: []HeldRecording{}, Quality: []HeldQuality{}}
		for _, a := range s.Attendance {
			hs.Attendance = append(hs.Attendance, HeldAttendance{Role: a.Role, Operator: a.Operator, Interpreter: a.Interpreter, Joined: ms(a.Joined), Left: ms(a.Left)})
		}
		for _, r := range s.Recordings {
			hs.Recordings = append(hs.Recordings, HeldRecording{File: r.File, SHA256: hex.EncodeToString(r.SHA256), Bytes: r.Bytes, Seconds: float64(r.Millis) / 1000})
		}
		for _, q := range s.Quality {
			hs.Quality = append(hs.Quality, HeldQuality{From: q.From, Received: q.Received, Lost: q.Lost,
				JitterMs: float64(q.JitterUs) / 1000, RTTMs: float64(q.RTTUs) / 1000, LatencyMs: float64(q.LatencyUs) / 1000})
		}
		h.Sections = append(h.Sections, hs)
	}
	v.r.HeldCalls = append(v.r.HeldCalls, h)
}

// RecordingCheck is a recording file checked against the held records.
type RecordingCheck struct {
	Path   string `json:"path"`
	SHA256 string `json:"sha256"`
	// Matches names the record and party whose hash it matches ("" if
	// none does).
	Matches string `json:"matches,omitempty"`
}

// CheckRecordings hashes each file and looks for its SHA-256 among the
// recordings the report's held records name; a file that matches none is
// a failure.
func CheckRecordings(r *Report, paths []string) error {
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		h := sha256.New()
		n, err := io.Copy(h, f)
		f.Close()
		if err != nil {
			return err
		}
		rc := RecordingCheck{Path: p, SHA256: hex.EncodeToString(h.Sum(nil))}
		for _, hc := range r.HeldCalls {
			for _, s := range hc.Sections {
				for _, rec := range s.Recordings {
					if rec.SHA256 == rc.SHA256 && rec.Bytes == n {
						rc.Matches = fmt.Sprintf("%s's recording %s of call %s (record %s, signed by %s)", s.Party, rec.File, hc.Call[:16], hc.Entry, strings.Join(hc.Signed, ", "))
					}
				}
			}
		}
		if rc.Matches == "" {
			r.Failures = append(r.Failures, Failure{Where: "recordings", What: fmt.Sprintf("%s (SHA-256 %s) is not a recording any held record of the archive names", p, rc.SHA256)})
			r.OK = false
		}
		r.Recordings = append(r.Recordings, rc)
	}
	return nil
}
