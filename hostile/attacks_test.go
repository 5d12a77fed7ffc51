package hostile

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/audit"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/peer"
	"github.com/hotline-project/hotline/phrase"
)

// Attack 1: evidence amplification. The attacker grows its own feed, then
// sends add-checkpoint requests of a few hundred bytes whose checkpoints
// misstate that feed. The node keeps the checkpoint and names the entries
// by reference: its store hardly grows, listing evidence stays cheap, and
// the evidence file, written out on request, streams without the node
// holding the feed in memory, and proves the lie offline.
func TestHostile_EvidenceAmplification(t *testing.T) {
	s := newScene(t, nil)
	ctx := context.Background()
	ch := s.chans["alpha-bravo-policy"]
	n := 20000 * *scale
	es, err := s.attacker.Messages(ch, n, 1000)
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.attacker.Push(ctx, es, peer.MaxBatchEntries, true)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != n {
		t.Fatalf("bravo stored %d of the %d valid entries: %+v", res.Stored, n, res)
	}
	old, err := s.attacker.CosignedSize(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	before := s.bravo.StoreBytes()
	var sent int
	for range 2 {
		req, err := s.attacker.LyingCheckpoint(ch, old)
		if err != nil {
			t.Fatal(err)
		}
		sent += len(req)
		_, err = s.attacker.Client.AddCheckpoint(ctx, req)
		var se *peer.StatusError
		if !errors.As(err, &se) || se.Code != http.StatusConflict {
			t.Fatalf("a lying checkpoint: %v, want 409", err)
		}
	}
	growth := s.bravo.StoreBytes() - before
	if growth > 1<<20 {
		t.Errorf("two add-checkpoint requests of %d bytes grew bravo's store by %s", sent, mib(growth))
	}
	bravo := s.bravo.Client()
	var page *api.EvidencePage
	listed, err := Timed(ctx, func(ctx context.Context) error {
		var err error
		page, err = bravo.Evidence(ctx, client.EvidenceQuery{Kind: "equivocation"})
		return err
	})
	if err != nil || len(page.Evidence) == 0 {
		t.Fatalf("evidence: %v, %+v", err, page)
	}
	if page.Evidence[0].Size > 16<<10 {
		t.Errorf("the evidence record holds %d bytes: a copy of the feed, not a reference", page.Evidence[0].Size)
	}
	// What hotline status reads works and is small.
	if _, err := bravo.Links(ctx); err != nil {
		t.Fatal(err)
	}
	// The file, streamed: it proves alpha lied, checked offline.
	rc, err := bravo.EvidenceFile(ctx, page.Evidence[0].N)
	if err != nil {
		t.Fatal(err)
	}
	file, err := io.ReadAll(rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	doc, err := audit.DecodeEvidence(file)
	if err != nil {
		t.Fatal(err)
	}
	explain, err := doc.Check()
	if err != nil || doc.Kind != audit.CheckpointMismatch || !strings.Contains(explain, "PROVEN") {
		t.Fatalf("the evidence file does not prove the lie: %v\n%s", err, explain)
	}
	peak := checkMemory(t, s.bravo)
	record(t, "1. evidence amplification", "store +1 MiB for 2 requests; RSS < 256 MiB",
		fmt.Sprintf("feed of %d entries; 2 requests of %d bytes grew the store %s; record %d bytes; list in %s; file %s streamed; RSS peak %s",
			n, sent/2, mib(growth), page.Evidence[0].Size, listed.Round(time.Millisecond), mib(int64(len(file))), mib(peak)))
}

// Attack 2: heads overflow. A member of a three-party channel pushes
// 66,000 valid three-member channel proposals to the two others. Each
// takes at most quota.invitations_per_peer of them, refuses the rest at
// the peer link, never relays an invitation it has not accepted, and
// exchanges heads in pages: the two honest members keep delivering to
// each other, during the attack and after a restart.
func TestHostile_HeadsOverflow(t *testing.T) {
	s := newScene(t, nil)
	ctx := context.Background()
	h := s.startHonest(100*time.Millisecond, "bravo-charlie-policy", "all-parties-policy")
	total := 66000 * *scale
	members := s.members("alpha", "bravo", "charlie")
	toCharlie := s.attackerTo(s.charlie)
	var proposals []*entry.Entry
	for i := range total {
		p, err := s.attacker.Proposal(fmt.Sprintf("junk-%06d", i), "policy", members)
		if err != nil {
			t.Fatal(err)
		}
		proposals = append(proposals, p)
	}
	var wg sync.WaitGroup
	results := make([]*PushResult, 2)
	for i, a := range []*Attacker{s.attacker, toCharlie} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := a.Push(ctx, proposals, peer.MaxBatchEntries, true)
			if err != nil {
				t.Error(err)
			}
			results[i] = r
		}()
	}
	wg.Wait()
	lat := h.finish(t)
	limit := config.Defaults("x").Quota.InvitationsPerPeer
	for i, name := range []string{"bravo", "charlie"} {
		r := results[i]
		if r == nil {
			continue
		}
		if r.Stored > limit || r.Refused[peer.ReasonQuota] < total-limit-r.Duplicates {
			t.Errorf("%s stored %d of %d proposals (limit %d), refused %v", name, r.Stored, total, limit, r.Refused)
		}
	}
	for _, tg := range []*Target{s.bravo, s.charlie} {
		all, err := tg.Client().Channels(ctx)
		if err != nil {
			t.Fatal(err)
		}
		invited := 0
		for _, c := range all {
			if c.State == hotline.ChannelInvited {
				invited++
			}
		}
		if invited > limit {
			t.Errorf("%s shows %d invitations, limit %d", tg.Party, invited, limit)
		}
	}
	// Bravo never relays an invitation it has not accepted: proposals
	// sent to bravo alone never reach charlie.
	var onlyBravo []*entry.Entry
	for i := range 20 {
		p, err := s.attacker.Proposal(fmt.Sprintf("bravo-only-%02d", i), "policy", members)
		if err != nil {
			t.Fatal(err)
		}
		onlyBravo = append(onlyBravo, p)
	}
	if _, err := s.bravo.Client().Decline(ctx, proposals[0].Channel.String()); err != nil {
		t.Fatalf("decline an invitation: %v", err)
	}
	r, err := s.attacker.Push(ctx, onlyBravo, peer.MaxBatchEntries, true)
	if err != nil || r.Stored != 1 {
		t.Fatalf("with one invitation declined, bravo takes one more: %+v %v", r, err)
	}
	time.Sleep(2 * time.Second) // several sync rounds between bravo and charlie
	if _, err := s.charlie.Client().Channel(ctx, onlyBravo[0].Channel.String()); hotline.ErrorCode(err) != hotline.ENOTFOUND {
		t.Fatalf("charlie holds an invitation only bravo was sent: %v", err)
	}
	peak := checkMemory(t, s.bravo)
	// After a restart of both, the honest link still delivers.
	for _, tg := range []*Target{s.bravo, s.charlie} {
		if err := tg.Stop(); err != nil {
			t.Fatalf("%s did not stop cleanly: %v", tg.Party, err)
		}
		if err := tg.Start(); err != nil {
			t.Fatal(err)
		}
	}
	after := s.startHonest(100*time.Millisecond, "bravo-charlie-policy", "all-parties-policy")
	time.Sleep(3 * time.Second)
	latAfter := after.finish(t)
	record(t, "2. heads overflow (66,000 three-member proposals)", "≤ 50 invitations kept; honest p99 < 1 s; RSS < 256 MiB",
		fmt.Sprintf("%d proposals: bravo kept %d, charlie %d; honest p99 %s during, %s after restart; RSS peak %s",
			total, results[0].Stored, results[1].Stored, lat.Percentile(99).Round(time.Millisecond), latAfter.Percentile(99).Round(time.Millisecond), mib(peak)))
}

