package phrase

import (
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hotline-project/hotline/entry"
)

// Type is a field's type.
type Type string

// Field types. The comment gives the syntax an operator types; a value is
// stored in its canonical form, which parses back to itself.
const (
	TypeText        Type = "text"         // any text, without control characters other than newlines
	TypeNumber      Type = "number"       // a decimal number in the field's unit: 12.5
	TypePosition    Type = "position"     // latitude,longitude in decimal degrees: 18.25,-112.5 or 18.25N,112.5W
	TypeTime        Type = "time"         // RFC 3339 with zone: 2026-12-01T06:00:00Z
	TypeCourseSpeed Type = "course-speed" // course in degrees true / speed in knots: 045/12
	TypeEnum        Type = "enum"         // one of the field's value codes
	TypeParty       Type = "party"        // a party of the channel: bravo
	TypeArea        Type = "area"         // circle:LAT,LON,RADIUS_NM or polygon:LAT,LON;LAT,LON;LAT,LON...
	TypeTable       Type = "table"        // rows separated by ";", cells by "|": ICBM launchers|400;SSBN|14
)

func typeNames() []string {
	return []string{string(TypeText), string(TypeNumber), string(TypePosition), string(TypeTime),
		string(TypeCourseSpeed), string(TypeEnum), string(TypeParty), string(TypeArea), string(TypeTable)}
}

// Syntax returns how an operator writes a value of type t.
func (t Type) Syntax() string {
	switch t {
	case TypeNumber:
		return "a decimal number, such as 12.5"
	case TypePosition:
		return "latitude,longitude in decimal degrees, such as 18.25,112.5 or 18.25N,112.5E"
	case TypeTime:
		return "an RFC 3339 time with its zone, such as 2026-12-01T06:00:00Z"
	case TypeCourseSpeed:
		return "course/speed in degrees true and knots, such as 045/12"
	case TypeEnum:
		return "one of the listed codes"
	case TypeParty:
		return "the name of a party in the channel"
	case TypeArea:
		return "circle:LAT,LON,RADIUS_NM or polygon:LAT,LON;LAT,LON;LAT,LON"
	case TypeTable:
		return `rows separated by ";", cells by "|"`
	}
	return "text"
}

// Limits on area and table values.
const (
	MaxPolygonPoints = 32
	MaxTableRows     = 64
	MaxRadiusNM      = 5000
)

// Context is what validation needs beyond the catalog: the channel's
// parties, the time the phrase is sent and the channel's agreed notice
// lead time. Zero values skip the checks that need them.
type Context struct {
	Parties    []string
	Now        time.Time
	NoticeLead time.Duration
}

// FieldError is an invalid field value; it names the field.
type FieldError struct {
	Field  string
	Reason string
}

func (e *FieldError) Error() string {
	return fmt.Sprintf("field %s: %s", e.Field, e.Reason)
}

// Unwrap makes a FieldError match ErrInvalid.
func (e *FieldError) Unwrap() error { return ErrInvalid }

// Normalize checks values typed by an operator against the template and
// returns them in canonical form, sorted by field name. Unknown fields,
// missing required fields and bad values are errors naming the field.
func (t *Template) Normalize(values map[string]string, cx Context) ([]entry.FieldValue, error) {
	for name := range values {
		if _, ok := t.Field(name); !ok {
			var names []string
			for _, f := range t.Fields {
				names = append(names, f.Name)
			}
			return nil, &FieldError{Field: name, Reason: fmt.Sprintf("phrase %s has no such field (its fields: %s)", t.Code, strings.Join(names, ", "))}
		}
	}
	out := make([]entry.FieldValue, 0, len(values))
	times := make(map[string]time.Time)
	for _, f := range t.Fields {
		raw, ok := values[f.Name]
		raw = strings.TrimSpace(raw)
		if !ok || raw == "" {
			if f.Required {
				return nil, &FieldError{Field: f.Name, Reason: fmt.Sprintf("is required: give %s", f.Type.Syntax())}
			}
			continue
		}
		v, err := f.normalize(raw, cx)
		if err != nil {
			return nil, &FieldError{Field: f.Name, Reason: err.Error()}
		}
		if f.Type == TypeTime {
			times[f.Name], _ = time.Parse(time.RFC3339, v)
		}
		out = append(out, entry.FieldValue{Name: f.Name, Value: v})
	}
	for _, f := range t.Fields {
		if f.After == "" {
			continue
		}
		a, okA := times[f.Name]
		b, okB := times[f.After]
		if okA && okB && !a.After(b) {
			return nil, &FieldError{Field: f.Name, Reason: fmt.Sprintf("must be after %s (%s)", f.After, b.Format(time.RFC3339))}
		}
	}
	if t.Notice != "" && !cx.Now.IsZero() && cx.NoticeLead > 0 {
		if at, ok := times[t.Notice]; ok && at.Sub(cx.Now) < cx.NoticeLead {
			return nil, &FieldError{Field: t.Notice, Reason: fmt.Sprintf(
				"is %s after sending, less than the %s notice this channel's agreement requires: notify at least %s ahead, i.e. not after %s",
				roundDuration(at.Sub(cx.Now)), cx.NoticeLead, cx.NoticeLead, at.Add(-cx.NoticeLead).UTC().Format(time.RFC3339))}
		}
	}
	slices.SortFunc(out, func(a, b entry.FieldValue) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Check verifies a phrase received in a signed entry: it names this
// template, and every value is valid and already canonical.
func (t *Template) Check(p *entry.Phrase, cx Context) error {
	vals := make(map[string]string, len(p.Fields))
	for _, fv := range p.Fields {
		vals[fv.Name] = fv.Value
	}
	norm, err := t.Normalize(vals, cx)
	if err != nil {
		return err
	}
	if !slices.Equal(norm, p.Fields) {
		return invalid("phrase %s: field values are not in canonical form", t.Code)
	}
	return nil
}

func roundDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -roundDuration(-d)
	}
	return d.Round(time.Minute)
}

