// Package escalation defines what a node does when an entry it watches is
// left unanswered: ladders of timed steps, and the ways a step reaches
// people outside the node (a signed webhook call, an e-mail).
//
// A ladder is configured per level. The sender's node runs the escalation
// ladder for its own unacknowledged messages and unanswered call requests;
// the receiving node runs the reminder ladder for its own operators. Step
// delays count from the entry's deadline; a reminder step may come before
// it (a negative delay).
package escalation

import (
	"fmt"
	"net/mail"
	"net/url"
	"time"

	"github.com/hotline-project/hotline"
)

// Step actions.
const (
	Alert    = "alert"    // an alarm event to the node's operators (SSE, console)
	Webhook  = "webhook"  // a signed JSON POST to URL
	Email    = "email"    // an e-mail to To through the node's SMTP server
	Escalate = "escalate" // a signed escalation entry in the channel's agreed escalation target
)

// Ladder names.
const (
	EscalationLadder = "escalation"
	ReminderLadder   = "reminder"
)

// MaxSteps bounds one ladder.
const MaxSteps = 16

// Step is one step of a ladder.
type Step struct {
	After  time.Duration // from the deadline
	Action string
	URL    string   // webhook
	Secret []byte   // webhook: the HMAC-SHA256 key
	To     []string // email: addresses
}

// Ladder is a list of steps, in order of their delays.
type Ladder []Step

// Ladders are a node's ladders by level.
type Ladders struct {
	Escalation map[hotline.Level]Ladder
	Reminder   map[hotline.Level]Ladder
}

// Check validates every ladder: known levels (track2 never escalates),
// known actions with what each needs, delays in order, escalate only in
// escalation ladders. mailer says whether an SMTP server is configured.
func (ls *Ladders) Check(mailer bool) error {
	for _, set := range []struct {
		name    string
		ladders map[hotline.Level]Ladder
	}{{EscalationLadder, ls.Escalation}, {ReminderLadder, ls.Reminder}} {
		for level, l := range set.ladders {
			if _, err := hotline.ParseLevel(string(level)); err != nil {
				return hotline.Errorf(hotline.EINVALID, "%s ladder: %s", set.name, hotline.ErrorMessage(err))
			}
			if level == hotline.Track2 && set.name == EscalationLadder && len(l) > 0 {
				return hotline.Errorf(hotline.EINVALID, "escalation ladder for track2: track2 channels never escalate")
			}
			if err := l.check(set.name, mailer); err != nil {
				return hotline.Errorf(hotline.EINVALID, "%s ladder for %s: %v", set.name, level, err)
			}
		}
	}
	return nil
}

func (l Ladder) check(ladder string, mailer bool) error {
	if len(l) > MaxSteps {
		return fmt.Errorf("%d steps, limit %d", len(l), MaxSteps)
	}
	for i, s := range l {
		where := fmt.Sprintf("step %d (%s)", i+1, s.Action)
		switch {
		case s.After < 0 && ladder == EscalationLadder:
			return fmt.Errorf("%s: an escalation step cannot come before the deadline (after = %s)", where, s.After)
		case s.After < -30*24*time.Hour || s.After > 30*24*time.Hour:
			return fmt.Errorf("%s: delay %s is out of range (at most 30 days either side of the deadline)", where, s.After)
		case i > 0 && s.After < l[i-1].After:
			return fmt.Errorf("%s: steps must be in order of their delays", where)
		}
		switch s.Action {
		case Alert:
		case Webhook:
			u, err := url.Parse(s.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Errorf("%s: webhook URL %q must be an absolute http or https URL", where, s.URL)
			}
			if len(s.Secret) < 16 {
				return fmt.Errorf("%s: a webhook needs a secret of at least 16 bytes to sign its requests with", where)
			}
		case Email:
			if !mailer {
				return fmt.Errorf("%s: e-mail needs an SMTP server: set [smtp] addr and from", where)
			}
			if len(s.To) == 0 {
				return fmt.Errorf("%s: e-mail needs at least one address in to", where)
			}
			for _, a := range s.To {
				if _, err := mail.ParseAddress(a); err != nil {
					return fmt.Errorf("%s: e-mail address %q: %v", where, a, err)
				}
			}
		case Escalate:
			if ladder != EscalationLadder {
				return fmt.Errorf("%s: only the sender's escalation ladder posts escalation entries", where)
			}
		default:
			return fmt.Errorf("%s: unknown action %q: use alert, webhook, email or escalate", where, s.Action)
		}
	}
	return nil
}
