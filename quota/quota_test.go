package quota

import (
	"errors"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// clock is a test clock that moves only when told.
type clock struct{ t time.Time }

func (c *clock) now() time.Time      { return c.t }
func (c *clock) add(d time.Duration) { c.t = c.t.Add(d) }
func newClock(at string) *clock      { t, _ := time.Parse(time.RFC3339, at); return &clock{t} }
func exceeded(err error, limit string) bool {
	var ex *Exceeded
	return errors.As(err, &ex) && ex.Limit == limit
}

func TestMeter_PeerRate(t *testing.T) {
	c := newClock("2026-12-01T10:00:00Z")
	m := New(Limits{PeerEntriesPerSecond: 100}, c.now)
	if err := m.AdmitEntries("alpha", 1000); err != nil { // the whole burst
		t.Fatalf("a burst of 10 s worth: %v", err)
	}
	err := m.AdmitEntries("alpha", 50)
	var ex *Exceeded
	if !errors.As(err, &ex) || ex.Limit != PeerRate || ex.RetryAfter != 500*time.Millisecond {
		t.Fatalf("past the burst: %v", err)
	}
	if err := m.AdmitEntries("bravo", 1000); err != nil {
		t.Fatalf("another peer is not held back: %v", err)
	}
	c.add(time.Second)
	if err := m.AdmitEntries("alpha", 100); err != nil {
		t.Fatalf("a second later, a second's worth: %v", err)
	}
	if got := m.Refused(); len(got) != 1 || got[0] != PeerRate+"/alpha" {
		t.Fatalf("refusals reported: %v", got)
	}
	m.AdmitEntries("alpha", 5000)
	if got := m.Refused(); len(got) != 0 {
		t.Fatalf("the same refusal reported twice in a day: %v", got)
	}
}

func TestMeter_DailyBytesPerPartyAndChannel(t *testing.T) {
	c := newClock("2026-12-01T23:00:00Z")
	m := New(Limits{PeerBytesPerDay: 1000, ChannelBytesPerDay: 600}, c.now)
	a, b := entry.ChannelID{1}, entry.ChannelID{2}
	if err := m.Reserve("alpha", a, 500); err != nil {
		t.Fatal(err)
	}
	if err := m.Reserve("alpha", a, 200); !exceeded(err, ChannelDaily) {
		t.Fatalf("past the channel's day: %v", err)
	}
	if err := m.Reserve("alpha", b, 450); err != nil {
		t.Fatalf("another channel: %v", err)
	}
	err := m.Reserve("alpha", b, 100)
	var ex *Exceeded
	if !errors.As(err, &ex) || ex.Limit != PeerDaily || ex.RetryAfter != time.Hour {
		t.Fatalf("past the party's day: %v", err)
	}
	if err := m.Reserve("charlie", b, 100); err != nil {
		t.Fatalf("another party: %v", err)
	}
	// A reservation given back (a commit that failed) counts no more.
	m.Release("alpha", b, 450)
	if err := m.Reserve("alpha", b, 100); err != nil {
		t.Fatalf("after a release: %v", err)
	}
	// A new day starts afresh.
	c.add(time.Hour)
	if err := m.Reserve("alpha", a, 500); err != nil {
		t.Fatalf("the next day: %v", err)
	}
}

func TestMeter_StoreShareSurvivesRestart(t *testing.T) {
	c := newClock("2026-12-01T10:00:00Z")
	ch := entry.ChannelID{1}
	m := New(Limits{PeerStoreBytes: 1000}, c.now)
	// At start-up the meter learns what the store holds already.
	m.Load([]hotline.Usage{{Party: "alpha", Channel: ch, Bytes: 900}}, []hotline.Usage{{Party: "alpha", Channel: ch, Bytes: 100}}, nil)
	if err := m.Reserve("alpha", ch, 200); !exceeded(err, PeerStore) {
		t.Fatalf("past the store share: %v", err)
	}
	if u := m.Usage("alpha"); u.StoreBytes != 900 || u.TodayBytes != 100 {
		t.Fatalf("usage %+v", u)
	}
}

func TestMeter_ChannelRate(t *testing.T) {
	c := newClock("2026-12-01T10:00:00Z")
	m := New(Limits{ChannelEntriesPerSecond: 1}, c.now)
	ch := entry.ChannelID{1}
	for i := range BurstSeconds {
		if err := m.Reserve("alpha", ch, 1); err != nil {
			t.Fatalf("entry %d of the burst: %v", i, err)
		}
	}
	if err := m.Reserve("alpha", ch, 1); !exceeded(err, ChannelRate) {
		t.Fatalf("past the channel's rate: %v", err)
	}
	if err := m.Reserve("alpha", entry.ChannelID{2}, 1); err != nil {
		t.Fatalf("another channel: %v", err)
	}
}

func TestMeter_EvidencePerKind(t *testing.T) {
	c := newClock("2026-12-01T10:00:00Z")
	m := New(Limits{EvidencePerDay: 2, EvidenceBytesPerDay: 100}, c.now)
	m.Load(nil, nil, []hotline.EvidenceCount{{Peer: "alpha", Kind: "rejected", Records: 1, Bytes: 10}})
	if err := m.AdmitEvidence("alpha", "rejected", 10); err != nil {
		t.Fatal(err)
	}
	if err := m.AdmitEvidence("alpha", "rejected", 10); !exceeded(err, EvidenceDaily) {
		t.Fatalf("a third record in a day: %v", err)
	}
	// Rejected entries never use up the allowance of equivocations.
	if err := m.AdmitEvidence("alpha", "equivocation", 50); err != nil {
		t.Fatal(err)
	}
	if err := m.AdmitEvidence("alpha", "equivocation", 60); !exceeded(err, EvidenceDaily) {
		t.Fatalf("past the day's bytes: %v", err)
	}
}

func TestMeter_NoLimits(t *testing.T) {
	m := New(Limits{}, nil)
	for range 100 {
		if err := m.AdmitEntries("alpha", 1<<20); err != nil {
			t.Fatal(err)
		}
		if err := m.Reserve("alpha", entry.ChannelID{}, 1<<30); err != nil {
			t.Fatal(err)
		}
	}
}
