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
	res, err := Run(context.Background(), Options{Dir: t.TempDir(), Messages: 300, Senders: 8, Rate: 200, Duration: 500 * time.Millisecond})
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
	check("latency", *res.Latency, 100)
	if res.SignVerifyPerS <= 0 || res.ThroughputRatio <= 0 {
		t.Errorf("sign+verify %v, ratio %v", res.SignVerifyPerS, res.ThroughputRatio)
	}
}
