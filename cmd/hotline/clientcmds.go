package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/display"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/replica"
)

// apiArgs are a client command's --api and --token flags.
type apiArgs struct {
	fs          *flag.FlagSet
	env         *Env
	base, token *string
}

// apiFlags adds --api and --token to fs.
func apiFlags(fs *flag.FlagSet, env *Env) *apiArgs {
	def := env.Getenv("HOTLINE_API")
	if def == "" {
		def = "http://127.0.0.1:8080"
	}
	return &apiArgs{fs: fs, env: env,
		base:  fs.String("api", def, "node API URL (or HOTLINE_API); a party's replicas comma-separated, tried in turn when one cannot be reached"),
		token: fs.String("token", "", "operator API token (or HOTLINE_TOKEN)"),
	}
}

// parse parses args as parseArgs does, then returns the API client the
// flags describe and the positional arguments.
func (a *apiArgs) parse(args []string, lo, hi int) (*client.Client, []string, error) {
	pos, err := parseArgs(a.fs, args, lo, hi)
	if err != nil {
		return nil, nil, err
	}
	tok := *a.token
	if tok == "" {
		tok = a.env.Getenv("HOTLINE_TOKEN")
	}
	if tok == "" {
		return nil, nil, usagef("no API token: give --token or set HOTLINE_TOKEN (hotline token create makes one)")
	}
	for _, base := range strings.Split(*a.base, ",") {
		if base = strings.TrimSpace(base); !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
			return nil, nil, usagef("--api %q must start with http:// or https://", base)
		}
	}
	return client.New(*a.base, tok), pos, nil
}

