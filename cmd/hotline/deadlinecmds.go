package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/display"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

// Commands for deadlines and what follows from them: what is pending, the
// escalation set-up of a channel, call requests and the counterpart
// directory.

func init() {
	register(&command{
		name: "pending", summary: "What waits for this party's answer, FLASH first, then soonest deadline first, and what this party waits for",
		usage: "[--json]", example: "  hotline pending",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("pending", env)
			cl := apiFlags(fs, env)
			asJSON := fs.Bool("json", false, "print JSON")
			c, _, err := cl.parse(args, 0, 0)
			if err != nil {
				return err
			}
			items, err := c.Pending(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(env, items)
			}
			printPending(env.Stdout, items, time.Now())
			return nil
		},
	})
	register(&command{
		name: "channel escalation", summary: "Show a channel's agreed deadlines and escalation target, and the ladders this node runs for it",
		usage: "CHANNEL [--json]", example: "  hotline channel escalation alpha-bravo-theatre",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("channel escalation", env)
			cl := apiFlags(fs, env)
			asJSON := fs.Bool("json", false, "print JSON")
			c, pos, err := cl.parse(args, 1, 1)
			if err != nil {
				return err
			}
			v, err := c.Escalation(ctx, pos[0])
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(env, v)
			}
			p := v.Channel.Policy
			source := "agreed by every member"
			if !p.Agreed {
				source = "the level's defaults"
			}
			fmt.Fprintf(env.Stdout, "Channel %s (%s level), policy: %s\n", v.Channel.Name, v.Channel.Level, source)
			ack := "none unless the sender asks"
			if p.AckWithinSeconds > 0 {
				ack = seconds(p.AckWithinSeconds).String()
			}
			fmt.Fprintf(env.Stdout, "  acknowledgement due within: %s (from delivery)\n", ack)
			fmt.Fprintf(env.Stdout, "  by precedence: FLASH %s, IMMEDIATE %s, PRIORITY %s\n", seconds(p.AckByPrecedenceSeconds["flash"]),
				seconds(p.AckByPrecedenceSeconds["immediate"]), seconds(p.AckByPrecedenceSeconds["priority"]))
			fmt.Fprintf(env.Stdout, "  call requests answered within: %s\n", seconds(p.CallWithinSeconds))
			if v.EscalateTo != nil {
				fmt.Fprintf(env.Stdout, "  escalates into: %s (%s level)\n", v.EscalateTo.Name, v.EscalateTo.Level)
			} else {
				fmt.Fprintln(env.Stdout, "  escalates into: no channel")
			}
			for _, l := range []struct {
				name  string
				steps []api.StepView
			}{{"Escalation ladder (this party's unanswered entries)", v.Escalation}, {"Reminder ladder (what this party owes)", v.Reminder}} {
				fmt.Fprintf(env.Stdout, "%s:\n", l.name)
				if len(l.steps) == 0 {
					fmt.Fprintln(env.Stdout, "  (no steps)")
				}
				for i, s := range l.steps {
					fmt.Fprintf(env.Stdout, "  %d. at deadline %+v: %s", i+1, seconds(s.AfterSeconds), s.Action)
					switch {
					case s.URL != "":
						fmt.Fprintf(env.Stdout, " %s", s.URL)
					case len(s.To) > 0:
						fmt.Fprintf(env.Stdout, " to %s", strings.Join(s.To, ", "))
					}
					fmt.Fprintln(env.Stdout)
				}
			}
			return nil
		},
	})
	register(&command{
		name: "calls", summary: "The call agenda: call requests, their answers, accepted times and readouts",
		usage: "[CHANNEL] [--json]", example: "  hotline calls\n  hotline calls alpha-bravo-strategic --json",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("calls", env)
			cl := apiFlags(fs, env)
			asJSON := fs.Bool("json", false, "print JSON")
			c, pos, err := cl.parse(args, 0, 1)
			if err != nil {
				return err
			}
			ch := ""
			if len(pos) == 1 {
				ch = pos[0]
			}
			calls, err := c.Calls(ctx, ch)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(env, calls)
			}
			printCalls(env.Stdout, calls)
			return nil
		},
	})
	register(&command{
		name: "call propose", summary: "Request a call with counterparts named by their directory roles",
		usage:   "CHANNEL --purpose TEXT --at TIME [--at TIME...] --with PARTY/ROLE[,PARTY/ROLE...] [--minutes N] [--level LEVEL] [--counter ENTRY_ID]",
		example: `  hotline call propose alpha-bravo-strategic --purpose "Incident of 3 May" --at 2026-12-01T09:00Z --at 2026-12-01T14:00Z --with alpha/minister,bravo/minister`,
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("call propose", env)
			cl := apiFlags(fs, env)
			purpose := fs.String("purpose", "", "what the call is about")
			var at keyList
			fs.Var(&at, "at", "a proposed start time, RFC 3339 (repeat to propose several)")
			with := fs.String("with", "", "participants as PARTY/ROLE, comma-separated (roles from hotline directory)")
			minutes := fs.Int("minutes", 30, "planned length in minutes")
			level := fs.String("level", "", "who talks (default: the channel's level)")
			counter := fs.String("counter", "", "answer another party's request by proposing these times instead")
			c, pos, err := cl.parse(args, 1, 1)
			if err != nil {
				return err
			}
			req := api.CallRequestBody{Purpose: *purpose, Minutes: *minutes, Level: *level, Counter: *counter}
			if *purpose == "" || len(at) == 0 || *with == "" {
				return usagef("give --purpose, at least one --at and --with")
			}
			for _, s := range at {
				t, err := parseTime(s)
				if err != nil {
					return err
				}
				req.Times = append(req.Times, t)
			}
			for _, pr := range strings.Split(*with, ",") {
				party, role, ok := strings.Cut(strings.TrimSpace(pr), "/")
				if !ok || party == "" || role == "" {
					return usagef("--with %q: write each participant as PARTY/ROLE", pr)
				}
				req.Participants = append(req.Participants, entry.Participant{Party: party, Role: role})
			}
			ref, err := c.RequestCall(ctx, pos[0], req)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ref.ID)
			return nil
		},
	})
	register(&command{
		name: "call accept", summary: "Accept another party's call request at one of its proposed times",
		usage: "CHANNEL REQUEST_ID --at TIME", example: "  hotline call accept alpha-bravo-strategic 5c1e0f3a --at 2026-12-01T09:00Z",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("call accept", env)
			cl := apiFlags(fs, env)
			at := fs.String("at", "", "the accepted time, as proposed (RFC 3339)")
			c, pos, err := cl.parse(args, 2, 2)
			if err != nil {
				return err
			}
			if *at == "" {
				return usagef("give --at: one of the proposed times (hotline calls lists them)")
			}
			t, err := parseTime(*at)
			if err != nil {
				return err
			}
			ref, err := c.AcceptCall(ctx, pos[0], pos[1], t)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ref.ID)
			return nil
		},
	})
	register(&command{
		name: "call decline", summary: "Decline another party's call request, with a reason",
		usage: "CHANNEL REQUEST_ID --reason TEXT", example: `  hotline call decline alpha-bravo-strategic 5c1e0f3a --reason "Minister travelling; see counter-proposal"`,
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("call decline", env)
			cl := apiFlags(fs, env)
			reason := fs.String("reason", "", "why (carried in the signed entry)")
			c, pos, err := cl.parse(args, 2, 2)
			if err != nil {
				return err
			}
			if *reason == "" {
				return usagef("give --reason")
			}
			ref, err := c.DeclineCall(ctx, pos[0], pos[1], *reason)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ref.ID)
			return nil
		},
	})
	register(&command{
		name: "call readout", summary: "Post this party's readout of a call; --joint drafts a readout for both parties to sign",
		usage: "CHANNEL REQUEST_ID TEXT [--lang TAG] [--joint]", example: `  hotline call readout alpha-bravo-strategic 5c1e0f3a "Both sides agreed to..." --joint`,
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("call readout", env)
			cl := apiFlags(fs, env)
			lang := fs.String("lang", "en", "language tag of the text (BCP 47)")
			joint := fs.Bool("joint", false, "draft a joint readout, signed by this party, for the others to co-sign")
			c, pos, err := cl.parse(args, 3, 3)
			if err != nil {
				return err
			}
			ref, err := c.Readout(ctx, pos[0], pos[1], api.ReadoutBody{Text: pos[2], Lang: *lang, Joint: *joint})
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ref.ID)
			return nil
		},
	})
	register(&command{
		name: "call cosign", summary: "Co-sign a joint readout: the entry carries every party's signature over the one text",
		usage: "CHANNEL READOUT_ID", example: "  hotline call cosign alpha-bravo-strategic 9b7d3e21",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("call cosign", env)
			cl := apiFlags(fs, env)
			c, pos, err := cl.parse(args, 2, 2)
			if err != nil {
				return err
			}
			ref, err := c.Cosign(ctx, pos[0], pos[1])
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ref.ID)
			return nil
		},
	})
	register(&command{
		name: "directory", summary: "Show each party's counterparts in a channel (roles that call requests address)",
		usage: "CHANNEL [--json]", example: "  hotline directory alpha-bravo-strategic",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("directory", env)
			cl := apiFlags(fs, env)
			asJSON := fs.Bool("json", false, "print JSON")
			c, pos, err := cl.parse(args, 1, 1)
			if err != nil {
				return err
			}
			dirs, err := c.Directory(ctx, pos[0])
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(env, dirs)
			}
			if len(dirs) == 0 {
				fmt.Fprintln(env.Stdout, "No party has published a directory in this channel (hotline directory publish).")
				return nil
			}
			tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "PARTY\tLEVEL\tROLE\tNAME\tADDRESS\tLANGUAGES\tALTERNATES")
			for _, d := range dirs {
				for _, cp := range d.Counterparts {
					fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.Party, cp.Level, cp.Role, display.Line(cp.Name), display.Line(cp.Address),
						strings.Join(cp.Languages, ","), display.Line(strings.Join(cp.Alternates, "; ")))
				}
			}
			return tw.Flush()
		},
	})
	register(&command{
		name: "directory publish", summary: "Publish this party's counterparts in a channel (replaces what it published before)",
		usage:   "CHANNEL FILE",
		example: `  hotline directory publish alpha-bravo-strategic counterparts.json   # {"counterparts":[{"level":"strategic","role":"minister","name":"...","address":"Minister","languages":["en"]}]}`,
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("directory publish", env)
			cl := apiFlags(fs, env)
			c, pos, err := cl.parse(args, 2, 2)
			if err != nil {
				return err
			}
			var r io.Reader = env.Stdin
			if pos[1] != "-" {
				f, err := os.Open(pos[1])
				if err != nil {
					return err
				}
				defer f.Close()
				r = f
			}
			var req api.DirectoryRequest
			dec := json.NewDecoder(io.LimitReader(r, 1<<20))
			dec.DisallowUnknownFields()
			if err := dec.Decode(&req); err != nil {
				return usagef("%s: not a directory file: %v", pos[1], err)
			}
			ref, err := c.PublishDirectory(ctx, pos[0], req)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ref.ID)
			return nil
		},
	})
}

