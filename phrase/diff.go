package phrase

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
)

// Diff lists, one line each, what changed from catalog a to catalog b:
// languages and templates added or removed, and for each template kept,
// which of its parts changed.
func Diff(a, b *Catalog) []string {
	var out []string
	for _, l := range a.Langs() {
		if _, ok := b.Languages[l]; !ok {
			out = append(out, fmt.Sprintf("- language %s", l))
		} else if !reflect.DeepEqual(a.Languages[l], b.Languages[l]) {
			out = append(out, fmt.Sprintf("~ language %s: formats changed", l))
		}
	}
	for _, l := range b.Langs() {
		if _, ok := a.Languages[l]; !ok {
			out = append(out, fmt.Sprintf("+ language %s (%s)", l, b.Languages[l].Name))
		}
	}
	for _, t := range a.Templates {
		if _, ok := b.Template(t.Code); !ok {
			out = append(out, fmt.Sprintf("- %s %s", t.Code, Label(t.Title, "en")))
		}
	}
	for _, t := range b.Templates {
		old, ok := a.Template(t.Code)
		if !ok {
			out = append(out, fmt.Sprintf("+ %s %s", t.Code, Label(t.Title, "en")))
			continue
		}
		out = append(out, diffTemplate(old, t)...)
	}
	return out
}

func diffTemplate(a, b *Template) []string {
	var out []string
	note := func(format string, args ...any) {
		out = append(out, fmt.Sprintf("~ %s: ", b.Code)+fmt.Sprintf(format, args...))
	}
	if !slices.Equal(a.Levels, b.Levels) {
		note("levels %v -> %v", a.Levels, b.Levels)
	}
	if a.Ack != b.Ack {
		note("needs acknowledgement %t -> %t", a.Ack, b.Ack)
	}
	if a.Notice != b.Notice {
		note("notice field %q -> %q", a.Notice, b.Notice)
	}
	for _, l := range sortedKeys(a.Title, b.Title) {
		if a.Title[l] != b.Title[l] {
			note("title (%s) changed", l)
		}
	}
	for _, l := range sortedKeys(a.Text, b.Text) {
		if a.Text[l] != b.Text[l] {
			note("text (%s) changed", l)
		}
	}
	for _, f := range a.Fields {
		if _, ok := b.Field(f.Name); !ok {
			note("field %s removed", f.Name)
		}
	}
	for _, f := range b.Fields {
		old, ok := a.Field(f.Name)
		switch {
		case !ok:
			note("field %s (%s) added", f.Name, f.Type)
		case old.Type != f.Type:
			note("field %s type %s -> %s", f.Name, old.Type, f.Type)
		case !reflect.DeepEqual(old, f):
			note("field %s changed", f.Name)
		}
	}
	return out
}

func sortedKeys(a, b map[string]string) []string {
	keys := slices.Collect(maps.Keys(a))
	for k := range b {
		if _, ok := a[k]; !ok {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	return keys
}