func init() {
	register(&command{
		name: "channel propose", summary: "Propose a channel to other parties; it is active once all accept",
		usage: "NAME --level LEVEL --with PARTY[,PARTY...] [--ack-within D] [--ack-flash D] [--ack-immediate D] [--ack-priority D] [--call-within D] [--escalate-to CHANNEL] [--notice-lead D] [--releasers N [--release-from PRECEDENCE]] [--record-calls] [--catalog ID|none] [--lang TAG]",
		example: "  hotline channel propose alpha-bravo-policy --level policy --with bravo\n" +
			"  hotline channel propose alpha-bravo-theatre --level theatre --with bravo --ack-within 15m --escalate-to alpha-bravo-policy\n" +
			"  hotline channel propose alpha-bravo-strategic --level strategic --with bravo --releasers 2   (two officers other than the drafter release every message)",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("channel propose", env)
			cl := apiFlags(fs, env)
			level := fs.String("level", "", "strategic, policy, theatre, frontline or track2")
			with := fs.String("with", "", "the other parties, comma-separated")
			ack := fs.String("ack-within", "", "agreed default acknowledgement deadline (0: none by default; default: the level's)")
			call := fs.String("call-within", "", "agreed time to answer a call request (default 48h)")
			escalateTo := fs.String("escalate-to", "", "higher-level channel with the same members that unanswered entries escalate into")
			notice := fs.String("notice-lead", "", "agreed lead time of launch notices (default 24h)")
			byPrec := map[string]*string{}
			for _, p := range []string{"flash", "immediate", "priority"} {
				byPrec[p] = fs.String("ack-"+p, "", "agreed acknowledgement time of a "+strings.ToUpper(p)+" message (default: its objective, never longer than --ack-within)")
			}
			catalog := fs.String("catalog", "", "phrase catalog id (or 8+ hex digits of it); default: the node's default catalog; none: free text only")
			lang := fs.String("lang", "", "the channel's default language for phrases (default en)")
			releasers := fs.Int("releasers", 0, "release authority: each message is held until this many operators other than its drafter release it with their personal keys (1 to 3)")
			releaseFrom := fs.String("release-from", "routine", "with --releasers: only messages at or above this precedence need releasing (flash, immediate, priority or routine)")
			recordCalls := fs.Bool("record-calls", false, "each party's node records the calls held in the channel, on its own side (the held record carries each recording's SHA-256)")
			c, pos, err := cl.parse(args, 1, 1)
			if err != nil {
				return err
			}
			if *level == "" || *with == "" {
				return usagef("give --level and --with")
			}
			req := api.ProposeRequest{Name: pos[0], Level: *level, Members: strings.Split(*with, ","), Catalog: *catalog, Lang: *lang}
			acks := map[string]string{}
			for p, d := range byPrec {
				if *d != "" {
					acks[p] = *d
				}
			}
			if *ack != "" || *call != "" || *escalateTo != "" || *notice != "" || len(acks) > 0 || *releasers != 0 || *recordCalls {
				req.Policy = &api.PolicyRequest{EscalateTo: *escalateTo, RecordCalls: *recordCalls}
				if *releasers != 0 {
					req.Policy.Release = &api.ReleaseRule{Precedence: *releaseFrom, Releasers: *releasers}
				}
				if len(acks) > 0 {
					req.Policy.AckByPrecedence = acks
				}
				if *notice != "" {
					req.Policy.NoticeLead = notice
				}
				if *ack != "" {
					req.Policy.AckWithin = ack
				}
				if *call != "" {
					req.Policy.CallWithin = call
				}
			}
			ch, err := c.Propose(ctx, req)
			if err != nil {
				return err
			}
			fmt.Fprintln(env.Stdout, ch.ID)
			fmt.Fprintf(env.Stderr, "Proposed %s channel %s; waiting for %s to accept (hotline channel accept %s).\n", ch.Level, ch.Name, *with, ch.ID)
			return nil
		},
	})
	register(&command{
		name: "channel accept", summary: "Accept a channel this party was invited to",
		usage: "CHANNEL", example: "  hotline channel accept 3f2a9c0e",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("channel accept", env)
			cl := apiFlags(fs, env)
			c, pos, err := cl.parse(args, 1, 1)
			if err != nil {
				return err
			}
			ch, err := c.Accept(ctx, pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s %s %s\n", ch.ID, ch.Name, ch.State)
			return nil
		},
	})
	register(&command{
		name: "channel decline", summary: "Decline an invitation: it is no longer shown, synced or acceptable",
		usage: "CHANNEL", example: "  hotline channel decline 3f2a9c0e",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("channel decline", env)
			cl := apiFlags(fs, env)
			c, pos, err := cl.parse(args, 1, 1)
			if err != nil {
				return err
			}
			ch, err := c.Decline(ctx, pos[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "%s %s %s\n", ch.ID, ch.Name, ch.State)
			return nil
		},
	})
	register(&command{
		name: "channel list", summary: "List channels: id, name here, level, state, members",
		usage: "[--all] [--json]", example: "  hotline channel list --api http://127.0.0.1:8080 --token $T",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("channel list", env)
			cl := apiFlags(fs, env)
			asJSON := fs.Bool("json", false, "print JSON")
			all := fs.Bool("all", false, "also invitations declined or expired")
			c, _, err := cl.parse(args, 0, 0)
			if err != nil {
				return err
			}
			list := c.Channels
			if *all {
				list = c.AllChannels
			}
			chans, err := list(ctx)
			if err != nil {
				return err
			}
			if *asJSON {
				return printJSON(env, chans)
			}
			tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tLEVEL\tSTATE\tMEMBERS")
			for _, ch := range chans {
				var ms []string
				for _, m := range ch.Members {
					s := m.Party
					if !m.Accepted {
						s += " (not yet accepted)"
					}
					ms = append(ms, s)
				}
				name := ch.Name
				if ch.ProposedName != ch.Name {
					name += " (proposed as " + ch.ProposedName + ", a name already used here)"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", ch.ID[:16], name, ch.Level, ch.State, strings.Join(ms, ", "))
			}
			return tw.Flush()
		},
	})
	register(&command{
		name: "send", summary: "Send a message or a standard phrase; prints the new entry's id once it is durable",
		usage: "CHANNEL TEXT [--precedence flash|immediate|priority|routine] [--lang TAG] [--translation TAG=TEXT] [--ack-within DURATION]\n" +
			"       hotline send CHANNEL --phrase CODE [--field NAME=VALUE ...] [--precedence P] [--lang TAG] [--ack-within DURATION]",
		example: `  hotline send alpha-bravo-strategic "Request a call at 0900Z" --lang en --ack-within 10m` + "\n" +
			`  hotline send alpha-bravo-frontline --phrase ENC-INTENT --field intention=alter_course_starboard --field course_speed=045/12`,
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("send", env)
			cl := apiFlags(fs, env)
			ack := fs.String("ack-within", "", "acknowledgement deadline (90s, 10m, 24h; 0 for none; default: the channel's for the precedence)")
			precedence := fs.String("precedence", "", "flash, immediate, priority or routine (the default): how fast it must be handled")
			lang := fs.String("lang", "", "language of the text, its authoritative language (BCP 47; default: yours, else the channel's)")
			code := fs.String("phrase", "", "send this standard phrase instead of text (see hotline catalog list)")
			var fields, translations keyList
			fs.Var(&fields, "field", "a phrase field as NAME=VALUE (repeat for each field)")
			fs.Var(&translations, "translation", "your own unofficial translation as TAG=TEXT (repeat per language)")
			c, pos, err := cl.parse(args, 1, 2)
			if err != nil {
				return err
			}
			req := api.SendRequest{Lang: langAlias(*lang), Precedence: strings.ToLower(*precedence)}
			switch {
			case *code != "" && len(pos) == 2:
				return usagef("give TEXT or --phrase, not both: a phrase's text comes from the catalog")
			case *code == "" && len(pos) == 1:
				return usagef("give the message TEXT, or --phrase CODE")
			}
			if *code != "" {
				req.Phrase = &api.PhraseRequest{Code: *code, Fields: map[string]string{}}
				for _, f := range fields {
					name, value, ok := strings.Cut(f, "=")
					if !ok || name == "" {
						return usagef("--field %q: write NAME=VALUE", f)
					}
					if _, dup := req.Phrase.Fields[name]; dup {
						return usagef("--field %s given twice", name)
					}
					req.Phrase.Fields[name] = value
				}
			} else {
				if len(fields) > 0 {
					return usagef("--field goes with --phrase")
				}
				req.Text = pos[1]
				for _, tr := range translations {
					tag, text, ok := strings.Cut(tr, "=")
					if !ok || tag == "" {
						return usagef("--translation %q: write TAG=TEXT", tr)
					}
					req.Unofficial = append(req.Unofficial, api.Rendering{Lang: tag, Text: text})
				}
			}
			if *ack != "" {
				req.AckWithin = ack
			}
			ref, err := c.Send(ctx, pos[0], req)
			if err != nil {
				return err
			}
			if d := ref.Draft; d != nil {
				fmt.Fprintln(env.Stdout, d.ID)
				fmt.Fprintf(env.Stderr, "Held as draft %s: the channel's policy has %d operators other than you release it first (hotline draft release %s); nothing is sent until then.\n", d.ID, d.Required, d.ID)
				return nil
			}
			fmt.Fprintln(env.Stdout, ref.ID)
			return nil
		},
	})
	for _, kind := range []string{"ack", "read"} {
		summary := map[string]string{"ack": "Acknowledge another party's message (a signed ack entry)",
			"read": "Record that you read another party's messages: one, or from the first to the last named of each feed (one signed read entry per feed)"}[kind]
		usage, most := "CHANNEL ENTRY_ID [--reply TEXT]", 2
		if kind == "read" {
			usage, most = "CHANNEL ENTRY_ID [ENTRY_ID...] [--reply TEXT]", 1+node.MaxReadTargets
		}
		register(&command{
			name: kind, summary: summary, usage: usage,
			example: fmt.Sprintf("  hotline %s alpha-bravo-strategic 5c1e0f3a", kind),
			run: func(ctx context.Context, env *Env, args []string) error {
				fs := newFlags(kind, env)
				cl := apiFlags(fs, env)
				reply := fs.String("reply", "", "a short reply carried in the signed entry (one message only)")
				c, pos, err := cl.parse(args, 2, most)
				if err != nil {
					return err
				}
				if len(pos) > 2 {
					if *reply != "" {
						return usagef("--reply goes with one message, not %d", len(pos)-1)
					}
					refs, err := c.ReadUpTo(ctx, pos[0], pos[1:])
					if err != nil {
						return err
					}
					for _, r := range refs {
						fmt.Fprintln(env.Stdout, r.ID)
					}
					return nil
				}
				ref, err := c.Mark(ctx, pos[0], pos[1], kind, *reply)
				if err != nil {
					return err
				}
				fmt.Fprintln(env.Stdout, ref.ID)
				return nil
			},
		})
	}
	register(&command{
		name: "log", summary: "Show a channel's log in channel order, with delivery and acknowledgement state",
		usage:   "CHANNEL [--json] [--all] [--lang TAG] [--limit N] [--since CURSOR] [--follow]",
		example: "  hotline log alpha-bravo-strategic --json\n  hotline log alpha-bravo-frontline --limit 50 --follow\n  hotline log alpha-bravo-frontline --since 812.406.bravo --json",
		run:     runLog,
	})
	register(&command{
		name: "status", summary: "Show the node: identity, peer links, channels and evidence of refused input",
		usage: "[--json] [--links [--peer PARTY] [--limit N]]", example: "  hotline status\n  hotline status --links --peer bravo",
		run: runStatus,
	})
}

