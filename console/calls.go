package console

import (
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/node"
)

// callRow is a call request in a channel page, with whether this party
// can still answer it.
type callRow struct {
	node.CallView
	CanAnswer bool // another party asked, and this party has not answered
}

// channelCalls lists ch's call requests for the channel page.
func (c *Console) channelCalls(r *http.Request, ch *hotline.Channel) ([]callRow, error) {
	calls, err := c.n.Calls(r.Context(), ch.ID.String())
	if err != nil {
		return nil, err
	}
	self := c.n.Self()
	rows := make([]callRow, 0, len(calls))
	for _, v := range calls {
		answered := slices.ContainsFunc(v.Answers, func(a node.CallAnswer) bool { return a.Party == self })
		rows = append(rows, callRow{CallView: v,
			CanAnswer: v.Requester != self && v.State == node.CallRequested && !answered && ch.State == hotline.ChannelActive})
	}
	return rows, nil
}

// answerCall accepts another party's call request at one of its times
// (the button pressed carries it, in Unix milliseconds) or declines it
// with a reason. A refusal is shown beside the calls.
func (c *Console) answerCall(w http.ResponseWriter, r *http.Request, rq *request) {
	ch, id := r.PathValue("channel"), r.PathValue("entry")
	var err error
	if at := r.PostFormValue("accept"); at != "" {
		ms, perr := strconv.ParseInt(at, 10, 64)
		if perr != nil {
			err = &hotline.Error{Code: hotline.EINVALID, Message: "the time to accept is not a time", Field: "accept"}
		} else {
			_, err = c.n.AnswerCall(r.Context(), rq.operator, ch, id, true, time.UnixMilli(ms), "")
		}
	} else {
		_, err = c.n.AnswerCall(r.Context(), rq.operator, ch, id, false, time.Time{}, r.PostFormValue("reason"))
	}
	if err != nil {
		c.refused(w, r, rq, err, func(d *channelData, msg string) { d.CallError = msg })
		return
	}
	http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(ch)+"#call-"+url.PathEscape(id), http.StatusSeeOther)
}
