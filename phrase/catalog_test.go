package phrase

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// TestDefaultCatalog_RendersEveryTemplateInEveryLanguage is generated from
// the catalog itself: every template, every language, with the examples
// the catalog gives, once with every field and once with required fields
// only.
func TestDefaultCatalog_RendersEveryTemplateInEveryLanguage(t *testing.T) {
	c := Default()
	if len(c.Templates) < 40 {
		t.Fatalf("default catalog has %d templates, want at least 40", len(c.Templates))
	}
	if !c.Reference {
		t.Error("default catalog must mark its translations as reference translations")
	}
	for _, lang := range []string{"en", "zh-Hans"} {
		if _, ok := c.Languages[lang]; !ok {
			t.Errorf("default catalog lacks %s", lang)
		}
	}
	for _, lv := range hotline.Levels {
		if len(c.ForLevel(string(lv))) == 0 {
			t.Errorf("no template for level %s", lv)
		}
	}
	for _, tp := range c.Templates {
		all, required := map[string]string{}, map[string]string{}
		for _, f := range tp.Fields {
			all[f.Name] = f.Example
			if f.Required {
				required[f.Name] = f.Example
			}
		}
		for name, vals := range map[string]map[string]string{"all fields": all, "required only": required} {
			fields, err := tp.Normalize(vals, Context{})
			if err != nil {
				t.Errorf("%s (%s): %v", tp.Code, name, err)
				continue
			}
			p := &entry.Phrase{Catalog: c.Hash(), Code: tp.Code, Fields: fields}
			if err := tp.Check(p, Context{}); err != nil {
				t.Errorf("%s (%s): canonical values fail Check: %v", tp.Code, name, err)
			}
			for _, lang := range c.Langs() {
				s, err := c.Render(p, lang)
				if err != nil {
					t.Errorf("%s in %s (%s): %v", tp.Code, lang, name, err)
					continue
				}
				if strings.ContainsAny(s, "{}[]") {
					t.Errorf("%s in %s (%s) leaves markup: %q", tp.Code, lang, name, s)
				}
				for _, f := range tp.Fields {
					if f.Type == TypeText && vals[f.Name] != "" && !strings.Contains(s, f.Example) {
						t.Errorf("%s in %s (%s) lost the value of %s: %q", tp.Code, lang, name, f.Name, s)
					}
				}
			}
		}
	}
}

func TestRender_ValuesInEachLanguage(t *testing.T) {
	c := Default()
	tp, _ := c.Template("ENC-INTENT")
	fields, err := tp.Normalize(map[string]string{"intention": "alter_course_starboard", "course_speed": "45/12"}, Context{})
	if err != nil {
		t.Fatal(err)
	}
	p := &entry.Phrase{Catalog: c.Hash(), Code: tp.Code, Fields: fields}
	en, _ := c.Render(p, "en")
	zh, _ := c.Render(p, "zh-Hans")
	if en != "My intention is to alter course to starboard. My course and speed: course 045° true, speed 12 knots." {
		t.Errorf("en: %q", en)
	}
	if zh != "我的意图是向右转向。我的航向和航速：真航向045°，航速12节。" {
		t.Errorf("zh-Hans: %q", zh)
	}
	tp, _ = c.Template("TH-LAUNCH-NOTICE")
	fields, err = tp.Normalize(map[string]string{"vehicle": "space_launch", "launch_area": "circle:40.95N,100.29E,10",
		"impact_area": "polygon:20,120;20,124;16.5,124", "window_start": "2026-12-03T08:00:00+08:00", "window_end": "2026-12-03T06:00:00Z"}, Context{})
	if err != nil {
		t.Fatal(err)
	}
	p = &entry.Phrase{Catalog: c.Hash(), Code: tp.Code, Fields: fields}
	en, _ = c.Render(p, "en")
	want := "Notice of a space launch vehicle launch. Launch area: within 10 nautical miles of 40°57.0′N 100°17.4′E. " +
		"Impact area: the area bounded by 20°00.0′N 120°00.0′E; 20°00.0′N 124°00.0′E; 16°30.0′N 124°00.0′E. " +
		"Launch window: 3 Dec 2026 00:00 UTC to 3 Dec 2026 06:00 UTC."
	if en != want {
		t.Errorf("en:\n got %q\nwant %q", en, want)
	}
	zh, _ = c.Render(p, "zh-Hans")
	if !strings.Contains(zh, "以北纬40°57.0′ 东经100°17.4′为中心、半径10海里的范围") || !strings.Contains(zh, "2026年12月3日 00:00 UTC") {
		t.Errorf("zh-Hans: %q", zh)
	}
}