// runLog prints a channel's log a page at a time: all of it, the newest
// --limit entries, or those after --since; --follow then keeps printing
// new entries as the node stores them.
func runLog(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("log", env)
	cl := apiFlags(fs, env)
	asJSON := fs.Bool("json", false, "one JSON object per entry, one per line (each with its cursor)")
	lang := fs.String("lang", "", "show phrases in this language (zh is zh-Hans; default: yours, else the channel's)")
	all := fs.Bool("all", false, "also show receipts, reads and acks as their own lines")
	limit := fs.Int("limit", 0, "show at most N entries: the newest N, or the first N after --since (0: all)")
	since := fs.String("since", "", "show only the entries after this cursor (an entry's cursor, as --json prints it)")
	follow := fs.Bool("follow", false, "keep printing new entries as they are stored, until interrupted")
	c, pos, err := cl.parse(args, 1, 1)
	if err != nil {
		return err
	}
	if *limit < 0 {
		return usagef("--limit %d: give a number of entries, or 0 for all", *limit)
	}
	ch, lg := pos[0], langAlias(*lang)
	var print func([]node.EntryView) error
	if *asJSON {
		enc := json.NewEncoder(env.Stdout)
		print = func(es []node.EntryView) error {
			for _, e := range es {
				if err := enc.Encode(e); err != nil {
					return err
				}
			}
			return nil
		}
	} else {
		header := true
		print = func(es []node.EntryView) error {
			printLog(env, es, *all, header)
			header = false
			return nil
		}
	}
	// What the node had stored when the first page was read: --follow
	// goes on from there, leaving out what the pages already printed.
	stored := int64(-1)
	shown := make(map[string]bool)
	note := func(p *api.EntriesPage) {
		if stored < 0 {
			stored = p.Stored
		}
		for _, e := range p.Entries {
			if e.Stored > stored {
				shown[e.ID] = true
			}
		}
	}
	after := *since
	switch {
	case *limit > 0 && after == "":
		// The newest entries: pages back from the end, printed in order.
		var pages [][]node.EntryView
		before, left := "", *limit
		for left > 0 {
			p, err := c.Page(ctx, ch, client.PageRequest{Before: before, Limit: min(left, node.MaxPageLimit), Lang: lg})
			if err != nil {
				return err
			}
			note(p)
			pages = append(pages, p.Entries)
			left -= len(p.Entries)
			if before = p.Prev; !p.Earlier || len(p.Entries) == 0 {
				break
			}
		}
		for i := len(pages) - 1; i >= 0; i-- {
			if err := print(pages[i]); err != nil {
				return err
			}
		}
	default:
		if after == "" {
			after = "0"
		}
		left := *limit
		for {
			n := node.MaxPageLimit
			if *limit > 0 {
				n = min(left, n)
			}
			p, err := c.Page(ctx, ch, client.PageRequest{After: after, Limit: n, Lang: lg})
			if err != nil {
				return err
			}
			note(p)
			if err := print(p.Entries); err != nil {
				return err
			}
			after, left = p.Next, left-len(p.Entries)
			if !p.Later || (*limit > 0 && left <= 0) {
				break
			}
		}
	}
	if !*follow {
		return nil
	}
	return followLog(ctx, c, ch, stored, shown, lg, print)
}

