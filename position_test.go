package hotline

import "testing"

// FuzzParsePosition: a cursor from a client parses to a position that
// writes back as the same cursor, or is refused; it never panics.
func FuzzParsePosition(f *testing.F) {
	for _, s := range []string{"1.1.alpha", "812.406.bravo", "0.0.a", "1.2.x.y", "", ".", "-1.1.a", "1.1.A", "99999999999999999999.1.a"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePosition(s)
		if err != nil {
			if ErrorCode(err) != EINVALID {
				t.Fatalf("%q: error %v is not invalid input", s, err)
			}
			return
		}
		if p.String() != s {
			q, err := ParsePosition(p.String())
			if err != nil || q != p {
				t.Fatalf("%q parses to %+v, which writes as %q and reads back as %+v, %v", s, p, p.String(), q, err)
			}
		}
	})
}

func TestPosition_Order(t *testing.T) {
	ps := []Position{{1, "alpha", 1}, {1, "bravo", 1}, {2, "alpha", 2}, {2, "alpha", 3}, {3, "a", 1}}
	for i := range ps {
		for j := range ps {
			if got, want := ps[i].Less(ps[j]), i < j; got != want {
				t.Errorf("%v < %v: %v", ps[i], ps[j], got)
			}
		}
		if ps[i].JustBefore().Less(ps[i]) != true {
			t.Errorf("%v is not after the position just before it", ps[i])
		}
	}
}
