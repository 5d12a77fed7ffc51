package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/checkpoint"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/identity"
)

// verifyFailed is a file that does not verify: exit code 1, after the
// report.
type verifyFailed struct{ msg string }

func (e verifyFailed) Error() string { return e.msg }

func init() {
	register(&command{
		name: "export", summary: "Write a channel's archive (entries, receipts, acks, checkpoints, keys) for offline verification",
		usage:   "CHANNEL [--out FILE]",
		example: "  hotline export alpha-bravo-strategic > crisis.hotline-archive\n  hotline verify crisis.hotline-archive",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("export", env)
			cl := apiFlags(fs, env)
			out := fs.String("out", "", "write to FILE instead of standard output")
			c, pos, err := cl.parse(args, 1, 1)
			if err != nil {
				return err
			}
			rc, err := c.Export(ctx, pos[0])
			if err != nil {
				return err
			}
			defer rc.Close()
			if *out == "" {
				n, err := copyArchive(env, rc, env.Stdout)
				if err != nil {
					return err
				}
				fmt.Fprintf(env.Stderr, "Exported %d entries. Check the archive with: hotline verify FILE\n", n)
				return nil
			}
			// Write beside the target and rename when complete, so FILE is
			// never a partial archive.
			partial := *out + ".partial"
			f, err := os.Create(partial)
			if err != nil {
				return hotline.Errorf(hotline.EINVALID, "%v", err)
			}
			n, err := copyArchive(env, rc, f)
			if err == nil {
				err = f.Sync()
			}
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err == nil {
				err = os.Rename(partial, *out)
			}
			if err != nil {
				os.Remove(partial)
				return hotline.Errorf(hotline.EUNAVAILABLE, "write %s: %v", *out, hotline.ErrorMessage(err))
			}
			fmt.Fprintf(env.Stderr, "Exported %d entries to %s. Check it with: hotline verify %s\n", n, *out, *out)
			return nil
		},
	})
	register(&command{
		name: "prove", summary: "Write a self-contained proof (C2SP tlog-proof) that one entry is in its feed's cosigned log",
		usage:   "CHANNEL ENTRY_ID",
		example: "  hotline prove alpha-bravo-strategic 3f2a... > message.tlog-proof\n  hotline verify message.tlog-proof --key \"$(cat alpha.vkey)\" --key \"$(cat bravo.vkey)\"",
		run: func(ctx context.Context, env *Env, args []string) error {
			fs := newFlags("prove", env)
			cl := apiFlags(fs, env)
			c, pos, err := cl.parse(args, 2, 2)
			if err != nil {
				return err
			}
			p, err := c.Proof(ctx, pos[0], pos[1])
			if err != nil {
				return err
			}
			_, err = env.Stdout.Write(p)
			return err
		},
	})
	register(&command{
		name: "verify", summary: "Check an archive, a proof or an evidence file offline; exit 0 only if everything holds",
		usage: "FILE [--json] [--key KEY]... [--recording FILE]...",
		example: "  hotline verify crisis.hotline-archive\n" +
			"  hotline verify message.tlog-proof --key alpha.json --key bravo.json\n" +
			"  hotline verify equivocation.json\n" +
			"  hotline verify crisis.hotline-archive --recording calls/…/alpha-20261202T090000.000Z.wav   (is this the recording the held record names?)",
		run: runVerify,
	})
}

type keyList []string

func (k *keyList) String() string     { return strings.Join(*k, ",") }
func (k *keyList) Set(s string) error { *k = append(*k, s); return nil }