// followLog prints the entries the node stores after point stored of its
// storage order, as they come, until ctx ends, leaving out those in
// shown (already printed). It follows by storage order, not channel
// order: an entry that arrives late can take its place in channel order
// before entries already printed, and would be missed. The channel's live
// events say when to ask again, and a slow poll covers a stream that
// broke.
func followLog(ctx context.Context, c *client.Client, ch string, stored int64, shown map[string]bool, lang string, print func([]node.EntryView) error) error {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	go func() {
		for ctx.Err() == nil {
			ready, ended := make(chan struct{}), make(chan struct{})
			go func() {
				select {
				case <-ready:
					poke() // anything stored before the stream opened
				case <-ended:
				}
			}()
			c.Events(ctx, ch, ready, func(ev client.ServerEvent) bool {
				if ev.Name == node.EventEntry || ev.Name == node.EventLagged {
					poke()
				}
				return true
			})
			close(ended)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second):
			}
		}
	}()
	poll := time.NewTicker(15 * time.Second)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-wake:
		case <-poll.C:
		}
		for {
			p, err := c.Page(ctx, ch, client.PageRequest{StoredAfter: &stored, Limit: node.MaxPageLimit, Lang: lang})
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return err
			}
			fresh := p.Entries[:0:0]
			for _, e := range p.Entries {
				if shown[e.ID] {
					delete(shown, e.ID)
					continue
				}
				fresh = append(fresh, e)
			}
			if err := print(fresh); err != nil {
				return err
			}
			if !p.Later || len(p.Entries) == 0 {
				stored = max(stored, p.Stored)
				break
			}
			stored = p.Entries[len(p.Entries)-1].Stored
		}
	}
}

