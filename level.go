package hotline

import (
	"strings"
	"time"
)

// Level is the level a channel belongs to. It sets the channel's defaults.
type Level string

// The levels, from the top.
const (
	Strategic Level = "strategic" // ministers, chiefs of defence
	Policy    Level = "policy"    // ministry officials
	Theatre   Level = "theatre"   // theatre and regional commanders
	Frontline Level = "frontline" // ships, aircraft, units
	Track2    Level = "track2"    // universities and think tanks; never escalates
)

// Levels lists every level, from the top.
var Levels = []Level{Strategic, Policy, Theatre, Frontline, Track2}

// ParseLevel returns the level named s.
func ParseLevel(s string) (Level, error) {
	for _, l := range Levels {
		if string(l) == s {
			return l, nil
		}
	}
	names := make([]string, len(Levels))
	for i, l := range Levels {
		names[i] = string(l)
	}
	return "", Errorf(EINVALID, "unknown level %q: use one of %s", s, strings.Join(names, ", "))
}

// DefaultAckWithin is the acknowledgement deadline a message at this level
// gets when its sender does not set one; zero means none is requested.
func (l Level) DefaultAckWithin() time.Duration {
	switch l {
	case Strategic:
		return 5 * time.Minute
	case Policy:
		return 24 * time.Hour
	case Theatre:
		return 30 * time.Minute
	case Frontline:
		return 2 * time.Minute
	}
	return 0
}

// String returns the level's name.
func (l Level) String() string { return string(l) }
