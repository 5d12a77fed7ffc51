package console

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

// callRow is a call request in a channel page, with whether this party
// can still answer it.
type callRow struct {
	node.CallView
	CanAnswer bool // another party asked, and this party has not answered
	// Join is shown for an accepted call until it ends: from Opens (a
	// few minutes before its time) the button joins it.
	Join  bool
	Opens *time.Time
	Roles []string // this party's roles the call names
}

// callRows lists ch's call requests for the channel page.
func (c *Console) callRows(ch *hotline.Channel, calls []node.CallView) []callRow {
	self := c.n.Self()
	rows := make([]callRow, 0, len(calls))
	for _, v := range calls {
		answered := slices.ContainsFunc(v.Answers, func(a node.CallAnswer) bool { return a.Party == self })
		row := callRow{CallView: v,
			CanAnswer: v.Requester != self && v.State == node.CallRequested && !answered && ch.State == hotline.ChannelActive}
		if v.State == node.CallAccepted && v.Held == nil && ch.State == hotline.ChannelActive &&
			time.Now().Before(v.Time.Add(time.Duration(v.Minutes)*time.Minute+node.JoinGrace)) {
			opens := v.Time.Add(-node.JoinLead)
			row.Join, row.Opens = true, &opens
			for _, p := range v.Participants {
				if p.Party == self {
					row.Roles = append(row.Roles, p.Role)
				}
			}
		}
		rows = append(rows, row)
	}
	return rows
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
		c.refused(w, r, rq, err, "", "errors", func(d *channelData, msg string) { d.CallError = msg })
		return
	}
	http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(ch)+"#call-"+url.PathEscape(id), http.StatusSeeOther)
}

// MaxProposedTimes is how many times the request form offers.
const MaxProposedTimes = 3

// callForm is the form that requests a call: the counterparts the
// channel's members publish, and what the operator typed.
type callForm struct {
	Roles   []roleChoice
	Purpose string
	Times   [MaxProposedTimes]string // as typed: UTC, YYYY-MM-DD HH:MM
	Minutes int
}

// roleChoice is one counterpart a call request can name.
type roleChoice struct {
	Value, Party, Role, Name string // Value is PARTY/ROLE
	Checked                  bool
}

// CallLengths are the call lengths the form offers, in minutes.
func (f *callForm) CallLengths() []int { return []int{15, 30, 45, 60, 90, 120} }

// newCallForm offers the roles every member of ch has published; nil if
// none has published any, as a request must name one.
func (c *Console) newCallForm(r *http.Request, ch *hotline.Channel) (*callForm, error) {
	_, dirs, err := c.n.Directory(r.Context(), ch.ID.String())
	if err != nil {
		return nil, err
	}
	f := &callForm{Minutes: 30}
	for _, d := range dirs {
		for _, cp := range d.Counterparts {
			f.Roles = append(f.Roles, roleChoice{Value: d.Party + "/" + cp.Role, Party: d.Party, Role: cp.Role, Name: cp.Name})
		}
	}
	if len(f.Roles) == 0 {
		return nil, nil
	}
	return f, nil
}

// requestCall writes a call request from the form: a purpose, up to
// MaxProposedTimes times in UTC, a length and the counterparts asked for.
// A refusal is shown beside the calls with what was typed kept.
func (c *Console) requestCall(w http.ResponseWriter, r *http.Request, rq *request) {
	typed := callForm{Purpose: r.PostFormValue("purpose")}
	in := node.CallRequest{Purpose: typed.Purpose}
	var err error
	if typed.Minutes, err = strconv.Atoi(r.PostFormValue("minutes")); err != nil {
		err = &hotline.Error{Code: hotline.EINVALID, Message: "the call length is not a number of minutes", Field: "minutes"}
	}
	in.Minutes = typed.Minutes
	for i, v := range r.PostForm["at"] {
		if i >= MaxProposedTimes {
			break
		}
		typed.Times[i] = v
		if v == "" || err != nil {
			continue
		}
		t, perr := parseUTC(v)
		if perr != nil {
			err = &hotline.Error{Code: hotline.EINVALID, Message: fmt.Sprintf("proposed time %q: write it in UTC on the 24-hour clock as YYYY-MM-DD HH:MM, such as 2026-12-02 09:00", v), Field: "at"}
			continue
		}
		in.Times = append(in.Times, t)
	}
	checked := make(map[string]bool)
	for _, v := range r.PostForm["with"] {
		party, role, _ := strings.Cut(v, "/")
		in.Participants = append(in.Participants, entry.Participant{Party: party, Role: role})
		checked[v] = true
	}
	if err == nil {
		_, err = c.n.RequestCall(r.Context(), rq.operator, r.PathValue("channel"), in, "")
	}
	if err != nil {
		c.refused(w, r, rq, err, "", "errors", func(d *channelData, msg string) {
			d.CallError = msg
			if d.CallForm != nil {
				typed.Roles = d.CallForm.Roles
				for i := range typed.Roles {
					typed.Roles[i].Checked = checked[typed.Roles[i].Value]
				}
				d.CallForm = &typed
			}
		})
		return
	}
	http.Redirect(w, r, Prefix+"channels/"+url.PathEscape(r.PathValue("channel"))+"#calls", http.StatusSeeOther)
}

// parseUTC reads a time typed as UTC on the 24-hour clock:
// "2026-12-02 09:00" (a T for the space, seconds and a final Z are
// accepted too). Anything else is refused, never guessed at.
func parseUTC(v string) (time.Time, error) {
	v = strings.TrimSuffix(strings.TrimSpace(v), "Z")
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, v, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, &time.ParseError{Value: v, Message: ": not a UTC time as YYYY-MM-DD HH:MM"}
}