// Attack 3: impossible and misleading times. An entry dated year 10000 is
// refused at decode, and the channel's log still reads; a backdated entry
// is stored, flagged, and shown with this node's receipt time; a launch
// notice backdated to seem early enough is flagged as short notice,
// counted from its arrival.
func TestHostile_ImpossibleTimes(t *testing.T) {
	s := newScene(t, nil)
	ctx := context.Background()
	ch := s.chans["alpha-bravo-policy"]
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	raw, err := s.attacker.SignRaw(ch, entry.KindMessage, &entry.Message{Text: "from the far future", Lang: "en"}, func(h *entry.Header) { h.Time = year10000 })
	if err != nil {
		t.Fatal(err)
	}
	res, err := s.attacker.Client.PushRaw(ctx, raw)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stored != 0 || len(res.Rejected) != 1 || !strings.Contains(res.Rejected[0].Error, "outside the times") {
		t.Fatalf("year 10000: %+v", res)
	}
	back, err := s.attacker.SignDated(ch, entry.KindMessage, &entry.Message{Text: "written, it says, two days ago", Lang: "en"}, time.Now().Add(-48*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	// A launch notice whose window opens 30 hours after its claimed time,
	// which is 20 hours before it arrives: 10 hours of real notice.
	theatre := s.chans["alpha-bravo-theatre"]
	cat := phrase.Default()
	tpl, _ := cat.Template("TH-LAUNCH-NOTICE")
	claimed := time.Now().Add(-20 * time.Hour).Truncate(time.Second)
	start := claimed.Add(30 * time.Hour)
	vals := map[string]string{"vehicle": "ballistic_missile", "launch_area": "circle:40.95,100.29,10", "impact_area": "polygon:20,120;20,124;16,124;16,120",
		"window_start": start.UTC().Format(time.RFC3339), "window_end": start.Add(6 * time.Hour).UTC().Format(time.RFC3339)}
	fields, err := tpl.Normalize(vals, phrase.Context{Now: claimed, NoticeLead: 24 * time.Hour, Parties: []string{"alpha", "bravo"}})
	if err != nil {
		t.Fatal(err)
	}
	p := &entry.Phrase{Catalog: cat.Hash(), Code: tpl.Code, Fields: fields}
	text, err := cat.Render(p, "en")
	if err != nil {
		t.Fatal(err)
	}
	notice, err := s.attacker.SignDated(theatre, entry.KindMessage, &entry.Message{Text: text, Lang: "en", Phrase: p}, claimed)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		ch entry.ChannelID
		e  *entry.Entry
	}{{ch, back}, {theatre, notice}} {
		r, err := s.attacker.Client.Push(ctx, []*entry.Entry{c.e})
		if err != nil || r.Stored != 1 {
			t.Fatalf("a backdated entry: %+v, %v", r, err)
		}
	}
	bravo := s.bravo.Client()
	log, err := bravo.Log(ctx, "alpha-bravo-policy")
	if err != nil {
		t.Fatalf("the channel's log after the attack: %v", err)
	}
	var got *struct{ past bool }
	for _, v := range log {
		if v.ID == back.ID().String() {
			got = &struct{ past bool }{v.PastDated}
			if v.Received.Sub(v.Time) < 47*time.Hour {
				t.Errorf("received %s, dated %s: the receipt time is not this node's", v.Received, v.Time)
			}
		}
	}
	if got == nil || !got.past {
		t.Fatalf("the backdated entry is not flagged past_dated: %+v", got)
	}
	tlog, err := bravo.Log(ctx, "alpha-bravo-theatre")
	if err != nil {
		t.Fatal(err)
	}
	flagged := false
	for _, v := range tlog {
		if v.ID == notice.ID().String() && v.Phrase != nil && v.Phrase.ShortNotice != nil && v.Phrase.ShortNotice.LeadSeconds < 11*3600 {
			flagged = true
		}
	}
	if !flagged {
		t.Fatal("the backdated launch notice is not flagged as short notice")
	}
	// The command line reads the channel and exits 0.
	out, err := exec.Command(binary, "log", "alpha-bravo-policy", "--api", s.bravo.API, "--token", s.bravo.Token).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "before it arrived here") {
		t.Fatalf("hotline log: %v\n%s", err, out)
	}
	record(t, "3. impossible times", "year 10000 refused; backdating flagged; lead time from receipt", "year 10000 refused at decode; log 200 and hotline log exit 0; backdated entry past_dated; 10 h notice flagged short")
}

