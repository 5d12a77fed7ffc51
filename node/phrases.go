package node

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/phrase"
)

// PhraseInput is a standard phrase an operator sends: a template code and
// field values as typed.
type PhraseInput struct {
	Code   string
	Fields map[string]string
}

// Catalogs returns the phrase catalogs this node holds, the default first.
func (n *Node) Catalogs() []*phrase.Catalog { return n.catalogs.All() }

// findCatalog finds a held catalog by hash or unique prefix (8+ hex
// digits); "" is the default catalog.
func (n *Node) findCatalog(ref string) (*phrase.Catalog, error) {
	all := n.catalogs.All()
	if ref == "" {
		return all[0], nil
	}
	var found []*phrase.Catalog
	for _, c := range all {
		if len(ref) >= 8 && strings.HasPrefix(c.ID(), strings.ToLower(ref)) {
			found = append(found, c)
		}
	}
	switch len(found) {
	case 1:
		return found[0], nil
	case 0:
		return nil, &hotline.Error{Code: hotline.EINVALID, Field: "catalog", Message: fmt.Sprintf("this node holds no phrase catalog %q (see GET /api/v1/catalogs)", ref)}
	}
	return nil, &hotline.Error{Code: hotline.EINVALID, Field: "catalog", Message: fmt.Sprintf("%q names %d catalogs; give more digits", ref, len(found))}
}

// Catalog returns the catalog a channel agreed on.
func (n *Node) Catalog(ch *hotline.Channel) (*phrase.Catalog, error) {
	h := ch.Definition.Catalog
	if h == nil {
		return nil, hotline.Errorf(hotline.EINVALID, "channel %s has no agreed phrase catalog, so it carries free text only; phrases need a channel proposed with a catalog", ch.Label)
	}
	c, ok := n.catalogs.Get(*h)
	if !ok {
		return nil, hotline.Errorf(hotline.EUNAVAILABLE, "channel %s agreed on phrase catalog %x, which this node does not hold: add its file to catalogs in hotline.toml", ch.Label, h[:6])
	}
	return c, nil
}

// ChannelLang returns the language a channel shows phrases in to a reader
// who has set no preference.
func ChannelLang(ch *hotline.Channel) string {
	if ch.Definition.Lang != "" {
		return ch.Definition.Lang
	}
	return "en"
}

// phraseContext is what a phrase in ch sent at t is validated against.
func phraseContext(ch *hotline.Channel, t time.Time) phrase.Context {
	cx := phrase.Context{Now: t, NoticeLead: ch.Definition.Policy.NoticeLeadTime()}
	for _, m := range ch.Definition.Members {
		cx.Parties = append(cx.Parties, m.Party)
	}
	return cx
}

// asFieldError turns a catalog error into an operator error that names
// the field.
func asFieldError(err error) error {
	var fe *phrase.FieldError
	if errors.As(err, &fe) {
		return &hotline.Error{Code: hotline.EINVALID, Message: fe.Error(), Field: fe.Field}
	}
	if errors.Is(err, phrase.ErrInvalid) {
		return hotline.Errorf(hotline.EINVALID, "%s", phrase.Reason(err))
	}
	return err
}

// composePhrase validates a phrase and renders it as the text of a new
// message in lang; without one, in the operator's preferred language if
// the catalog has it, else the channel's.
func (n *Node) composePhrase(ch *hotline.Channel, in *PhraseInput, lang, preferred string) (*entry.Message, *phrase.Template, error) {
	cat, err := n.Catalog(ch)
	if err != nil {
		return nil, nil, err
	}
	tpl, err := templateFor(cat, ch, in.Code)
	if err != nil {
		return nil, nil, err
	}
	if lang == "" {
		lang = ChannelLang(ch)
		if cat.Languages[preferred] != nil {
			lang = preferred
		}
	}
	if _, ok := cat.Languages[lang]; !ok {
		return nil, nil, &hotline.Error{Code: hotline.EINVALID, Field: "lang",
			Message: fmt.Sprintf("the channel's catalog has no language %q; it has %s", lang, strings.Join(cat.Langs(), ", "))}
	}
	fields, err := tpl.Normalize(in.Fields, phraseContext(ch, n.now()))
	if err != nil {
		return nil, nil, asFieldError(err)
	}
	p := &entry.Phrase{Catalog: cat.Hash(), Code: tpl.Code, Fields: fields}
	text, err := cat.Render(p, lang)
	if err != nil {
		return nil, nil, asFieldError(err)
	}
	return &entry.Message{Text: text, Lang: lang, Phrase: p}, tpl, nil
}

