// Package loglimit bounds what untrusted input can make a node write to
// its log: a few lines a minute for each source (a peer, a client
// address), the rest counted and summed up in one line once the minute
// is over.
package loglimit

import (
	"log/slog"
	"sync"
	"time"
)

// maxSources bounds the sources remembered; past it they are forgotten
// all at once (an attacker with many addresses gets one line per
// address, never unbounded memory).
const maxSources = 10000

// Limiter logs warnings about each source's input, at most PerMinute a
// minute per source.
type Limiter struct {
	log       *slog.Logger
	perMinute int
	now       func() time.Time

	mu      sync.Mutex
	windows map[string]*window
}

type window struct {
	start          time.Time
	lines, dropped int
}

// New returns a limiter that writes to log at most perMinute warnings a
// minute about each source, by the clock now (time.Now if nil).
func New(log *slog.Logger, perMinute int, now func() time.Time) *Limiter {
	if now == nil {
		now = time.Now
	}
	return &Limiter{log: log, perMinute: perMinute, now: now, windows: make(map[string]*window)}
}

// Warn logs a warning about source's input, unless source has had its
// lines this minute. The first line after a minute in which lines were
// dropped is preceded by one that says how many.
func (l *Limiter) Warn(source, msg string, args ...any) {
	now := l.now()
	l.mu.Lock()
	w := l.windows[source]
	if w == nil {
		if len(l.windows) >= maxSources {
			clear(l.windows)
		}
		w = &window{start: now}
		l.windows[source] = w
	}
	dropped := 0
	if now.Sub(w.start) >= time.Minute {
		dropped = w.dropped
		*w = window{start: now}
	}
	ok := w.lines < l.perMinute
	if ok {
		w.lines++
	} else {
		w.dropped++
	}
	l.mu.Unlock()
	if dropped > 0 {
		l.log.Warn("more warnings about this source were not logged", "about", source, "suppressed", dropped)
	}
	if ok {
		l.log.Warn(msg, args...)
	}
}