// printLog prints a page of a log for a person: messages with their
// state, and channel events; receipts, reads and acks fold into the
// messages unless all is set. The column header comes first if header.
func printLog(env *Env, entries []node.EntryView, all, header bool) {
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	if header {
		fmt.Fprintln(tw, "TIME (UTC)\tRECEIVED\tFROM\tSEQ\tKIND\tID\tTEXT\tSTATE")
	}
	for _, e := range entries {
		folded := e.Kind == "receipt" || e.Kind == "read" || e.Kind == "ack"
		if folded && !all {
			continue
		}
		from := e.Author
		if e.Operator != "" {
			from += "/" + e.Operator
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format("2006-01-02 15:04:05"), receivedAt(e), from, e.Seq, e.Kind, e.ID[:12], precedenceMark(e.Precedence)+oneLine(e.Text, 60), state(e))
		if e.Phrase != nil && e.Phrase.OriginalLang != e.Lang {
			fmt.Fprintf(tw, "\t\t\t\t\t\t%s\t\n", oneLine(fmt.Sprintf("[%s, as sent in %s] %s", e.Phrase.Code, e.Phrase.OriginalLang, e.Phrase.Original), 60))
		}
		for _, t := range e.Translations {
			label := t.Stage + " translation by " + display.Line(t.Translator)
			if t.Stage == node.StageAuthor {
				label = "author's unofficial translation"
			}
			fmt.Fprintf(tw, "\t\t\t\t\t\t%s\t\n", oneLine(fmt.Sprintf("[%s, %s] %s", t.Lang, label, t.Text), 60))
		}
	}
	tw.Flush()
}

