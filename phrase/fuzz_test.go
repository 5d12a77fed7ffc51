package phrase

import (
	"testing"

	"github.com/hotline-project/hotline/entry"
)

// FuzzParse feeds arbitrary bytes to the catalog loader. It must never
// panic; a catalog it accepts must keep its hash when re-parsed from its
// canonical form, and render every template's examples in every language.
func FuzzParse(f *testing.F) {
	f.Add(DefaultJSON())
	f.Add([]byte(`{"catalog":"x","version":"1","languages":{},"templates":[]}`))
	f.Add([]byte(`{"catalog":"x","version":"1","languages":{"en":null},"templates":[null]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		for _, tp := range c.Templates {
			vals := map[string]string{}
			for _, fd := range tp.Fields {
				vals[fd.Name] = fd.Example
			}
			fields, err := tp.Normalize(vals, Context{})
			if err != nil {
				t.Fatalf("accepted catalog with invalid examples in %s: %v", tp.Code, err)
			}
			for _, l := range c.Langs() {
				if _, err := c.Render(&entry.Phrase{Code: tp.Code, Fields: fields}, l); err != nil {
					t.Fatalf("accepted template %s does not render in %s: %v", tp.Code, l, err)
				}
			}
		}
	})
}

// FuzzNormalize feeds arbitrary values to every field type: a value that
// is accepted must be canonical, that is, accepted again unchanged.
func FuzzNormalize(f *testing.F) {
	c := Default()
	for _, tp := range c.Templates {
		for _, fd := range tp.Fields {
			f.Add(tp.Code, fd.Name, fd.Example)
		}
	}
	f.Add("ENC-DIVERS", "position", "90S,180W")
	f.Fuzz(func(t *testing.T, code, field, value string) {
		tp, ok := c.Template(code)
		if !ok {
			return
		}
		fd, ok := tp.Field(field)
		if !ok {
			return
		}
		v, err := fd.normalize(value, Context{})
		if err != nil {
			return
		}
		again, err := fd.normalize(v, Context{})
		if err != nil || again != v {
			t.Fatalf("%s.%s: %q normalizes to %q, which normalizes to %q (%v)", code, field, value, v, again, err)
		}
		if _, err := fd.render(v, "en", c.Languages["en"]); err != nil {
			t.Fatalf("%s.%s: canonical %q does not render: %v", code, field, v, err)
		}
	})
}
