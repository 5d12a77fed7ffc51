package api

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/phrase"
)

// PhraseRequest is a standard phrase in a SendRequest: the template code
// and each field's value as typed (see the field types in docs/PHRASES.md).
type PhraseRequest struct {
	Code   string            `json:"code"`
	Fields map[string]string `json:"fields,omitempty"`
}

// Rendering is a text in a language.
type Rendering struct {
	Lang string `json:"lang"`
	Text string `json:"text"`
}

// MeView is GET and PUT /api/v1/me: the calling operator and the
// language phrases are shown to them in ("" for each channel's default).
type MeView struct {
	Operator string `json:"operator"`
	Lang     string `json:"lang"`
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, op string) error {
	lang, err := s.n.OperatorLang(r.Context(), op)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, MeView{Operator: op, Lang: lang})
}

func (s *Server) setMe(w http.ResponseWriter, r *http.Request, op string) error {
	var req MeView
	if err := decode(r, &req); err != nil {
		return err
	}
	if req.Operator != "" && req.Operator != op {
		return hotline.Errorf(hotline.EINVALID, "operator %q: an operator changes only their own settings", req.Operator)
	}
	if err := s.n.SetOperatorLang(r.Context(), op, req.Lang); err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, MeView{Operator: op, Lang: req.Lang})
}

// readerLang is the language a request reads phrases in: the lang query
// parameter, else the operator's saved language.
func (s *Server) readerLang(r *http.Request, op string) (string, error) {
	if l := r.URL.Query().Get("lang"); l != "" {
		if err := node.CheckLang(l, true); err != nil {
			return "", err
		}
		return l, nil
	}
	return s.n.OperatorLang(r.Context(), op)
}

// CatalogView describes a phrase catalog the node holds.
type CatalogView struct {
	ID        string   `json:"id"` // SHA-256 of its canonical form, hex
	Name      string   `json:"name"`
	Version   string   `json:"version"`
	Reference bool     `json:"reference_translations"`
	Languages []string `json:"languages"`
	Templates int      `json:"templates"`
	Default   bool     `json:"default"`
}

func (s *Server) catalogs(w http.ResponseWriter, r *http.Request, _ string) error {
	out := []CatalogView{}
	for i, c := range s.n.Catalogs() {
		out = append(out, CatalogView{ID: c.ID(), Name: c.Name, Version: c.Version, Reference: c.Reference,
			Languages: c.Langs(), Templates: len(c.Templates), Default: i == 0})
	}
	return writeJSON(w, http.StatusOK, out)
}

// catalog answers with a held catalog's canonical JSON, whose hash is its id.
func (s *Server) catalog(w http.ResponseWriter, r *http.Request, _ string) error {
	id := strings.ToLower(r.PathValue("catalog"))
	for _, c := range s.n.Catalogs() {
		if c.ID() == id {
			b, err := json.Marshal(c)
			if err != nil {
				return fmt.Errorf("encode catalog %s: %w", id, err)
			}
			w.Header().Set("Content-Type", "application/json")
			w.Write(append(b, '\n'))
			return nil
		}
	}
	return hotline.Errorf(hotline.ENOTFOUND, "this node holds no catalog %s (see GET /api/v1/catalogs)", id)
}

// PhraseTemplateView is a template usable in a channel, in the reader's
// language: what a compose form needs.
type PhraseTemplateView struct {
	Code   string           `json:"code"`
	Title  string           `json:"title"`
	Ack    bool             `json:"ack"`
	Notice string           `json:"notice,omitempty"` // the time field the notice lead time applies to
	Fields []PhraseFieldDef `json:"fields"`
}

// PhraseFieldDef is a template field, in the reader's language.
type PhraseFieldDef struct {
	Name     string       `json:"name"`
	Type     phrase.Type  `json:"type"`
	Label    string       `json:"label"`
	Required bool         `json:"required"`
	Syntax   string       `json:"syntax"` // how to write a value
	Example  string       `json:"example"`
	Unit     string       `json:"unit,omitempty"`
	Values   []EnumChoice `json:"values,omitempty"`
}

// EnumChoice is one allowed value of an enum field.
type EnumChoice struct {
	Code string `json:"code"`
	Text string `json:"text"`
}

// PhrasesView is GET /api/v1/channels/{channel}/phrases.
type PhrasesView struct {
	Catalog   CatalogView          `json:"catalog"`
	Lang      string               `json:"lang"`
	Templates []PhraseTemplateView `json:"templates"`
}

// phrases lists the phrases of the channel's catalog usable at its level.
func (s *Server) phrases(w http.ResponseWriter, r *http.Request, op string) error {
	ch, err := s.n.ResolveChannel(r.PathValue("channel"))
	if err != nil {
		return err
	}
	cat, err := s.n.Catalog(ch)
	if err != nil {
		return err
	}
	lang, err := s.readerLang(r, op)
	if err != nil {
		return err
	}
	if cat.Languages[lang] == nil {
		lang = node.ChannelLang(ch)
	}
	return writeJSON(w, http.StatusOK, phrasesView(cat, ch.Definition.Level, lang))
}

func phrasesView(cat *phrase.Catalog, level, lang string) PhrasesView {
	v := PhrasesView{Lang: lang, Templates: []PhraseTemplateView{},
		Catalog: CatalogView{ID: cat.ID(), Name: cat.Name, Version: cat.Version, Reference: cat.Reference, Languages: cat.Langs(), Templates: len(cat.Templates)}}
	for _, t := range cat.ForLevel(level) {
		tv := PhraseTemplateView{Code: t.Code, Title: phrase.Label(t.Title, lang), Ack: t.Ack, Notice: t.Notice, Fields: []PhraseFieldDef{}}
		for _, f := range t.Fields {
			fd := PhraseFieldDef{Name: f.Name, Type: f.Type, Label: phrase.Label(f.Label, lang), Required: f.Required,
				Syntax: f.Type.Syntax(), Example: f.Example, Unit: phrase.Label(f.Unit, lang)}
			for _, ev := range f.Values {
				fd.Values = append(fd.Values, EnumChoice{Code: ev.Code, Text: phrase.Label(ev.Text, lang)})
			}
			tv.Fields = append(tv.Fields, fd)
		}
		v.Templates = append(v.Templates, tv)
	}
	return v
}

// TranslationRequest is the body of POST
// /api/v1/channels/{channel}/entries/{entry}/translations.
type TranslationRequest struct {
	Lang  string `json:"lang"`
	Stage string `json:"stage"` // sight, rough or official
	// Translator names who translated; absent means the operator.
	Translator string `json:"translator,omitempty"`
	Text       string `json:"text"`
}

func (s *Server) translate(w http.ResponseWriter, r *http.Request, op string) error {
	var req TranslationRequest
	if err := decode(r, &req); err != nil {
		return err
	}
	e, err := s.n.Translate(r.Context(), op, r.PathValue("channel"), r.PathValue("entry"),
		node.TranslationInput{Lang: req.Lang, Stage: req.Stage, Translator: req.Translator, Text: req.Text})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, entryRef(e))
}