// mebibytes writes a size in MiB, to a tenth.
func mebibytes(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// receivedAt is when this node stored the entry, by its own clock: the
// time only if it is the author's date, else the date too.
func receivedAt(e node.EntryView) string {
	if e.Received.UTC().Format(time.DateOnly) == e.Time.UTC().Format(time.DateOnly) {
		return e.Received.UTC().Format(time.TimeOnly)
	}
	return e.Received.UTC().Format("2006-01-02 15:04:05")
}

// oneLine fits text from another party on one line of at most n
// characters, with control and bidirectional formatting characters
// shown as escapes (see package display).
func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(display.Line(s)), " ")
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}

// state summarises a message's state in words (never only a symbol).
func state(e node.EntryView) string {
	var parts []string
	if e.Disputed != "" {
		parts = append(parts, "DISPUTED: "+e.Disputed)
	}
	if len(e.Releases) > 0 {
		var by []string
		for _, r := range e.Releases {
			by = append(by, r.Operator)
		}
		parts = append(parts, "released by "+strings.Join(by, ", "))
	}
	if e.FutureDated {
		parts = append(parts, "dated ahead of its arrival here (author's time not trusted)")
	}
	if e.PastDated {
		parts = append(parts, fmt.Sprintf("dated %s before it arrived here (author's time not trusted)", e.Received.Sub(e.Time).Round(time.Second)))
	}
	if e.Phrase != nil && e.Phrase.ShortNotice != nil {
		sn := e.Phrase.ShortNotice
		parts = append(parts, fmt.Sprintf("SHORT NOTICE: %s is %s after it arrived here; agreed %s",
			sn.Field, time.Duration(sn.LeadSeconds*float64(time.Second)).Round(time.Minute), time.Duration(sn.AgreedSeconds*float64(time.Second))))
	}
	if e.MessageState == nil {
		return strings.Join(parts, "; ")
	}
	if e.Delivered != nil {
		parts = append(parts, "delivered "+e.Delivered.UTC().Format("15:04:05"))
	} else {
		parts = append(parts, "NOT DELIVERED to "+strings.Join(e.Pending, ","))
	}
	for _, a := range e.AckedBy {
		parts = append(parts, fmt.Sprintf("acked by %s/%s %s", a.Party, a.Operator, a.Time.UTC().Format("15:04:05")))
	}
	if !e.Acked && len(e.ReadBy) > 0 {
		parts = append(parts, "read by "+e.ReadBy[0].Party+"/"+e.ReadBy[0].Operator)
	}
	switch {
	case e.Overdue:
		parts = append(parts, fmt.Sprintf("OVERDUE since %s", e.Deadline.UTC().Format("15:04:05")))
	case !e.Acked && e.Deadline != nil:
		parts = append(parts, fmt.Sprintf("ack due in %s", time.Until(*e.Deadline).Round(time.Second)))
	}
	return strings.Join(parts, "; ")
}

// ago says how long before now t was, or "never".
func ago(t *time.Time) string {
	if t == nil {
		return "never"
	}
	return time.Since(*t).Round(time.Second).String() + " ago"
}

