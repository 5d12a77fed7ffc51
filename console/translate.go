package console

import (
	"net/http"
	"net/url"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

// Stages are the translation stages a translator picks from, in order.
var Stages = []string{entry.StageSight, entry.StageRough, entry.StageOfficial}

// translate adds a signed translation of a message, beside the original.
// A refusal is shown on the message, with what was typed kept.
func (c *Console) translate(w http.ResponseWriter, r *http.Request, rq *request) {
	ch, id := r.PathValue("channel"), r.PathValue("entry")
	in := node.TranslationInput{Lang: r.PostFormValue("lang"), Stage: r.PostFormValue("stage"),
		Translator: r.PostFormValue("translator"), Text: r.PostFormValue("text")}
	if in.Translator == "" {
		in.Translator = rq.operator
	}
	if _, err := c.n.Translate(r.Context(), rq.operator, ch, id, in); err != nil {
		c.refused(w, r, rq, err, "entry="+url.QueryEscape(id)+"&translate="+url.QueryEscape(id), "errors", func(d *channelData, msg string) { d.Translating = &translating{Entry: id, Input: in, Error: msg} })
		return
	}
	http.Redirect(w, r, entryURL(ch, id), http.StatusSeeOther)
}

// translating is a translation that was refused: for which message, what
// was typed, and why.
type translating struct {
	Entry string
	Input node.TranslationInput
	Error string
}

// TranslationFor is the refused translation of message id, if the page
// shows one, or a blank form for it in the operator's language, by the
// operator, at the first stage.
func (d *channelData) TranslationFor(id string) translating {
	if d.Translating != nil && d.Translating.Entry == id {
		return *d.Translating
	}
	return translating{Entry: id, Input: node.TranslationInput{Lang: d.Lang, Stage: Stages[0], Translator: d.Operator}}
}

// Stages lists the translation stages for the form.
func (d *channelData) Stages() []string { return Stages }