// seconds is a duration given in seconds, printed the Go way.
type seconds float64

func (s seconds) String() string { return time.Duration(float64(s) * float64(time.Second)).String() }

// parseTime reads an RFC 3339 time; "Z" without seconds is allowed.
func parseTime(s string) (time.Time, error) {
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04Z07:00"} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, usagef("%q is not a time: write it like 2026-12-01T09:00Z or 2026-12-01T09:00:00+08:00", s)
}

// printPending prints what this party owes first, then what it waits for.
func printPending(w io.Writer, items []node.Item, now time.Time) {
	for _, role := range []struct{ role, title string }{
		{"received", "Waiting for this party's answer"},
		{"sent", "This party is waiting for"},
	} {
		fmt.Fprintf(w, "%s:\n", role.title)
		tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
		n := 0
		for _, it := range items {
			if it.Role != role.role {
				continue
			}
			n++
			left := "not yet delivered"
			if it.Deadline != nil {
				if d := it.Deadline.Sub(now).Round(time.Second); d > 0 {
					left = d.String() + " left"
				} else {
					left = "OVERDUE by " + (-d).String()
				}
			}
			if it.Lapsed {
				left += " (recorded unanswered)"
			}
			fmt.Fprintf(tw, "  %s\t%s\t%s/%d\t%s\t%s\tfrom %s\t%s%s\n", left, it.ChannelName, it.Author, it.Seq, it.Kind,
				it.Entry[:16], strings.Join(it.Pending, ","), precedenceMark(it.Precedence), clipText(it.Text, 60))
		}
		if n == 0 {
			fmt.Fprintln(tw, "  nothing")
		}
		tw.Flush()
	}
}