func (f *Field) normalize(raw string, cx Context) (string, error) {
	switch f.Type {
	case TypeText:
		limit := f.MaxLen
		if limit == 0 {
			limit = MaxTextField
		}
		if len(raw) > limit {
			return "", fmt.Errorf("is %d bytes, limit %d", len(raw), limit)
		}
		if !utf8.ValidString(raw) {
			return "", fmt.Errorf("is not valid UTF-8")
		}
		for _, r := range raw {
			if unicode.IsControl(r) && r != '\n' {
				return "", fmt.Errorf("contains a control character")
			}
		}
		return raw, nil
	case TypeNumber:
		v, err := parseNumber(raw)
		if err != nil {
			return "", err
		}
		if f.Min != nil && v < *f.Min {
			return "", fmt.Errorf("%s is below the minimum %s", formatNumber(v), formatNumber(*f.Min))
		}
		if f.Max != nil && v > *f.Max {
			return "", fmt.Errorf("%s is above the maximum %s", formatNumber(v), formatNumber(*f.Max))
		}
		return formatNumber(v), nil
	case TypePosition:
		p, err := parsePosition(raw)
		if err != nil {
			return "", err
		}
		return p.String(), nil
	case TypeTime:
		tm, err := time.Parse(time.RFC3339, raw)
		if err != nil {
			return "", fmt.Errorf("%q is not a time: give %s", raw, TypeTime.Syntax())
		}
		if tm.Year() < 1970 || tm.Year() > 9999 {
			return "", fmt.Errorf("year %d is out of range", tm.Year())
		}
		return tm.UTC().Truncate(time.Second).Format(time.RFC3339), nil
	case TypeCourseSpeed:
		c, s, err := parseCourseSpeed(raw)
		if err != nil {
			return "", err
		}
		return formatNumber(c) + "/" + formatNumber(s), nil
	case TypeEnum:
		var codes []string
		for _, v := range f.Values {
			if v.Code == raw {
				return raw, nil
			}
			codes = append(codes, v.Code)
		}
		return "", fmt.Errorf("%q is not one of %s", raw, strings.Join(codes, ", "))
	case TypeParty:
		if err := entry.CheckName("party", raw); err != nil {
			return "", fmt.Errorf("%q is not a party name", raw)
		}
		if cx.Parties != nil && !slices.Contains(cx.Parties, raw) {
			return "", fmt.Errorf("%q is not a party of this channel (%s)", raw, strings.Join(cx.Parties, ", "))
		}
		return raw, nil
	case TypeArea:
		a, err := parseArea(raw)
		if err != nil {
			return "", err
		}
		return a.String(), nil
	case TypeTable:
		return f.normalizeTable(raw)
	}
	return "", fmt.Errorf("unknown type %q", f.Type)
}

func parseNumber(s string) (float64, error) {
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e15 {
		return 0, fmt.Errorf("%q is not a number: give %s", s, TypeNumber.Syntax())
	}
	return v, nil
}

// formatNumber writes v with at most six decimals and no exponent.
func formatNumber(v float64) string {
	v = math.Round(v*1e6) / 1e6
	if v == 0 {
		v = 0 // no negative zero
	}
	return strconv.FormatFloat(v, 'f', -1, 64)
}

// position is a point in decimal degrees, kept to five decimals (about a
// metre).
type position struct{ lat, lon float64 }

func (p position) String() string {
	return formatNumber(math.Round(p.lat*1e5)/1e5) + "," + formatNumber(math.Round(p.lon*1e5)/1e5)
}

func parsePosition(s string) (position, error) {
	bad := fmt.Errorf("%q is not a position: give %s", s, TypePosition.Syntax())
	parts := strings.Split(s, ",")
	if len(parts) != 2 {
		parts = strings.Fields(s)
	}
	if len(parts) != 2 {
		return position{}, bad
	}
	lat, err1 := parseCoordinate(strings.TrimSpace(parts[0]), "N", "S")
	lon, err2 := parseCoordinate(strings.TrimSpace(parts[1]), "E", "W")
	if err1 != nil || err2 != nil {
		return position{}, bad
	}
	if lat < -90 || lat > 90 {
		return position{}, fmt.Errorf("latitude %s is outside -90 to 90", formatNumber(lat))
	}
	if lon < -180 || lon > 180 {
		return position{}, fmt.Errorf("longitude %s is outside -180 to 180", formatNumber(lon))
	}
	return position{lat, lon}, nil
}

