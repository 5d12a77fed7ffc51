// Package phrase is the standard phrase catalog: message templates with
// typed fields and a rendering in each language, so that a phrase sent in
// one language means exactly the same thing when read in another.
//
// A catalog is a JSON file. It is identified by the SHA-256 of its
// canonical form, and a channel pins the catalog its members agreed on;
// a phrase message carries the catalog hash, the template code and the
// field values, never prose, and each node renders it in its reader's
// language from the same definition.
package phrase

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/hotline-project/hotline"
)

// Limits on a catalog file, which may come from anyone.
const (
	MaxCatalogBytes = 2 << 20
	MaxTemplates    = 1000
	MaxFields       = 16
	MaxLanguages    = 16
	MaxEnumValues   = 64
	MaxTextField    = 2000 // bytes of one text field value
)

// ErrInvalid marks a catalog or a field value that breaks a rule.
var ErrInvalid = errors.New("phrase: invalid")

// Catalog is a versioned set of templates and the languages they are
// rendered in.
type Catalog struct {
	Name    string `json:"catalog"`
	Version string `json:"version"`
	// Reference marks translations that have not yet been reviewed by
	// qualified translators for operational use.
	Reference bool                 `json:"reference_translations,omitempty"`
	Note      string               `json:"note,omitempty"`
	Languages map[string]*Language `json:"languages"`
	Templates []*Template          `json:"templates"`

	hash  [32]byte
	index map[string]*Template
}

// Language holds a language's name and how it writes the values of the
// compound field types. Placeholders are in braces.
type Language struct {
	Name string `json:"name"`
	// Time is a Go time layout; times are always shown in UTC.
	Time string `json:"time"`
	// Position is "{lat}" and "{lon}" (degrees and minutes) and "{ns}" and
	// "{ew}" (the hemisphere words below).
	Position string `json:"position"`
	North    string `json:"north"`
	South    string `json:"south"`
	East     string `json:"east"`
	West     string `json:"west"`
	// CourseSpeed is "{course}" (degrees true) and "{speed}" (knots).
	CourseSpeed string `json:"course_speed"`
	// Circle is "{centre}" (a position) and "{radius}" (nautical miles).
	Circle string `json:"circle"`
	// Polygon is "{points}", the corner positions joined by Separator.
	Polygon   string `json:"polygon"`
	Separator string `json:"separator"`
	// Quantity is "{value}" and "{unit}".
	Quantity string `json:"quantity"`
}

// Template is one standard phrase.
type Template struct {
	Code   string   `json:"code"`
	Levels []string `json:"levels"`
	// Ack says whether the phrase asks for an acknowledgement (with the
	// channel's agreed deadline).
	Ack    bool              `json:"ack"`
	Title  map[string]string `json:"title"`
	Fields []*Field          `json:"fields,omitempty"`
	// Text is the rendering per language: "{field}" is a field's value, and
	// a part in square brackets is left out when an optional field in it
	// has no value.
	Text map[string]string `json:"text"`
	// Notice names a time field that must lie at least the channel's
	// agreed notice lead time after the phrase is sent (launch notices).
	Notice string `json:"notice,omitempty"`
}

// Field is a typed value a template needs.
type Field struct {
	Name     string            `json:"name"`
	Type     Type              `json:"type"`
	Required bool              `json:"required,omitempty"`
	Label    map[string]string `json:"label"`
	Example  string            `json:"example"`
	// Number: the unit per language and the allowed range.
	Unit map[string]string `json:"unit,omitempty"`
	Min  *float64          `json:"min,omitempty"`
	Max  *float64          `json:"max,omitempty"`
	// Text: the longest value in bytes (default and limit MaxTextField).
	MaxLen int `json:"max_len,omitempty"`
	// Enum: the allowed values.
	Values []*EnumValue `json:"values,omitempty"`
	// Time: another time field this one must come after.
	After string `json:"after,omitempty"`
	// Table: the columns of each row.
	Columns []*Column `json:"columns,omitempty"`
}