func printCalls(w io.Writer, calls []node.CallView) {
	if len(calls) == 0 {
		fmt.Fprintln(w, "No call requests.")
		return
	}
	for _, c := range calls {
		when := ""
		if c.Time != nil {
			when = " at " + c.Time.Format("2006-01-02 15:04Z")
		} else {
			var ts []string
			for _, t := range c.Times {
				ts = append(ts, t.Format("2006-01-02 15:04Z"))
			}
			when = " proposed for " + strings.Join(ts, " or ")
		}
		fmt.Fprintf(w, "%s  %s  %s%s (%d min, %s level)\n", c.Entry[:16], strings.ToUpper(c.State), c.ChannelName, when, c.Minutes, c.Level)
		fmt.Fprintf(w, "    requested by %s: %s\n", c.Requester, display.Line(c.Purpose))
		var ps []string
		for _, p := range c.Participants {
			s := p.Party + "/" + p.Role
			if p.Name != "" {
				s += " (" + display.Line(p.Name) + ")"
			}
			ps = append(ps, s)
		}
		fmt.Fprintf(w, "    participants: %s\n", strings.Join(ps, ", "))
		if c.State == node.CallRequested && c.Deadline != nil {
			fmt.Fprintf(w, "    answer due by %s\n", c.Deadline.Format(time.RFC3339))
		}
		for _, a := range c.Answers {
			switch {
			case a.Time != nil:
				fmt.Fprintf(w, "    %s accepted %s\n", a.Party, a.Time.Format("2006-01-02 15:04Z"))
			case a.Reason != "":
				fmt.Fprintf(w, "    %s declined: %s\n", a.Party, display.Line(a.Reason))
			case a.Counter != "":
				fmt.Fprintf(w, "    %s proposed other times (%s)\n", a.Party, a.Counter[:16])
			default:
				fmt.Fprintf(w, "    %s recorded it as unanswered\n", a.Party)
			}
		}
		if h := c.Held; h != nil {
			fmt.Fprintf(w, "    held %s to %s; record %s signed by %s\n", h.Start.Format("2006-01-02 15:04:05Z"), h.End.Format("15:04:05Z"), h.Entry[:16], strings.Join(h.Signed, ", "))
		}
		for _, r := range c.Readouts {
			kind := "readout"
			if r.Joint {
				kind = "joint readout draft"
			}
			fmt.Fprintf(w, "    %s of %s [%s]: %s\n", kind, r.Party, r.Lang, display.Line(r.Text))
		}
		if c.Joint != nil {
			fmt.Fprintf(w, "    joint readout signed by %s: %s\n", strings.Join(c.Joint.Signed, ", "), display.Line(c.Joint.Text))
		}
	}
}

// clipText fits another party's text on one line of at most n
// characters, shown safely (see package display).
func clipText(s string, n int) string {
	r := []rune(display.Line(s))
	if len(r) <= n {
		return string(r)
	}
	return string(r[:n-1]) + "…"
}

// precedenceMark marks a message above routine at the start of its text.
func precedenceMark(p string) string {
	if p == "" || p == "routine" {
		return ""
	}
	return strings.ToUpper(p) + " "
}