func printLinkHistory(ctx context.Context, env *Env, c *client.Client, peer string, limit int, asJSON bool) error {
	if limit < 1 || limit > 10000 {
		return usagef("--limit must be from 1 to 10000")
	}
	tests, err := c.LinkHistory(ctx, peer, limit)
	if err != nil {
		return err
	}
	if asJSON {
		return printJSON(env, map[string]any{"tests": tests})
	}
	tw := tabwriter.NewWriter(env.Stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME (UTC)\tPEER\tENDPOINT\tRESULT\tRTT")
	for _, t := range tests {
		res, rtt := "ok", t.RTT.Round(time.Microsecond).String()
		if !t.OK {
			res, rtt = "FAILED: "+oneLine(t.Error, 60), ""
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", t.Time.UTC().Format("2006-01-02 15:04:05"), t.Peer, t.Endpoint, res, rtt)
	}
	return tw.Flush()
}

func runStatus(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("status", env)
	cl := apiFlags(fs, env)
	asJSON := fs.Bool("json", false, "print JSON")
	history := fs.Bool("links", false, "show the history of link tests (heartbeats to every endpoint) instead")
	peerName := fs.String("peer", "", "with --links: only this peer")
	limit := fs.Int("limit", 50, "with --links: how many link tests")
	c, _, err := cl.parse(args, 0, 0)
	if err != nil {
		return err
	}
	if *history {
		return printLinkHistory(ctx, env, c, *peerName, *limit, *asJSON)
	}
	id, err := c.Identity(ctx)
	if err != nil {
		return err
	}
	links, err := c.Links(ctx)
	if err != nil {
		return err
	}
	chans, err := c.Channels(ctx)
	if err != nil {
		return err
	}
	evidence, err := c.Evidence(ctx, client.EvidenceQuery{Kind: "equivocation", Limit: 10})
	if err != nil {
		return err
	}
	rep, err := c.Replica(ctx)
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(env, map[string]any{"identity": id, "links": links, "channels": chans, "evidence": evidence, "replica": rep})
	}
	w := env.Stdout
	fmt.Fprintf(w, "Party %s\n  key %s\n  TLS %s\n  endpoints %s\n", id.Party, id.Key, id.TLS, strings.Join(id.Endpoints, ", "))
	if rep.Role != replica.Single {
		writer := "none: a failover is under way"
		if rep.Active != "" {
			writer = fmt.Sprintf("%s at %s", rep.ActiveName, rep.Active)
		}
		fmt.Fprintf(w, "  replica %s: %s, lease epoch %d, renewed %.1fs ago; the writer is %s\n", rep.Name, strings.ToUpper(string(rep.Role)), rep.Epoch, rep.LeaseAge, writer)
	}
	fmt.Fprintf(w, "\nPeer links:\n")
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  PARTY\tSTATE\tLAST CONTACT\tRTT\tTO SEND / TO RECEIVE\tIN THE STORE (TODAY)\tLAST ERROR")
	for _, l := range links {
		st, lastErr := "DOWN", l.LastError
		if l.Up {
			st, lastErr = "up", ""
		}
		if l.Silent {
			st = "SILENT (alarm)"
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%d / %d\t%s (%s)\t%s\n", l.Party, st, ago(l.LastContact), l.RTT.Round(time.Microsecond), l.Backlog, l.Incoming,
			mebibytes(l.Usage.StoreBytes), mebibytes(l.Usage.TodayBytes), oneLine(lastErr, 60))
		for _, ep := range l.Endpoints {
			st, lastErr := "down", ep.LastError
			switch {
			case ep.Up:
				st, lastErr = "up", ""
			case ep.Standby:
				st, lastErr = "standby replica", ""
			}
			if ep.Active {
				st += ", active"
			}
			fmt.Fprintf(tw, "    %s\t%s\t%s\t%s\t\t\t%s\n", ep.Address, st, ago(ep.LastContact), ep.RTT.Round(time.Microsecond), oneLine(lastErr, 60))
		}
	}
	tw.Flush()
	counts := map[hotline.ChannelState]int{}
	for _, ch := range chans {
		counts[ch.State]++
	}
	fmt.Fprintf(w, "\nChannels: %d active, %d awaiting other parties, %d invitations awaiting this party's answer\n",
		counts[hotline.ChannelActive], counts[hotline.ChannelProposed], counts[hotline.ChannelInvited])
	fmt.Fprintf(w, "Evidence: %d refused entries kept", evidence.Counts["rejected"])
	if equiv := evidence.Counts["equivocation"]; equiv > 0 {
		fmt.Fprintf(w, "; ALARM: %d equivocations (hotline evidence --kind equivocation)", equiv)
	}
	fmt.Fprintln(w)
	return nil
}
