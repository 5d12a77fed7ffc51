package phrase

import (
	"fmt"
	"math"
	"strings"
	"time"

	"github.com/hotline-project/hotline/entry"
)

// Render writes a phrase in lang from canonical field values. It fails if
// the catalog has no such language or template.
func (c *Catalog) Render(p *entry.Phrase, lang string) (string, error) {
	t, ok := c.Template(p.Code)
	if !ok {
		return "", invalid("catalog %s %s has no phrase %s", c.Name, c.Version, p.Code)
	}
	l, ok := c.Languages[lang]
	if !ok {
		return "", invalid("catalog %s %s has no language %s (it has %s)", c.Name, c.Version, lang, strings.Join(c.Langs(), ", "))
	}
	vals := make(map[string]string, len(p.Fields))
	for _, fv := range p.Fields {
		f, ok := t.Field(fv.Name)
		if !ok {
			return "", &FieldError{Field: fv.Name, Reason: "not a field of " + t.Code}
		}
		s, err := f.render(fv.Value, lang, l)
		if err != nil {
			return "", &FieldError{Field: fv.Name, Reason: err.Error()}
		}
		vals[fv.Name] = s
	}
	return fill(t.Text[lang], vals), nil
}

// Label returns the language's text of a field, enum value or title map,
// falling back to English, then to any.
func Label(m map[string]string, lang string) string {
	if s, ok := m[lang]; ok {
		return s
	}
	if s, ok := m["en"]; ok {
		return s
	}
	for _, s := range m {
		return s
	}
	return ""
}

// fill substitutes values into a template text, dropping each optional
// part [ ... ] in which a placeholder has no value.
func fill(text string, vals map[string]string) string {
	var b strings.Builder
	for text != "" {
		i := strings.IndexByte(text, '[')
		if i < 0 {
			b.WriteString(substitute(text, vals))
			break
		}
		b.WriteString(substitute(text[:i], vals))
		j := strings.IndexByte(text[i:], ']')
		part := text[i+1 : i+j]
		text = text[i+j+1:]
		complete := true
		for _, n := range placeholderNames(part) {
			if _, ok := vals[n]; !ok {
				complete = false
			}
		}
		if complete {
			b.WriteString(substitute(part, vals))
		}
	}
	return strings.TrimSpace(b.String())
}

func substitute(s string, vals map[string]string) string {
	return placeholders.ReplaceAllStringFunc(s, func(m string) string {
		return vals[m[1:len(m)-1]]
	})
}

// render writes one canonical value in a language.
func (f *Field) render(v, lang string, l *Language) (string, error) {
	switch f.Type {
	case TypeText, TypeParty:
		return v, nil
	case TypeNumber:
		if _, err := parseNumber(v); err != nil {
			return "", err
		}
		return substitute(l.Quantity, map[string]string{"value": v, "unit": Label(f.Unit, lang)}), nil
	case TypePosition:
		p, err := parsePosition(v)
		if err != nil {
			return "", err
		}
		return l.position(p), nil
	case TypeTime:
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			return "", err
		}
		return t.UTC().Format(l.Time), nil
	case TypeCourseSpeed:
		c, s, err := parseCourseSpeed(v)
		if err != nil {
			return "", err
		}
		course := fmt.Sprintf("%03.0f", c)
		if c != math.Trunc(c) {
			course = fmt.Sprintf("%05.1f", c)
		}
		return substitute(l.CourseSpeed, map[string]string{"course": course, "speed": formatNumber(s)}), nil
	case TypeEnum:
		for _, ev := range f.Values {
			if ev.Code == v {
				return Label(ev.Text, lang), nil
			}
		}
		return "", fmt.Errorf("%q is not one of the field's values", v)
	case TypeArea:
		a, err := parseArea(v)
		if err != nil {
			return "", err
		}
		if a.points == nil {
			return substitute(l.Circle, map[string]string{"centre": l.position(a.centre), "radius": formatNumber(a.radius)}), nil
		}
		ps := make([]string, len(a.points))
		for i, p := range a.points {
			ps[i] = l.position(p)
		}
		return substitute(l.Polygon, map[string]string{"points": strings.Join(ps, l.Separator)}), nil
	case TypeTable:
		labels := make([]string, len(f.Columns))
		for i, c := range f.Columns {
			labels[i] = Label(c.Label, lang)
		}
		lines := []string{strings.Join(labels, " | ")}
		for _, row := range strings.Split(v, ";") {
			lines = append(lines, strings.ReplaceAll(row, "|", " | "))
		}
		return "\n" + strings.Join(lines, "\n") + "\n", nil
	}
	return "", fmt.Errorf("unknown type %q", f.Type)
}

// position writes p in degrees and decimal minutes, the seafarer's form.
func (l *Language) position(p position) string {
	ns, ew := l.North, l.East
	if p.lat < 0 {
		ns = l.South
	}
	if p.lon < 0 {
		ew = l.West
	}
	return substitute(l.Position, map[string]string{"lat": degMin(p.lat, 2), "lon": degMin(p.lon, 3), "ns": ns, "ew": ew})
}

func degMin(v float64, width int) string {
	v = math.Abs(v)
	deg := math.Floor(v)
	min := math.Round((v-deg)*600) / 10
	if min >= 60 {
		deg, min = deg+1, 0
	}
	return fmt.Sprintf("%0*d°%04.1f′", width, int(deg), min)
}