func TestNormalize_RejectsBadValuesNamingTheField(t *testing.T) {
	c := Default()
	for _, tc := range []struct {
		code, field, value, want string
	}{
		{"ENC-INTENT", "intention", "turn_around", "is not one of"},
		{"ENC-INTENT", "course_speed", "360/12", "course 360"},
		{"ENC-INTENT", "course_speed", "045", "not a course and speed"},
		{"ENC-INTENT", "course_speed", "045/150", "speed 150"},
		{"ENC-DIVERS", "position", "91,10", "latitude 91"},
		{"ENC-DIVERS", "position", "10,-181", "longitude -181"},
		{"ENC-DIVERS", "position", "-10S,10", "not a position"},
		{"ENC-DIVERS", "position", "NaN,10", "not a position"},
		{"ENC-SAFE-DISTANCE", "distance", "-1", "below the minimum 0"},
		{"ENC-SAFE-DISTANCE", "distance", "1e400", "not a number"},
		{"ENC-SAFE-DISTANCE", "distance", "two", "not a number"},
		{"ENC-MISSILE-FIRING", "area", "square:1,2", "not an area"},
		{"ENC-MISSILE-FIRING", "area", "circle:10,10,0", "radius"},
		{"ENC-MISSILE-FIRING", "area", "polygon:1,1;2,2", "3 to 32 corners"},
		{"ENC-MISSILE-FIRING", "start", "tomorrow", "not a time"},
		{"ENC-MISSILE-FIRING", "end", "2026-12-01T05:00:00Z", "must be after start"},
		{"ENC-AIR-INTENT", "callsign", strings.Repeat("x", 41), "limit 40"},
		{"ENC-AIR-INTENT", "callsign", "bad\x07bell", "control character"},
		{"POL-TRANSPARENCY-DATA", "party", "charlie", "not a party of this channel"},
		{"POL-TRANSPARENCY-DATA", "figures", "warheads", "row 1 has 1 cells"},
		{"POL-TRANSPARENCY-DATA", "figures", "warheads|many", "row 1: figure"},
		{"ENC-DIVERS", "nonsense", "1", "has no such field"},
	} {
		tp, ok := c.Template(tc.code)
		if !ok {
			t.Fatalf("no template %s", tc.code)
		}
		vals := map[string]string{}
		for _, f := range tp.Fields {
			vals[f.Name] = f.Example
		}
		vals[tc.field] = tc.value
		_, err := tp.Normalize(vals, Context{Parties: []string{"alpha", "bravo"}})
		var fe *FieldError
		if !errors.As(err, &fe) || fe.Field != tc.field || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s=%q: got %v, want a field error on %s containing %q", tc.code, tc.field, tc.value, err, tc.field, tc.want)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: error %v does not match ErrInvalid", tc.code, err)
		}
	}
	tp, _ := c.Template("ENC-DIVERS")
	if _, err := tp.Normalize(map[string]string{}, Context{}); err == nil || !strings.Contains(err.Error(), "field position: is required") {
		t.Errorf("missing required field: %v", err)
	}
}

func TestNormalize_LaunchNoticeLeadTime(t *testing.T) {
	tp, _ := Default().Template("TH-LAUNCH-NOTICE")
	now := time.Date(2026, 12, 2, 6, 0, 0, 0, time.UTC)
	vals := map[string]string{}
	for _, f := range tp.Fields {
		vals[f.Name] = f.Example // window opens 2026-12-03T00:00Z: 18 h after now
	}
	_, err := tp.Normalize(vals, Context{Now: now, NoticeLead: 24 * time.Hour})
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "window_start" || !strings.Contains(err.Error(), "less than the 24h0m0s notice") {
		t.Fatalf("18 h notice under a 24 h agreement: %v", err)
	}
	if _, err := tp.Normalize(vals, Context{Now: now.Add(-7 * time.Hour), NoticeLead: 24 * time.Hour}); err != nil {
		t.Fatalf("25 h notice: %v", err)
	}
	if _, err := tp.Normalize(vals, Context{Now: now, NoticeLead: 12 * time.Hour}); err != nil {
		t.Fatalf("18 h notice under a 12 h agreement: %v", err)
	}
}

func TestCheck_RefusesNonCanonicalValues(t *testing.T) {
	c := Default()
	tp, _ := c.Template("ENC-DIVERS")
	p := &entry.Phrase{Catalog: c.Hash(), Code: tp.Code, Fields: []entry.FieldValue{{Name: "position", Value: "18.25N,112.5E"}}}
	if err := tp.Check(p, Context{}); err == nil || !strings.Contains(err.Error(), "canonical") {
		t.Fatalf("non-canonical value: %v", err)
	}
	p.Fields[0].Value = "18.25,112.5"
	if err := tp.Check(p, Context{}); err != nil {
		t.Fatalf("canonical value: %v", err)
	}
}

// mutate decodes the default catalog into generic JSON, applies f and
// parses the result.
func mutate(t *testing.T, f func(c map[string]any)) error {
	t.Helper()
	var c map[string]any
	if err := json.Unmarshal(DefaultJSON(), &c); err != nil {
		t.Fatal(err)
	}
	f(c)
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Parse(b)
	return err
}

