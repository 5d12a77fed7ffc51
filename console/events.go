package console

import (
	"fmt"
	"strings"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

// eventText writes the timeline line of an entry that is not a message
// (channel set-up, calls, escalations, directories) in the page's
// language, from the entry's signed content. calls names the channel's
// call requests by entry id, so an answer says which request it answers.
// An entry it does not know keeps the node's English line.
func eventText(lang string, v *node.EntryView, calls map[string]string) string {
	t := func(key string, args ...any) string { return T(lang, key, args...) }
	switch {
	case v.Config != nil && v.Config.Action == entry.ActionPropose:
		return t("event.propose", levelWord(lang, v.Config.Level), v.Config.Name, strings.Join(v.Config.Members, ", "))
	case v.Config != nil:
		return t("event.accept", v.Config.Proposer)
	case v.Escalation != nil:
		return t("event.escalation", v.Escalation.Text)
	case v.Kind == entry.KindDirectory:
		var roles []string
		for _, c := range v.Counterparts {
			roles = append(roles, aside(lang, roleName(lang, c.Role), c.Name, levelWord(lang, c.Level)))
		}
		return t("event.directory", listOf(lang, roles))
	case v.Call != nil:
		return callEventText(lang, v.Call, calls)
	}
	return v.Text
}

func callEventText(lang string, c *node.CallEntryView, calls map[string]string) string {
	t := func(key string, args ...any) string { return T(lang, key, args...) }
	var times []string
	for _, at := range c.Times {
		times = append(times, formatTime(lang, at))
	}
	re := ""
	if c.Re != nil {
		re = fmt.Sprintf("%s/%d", c.Re.Party, c.Re.Seq)
		if purpose, ok := calls[c.Re.ID]; ok {
			re = "“" + purpose + "”"
		}
	}
	switch c.Action {
	case entry.CallPropose:
		s := t("event.call.propose", levelWord(lang, c.Level), c.Minutes, strings.Join(times, t("event.or")), c.Purpose)
		if c.Re != nil {
			s = t("event.call.counter", re) + s
		}
		return s
	case entry.CallAccept:
		return t("event.call.accept", re, strings.Join(times, ""))
	case entry.CallDecline:
		return t("event.call.decline", re, c.Reason)
	case entry.CallLapse:
		return t("event.call.lapse", re)
	case entry.CallReadout:
		if len(c.Signed) > 0 {
			return t("event.call.draft", re, c.Text)
		}
		return t("event.call.readout", re, c.Text)
	case entry.CallCosign:
		return t("event.call.cosign", re, strings.Join(c.Signed, ", "), c.Text)
	}
	return c.Action
}

// levelWord names a level inside a sentence: "strategic", not the
// heading's "Strategic".
func levelWord(lang, level string) string { return strings.ToLower(T(lang, "level."+level)) }
