// Package display makes text written by another party safe to show to
// people, on a terminal or in a page: nothing in it may hide, reorder or
// impersonate what is around it.
//
// Two kinds of character can do that, and both are shown as a visible
// escape (\u202E) instead of taking effect:
//
//   - control characters (C0 and C1, DEL), which move a terminal's cursor,
//     clear lines or change colours; tab and line breaks are kept by Text;
//   - Unicode's explicit bidirectional formatting characters (embeddings,
//     overrides and isolates, U+202A–U+202E and U+2066–U+2069; Unicode
//     Standard Annex #9, section 2), which can make "of bravo" read
//     "ovarb fo" or move one party's words into another's sentence (the
//     "Trojan Source" attack, CVE-2021-42574).
//
// Bidirectional marks (U+200E, U+200F, U+061C) are kept: they are strong
// characters that right-to-left text needs, and they cannot reach past
// the isolation the console puts around every piece of such text.
package display

import (
	"fmt"
	"strings"
	"unicode/utf8"
)

// Text returns s with control characters other than tab and line breaks,
// and bidirectional formatting characters, replaced by visible escapes,
// and invalid UTF-8 by U+FFFD.
func Text(s string) string { return clean(s, false) }

// Line is Text for one line: tabs and line breaks (including U+2028 and
// U+2029) become spaces.
func Line(s string) string { return clean(s, true) }

func clean(s string, oneLine bool) string {
	if !needsCleaning(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		i += size
		switch {
		case r == utf8.RuneError && size == 1:
			b.WriteRune(utf8.RuneError)
		case r == '\t' || r == '\n' || r == '\u2028' || r == '\u2029':
			if oneLine {
				b.WriteByte(' ')
			} else {
				b.WriteRune(r)
			}
		case r == '\r':
			if oneLine {
				b.WriteByte(' ')
			} else if i < len(s) && s[i] == '\n' {
				// CRLF: keep the line break once.
			} else {
				b.WriteByte('\n')
			}
		case hidden(r):
			fmt.Fprintf(&b, `\u%04X`, r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// hidden reports whether r is a control or bidirectional formatting
// character that is escaped.
func hidden(r rune) bool {
	switch {
	case r < 0x20, r == 0x7f, r >= 0x80 && r < 0xa0:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// needsCleaning is a fast check for the common case of plain text.
func needsCleaning(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == 0x7f || c >= 0x80 {
			return needsCleaningSlow(s)
		}
	}
	return false
}

func needsCleaningSlow(s string) bool {
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && size == 1) || r == '\t' || r == '\n' || r == '\r' || r == '\u2028' || r == '\u2029' || hidden(r) {
			return true
		}
		i += size
	}
	return false
}
