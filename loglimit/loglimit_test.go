package loglimit

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestLimiter: each source gets its lines a minute, the rest are counted
// and reported once the minute is over, and one source's flood does not
// silence another.
func TestLimiter(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), 3, func() time.Time { return now })
	for i := range 50 {
		l.Warn("alpha", "bad input", "i", i)
	}
	l.Warn("bravo", "bad input", "i", 0)
	if got := strings.Count(buf.String(), `msg="bad input"`); got != 4 {
		t.Fatalf("%d lines in the first minute, want 3 about alpha and 1 about bravo:\n%s", got, buf.String())
	}
	buf.Reset()
	now = now.Add(time.Minute)
	l.Warn("alpha", "bad input", "i", 50)
	want := []string{`msg="more warnings about this source were not logged" about=alpha suppressed=47`, `msg="bad input" i=50`}
	for _, w := range want {
		if !strings.Contains(buf.String(), w) {
			t.Errorf("the next minute's log lacks %q:\n%s", w, buf.String())
		}
	}
}

// TestLimiter_ManySources: sources past maxSources are forgotten, not
// kept: memory stays bounded however many addresses a client has.
func TestLimiter_ManySources(t *testing.T) {
	var buf bytes.Buffer
	l := New(slog.New(slog.NewTextHandler(&buf, nil)), 1, nil)
	for i := range 3 * maxSources {
		l.Warn(fmt.Sprintf("10.0.%d.%d", i/256, i%256), "login failed")
	}
	if n := len(l.windows); n > maxSources {
		t.Fatalf("%d sources remembered, more than %d", n, maxSources)
	}
	if got := strings.Count(buf.String(), "login failed"); got != 3*maxSources {
		t.Fatalf("%d lines, want one for each of the %d sources", got, 3*maxSources)
	}
}
