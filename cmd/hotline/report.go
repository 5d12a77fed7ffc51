package main

import (
	"fmt"
	"io"
	"strings"

	"github.com/hotline-project/hotline/audit"
)

const reportTime = "2006-01-02 15:04:05Z07:00"

// printReport prints an archive's verification report for a reader who is
// not an engineer: what the channel is, whose keys it was checked with,
// every message with its proven delivery, reads and acknowledgements, and
// then every failure, each with where it is.
func printReport(w io.Writer, r *audit.Report) {
	fmt.Fprintf(w, "Channel %s (%s level), id %s\n", r.Name, r.Level, r.Channel)
	fmt.Fprintf(w, "Exported by %s at %s. Members: %s.\n", r.ExportedBy, r.ExportedAt.Format(reportTime), strings.Join(r.Members, ", "))
	fmt.Fprintf(w, "\nKeys, as pinned by the exporting node (confirm each with its party before relying on this report):\n")
	for _, k := range r.Keys {
		fmt.Fprintf(w, "  %-10s %s", k.Party, k.Key)
		switch {
		case k.From != nil && k.Until != nil:
			fmt.Fprintf(w, "  (signs seqs %d to %d)", *k.From, *k.Until)
		case k.From != nil:
			fmt.Fprintf(w, "  (signs from seq %d)", *k.From)
		case k.Until != nil:
			fmt.Fprintf(w, "  (signs up to seq %d)", *k.Until)
		}
		fmt.Fprintln(w)
	}
	if len(r.KeyChanges) > 0 {
		fmt.Fprintf(w, "\nKey changes (each signed by the old key and by the new one; the feed's later entries verify under the new key):\n")
		for _, c := range r.KeyChanges {
			fmt.Fprintf(w, "  %s/%d  %s", c.Party, c.Seq, c.Time.Format(reportTime))
			if c.Operator != "" {
				fmt.Fprintf(w, " by operator %s", c.Operator)
			}
			fmt.Fprintf(w, ": %s -> %s (TLS %s)\n", c.Old, c.New, c.TLS)
		}
	}
	for _, rv := range r.Revocations {
		fmt.Fprintf(w, "\nREVOCATION: %s revoked its key %s on %s (signed by its new key %s; confirm that key with %s):\n  its entries from seq %d of this channel on are DISPUTED, not to be trusted.\n",
			rv.Party, rv.Revoked, rv.Time.Format(reportTime), rv.NewKey, rv.Party, rv.From)
	}
	fmt.Fprintf(w, "\nFeeds (each party's own signed log in this channel):\n")
	for _, f := range r.Feeds {
		fmt.Fprintf(w, "  %-10s %d entries; signed checkpoint covers %d", f.Party, f.Entries, f.Checkpoint)
		if len(f.CosignedBy) > 0 {
			var by []string
			for p, at := range f.CosignedBy {
				by = append(by, fmt.Sprintf("%s (%s)", p, at.Format(reportTime)))
			}
			fmt.Fprintf(w, "; cosigned by %s; cosigned by every other member up to %d", strings.Join(by, ", "), f.Cosigned)
		}
		fmt.Fprintln(w)
	}
	fmt.Fprintf(w, "\nMessages (times are each signer's own clock, as signed):\n")
	for _, m := range r.Messages {
		fmt.Fprintf(w, "\n  %s/%d  sent %s by %s", m.Author, m.Seq, m.Time.Format(reportTime), m.Author)
		if m.Operator != "" {
			fmt.Fprintf(w, " (operator %s)", m.Operator)
		}
		fmt.Fprintf(w, "\n    %s%q\n", precedenceMark(m.Precedence), oneLine(m.Text, 200))
		for _, rl := range m.Releases {
			role := ""
			if rl.Role != "" {
				role = " (" + rl.Role + ")"
			}
			fmt.Fprintf(w, "    released by %s%s: personal signature checked, %s key %s in %s's roster\n", rl.Operator, role, rl.KeyType, rl.Key, m.Author)
		}
		if m.Disputed {
			fmt.Fprintf(w, "    DISPUTED: signed with a key %s revoked from before it\n", m.Author)
		}
		if m.AckWithin != "" {
			fmt.Fprintf(w, "    acknowledgement requested within %s of delivery\n", m.AckWithin)
		}
		for _, d := range m.Received {
			fmt.Fprintf(w, "    received by %s's node at %s (its signed receipt %s)\n", d.Party, d.Time.Format(reportTime), d.Receipt)
		}
		if len(m.Received) < len(r.Members)-1 {
			fmt.Fprintf(w, "    NOT RECEIVED by %s: no signed receipt in the archive\n", strings.Join(missing(r.Members, m.Author, m.Received), ", "))
		}
		for _, k := range m.Read {
			fmt.Fprintf(w, "    read by %s (operator %s) at %s\n", k.Party, k.Operator, k.Time.Format(reportTime))
		}
		for _, k := range m.Acked {
			fmt.Fprintf(w, "    acknowledged by %s (operator %s) at %s", k.Party, k.Operator, k.Time.Format(reportTime))
			if k.Reply != "" {
				fmt.Fprintf(w, ", reply %q", oneLine(k.Reply, 120))
			}
			fmt.Fprintln(w)
		}
		if m.Overdue != "" {
			fmt.Fprintf(w, "    OVERDUE: %s\n", m.Overdue)
		}
	}
	if len(r.Calls) > 0 {
		fmt.Fprintf(w, "\nCall requests:\n")
	}
	for _, c := range r.Calls {
		fmt.Fprintf(w, "\n  requested %s by %s (%s level): %q\n", c.Time.Format(reportTime), c.Requester, c.Level, oneLine(c.Purpose, 200))
		for _, a := range c.Answers {
			fmt.Fprintf(w, "    %s %s at %s (%s)", a.Party, a.Action, a.Time.Format(reportTime), a.Entry)
			switch {
			case a.At != nil:
				fmt.Fprintf(w, ", for %s", a.At.Format(reportTime))
			case a.Reason != "":
				fmt.Fprintf(w, ": %q", oneLine(a.Reason, 120))
			case a.Text != "":
				fmt.Fprintf(w, ": %q", oneLine(a.Text, 120))
			}
			fmt.Fprintln(w)
		}
	}
	for _, j := range r.JointReadouts {
		all := ""
		if j.All {
			all = " (every member)"
		}
		fmt.Fprintf(w, "\nJoint readout %s, signatures checked for %s%s:\n    %q\n", j.Entry, strings.Join(j.Signed, ", "), all, oneLine(j.Text, 400))
	}
	for _, h := range r.HeldCalls {
		fmt.Fprintf(w, "\nCall %s held %s to %s, record %s signed by %s:\n", h.Call[:16], h.Start.Format(reportTime), h.End.Format(reportTime), h.Entry, strings.Join(h.Signed, ", "))
		for _, s := range h.Sections {
			for _, a := range s.Attendance {
				who := a.Role
				if a.Operator != "" {
					who += " (" + a.Operator + ")"
				}
				fmt.Fprintf(w, "    %s %s: joined %s, left %s\n", s.Party, who, a.Joined.Format(reportTime), a.Left.Format(reportTime))
			}
			for _, rec := range s.Recordings {
				fmt.Fprintf(w, "    %s recorded %s (%.0f s, SHA-256 %s)\n", s.Party, rec.File, rec.Seconds, rec.SHA256)
			}
			for _, q := range s.Quality {
				loss := 0.0
				if q.Received+q.Lost > 0 {
					loss = 100 * float64(q.Lost) / float64(q.Received+q.Lost)
				}
				fmt.Fprintf(w, "    %s received %s's audio: %.1f%% lost, jitter up to %.1f ms, round trip up to %.0f ms\n", s.Party, q.From, loss, q.JitterMs, q.RTTMs)
			}
		}
	}
	for _, rc := range r.Recordings {
		if rc.Matches != "" {
			fmt.Fprintf(w, "\nRecording %s: SHA-256 matches %s\n", rc.Path, rc.Matches)
		}
	}
	for _, e := range r.Escalations {
		fmt.Fprintf(w, "\nEscalation %s of %s in channel %s, due %s:\n    %q\n", e.Entry, e.Target, e.Source[:16], e.Deadline.Format(reportTime), oneLine(e.Text, 300))
	}
	if len(r.Warnings) > 0 {
		fmt.Fprintf(w, "\nNotes:\n")
		for _, s := range r.Warnings {
			fmt.Fprintf(w, "  %s\n", s)
		}
	}
	fmt.Fprintln(w)
	if r.OK {
		fmt.Fprintf(w, "VERIFIED: all %d entries, every signature, feed chain, reference, receipt, checkpoint and cosignature hold.\n", r.Verified)
		return
	}
	fmt.Fprintf(w, "FAILED: %d problems:\n", len(r.Failures))
	for _, f := range r.Failures {
		fmt.Fprintf(w, "  %s: %s\n", f.Where, f.What)
	}
}

func missing(members []string, author string, got []audit.Delivery) []string {
	var out []string
	for _, m := range members {
		if m == author || hasParty(got, m) {
			continue
		}
		out = append(out, m)
	}
	return out
}

func hasParty(ds []audit.Delivery, p string) bool {
	for _, d := range ds {
		if d.Party == p {
			return true
		}
	}
	return false
}