// EnumValue is one allowed value of an enum field.
type EnumValue struct {
	Code string            `json:"code"`
	Text map[string]string `json:"text"`
}

// Column is one column of a table field: a text label or a number.
type Column struct {
	Name  string            `json:"name"`
	Type  Type              `json:"type"` // text or number
	Label map[string]string `json:"label"`
}

var (
	codePattern  = regexp.MustCompile(`^[A-Z][A-Z0-9]*(-[A-Z0-9]+)*$`)
	namePattern  = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
	langPattern  = regexp.MustCompile(`^[a-z]{2,3}(-[A-Za-z0-9]{2,8})*$`)
	placeholders = regexp.MustCompile(`\{([^{}]*)\}`)
)

// Load reads and checks a catalog.
func Load(r io.Reader) (*Catalog, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCatalogBytes+1))
	if err != nil {
		return nil, fmt.Errorf("phrase: read catalog: %w", err)
	}
	return Parse(data)
}

// Parse decodes and checks a catalog from JSON.
func Parse(data []byte) (*Catalog, error) {
	if len(data) > MaxCatalogBytes {
		return nil, fmt.Errorf("%w: catalog is larger than %d bytes", ErrInvalid, MaxCatalogBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	c := new(Catalog)
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("%w: catalog is not valid JSON of the catalog format: %v", ErrInvalid, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("%w: catalog has data after its end", ErrInvalid)
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	canon, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("phrase: encode catalog: %w", err)
	}
	c.hash = sha256.Sum256(append([]byte("hotline phrase catalog v1\n"), canon...))
	return c, nil
}

// Hash returns the catalog's identity: the SHA-256 of its canonical JSON
// form, so two files that differ only in layout are the same catalog.
func (c *Catalog) Hash() [32]byte { return c.hash }

// ID returns the catalog hash in hex.
func (c *Catalog) ID() string { return hex.EncodeToString(c.hash[:]) }

// Template returns the template with code.
func (c *Catalog) Template(code string) (*Template, bool) {
	t, ok := c.index[code]
	return t, ok
}

// Langs returns the catalog's language tags, sorted.
func (c *Catalog) Langs() []string {
	out := make([]string, 0, len(c.Languages))
	for l := range c.Languages {
		out = append(out, l)
	}
	slices.Sort(out)
	return out
}

// ForLevel returns the templates usable at level, in catalog order.
func (c *Catalog) ForLevel(level string) []*Template {
	var out []*Template
	for _, t := range c.Templates {
		if slices.Contains(t.Levels, level) {
			out = append(out, t)
		}
	}
	return out
}

// Field returns the template's field called name.
func (t *Template) Field(name string) (*Field, bool) {
	for _, f := range t.Fields {
		if f.Name == name {
			return f, true
		}
	}
	return nil, false
}

// Reason returns an error's text without the package's "phrase:
// invalid:" prefix, for showing to people.
func Reason(err error) string {
	return strings.TrimPrefix(err.Error(), ErrInvalid.Error()+": ")
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

// check enforces every rule of the catalog format: each template has every
// language, its placeholders and fields match, and its examples are valid.
func (c *Catalog) check() error {
	if c.Name == "" || c.Version == "" {
		return invalid(`catalog needs a "catalog" name and a "version"`)
	}
	if len(c.Languages) == 0 || len(c.Languages) > MaxLanguages {
		return invalid("catalog has %d languages; it needs 1 to %d", len(c.Languages), MaxLanguages)
	}
	for tag, l := range c.Languages {
		if !langPattern.MatchString(tag) {
			return invalid("language tag %q is not a BCP 47 tag such as en or zh-Hans", tag)
		}
		if err := l.check(tag); err != nil {
			return err
		}
	}
	if len(c.Templates) == 0 || len(c.Templates) > MaxTemplates {
		return invalid("catalog has %d templates; it needs 1 to %d", len(c.Templates), MaxTemplates)
	}
	c.index = make(map[string]*Template, len(c.Templates))
	for i, t := range c.Templates {
		if t == nil {
			return invalid("template %d is null", i+1)
		}
		if _, dup := c.index[t.Code]; dup {
			return invalid("template code %s appears twice", t.Code)
		}
		if err := c.checkTemplate(t); err != nil {
			return err
		}
		c.index[t.Code] = t
	}
	return nil
}

func (l *Language) check(tag string) error {
	if l == nil {
		return invalid("language %s has no definition", tag)
	}
	for _, f := range []struct {
		key, value string
		need       []string
	}{
		{"name", l.Name, nil},
		{"time", l.Time, nil},
		{"position", l.Position, []string{"lat", "lon", "ns", "ew"}},
		{"north", l.North, nil}, {"south", l.South, nil}, {"east", l.East, nil}, {"west", l.West, nil},
		{"course_speed", l.CourseSpeed, []string{"course", "speed"}},
		{"circle", l.Circle, []string{"centre", "radius"}},
		{"polygon", l.Polygon, []string{"points"}},
		{"separator", l.Separator, nil},
		{"quantity", l.Quantity, []string{"value", "unit"}},
	} {
		if strings.TrimSpace(f.value) == "" {
			return invalid("language %s: %q is missing", tag, f.key)
		}
		got := placeholderNames(f.value)
		for _, n := range f.need {
			if !slices.Contains(got, n) {
				return invalid("language %s: %q lacks the placeholder {%s}", tag, f.key, n)
			}
		}
		for _, n := range got {
			if !slices.Contains(f.need, n) {
				return invalid("language %s: %q has an unknown placeholder {%s}", tag, f.key, n)
			}
		}
	}
	return nil
}

func (c *Catalog) checkTemplate(t *Template) error {
	if !codePattern.MatchString(t.Code) || len(t.Code) > 32 {
		return invalid("template code %q: use capital letters, digits and hyphens, at most 32", t.Code)
	}
	where := "template " + t.Code
	if len(t.Levels) == 0 {
		return invalid("%s has no levels", where)
	}
	for _, l := range t.Levels {
		if _, err := hotline.ParseLevel(l); err != nil {
			return invalid("%s: unknown level %q", where, l)
		}
	}
	if err := c.everyLanguage(where+" title", t.Title); err != nil {
		return err
	}
	if err := c.everyLanguage(where+" text", t.Text); err != nil {
		return err
	}
	if len(t.Fields) > MaxFields {
		return invalid("%s has %d fields, limit %d", where, len(t.Fields), MaxFields)
	}
	seen := make(map[string]bool)
	for i, f := range t.Fields {
		if f == nil {
			return invalid("%s: field %d is null", where, i+1)
		}
		if !namePattern.MatchString(f.Name) || len(f.Name) > 32 {
			return invalid("%s: field name %q: use lower-case letters, digits and _", where, f.Name)
		}
		if seen[f.Name] {
			return invalid("%s: field %s appears twice", where, f.Name)
		}
		seen[f.Name] = true
		if err := c.checkField(t, f); err != nil {
			return invalid("%s field %s: %v", where, f.Name, Reason(err))
		}
	}
	for lang, text := range t.Text {
		if err := checkBrackets(text); err != nil {
			return invalid("%s text (%s): %v", where, lang, err)
		}
		used := placeholderNames(text)
		for _, n := range used {
			if _, ok := t.Field(n); !ok {
				return invalid("%s text (%s) has placeholder {%s}, which is not a field", where, lang, n)
			}
		}
		for _, f := range t.Fields {
			if !slices.Contains(used, f.Name) {
				return invalid("%s text (%s) does not use field {%s}", where, lang, f.Name)
			}
			if !f.Required && !inOptionalPart(text, f.Name) {
				return invalid("%s text (%s): optional field {%s} must be inside [ ]", where, lang, f.Name)
			}
		}
	}
	if t.Notice != "" {
		f, ok := t.Field(t.Notice)
		if !ok || f.Type != TypeTime || !f.Required {
			return invalid("%s: notice names %q, which is not a required time field", where, t.Notice)
		}
	}
	// Every example must be valid, and the template must render with them.
	vals := make(map[string]string)
	for _, f := range t.Fields {
		vals[f.Name] = f.Example
	}
	if _, err := t.Normalize(vals, Context{}); err != nil {
		return invalid("%s: its examples are not valid: %v", where, Reason(err))
	}
	return nil
}

func (c *Catalog) checkField(t *Template, f *Field) error {
	if err := c.everyLanguage("label", f.Label); err != nil {
		return err
	}
	if f.Required && f.Example == "" {
		return invalid("a required field needs an example")
	}
	switch f.Type {
	case TypeText:
		if f.MaxLen < 0 || f.MaxLen > MaxTextField {
			return invalid("max_len must be 1 to %d", MaxTextField)
		}
	case TypeNumber:
		if err := c.everyLanguage("unit", f.Unit); err != nil {
			return err
		}
		if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
			return invalid("min is above max")
		}
	case TypeEnum:
		if len(f.Values) == 0 || len(f.Values) > MaxEnumValues {
			return invalid("an enum needs 1 to %d values", MaxEnumValues)
		}
		codes := make(map[string]bool)
		for _, v := range f.Values {
			if v == nil || !namePattern.MatchString(v.Code) || codes[v.Code] {
				return invalid("enum values need distinct lower-case codes")
			}
			codes[v.Code] = true
			if err := c.everyLanguage("value "+v.Code, v.Text); err != nil {
				return err
			}
		}
	case TypeTime:
		if f.After != "" {
			o, ok := t.Field(f.After)
			if !ok || o.Type != TypeTime || o.Name == f.Name {
				return invalid("after names %q, which is not another time field", f.After)
			}
		}
	case TypeTable:
		if len(f.Columns) == 0 || len(f.Columns) > 8 {
			return invalid("a table needs 1 to 8 columns")
		}
		for _, col := range f.Columns {
			if col == nil || !namePattern.MatchString(col.Name) || (col.Type != TypeText && col.Type != TypeNumber) {
				return invalid("table columns need a lower-case name and type text or number")
			}
			if err := c.everyLanguage("column "+col.Name, col.Label); err != nil {
				return err
			}
		}
	case TypePosition, TypeCourseSpeed, TypeParty, TypeArea:
	default:
		return invalid("unknown type %q (use %s)", f.Type, strings.Join(typeNames(), ", "))
	}
	if f.Type != TypeNumber && (f.Unit != nil || f.Min != nil || f.Max != nil) {
		return invalid("unit, min and max are for number fields")
	}
	if f.Type != TypeEnum && f.Values != nil {
		return invalid("values are for enum fields")
	}
	if f.Type != TypeTable && f.Columns != nil {
		return invalid("columns are for table fields")
	}
	return nil
}

// everyLanguage checks that m has a non-empty text for exactly the
// catalog's languages.
func (c *Catalog) everyLanguage(what string, m map[string]string) error {
	for lang := range c.Languages {
		if strings.TrimSpace(m[lang]) == "" {
			return invalid("%s has no %s (%s) text", what, c.Languages[lang].Name, lang)
		}
	}
	for lang := range m {
		if _, ok := c.Languages[lang]; !ok {
			return invalid("%s has text in %s, which is not a language of the catalog", what, lang)
		}
	}
	return nil
}

func placeholderNames(s string) []string {
	var out []string
	for _, m := range placeholders.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	return out
}

// checkBrackets checks that optional parts are balanced and not nested.
func checkBrackets(s string) error {
	open := false
	for _, r := range s {
		switch r {
		case '[':
			if open {
				return errors.New("optional parts [ ] cannot be nested")
			}
			open = true
		case ']':
			if !open {
				return errors.New("] without [")
			}
			open = false
		}
	}
	if open {
		return errors.New("[ without ]")
	}
	return nil
}

// inOptionalPart reports whether every use of {name} in s is inside [ ].
func inOptionalPart(s, name string) bool {
	open, found := false, false
	ph := "{" + name + "}"
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '[':
			open = true
		case s[i] == ']':
			open = false
		case strings.HasPrefix(s[i:], ph):
			if !open {
				return false
			}
			found = true
		}
	}
	return found
}
