package escalation

import (
	"fmt"
	"strings"
	"time"
)

// Event names in a Payload.
const (
	EventOverdue    = "overdue"    // a message was not acknowledged by its deadline
	EventUnanswered = "unanswered" // a call request got no answer by its deadline
	EventReminder   = "reminder"   // this party owes an answer (reminder ladder)
)

// Payload is the JSON body of a webhook call and the content of an
// e-mail: which entry is unanswered, where, since when, and who owes the
// answer. Its form is documented in docs/ESCALATION.md; add fields, never
// change one.
type Payload struct {
	Event    string      `json:"event"`
	Delivery string      `json:"delivery"` // ENTRY/LADDER/STEP: the same on every retry of this step
	Ladder   string      `json:"ladder"`
	Step     int         `json:"step"`  // from 1
	Party    string      `json:"party"` // the node's party
	Channel  ChannelInfo `json:"channel"`
	Entry    EntryInfo   `json:"entry"`
	Deadline time.Time   `json:"deadline"`
	Pending  []string    `json:"pending"` // parties that owe an answer
	Sent     time.Time   `json:"sent"`    // when this call was made, by the node's clock
}

// ChannelInfo names a channel in a Payload.
type ChannelInfo struct {
	ID    string `json:"id"`
	Name  string `json:"name"`
	Level string `json:"level"`
}

// EntryInfo describes the unanswered entry in a Payload.
type EntryInfo struct {
	ID       string    `json:"id"`
	Author   string    `json:"author"`
	Operator string    `json:"operator,omitempty"`
	Seq      uint64    `json:"seq"`
	Kind     string    `json:"kind"`
	Time     time.Time `json:"time"` // author's clock
	Text     string    `json:"text"` // message text or call purpose
}

// Subject is the e-mail subject line for p.
func (p *Payload) Subject() string {
	what := map[string]string{EventOverdue: "OVERDUE", EventUnanswered: "UNANSWERED CALL REQUEST", EventReminder: "ANSWER DUE"}[p.Event]
	return fmt.Sprintf("[hotline %s] %s: %s %s/%d in %s", p.Party, what, p.Entry.Kind, p.Entry.Author, p.Entry.Seq, p.Channel.Name)
}

// Text is the e-mail body for p.
func (p *Payload) Text() string {
	var b strings.Builder
	switch p.Event {
	case EventOverdue:
		fmt.Fprintf(&b, "A message from %s has not been acknowledged by %s.\n", p.Entry.Author, strings.Join(p.Pending, ", "))
	case EventUnanswered:
		fmt.Fprintf(&b, "A call request from %s has not been answered by %s.\n", p.Entry.Author, strings.Join(p.Pending, ", "))
	case EventReminder:
		fmt.Fprintf(&b, "%s owes an answer to this %s from %s.\n", p.Party, p.Entry.Kind, p.Entry.Author)
	}
	fmt.Fprintf(&b, "\nChannel:  %s (%s level, %s)\n", p.Channel.Name, p.Channel.Level, p.Channel.ID)
	fmt.Fprintf(&b, "Entry:    %s/%d, %s, id %s\n", p.Entry.Author, p.Entry.Seq, p.Entry.Kind, p.Entry.ID)
	fmt.Fprintf(&b, "Written:  %s", p.Entry.Time.Format(time.RFC3339))
	if p.Entry.Operator != "" {
		fmt.Fprintf(&b, " by %s", p.Entry.Operator)
	}
	fmt.Fprintf(&b, "\nDeadline: %s\n", p.Deadline.Format(time.RFC3339))
	fmt.Fprintf(&b, "Step:     %d of the %s ladder (delivery %s)\n\n%s\n", p.Step, p.Ladder, p.Delivery, p.Entry.Text)
	return b.String()
}
