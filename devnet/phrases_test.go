package devnet

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/phrase"
)

// launchFields are the fields of a launch notice whose window opens
// after lead.
func launchFields(lead time.Duration) map[string]string {
	start := time.Now().Add(lead).UTC().Truncate(time.Minute)
	return map[string]string{
		"vehicle": "space_launch", "launch_area": "circle:40.95N,100.29E,10",
		"impact_area": "polygon:20,120;20,124;16.5,124", "window_start": start.Format(time.RFC3339),
		"window_end": start.Add(6 * time.Hour).Format(time.RFC3339),
	}
}

// TestPhrases_OneSignedEntryReadInEachLanguage sends standard phrases
// from alpha, written in English, and has bravo's operator, who reads
// Chinese, see them in Chinese from the same signed entry; it checks
// field validation, the launch notice lead time, free text with the
// author's and later translations, and that the export still verifies.
func TestPhrases_OneSignedEntryReadInEachLanguage(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	const theatre = "alpha-bravo-theatre"

	if me, err := bravo.SetLang(ctx, "zh-Hans"); err != nil || me.Lang != "zh-Hans" || me.Operator != Operator {
		t.Fatalf("bravo sets Chinese: %+v, %v", me, err)
	}
	if _, err := bravo.SetLang(ctx, "zh Hans"); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("bad language tag: %v", err)
	}

	// Bad values are refused before anything is signed, naming the field.
	countBefore := len(mustLog(t, alpha, theatre))
	bad := launchFields(30 * time.Hour)
	bad["impact_area"] = "polygon:20,120;20,124"
	_, err := alpha.Send(ctx, theatre, api.SendRequest{Phrase: &api.PhraseRequest{Code: "TH-LAUNCH-NOTICE", Fields: bad}})
	if hotline.ErrorCode(err) != hotline.EINVALID || hotline.ErrorField(err) != "impact_area" || !strings.Contains(hotline.ErrorMessage(err), "3 to 32 corners") {
		t.Fatalf("bad impact area: %v (field %q)", err, hotline.ErrorField(err))
	}
	// A launch notice with less than the agreed 24 h lead time is refused.
	_, err = alpha.Send(ctx, theatre, api.SendRequest{Phrase: &api.PhraseRequest{Code: "TH-LAUNCH-NOTICE", Fields: launchFields(2 * time.Hour)}})
	if hotline.ErrorField(err) != "window_start" || !strings.Contains(hotline.ErrorMessage(err), "less than the 24h0m0s notice") {
		t.Fatalf("launch notice 2 h ahead: %v", err)
	}
	for _, tc := range []struct {
		req   api.SendRequest
		field string
	}{
		{api.SendRequest{Phrase: &api.PhraseRequest{Code: "NO-SUCH"}}, "phrase"},
		{api.SendRequest{Phrase: &api.PhraseRequest{Code: "POL-READOUT"}}, "phrase"}, // a policy phrase in a theatre channel
		{api.SendRequest{Phrase: &api.PhraseRequest{Code: "COMMS-CHECK"}, Lang: "ru"}, "lang"},
		{api.SendRequest{Phrase: &api.PhraseRequest{Code: "COMMS-CHECK", Fields: map[string]string{"x": "1"}}}, "x"},
		{api.SendRequest{Text: "hello", Lang: "en us"}, "lang"},
	} {
		if _, err := alpha.Send(ctx, theatre, tc.req); hotline.ErrorCode(err) != hotline.EINVALID || hotline.ErrorField(err) != tc.field {
			t.Errorf("%+v: %v (field %q), want EINVALID on %s", tc.req, err, hotline.ErrorField(err), tc.field)
		}
	}
	if _, err := alpha.Send(ctx, theatre, api.SendRequest{Text: "both", Phrase: &api.PhraseRequest{Code: "COMMS-CHECK"}}); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Errorf("phrase and text together: %v", err)
	}
	if n := len(mustLog(t, alpha, theatre)); n != countBefore {
		t.Fatalf("refused sends wrote %d entries", n-countBefore)
	}

	// A valid notice, written by alpha's operator in English.
	ref, err := alpha.Send(ctx, theatre, api.SendRequest{Lang: "en", Phrase: &api.PhraseRequest{Code: "TH-LAUNCH-NOTICE", Fields: launchFields(30 * time.Hour)}})
	if err != nil {
		t.Fatal(err)
	}
	var atBravo *node.EntryView
	eventually(t, "bravo holds the notice", func() bool {
		atBravo = findEntry(t, bravo, theatre, ref.ID)
		return atBravo != nil
	})
	atAlpha := findEntry(t, alpha, theatre, ref.ID)
	if atAlpha.Lang != "en" || !strings.HasPrefix(atAlpha.Text, "Notice of a space launch vehicle launch. Launch area: within 10 nautical miles of 40°57.0′N 100°17.4′E.") {
		t.Errorf("alpha's view: %s %q", atAlpha.Lang, atAlpha.Text)
	}
	if atBravo.Lang != "zh-Hans" || !strings.HasPrefix(atBravo.Text, "航天运载火箭发射通知。发射区域：以北纬40°57.0′ 东经100°17.4′为中心、半径10海里的范围。") {
		t.Errorf("bravo's view: %s %q", atBravo.Lang, atBravo.Text)
	}
	if atBravo.Phrase == nil || atBravo.Phrase.Original != atAlpha.Text || atBravo.Phrase.OriginalLang != "en" ||
		atBravo.Phrase.Title != "导弹或火箭发射通知" || atBravo.Phrase.Catalog != phrase.Default().ID() {
		t.Errorf("bravo's phrase view: %+v", atBravo.Phrase)
	}
	if atBravo.MessageState == nil || atBravo.AckWithinSeconds == nil {
		t.Errorf("a launch notice needs an acknowledgement: %+v", atBravo.MessageState)
	}
	// The same entry in English on request, and the phrase list in Chinese.
	en, err := bravo.LogIn(ctx, theatre, "en")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range en {
		if v.ID == ref.ID && v.Text != atAlpha.Text {
			t.Errorf("bravo asking for English: %q", v.Text)
		}
	}
	list, err := bravo.Phrases(ctx, theatre, "")
	if err != nil || list.Lang != "zh-Hans" || len(list.Templates) < 10 {
		t.Fatalf("phrases for bravo: %+v, %v", list, err)
	}

	// Without a language, a phrase is written in its author's language.
	check, err := bravo.Send(ctx, theatre, api.SendRequest{Phrase: &api.PhraseRequest{Code: "COMMS-CHECK"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha holds bravo's check", func() bool { return findEntry(t, alpha, theatre, check.ID) != nil })
	if v := findEntry(t, alpha, theatre, check.ID); v.Phrase.OriginalLang != "zh-Hans" || v.Text != "Communications check. Acknowledge this message." {
		t.Errorf("bravo's phrase at alpha: %s %q", v.Phrase.OriginalLang, v.Text)
	}

	// Free text declares its language; the author may attach an
	// unofficial translation, and bravo's translators add theirs later.
	free, err := alpha.Send(ctx, theatre, api.SendRequest{Text: "Our exercise ends at noon.", Lang: "en",
		Unofficial: []api.Rendering{{Lang: "zh-Hans", Text: "我方演习于中午结束。"}}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo holds the free text", func() bool { return findEntry(t, bravo, theatre, free.ID) != nil })
	if _, err := bravo.Translate(ctx, theatre, free.ID, api.TranslationRequest{Lang: "zh-Hans", Stage: "sight", Text: "演习中午结束"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bravo.Translate(ctx, theatre, free.ID, api.TranslationRequest{Lang: "zh-Hans", Stage: "official", Translator: "Li Wei, MND translation office", Text: "我方演习将于中午结束。"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bravo.Translate(ctx, theatre, free.ID, api.TranslationRequest{Lang: "zh-Hans", Stage: "final", Text: "x"}); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Errorf("unknown stage: %v", err)
	}
	eventually(t, "alpha sees both translations", func() bool {
		v := findEntry(t, alpha, theatre, free.ID)
		return v != nil && len(v.Translations) == 3
	})
	v := findEntry(t, alpha, theatre, free.ID)
	if v.Text != "Our exercise ends at noon." || v.Lang != "en" {
		t.Errorf("the original must stay: %q %s", v.Text, v.Lang)
	}
	tr := v.Translations
	if tr[0].Stage != node.StageAuthor || tr[0].Party != "alpha" || tr[1].Stage != "sight" || tr[1].Party != "bravo" || tr[1].Translator != Operator ||
		tr[2].Stage != "official" || tr[2].Translator != "Li Wei, MND translation office" || tr[2].Time.Before(tr[1].Time) {
		t.Errorf("translations: %+v", tr)
	}

	// The archive verifies offline, phrases and translations included.
	var buf bytes.Buffer
	rc, err := alpha.Export(ctx, theatre)
	if err != nil {
		t.Fatal(err)
	}
	buf.ReadFrom(rc)
	rc.Close()
	archive, err := audit.Decode(&buf, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep := audit.Verify(archive); !rep.OK {
		t.Fatalf("export does not verify: %+v", rep.Failures)
	}

	// A channel agreed without a catalog carries free text only.
	ch, err := alpha.Propose(ctx, api.ProposeRequest{Name: "no-phrases", Level: "theatre", Members: []string{"bravo"}, Catalog: "none"})
	if err != nil || ch.Catalog != "" {
		t.Fatalf("propose without catalog: %+v, %v", ch, err)
	}
	eventually(t, "bravo is invited", func() bool { _, err := bravo.Channel(ctx, ch.ID); return err == nil })
	if _, err := bravo.Accept(ctx, ch.ID); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the channel is active", func() bool {
		c, err := alpha.Channel(ctx, ch.ID)
		return err == nil && c.State == hotline.ChannelActive
	})
	if _, err := alpha.Send(ctx, ch.ID, api.SendRequest{Phrase: &api.PhraseRequest{Code: "COMMS-CHECK"}}); hotline.ErrorCode(err) != hotline.EINVALID || !strings.Contains(hotline.ErrorMessage(err), "no agreed phrase catalog") {
		t.Errorf("phrase in a channel without a catalog: %v", err)
	}
}

func mustLog(t *testing.T, c interface {
	Log(context.Context, string) ([]node.EntryView, error)
}, ch string) []node.EntryView {
	t.Helper()
	l, err := c.Log(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestPhrases_CatalogMustBeAgreed: a channel pins the catalog its members
// agreed on. A party that does not hold a proposed catalog cannot accept
// the channel, and a peer's phrase from another catalog, or with values
// the catalog refuses, is rejected and not stored.
func TestPhrases_CatalogMustBeAgreed(t *testing.T) {
	// Alpha also holds a newer catalog that bravo has never seen.
	var c map[string]any
	json.Unmarshal(phrase.DefaultJSON(), &c)
	c["version"] = "2027.1-draft"
	b, _ := json.Marshal(c)
	path := filepath.Join(t.TempDir(), "draft.json")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	draft, err := phrase.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	net := mustStartWith(t, Options{Parties: 2, SyncInterval: 200 * time.Millisecond, Configure: func(party string, cfg *config.Config) {
		if party == "alpha" {
			cfg.Catalogs = []string{path}
		}
	}})
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	cats, err := alpha.Catalogs(ctx)
	if err != nil || len(cats) != 2 || cats[1].ID != draft.ID() || cats[1].Version != "2027.1-draft" {
		t.Fatalf("alpha's catalogs: %+v, %v", cats, err)
	}
	raw, err := alpha.Catalog(ctx, draft.ID())
	if again, err2 := phrase.Parse(raw); err != nil || err2 != nil || again.Hash() != draft.Hash() {
		t.Fatalf("catalog download does not hash to its id: %v %v", err, err2)
	}
	ch, err := alpha.Propose(ctx, api.ProposeRequest{Name: "draft-catalog", Level: "frontline", Members: []string{"bravo"}, Catalog: draft.ID()[:12]})
	if err != nil || ch.Catalog != draft.ID() {
		t.Fatalf("propose with the draft catalog: %+v, %v", ch, err)
	}
	eventually(t, "bravo is invited", func() bool { _, err := bravo.Channel(ctx, ch.ID); return err == nil })
	_, err = bravo.Accept(ctx, ch.ID)
	if hotline.ErrorCode(err) != hotline.ECONFLICT || !strings.Contains(hotline.ErrorMessage(err), "does not hold") {
		t.Fatalf("bravo accepting a channel with an unknown catalog: %v", err)
	}
	if c, _ := bravo.Channel(ctx, ch.ID); c.State != hotline.ChannelInvited {
		t.Fatalf("channel state after the refused acceptance: %s", c.State)
	}
}

// TestPhrases_HostilePeerPhrasesAreRejected: phrase entries a peer signs
// that break the catalog's rules are rejected by the receiver.
func TestPhrases_HostilePeerPhrasesAreRejected(t *testing.T) {
	a := newAttacker(t) // channel alpha-bravo-policy, default catalog
	key := a.alpha.Key.Priv
	cat := phrase.Default()
	valid := func(code string, vals map[string]string, lang string) *entry.Message {
		tpl, _ := cat.Template(code)
		fields, err := tpl.Normalize(vals, phrase.Context{})
		if err != nil {
			t.Fatal(err)
		}
		p := &entry.Phrase{Catalog: cat.Hash(), Code: code, Fields: fields}
		text, err := cat.Render(p, lang)
		if err != nil {
			t.Fatal(err)
		}
		return &entry.Message{Text: text, Lang: lang, Phrase: p}
	}
	clarify := map[string]string{"reference": "3f2a9c1e", "question": "Which area?"}

	other := valid("CLARIFY", clarify, "en")
	other.Phrase.Catalog[0] ^= 1
	a.pushRejected("did not agree on", a.signed(key, other, nil))

	wrongLevel := valid("ENC-DIVERS", map[string]string{"position": "10,10"}, "en")
	a.pushRejected("is for frontline channels", a.signed(key, wrongLevel, nil))

	lying := valid("CLARIFY", clarify, "en")
	lying.Text = "Request clarification of message 3f2a9c1e: please cancel the exercise."
	a.pushRejected("not the catalog's en rendering", a.signed(key, lying, nil))

	badValue := valid("CLARIFY", clarify, "en")
	badValue.Phrase.Fields[0].Value = strings.Repeat("x", 1001)
	a.pushRejected("field question", a.signed(key, badValue, nil))

	late := valid("TH-LAUNCH-NOTICE", launchFields(2*time.Hour), "zh-Hans")
	a.pushRejected("notice this channel's agreement requires", a.signed(key, late, nil))

	// A valid phrase from the same peer is stored, in Chinese as written.
	good := a.signed(key, valid("CLARIFY", clarify, "zh-Hans"), nil)
	res, err := a.client.Push(context.Background(), []*entry.Entry{good})
	if err != nil || res.Stored != 1 {
		t.Fatalf("valid phrase: %+v, %v", res, err)
	}
	if last := findEntry(t, clientOf(a.bravo), "alpha-bravo-policy", good.ID().String()); last.Phrase == nil || last.Text != "Request clarification of message 3f2a9c1e: Which area?" || last.Phrase.OriginalLang != "zh-Hans" {
		t.Fatalf("bravo's view of the valid phrase: %q %+v", last.Text, last.Phrase)
	}
}