// Attack 4: no quota per peer. A flood of valid entries stops at the
// party's daily quota, however fast it comes, while the honest link goes
// on; the disk keeps room for everyone else. Invitations stop at their
// cap. Parallel full-size pushes are bounded in flight, and the log gets a
// few lines, not one per entry.
func TestHostile_Flood(t *testing.T) {
	const quotaMB = 16
	s := newScene(t, func(party string, cfg *config.Config) {
		cfg.Quota.PeerMBPerDay = int64(quotaMB * *scale)
	})
	ctx := context.Background()
	ch := s.chans["alpha-bravo-policy"]
	warnBefore := s.bravo.LogLines("level=WARN")
	// Invitations stop at the cap.
	members := s.members("alpha", "bravo")
	var props []*entry.Entry
	for i := range 3000 {
		p, err := s.attacker.Proposal(fmt.Sprintf("invite-%04d", i), "policy", members)
		if err != nil {
			t.Fatal(err)
		}
		props = append(props, p)
	}
	r, err := s.attacker.Push(ctx, props, peer.MaxBatchEntries, true)
	if err != nil {
		t.Fatal(err)
	}
	if r.Stored > config.Defaults("x").Quota.InvitationsPerPeer {
		t.Errorf("%d of 3,000 invitations stored", r.Stored)
	}

	h := s.startHonest(100*time.Millisecond, "bravo-charlie-policy")
	before := s.bravo.StoreBytes()
	// The attacker floods for 5 seconds at least, and on after its quota
	// is spent, ignoring every refusal and every 429.
	var stored, refused, batches int
	start := time.Now()
	for time.Since(start) < time.Duration(5**scale)*time.Second || refused == 0 {
		es, err := s.attacker.Messages(ch, 512, 8000)
		if err != nil {
			t.Fatal(err)
		}
		r, err := s.attacker.Push(ctx, es, 512, false)
		if err != nil {
			t.Fatal(err)
		}
		batches++
		stored += r.Stored
		for _, n := range r.Refused {
			refused += n // by the quota, and the rest of each batch for the gap it left
		}
		s.attacker.Rewind(ch, len(es)-r.Stored)
		if time.Since(start) > time.Duration(60**scale)*time.Second {
			break
		}
	}
	floodTime := time.Since(start)
	growth := s.bravo.StoreBytes() - before
	limit := int64(quotaMB**scale) << 20
	if refused == 0 {
		t.Fatalf("the flood of %d entries stored was never refused by the quota", stored)
	}
	// The entries themselves are within the quota; the store adds its
	// indexes and bravo's own receipts on top.
	if growth > 2*limit+8<<20 {
		t.Errorf("the flood grew bravo's store by %s; quota %s", mib(growth), mib(limit))
	}
	lat := h.finish(t)

	// 24 parallel pushes of 16 MiB: at most a few are read at once.
	body := bytes.Repeat([]byte{0xff}, peer.MaxBatchBytes-64)
	var busy, bad atomic.Int64
	var wg sync.WaitGroup
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := s.attacker.Client.PushRaw(ctx, body)
			var se *peer.StatusError
			switch {
			case errors.As(err, &se) && se.Code == http.StatusTooManyRequests:
				busy.Add(1)
			case errors.As(err, &se) && se.Code == http.StatusBadRequest:
				bad.Add(1)
			default:
				t.Errorf("a 16 MiB push of garbage: %v", err)
			}
		}()
	}
	wg.Wait()
	peak := checkMemory(t, s.bravo)
	warnings := s.bravo.LogLines("level=WARN") - warnBefore
	if warnings > 200 {
		t.Errorf("the attacks wrote %d warning lines to bravo's log", warnings)
	}
	alarms := s.bravo.LogLines("QUOTA REACHED")
	if alarms == 0 || alarms > 10 {
		t.Errorf("%d quota alarms in the log; want one per limit reached", alarms)
	}
	record(t, "4. flood of valid entries, invitations, parallel pushes", fmt.Sprintf("store growth ≤ 2 × quota (%d MiB) + 8 MiB; honest p99 < 1 s; ≤ 50 invitations; RSS < 256 MiB", quotaMB**scale),
		fmt.Sprintf("%d entries stored, then %d refused over %d pushes in %s; store +%s; honest p99 %s; %d of 3,000 invitations kept; 24 × 16 MiB pushes: %d refused busy, %d read and refused; RSS peak %s; %d warning lines, %d alarms",
			stored, refused, batches, floodTime.Round(time.Second), mib(growth), lat.Percentile(99).Round(time.Millisecond), r.Stored, busy.Load(), bad.Load(), mib(peak), warnings, alarms))
}

