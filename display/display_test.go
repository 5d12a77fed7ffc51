package display

import (
	"testing"
	"unicode/utf8"
)

func TestText(t *testing.T) {
	tests := []struct {
		name, in, text, line string
	}{
		{"plain", "Request a call at 0900Z", "Request a call at 0900Z", "Request a call at 0900Z"},
		{"right-to-left override", "Lt Cdr \u202eovarb fo", `Lt Cdr \u202Eovarb fo`, `Lt Cdr \u202Eovarb fo`},
		{"isolates", "\u2067x\u2069", `\u2067x\u2069`, `\u2067x\u2069`},
		{"terminal escape", "ok\x1b[2Kgone", `ok\u001B[2Kgone`, `ok\u001B[2Kgone`},
		{"C1 control", "a\u009bb", `a\u009Bb`, `a\u009Bb`},
		{"line breaks kept or flattened", "one\r\ntwo\tthree\u2028four", "one\ntwo\tthree\u2028four", "one  two three four"},
		{"lone carriage return", "one\rtwo", "one\ntwo", "one two"},
		{"invalid UTF-8", "a\xffb", "a\ufffdb", "a\ufffdb"},
		{"Chinese and Arabic with a mark", "收到 \u200fمرحبا", "收到 \u200fمرحبا", "收到 \u200fمرحبا"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.in); got != tt.text {
				t.Errorf("Text = %q, want %q", got, tt.text)
			}
			if got := Line(tt.in); got != tt.line {
				t.Errorf("Line = %q, want %q", got, tt.line)
			}
		})
	}
}

// FuzzText: whatever the input, the output is valid UTF-8 with no
// control or bidirectional formatting character left, and cleaning twice
// changes nothing more.
func FuzzText(f *testing.F) {
	for _, s := range []string{"", "plain", "\u202eevil", "\x1b[31mred", "a\r\nb", "\xff\xfe"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, out := range []string{Text(s), Line(s)} {
			if !utf8.ValidString(out) {
				t.Fatalf("%q: invalid UTF-8 out: %q", s, out)
			}
			for _, r := range out {
				if hidden(r) && r != '\t' && r != '\n' {
					t.Fatalf("%q: %U left in %q", s, r, out)
				}
			}
		}
		if Text(Text(s)) != Text(s) || Line(Line(s)) != Line(s) {
			t.Fatalf("%q: not stable under a second cleaning", s)
		}
	})
}
