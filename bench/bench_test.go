package bench

import (
	"context"
	"testing"
	"time"
)

// TestRun runs a small bench end to end: every message sent must come back
// receipted, and the figures must be internally consistent. It asserts
// nothing about speed.
func TestRun(t *testing.T) {
	res, err := Run(context.Background(), Options{Dir: t.TempDir(), Messages: 300, Senders: 8, Load: 0.05, Duration: 500 * time.Millisecond,
		CatchUp: 500, Verify: true})
	if err != nil {
		t.Fatal(err)
	}
	check := func(name string, p Phase, want int) {
		if p.Messages != want {
			t.Errorf("%s: %d messages measured, want %d", name, p.Messages, want)
		}
		if p.P50 <= 0 || p.P50 > p.P99 || p.P99 > p.Max || p.PerSecond <= 0 {
			t.Errorf("%s: inconsistent figures %+v", name, p)
		}
	}
	check("throughput", res.Throughput, 300)
	if res.Latency == nil {
		t.Fatal("no latency phase")
	}
	if want := int(0.05 * res.Throughput.PerSecond); res.OfferedRate != max(1, want) {
		t.Errorf("offered %d/s in the latency phase, want a twentieth of %.0f/s", res.OfferedRate, res.Throughput.PerSecond)
	}
	check("latency", *res.Latency, res.OfferedRate/2)
	if res.SignVerifyPerS <= 0 || res.ThroughputRatio <= 0 || res.VerifyPerS <= res.SignVerifyPerS {
		t.Errorf("sign+verify %v, ratio %v, verify %v", res.SignVerifyPerS, res.ThroughputRatio, res.VerifyPerS)
	}
	if res.MessageBytes < 200 || res.MessageBytes > 1000 {
		t.Errorf("message entries of %.0f bytes on average", res.MessageBytes)
	}
	if c := res.CatchUp; c == nil || c.Count != 500 || c.PerSecond <= 0 || c.Ratio <= 0 {
		t.Errorf("catch-up: %+v", c)
	}
	// The archive holds every message of the three phases, each with
	// bravo's receipts, and the channel's set-up.
	sent := 300 + res.Latency.Messages + 500
	if v := res.OfflineVerify; v == nil || v.Count < sent || v.Ratio <= 0 {
		t.Errorf("offline verify of at least %d entries: %+v", sent, v)
	}
}