// Attack 5: unbounded state. Genuine equivocation evidence stays listed
// under a flood of rejected entries and repeated equivocations; live
// event streams are capped and a reader that never reads is cut; the peer
// listener takes a bounded number of connections and goes on serving the
// honest peer.
func TestHostile_UnboundedState(t *testing.T) {
	s := newScene(t, func(party string, cfg *config.Config) {
		cfg.API.MaxStreams = 12
	})
	ctx := context.Background()
	ch := s.chans["alpha-bravo-policy"]
	frontline := s.chans["alpha-bravo-frontline"]
	// One genuine equivocation in the frontline channel first.
	truth, err := s.attacker.Sign(frontline, entry.KindMessage, &entry.Message{Text: "the truth", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.attacker.Client.Push(ctx, []*entry.Entry{truth}); err != nil || r.Stored != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	s.attacker.Rewind(frontline, 1)
	lie, err := s.attacker.Sign(frontline, entry.KindMessage, &entry.Message{Text: "a different story", Lang: "en"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.attacker.Client.Push(ctx, []*entry.Entry{lie}); err != nil || len(r.Rejected) != 1 {
		t.Fatalf("the equivocation: %+v %v", r, err)
	}
	// Then a flood of bad input: forged entries, and more equivocations.
	var junk [][]byte
	for i := range 3000 {
		raw, err := s.attacker.SignRaw(ch, entry.KindMessage, &entry.Message{Text: fmt.Sprint("forged ", i), Lang: "en"}, func(h *entry.Header) { h.Seq += 5 })
		if err != nil {
			t.Fatal(err)
		}
		junk = append(junk, raw)
	}
	for i := 0; i < len(junk); i += peer.MaxBatchEntries {
		s.attacker.Client.PushRaw(ctx, bytes.Join(junk[i:min(i+peer.MaxBatchEntries, len(junk))], nil))
	}
	for range 50 {
		s.attacker.Rewind(frontline, 1)
		e, _ := s.attacker.Sign(frontline, entry.KindMessage, &entry.Message{Text: fmt.Sprint("another story ", time.Now().UnixNano()), Lang: "en"})
		s.attacker.Client.Push(ctx, []*entry.Entry{e})
	}
	page, err := s.bravo.Client().Evidence(ctx, client.EvidenceQuery{Kind: "equivocation"})
	if err != nil {
		t.Fatal(err)
	}
	if page.Counts["equivocation"] < 1 || page.Counts["equivocation"] > 3 {
		t.Errorf("%d equivocation records kept for one feed", page.Counts["equivocation"])
	}
	found := false
	for _, ev := range page.Evidence {
		found = found || (ev.Party == "alpha" && ev.Seq == truth.Seq)
	}
	if !found {
		t.Errorf("the first equivocation is no longer listed: %+v", page.Evidence)
	}
	if page.Counts["rejected"] > 500 {
		t.Errorf("%d rejected entries kept in a minute", page.Counts["rejected"])
	}

	// Live streams: 20 that never read from each of two operators: the
	// caps (8 per operator, 12 in all here) hold; then a flood of events
	// cuts the idle ones.
	h := s.startHonest(100*time.Millisecond, "bravo-charlie-policy")
	out, err := exec.Command(binary, "token", "create", "--dir", s.bravo.Dir.Path, "night").Output()
	if err != nil {
		t.Fatal(err)
	}
	var open, refusedStreams int
	var conns []net.Conn
	for i := range 40 {
		tok := s.bravo.Token
		if i >= 20 {
			tok = strings.TrimSpace(string(out))
		}
		c, status := openStream(t, s.bravo, tok)
		switch status {
		case http.StatusOK:
			open++
			conns = append(conns, c)
		case http.StatusTooManyRequests:
			refusedStreams++
			c.Close()
		default:
			t.Fatalf("an event stream: status %d", status)
		}
	}
	if open != 12 {
		t.Errorf("%d idle streams open; the caps allow 8 per operator and 12 in all", open)
	}
	// Enough events to fill what the kernel buffers for each idle stream
	// (a few MiB on loopback) and then the node's own bound.
	es, err := s.attacker.Messages(ch, 20000, 100)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.attacker.Push(ctx, es, peer.MaxBatchEntries, true); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "bravo cuts the event streams that do not read", func() bool { return metric(t, s.bravo, "hotline_event_streams") == 0 })
	cut := metric(t, s.bravo, "hotline_event_streams_cut_total")

	// The peer listener: a thousand connections that never speak TLS.
	var idle []net.Conn
	for range 1000 {
		c, err := net.Dial("tcp", s.bravo.Dir.Config.Peer.Listen)
		if err != nil {
			break
		}
		idle = append(idle, c)
	}
	time.Sleep(2 * time.Second)
	lat := h.finish(t)
	closedByBravo := 0
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(10 * time.Millisecond))
		if _, err := c.Read(make([]byte, 1)); err == io.EOF {
			closedByBravo++
		}
		c.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	if closedByBravo < 1000-config.Defaults("x").Quota.PeerConnections {
		t.Errorf("bravo closed %d of 1,000 idle peer connections; it takes %d", closedByBravo, config.Defaults("x").Quota.PeerConnections)
	}
	peak := checkMemory(t, s.bravo)
	record(t, "5. unbounded state", "≤ 3 equivocation records per feed, first kept; ≤ 8 streams per operator, 12 in all (as configured); idle streams cut; ≤ 128 peer connections; honest p99 < 1 s; RSS < 256 MiB",
		fmt.Sprintf("%d equivocation records (first listed), %d rejected kept; %d of 40 streams open, %d refused 429, %g cut by the flood; %d of 1,000 idle connections closed; honest p99 %s; RSS peak %s",
			page.Counts["equivocation"], page.Counts["rejected"], open, refusedStreams, cut, closedByBravo, lat.Percentile(99).Round(time.Millisecond), mib(peak)))
}

// metric reads one unlabelled metric of the target's /metrics.
func metric(t *testing.T, tg *Target, name string) float64 {
	t.Helper()
	resp, err := http.Get(tg.API + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			var f float64
			fmt.Sscan(v, &f)
			return f
		}
	}
	t.Fatalf("no metric %s", name)
	return 0
}

// openStream opens an event stream as the operator of token and does not
// read it; it returns the connection and the status.
func openStream(t *testing.T, tg *Target, token string) (net.Conn, int) {
	t.Helper()
	c, err := net.Dial("tcp", tg.Dir.Config.API.Listen)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(c, "GET /api/v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n\r\n", token)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var status int
	buf := make([]byte, 64)
	n, _ := c.Read(buf)
	fmt.Sscanf(string(buf[:n]), "HTTP/1.1 %d", &status)
	c.SetReadDeadline(time.Time{})
	return c, status
}

// Attack 6: confusion. A proposal that takes a name in use here is shown
// with its short id, and the name keeps naming the channel the operators
// know; text that reverses itself is shown escaped; an escalation that
// names no real entry is refused.
func TestHostile_Confusion(t *testing.T) {
	s := newScene(t, nil)
	ctx := context.Background()
	prop, err := s.attacker.Proposal("alpha-bravo-strategic", "strategic", s.members("alpha", "bravo"))
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.attacker.Client.Push(ctx, []*entry.Entry{prop}); err != nil || r.Stored != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	bravo := s.bravo.Client()
	known, err := bravo.Channel(ctx, "alpha-bravo-strategic")
	if err != nil || known.ID != s.chans["alpha-bravo-strategic"].String() || known.State != hotline.ChannelActive {
		t.Fatalf("the name no longer names the channel bravo knows: %+v %v", known, err)
	}
	impostor, err := bravo.Channel(ctx, prop.Channel.String())
	if err != nil || impostor.Name == "alpha-bravo-strategic" || !strings.HasPrefix(impostor.Name, "alpha-bravo-strategic~"+prop.Channel.String()[:8]) {
		t.Fatalf("the impostor's name here: %+v %v", impostor, err)
	}
	out, err := exec.Command(binary, "send", "alpha-bravo-strategic", "to the channel we know", "--api", s.bravo.API, "--token", s.bravo.Token).CombinedOutput()
	if err != nil {
		t.Fatalf("hotline send by name: %v\n%s", err, out)
	}

	// A translation whose translator's name reverses the sentence.
	ch := s.chans["alpha-bravo-policy"]
	log, err := bravo.Log(ctx, "alpha-bravo-policy")
	if err != nil {
		t.Fatal(err)
	}
	var target entry.Ref
	for _, v := range log {
		if v.Kind == entry.KindMessage && v.Author == "bravo" {
			id, _ := entry.ParseID(v.ID)
			target = entry.Ref{Party: "bravo", Seq: v.Seq, ID: id}
		}
	}
	if target.Seq == 0 {
		// bravo has written no message there yet: write one.
		ref, err := bravo.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "Agenda", Lang: "en"})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := entry.ParseID(ref.ID)
		target = entry.Ref{Party: "bravo", Seq: ref.Seq, ID: id}
	}
	tr, err := s.attacker.Sign(ch, entry.KindTranslation, &entry.Translation{Of: target, Lang: "fr", Stage: "official", Translator: "Lt \u202eovarb fo", Text: "Ordre du jour"})
	if err != nil {
		t.Fatal(err)
	}
	if r, err := s.attacker.Client.Push(ctx, []*entry.Entry{tr}); err != nil || r.Stored != 1 {
		t.Fatalf("%+v %v", r, err)
	}
	out, err = exec.Command(binary, "log", "alpha-bravo-policy", "--api", s.bravo.API, "--token", s.bravo.Token).CombinedOutput()
	if err != nil || strings.ContainsRune(string(out), '\u202e') || !strings.Contains(string(out), `\u202E`) {
		t.Fatalf("hotline log shows the override raw, or not at all: %v\n%s", err, out)
	}

	// An escalation naming an entry that does not exist.
	esc, err := s.attacker.Sign(s.chans["alpha-bravo-policy"], entry.KindEscalation, &entry.Escalation{Source: s.chans["alpha-bravo-theatre"],
		Entry: entry.Ref{Party: "alpha", Seq: 9999, ID: entry.ID{9}}, Deadline: time.Now().UnixMilli(), Text: "bravo ignored us"})
	if err != nil {
		t.Fatal(err)
	}
	r, err := s.attacker.Client.Push(ctx, []*entry.Entry{esc})
	if err != nil || r.Stored != 0 || len(r.Rejected) != 1 {
		t.Fatalf("an escalation of nothing: %+v %v", r, err)
	}
	record(t, "6. confusion", "local names keep their channel; bidi shown escaped; escalations resolve", "impostor shown as "+impostor.Name+"; send by name reached the known channel; U+202E printed as \\u202E; escalation of a missing entry refused: "+r.Rejected[0].Error)
}