func parseCoordinate(s, pos, neg string) (float64, error) {
	sign := 1.0
	switch u := strings.ToUpper(s); {
	case strings.HasSuffix(u, pos):
		s = s[:len(s)-1]
	case strings.HasSuffix(u, neg):
		s, sign = s[:len(s)-1], -1
	}
	v, err := parseNumber(strings.TrimSpace(s))
	if err != nil {
		return 0, err
	}
	if sign < 0 && v < 0 {
		return 0, fmt.Errorf("a coordinate has a sign or a hemisphere letter, not both")
	}
	return sign * v, nil
}

func parseCourseSpeed(s string) (course, speed float64, err error) {
	bad := fmt.Errorf("%q is not a course and speed: give %s", s, TypeCourseSpeed.Syntax())
	c, sp, ok := strings.Cut(s, "/")
	if !ok {
		return 0, 0, bad
	}
	course, err1 := parseNumber(strings.TrimSpace(c))
	speed, err2 := parseNumber(strings.TrimSpace(sp))
	if err1 != nil || err2 != nil {
		return 0, 0, bad
	}
	if course < 0 || course >= 360 {
		return 0, 0, fmt.Errorf("course %s is outside 0 to 359.9 degrees", formatNumber(course))
	}
	if speed < 0 || speed > 100 {
		return 0, 0, fmt.Errorf("speed %s is outside 0 to 100 knots", formatNumber(speed))
	}
	return course, speed, nil
}

// area is a circle (centre and radius in nautical miles) or a polygon.
type area struct {
	centre position
	radius float64
	points []position
}

func (a area) String() string {
	if a.points == nil {
		return "circle:" + a.centre.String() + "," + formatNumber(a.radius)
	}
	ps := make([]string, len(a.points))
	for i, p := range a.points {
		ps[i] = p.String()
	}
	return "polygon:" + strings.Join(ps, ";")
}

func parseArea(s string) (area, error) {
	kind, rest, _ := strings.Cut(s, ":")
	switch strings.ToLower(strings.TrimSpace(kind)) {
	case "circle":
		parts := strings.Split(rest, ",")
		if len(parts) != 3 {
			return area{}, fmt.Errorf("a circle is circle:LAT,LON,RADIUS_NM")
		}
		c, err := parsePosition(parts[0] + "," + parts[1])
		if err != nil {
			return area{}, err
		}
		r, err := parseNumber(strings.TrimSpace(parts[2]))
		if err != nil || r <= 0 || r > MaxRadiusNM {
			return area{}, fmt.Errorf("circle radius must be a number of nautical miles above 0 and at most %d", MaxRadiusNM)
		}
		return area{centre: c, radius: r}, nil
	case "polygon":
		corners := strings.Split(rest, ";")
		if len(corners) < 3 || len(corners) > MaxPolygonPoints {
			return area{}, fmt.Errorf("a polygon has 3 to %d corners separated by ;", MaxPolygonPoints)
		}
		a := area{points: make([]position, 0, len(corners))}
		for _, c := range corners {
			p, err := parsePosition(strings.TrimSpace(c))
			if err != nil {
				return area{}, err
			}
			a.points = append(a.points, p)
		}
		return a, nil
	}
	return area{}, fmt.Errorf("%q is not an area: give %s", s, TypeArea.Syntax())
}

func (f *Field) normalizeTable(raw string) (string, error) {
	rows := strings.FieldsFunc(raw, func(r rune) bool { return r == ';' || r == '\n' })
	if len(rows) == 0 || len(rows) > MaxTableRows {
		return "", fmt.Errorf("a table has 1 to %d rows", MaxTableRows)
	}
	out := make([]string, 0, len(rows))
	for i, row := range rows {
		cells := strings.Split(row, "|")
		if len(cells) != len(f.Columns) {
			return "", fmt.Errorf("row %d has %d cells; each row has %d (%s)", i+1, len(cells), len(f.Columns), columnNames(f.Columns))
		}
		for j, col := range f.Columns {
			cell := strings.TrimSpace(cells[j])
			if cell == "" {
				return "", fmt.Errorf("row %d: %s is empty", i+1, col.Name)
			}
			if col.Type == TypeNumber {
				v, err := parseNumber(cell)
				if err != nil {
					return "", fmt.Errorf("row %d: %s: %v", i+1, col.Name, err)
				}
				cell = formatNumber(v)
			} else if len(cell) > 200 || !utf8.ValidString(cell) || strings.ContainsFunc(cell, unicode.IsControl) {
				return "", fmt.Errorf("row %d: %s must be plain text of at most 200 bytes", i+1, col.Name)
			}
			cells[j] = cell
		}
		out = append(out, strings.Join(cells, "|"))
	}
	return strings.Join(out, ";"), nil
}

func columnNames(cols []*Column) string {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	return strings.Join(names, "|")
}