func templateFor(cat *phrase.Catalog, ch *hotline.Channel, code string) (*phrase.Template, error) {
	tpl, ok := cat.Template(code)
	if !ok {
		return nil, &hotline.Error{Code: hotline.EINVALID, Field: "phrase",
			Message: fmt.Sprintf("catalog %s %s has no phrase %q (see hotline catalog list)", cat.Name, cat.Version, code)}
	}
	if !slices.Contains(tpl.Levels, ch.Definition.Level) {
		return nil, &hotline.Error{Code: hotline.EINVALID, Field: "phrase",
			Message: fmt.Sprintf("phrase %s is for %s channels, and %s is a %s channel", code, strings.Join(tpl.Levels, ", "), ch.Definition.Name, ch.Definition.Level)}
	}
	return tpl, nil
}

// checkMessage applies the rules for a message by author at t in ch, on
// the sending and the receiving node alike: a phrase must come from the
// channel's agreed catalog, suit the channel's level, carry valid
// canonical values (a notice with its lead time counted from t), and its
// text must be the catalog's rendering in its language.
func (n *Node) checkMessage(ch *hotline.Channel, t time.Time, m *entry.Message) error {
	if m.Phrase == nil {
		return nil
	}
	if ch.Definition.Catalog == nil || *ch.Definition.Catalog != m.Phrase.Catalog {
		return reject("invalid", "phrase %s is from catalog %x, which the members of channel %s did not agree on", m.Phrase.Code, m.Phrase.Catalog[:6], ch.Definition.Name)
	}
	cat, err := n.Catalog(ch)
	if err != nil {
		return reject("missing_dependency", "%s", hotline.ErrorMessage(err))
	}
	tpl, err := templateFor(cat, ch, m.Phrase.Code)
	if err != nil {
		return reject("invalid", "%s", hotline.ErrorMessage(err))
	}
	if err := tpl.Check(m.Phrase, phraseContext(ch, t)); err != nil {
		return reject("invalid", "phrase %s: %s", tpl.Code, hotline.ErrorMessage(asFieldError(err)))
	}
	text, err := cat.Render(m.Phrase, m.Lang)
	if err != nil || text != m.Text {
		return reject("invalid", "phrase %s: its text is not the catalog's %s rendering of its values", tpl.Code, m.Lang)
	}
	return nil
}

// TranslationInput is a translation an operator adds to a message.
type TranslationInput struct {
	Lang       string
	Stage      string
	Translator string
	Text       string
}

// Translate writes a translation of a message of the channel; it is
// stored beside the original and never replaces it.
func (n *Node) Translate(ctx context.Context, operator, ref, target string, in TranslationInput) (*entry.Entry, error) {
	ch, st, err := n.resolveEntry(ctx, ref, target)
	if err != nil {
		return nil, err
	}
	if err := isMessage(st, "translated"); err != nil {
		return nil, err
	}
	if in.Translator == "" {
		in.Translator = operator
	}
	if strings.TrimSpace(in.Text) == "" {
		return nil, &hotline.Error{Code: hotline.EINVALID, Message: "the translation is empty", Field: "text"}
	}
	body := &entry.Translation{Of: st.Ref(), Lang: in.Lang, Stage: in.Stage, Translator: in.Translator, Text: in.Text}
	if err := body.Check(); err != nil {
		return nil, hotline.Errorf(hotline.EINVALID, "%s", trimPrefix(err))
	}
	r := n.submit(ctx, &writeReq{local: &localWrite{channel: ch.ID, kind: entry.KindTranslation, operator: operator, body: body,
		check: func(b *batch, ch *hotline.Channel) error {
			if err := activeOnly(b, ch); err != nil {
				return err
			}
			return asOperatorError(b.checkTarget(ctx, ch, body.Of))
		}}})
	return r.entry, r.err
}

// OperatorLang returns the language an operator has chosen to read in,
// or "" if none.
func (n *Node) OperatorLang(ctx context.Context, operator string) (string, error) {
	op, err := n.store.Operator(ctx, operator)
	if hotline.ErrorCode(err) == hotline.ENOTFOUND {
		return "", nil
	}
	return op.Lang, err
}

// SetOperatorLang saves the language an operator reads in ("" for the
// channel's default).
func (n *Node) SetOperatorLang(ctx context.Context, operator, lang string) error {
	if err := CheckLang(lang, false); err != nil {
		return err
	}
	return n.store.SetOperatorLang(ctx, operator, lang)
}

// PreviewPhrase validates a phrase for ch as Send would and returns its
// text in lang (or as composePhrase picks), writing nothing.
func (n *Node) PreviewPhrase(ch *hotline.Channel, in *PhraseInput, lang string) (string, error) {
	m, _, err := n.composePhrase(ch, in, "", lang)
	if err != nil {
		return "", err
	}
	return m.Text, nil
}

// CheckLang checks a language tag an operator gave (required: it may not
// be empty), as an operator error on the field "lang".
func CheckLang(tag string, required bool) error {
	if err := entry.CheckLang(tag, required); err != nil {
		return &hotline.Error{Code: hotline.EINVALID, Message: trimPrefix(err), Field: "lang"}
	}
	return nil
}