func runVerify(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("verify", env)
	asJSON := fs.Bool("json", false, "print the report as JSON")
	var keyArgs keyList
	fs.Var(&keyArgs, "key", "a party's key you confirmed: a verifier key (name+hash+key), or a file holding one or an identity document (repeat for each party)")
	var recordings keyList
	fs.Var(&recordings, "recording", "with an archive: a call recording to check against the SHA-256 its held record names (repeat for each)")
	pos, err := parseArgs(fs, args, 1, 1)
	if err != nil {
		return err
	}
	keys := checkpoint.Keys{}
	vkeys := map[string][]string{}
	for _, k := range keyArgs {
		party, pub, vkey, err := loadKey(k)
		if err != nil {
			return hotline.Errorf(hotline.EINVALID, "--key %s: %v", k, err)
		}
		keys[party] = append(keys[party], pub)
		vkeys[party] = append(vkeys[party], vkey)
	}
	f, err := os.Open(pos[0])
	if err != nil {
		return hotline.Errorf(hotline.ENOTFOUND, "%v", err)
	}
	defer f.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	head, _ := br.Peek(64)
	switch {
	case bytes.HasPrefix(head, []byte(checkpoint.ProofHeader)):
		return verifyProof(env, br, keys, *asJSON)
	case bytes.Contains(head, []byte(`"format": "`+audit.EvidenceFormat+`"`)):
		return verifyEvidence(env, br, *asJSON)
	}
	start := time.Now()
	a, err := audit.Decode(br, func(done, total int) {
		fmt.Fprintf(env.Stderr, "read %d of %d entries...\n", done, total)
	})
	if err != nil {
		return verifyFailed{fmt.Sprintf("%s: FAILED: %v", pos[0], err)}
	}
	r := audit.Verify(a)
	if err := audit.CheckRecordings(r, recordings); err != nil {
		return hotline.Errorf(hotline.ENOTFOUND, "--recording: %v", err)
	}
	// Each key given must be one of the party's keys in the archive,
	// whose key entries chain every other key of the party to it.
	for party, given := range vkeys {
		for _, vkey := range given {
			found := false
			var have []string
			for _, k := range r.Keys {
				if k.Party == party {
					found = found || k.Key == vkey
					have = append(have, k.Key)
				}
			}
			if !found {
				r.Failures = append(r.Failures, audit.Failure{Where: "keys", What: fmt.Sprintf("the key you gave for %s (%s) is not one of its keys in the archive (%s)", party, vkey, strings.Join(have, ", "))})
				r.OK = false
			}
		}
	}
	if *asJSON {
		if err := printJSON(env, r); err != nil {
			return err
		}
	} else {
		printReport(env.Stdout, r)
		fmt.Fprintf(env.Stderr, "%d entries verified in %s\n", r.Verified, time.Since(start).Round(time.Millisecond))
	}
	if !r.OK {
		return verifyFailed{fmt.Sprintf("%s: FAILED: %d problems (listed above)", pos[0], len(r.Failures))}
	}
	return nil
}

// loadKey reads a --key value: a verifier key, or a file with one or with
// an identity document.
func loadKey(s string) (string, []byte, string, error) {
	vkey := s
	if !strings.Contains(s, "+") {
		b, err := os.ReadFile(s)
		if err != nil {
			return "", nil, "", err
		}
		vkey = strings.TrimSpace(string(b))
		if strings.HasPrefix(vkey, "{") {
			d, err := identity.ParseDocument(b)
			if err != nil {
				return "", nil, "", err
			}
			vkey = d.Key
		}
	}
	party, pub, err := identity.ParseVerifierKey(vkey)
	return party, pub, vkey, err
}

func verifyProof(env *Env, r io.Reader, keys checkpoint.Keys, asJSON bool) error {
	b, err := io.ReadAll(io.LimitReader(r, 1<<20))
	if err != nil {
		return err
	}
	if len(keys) == 0 {
		return usagef("a proof is checked against keys you confirmed: give --key for the author and each cosigner")
	}
	p, err := audit.VerifyProof(b, keys)
	if err != nil {
		return verifyFailed{"FAILED: " + err.Error()}
	}
	if asJSON {
		return printJSON(env, p)
	}
	fmt.Fprintf(env.Stdout, "VERIFIED: entry %s\n  %s/%d, a %s by %s", p.ID, p.Author, p.Seq, p.Kind, p.Author)
	if p.Operator != "" {
		fmt.Fprintf(env.Stdout, " (operator %s)", p.Operator)
	}
	fmt.Fprintf(env.Stdout, ", written %s by %s's clock\n", p.Time.Format(time.RFC3339), p.Author)
	if p.Text != "" {
		fmt.Fprintf(env.Stdout, "  text: %q\n", p.Text) // %q escapes every control and formatting character
	}
	fmt.Fprintf(env.Stdout, "  is entry %d of the %d in %s's feed of channel %s, as signed by %s", p.Seq, p.TreeSize, p.Author, p.Channel, p.Author)
	if len(p.CosignedBy) == 0 {
		fmt.Fprintf(env.Stdout, " (no cosignature by another party)\n")
		return nil
	}
	fmt.Fprintf(env.Stdout, " and cosigned by:\n")
	for party, at := range p.CosignedBy {
		fmt.Fprintf(env.Stdout, "    %s at %s\n", party, at.Format(time.RFC3339))
	}
	return nil
}

func verifyEvidence(env *Env, r io.Reader, asJSON bool) error {
	b, err := io.ReadAll(io.LimitReader(r, audit.MaxEvidence+1))
	if err != nil {
		return err
	}
	ev, err := audit.DecodeEvidence(b)
	if err != nil {
		return verifyFailed{"FAILED: " + err.Error()}
	}
	explain, err := ev.Check()
	if err != nil {
		return verifyFailed{"FAILED: the evidence does not hold: " + err.Error()}
	}
	if asJSON {
		return printJSON(env, map[string]any{"ok": true, "kind": ev.Kind, "party": ev.Party, "channel": ev.Channel, "explanation": explain})
	}
	fmt.Fprintln(env.Stdout, explain)
	fmt.Fprintf(env.Stdout, "The accused party's key, carried in the file, is %s: confirm it with that party's published identity.\n", ev.Key)
	return nil
}