func template0(c map[string]any) map[string]any { return c["templates"].([]any)[0].(map[string]any) }

func TestParse_RejectsBrokenCatalogs(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func(c map[string]any)
		want string
	}{
		{"missing language text", func(c map[string]any) { delete(template0(c)["text"].(map[string]any), "zh-Hans") }, "has no 简体中文 (zh-Hans) text"},
		{"extra language text", func(c map[string]any) { template0(c)["title"].(map[string]any)["ru"] = "x" }, "not a language of the catalog"},
		{"unknown placeholder", func(c map[string]any) { template0(c)["text"].(map[string]any)["en"] = "{intention} {speed}" }, "placeholder {speed}, which is not a field"},
		{"unused field", func(c map[string]any) {
			template0(c)["text"].(map[string]any)["en"] = "My intention is {intention}."
		}, "does not use field {course_speed}"},
		{"optional outside brackets", func(c map[string]any) {
			template0(c)["text"].(map[string]any)["en"] = "{intention} {course_speed}"
		}, "optional field {course_speed} must be inside [ ]"},
		{"unbalanced brackets", func(c map[string]any) { template0(c)["text"].(map[string]any)["en"] = "{intention} [{course_speed}" }, "[ without ]"},
		{"bad example", func(c map[string]any) {
			template0(c)["fields"].([]any)[0].(map[string]any)["example"] = "dance"
		}, "examples are not valid"},
		{"unknown type", func(c map[string]any) { template0(c)["fields"].([]any)[0].(map[string]any)["type"] = "colour" }, "unknown type"},
		{"unknown level", func(c map[string]any) { template0(c)["levels"] = []any{"galactic"} }, "unknown level"},
		{"duplicate code", func(c map[string]any) {
			ts := c["templates"].([]any)
			ts[1].(map[string]any)["code"] = ts[0].(map[string]any)["code"]
		}, "appears twice"},
		{"bad code", func(c map[string]any) { template0(c)["code"] = "enc intent" }, "template code"},
		{"unknown key", func(c map[string]any) { template0(c)["colour"] = "red" }, "unknown field"},
		{"language lacks a format", func(c map[string]any) { delete(c["languages"].(map[string]any)["en"].(map[string]any), "circle") }, `"circle" is missing`},
		{"notice not a time", func(c map[string]any) { template0(c)["notice"] = "intention" }, "not a required time field"},
		{"no templates", func(c map[string]any) { c["templates"] = []any{} }, "it needs 1 to 1000"},
		{"null template", func(c map[string]any) { c["templates"] = []any{nil} }, "template 1 is null"},
	} {
		err := mutate(t, tc.f)
		if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := Parse(append(DefaultJSON(), []byte(" {}")...)); err == nil {
		t.Error("data after the catalog accepted")
	}
	if _, err := Parse(bytes.Repeat([]byte(" "), MaxCatalogBytes+1)); err == nil || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("oversized catalog: %v", err)
	}
}

func TestHash_IgnoresLayoutAndSeesContent(t *testing.T) {
	var v any
	if err := json.Unmarshal(DefaultJSON(), &v); err != nil {
		t.Fatal(err)
	}
	compact, _ := json.Marshal(v)
	c, err := Parse(compact)
	if err != nil {
		t.Fatal(err)
	}
	if c.Hash() != Default().Hash() {
		t.Error("re-laid-out catalog has another hash")
	}
	changed := bytes.Replace(compact, []byte("Keep clear of me."), []byte("Keep well clear of me."), 1)
	c2, err := Parse(changed)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Hash() == c.Hash() {
		t.Error("a changed text kept the hash")
	}
	d := Diff(c, c2)
	if len(d) != 1 || d[0] != "~ ENC-DIFFICULTY: text (en) changed" {
		t.Errorf("diff: %q", d)
	}
}

func TestDiff_AddedRemovedAndChangedTemplates(t *testing.T) {
	var c map[string]any
	json.Unmarshal(DefaultJSON(), &c)
	ts := c["templates"].([]any)
	first := ts[0].(map[string]any)
	first["ack"] = false
	first["levels"] = []any{"frontline", "theatre"}
	c["templates"] = append(ts[2:], ts[0])
	b, _ := json.Marshal(c)
	next, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(Diff(Default(), next), "\n")
	for _, want := range []string{"- ENC-REQ-INTENT Request your intentions", "~ ENC-INTENT: levels [frontline] -> [frontline theatre]", "~ ENC-INTENT: needs acknowledgement true -> false"} {
		if !strings.Contains(got, want) {
			t.Errorf("diff lacks %q:\n%s", want, got)
		}
	}
	if back := Diff(next, Default()); !slices.Contains(back, "+ ENC-REQ-INTENT Request your intentions") {
		t.Errorf("reverse diff: %q", back)
	}
}