// copyArchive copies an archive line by line, reporting progress on
// stderr every two seconds, and returns the entries copied.
func copyArchive(env *Env, r io.Reader, w io.Writer) (int, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	bw := bufio.NewWriterSize(w, 64<<10)
	var h audit.Header
	entries, start, last := 0, time.Now(), time.Now()
	for first := true; ; first = false {
		line, err := br.ReadBytes('\n')
		if len(line) > 0 {
			if first {
				json.Unmarshal(line, &h)
			} else if bytes.HasPrefix(line, []byte(`{"type":"entry"`)) {
				entries++
			}
			if _, werr := bw.Write(line); werr != nil {
				return entries, hotline.Errorf(hotline.EUNAVAILABLE, "write the archive: %v", werr)
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return entries, hotline.Errorf(hotline.EUNAVAILABLE, "the export was cut short after %d entries: %v", entries, err)
		}
		if time.Since(last) > 2*time.Second {
			last = time.Now()
			fmt.Fprintf(env.Stderr, "exported %d of %d entries (%s)\n", entries, h.Entries, time.Since(start).Round(time.Second))
		}
	}
	if err := bw.Flush(); err != nil {
		return entries, hotline.Errorf(hotline.EUNAVAILABLE, "write the archive: %v", err)
	}
	return entries, nil
}

func init() {
	register(&command{
		name: "evidence", summary: "List evidence of refused input and equivocations, newest first; --out saves each equivocation as a file for 'hotline verify'",
		usage:   "[--kind equivocation|rejected] [--peer PARTY] [--limit N] [--out DIR]",
		example: "  hotline evidence --kind equivocation --out /secure/evidence\n  hotline verify /secure/evidence/equivocation-17.json",
		run:     runEvidence,
	})
}

// runEvidence streams the evidence list page by page, so that however
// much the node keeps, the command holds one page at a time; each
// equivocation's file is streamed to disk the same way.
func runEvidence(ctx context.Context, env *Env, args []string) error {
	fs := newFlags("evidence", env)
	cl := apiFlags(fs, env)
	out := fs.String("out", "", "directory to save equivocation evidence files in")
	kind := fs.String("kind", "", "only this kind: equivocation or rejected")
	peerName := fs.String("peer", "", "only what this party sent")
	limit := fs.Int("limit", 0, "at most this many records (0: all)")
	c, _, err := cl.parse(args, 0, 0)
	if err != nil {
		return err
	}
	if *out != "" {
		if err := os.MkdirAll(*out, 0o700); err != nil {
			return hotline.Errorf(hotline.EINVALID, "%v", err)
		}
	}
	q := client.EvidenceQuery{Kind: *kind, Peer: *peerName, Limit: 500}
	shown := 0
	for {
		if *limit > 0 {
			q.Limit = min(q.Limit, *limit-shown)
		}
		page, err := c.Evidence(ctx, q)
		if err != nil {
			return err
		}
		if shown == 0 {
			fmt.Fprintf(env.Stdout, "%d equivocations, %d rejected entries kept\n", page.Counts["equivocation"], page.Counts["rejected"])
		}
		for _, ev := range page.Evidence {
			shown++
			about := ""
			if ev.Party != "" {
				about = fmt.Sprintf(" [%s/%d]", ev.Party, ev.Seq)
			}
			fmt.Fprintf(env.Stdout, "%6d  %s  %-12s from %-10s%s %s\n", ev.N, ev.Time.Format(reportTime), ev.Kind, ev.Peer, about, oneLine(ev.Detail, 100))
			if *out == "" || ev.Kind != "equivocation" {
				continue
			}
			path := filepath.Join(*out, fmt.Sprintf("equivocation-%d.json", ev.N))
			if err := saveEvidence(ctx, c, ev.N, path); err != nil {
				return err
			}
			fmt.Fprintf(env.Stdout, "        saved %s (check it: hotline verify %s)\n", path, path)
		}
		if page.Next == 0 || (*limit > 0 && shown >= *limit) {
			break
		}
		q.Before = page.Next
	}
	if shown == 0 {
		fmt.Fprintln(env.Stdout, "No evidence: nothing refused, no equivocation.")
	}
	return nil
}

// saveEvidence streams evidence record n into a new file at path.
func saveEvidence(ctx context.Context, c *client.Client, n int64, path string) error {
	body, err := c.EvidenceFile(ctx, n)
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return hotline.Errorf(hotline.EINVALID, "%v", err)
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		os.Remove(path)
		return hotline.Errorf(hotline.EUNAVAILABLE, "evidence %d cut short: %v", n, err)
	}
	return f.Close()
}
