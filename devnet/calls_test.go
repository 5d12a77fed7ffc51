package devnet

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/node"
)

func publishMinister(t *testing.T, c *client.Client, ch, party string) {
	t.Helper()
	_, err := c.PublishDirectory(context.Background(), ch, api.DirectoryRequest{Counterparts: []api.CounterpartRequest{
		{Level: "strategic", Role: "minister", Name: "Minister of Defence of " + party, Address: "Minister", Languages: []string{"en", "zh"}, Alternates: []string{"Deputy Minister"}},
		{Level: "policy", Role: "director-policy", Name: "Director of Policy, " + party},
	}})
	if err != nil {
		t.Fatal(err)
	}
}

func callOf(t *testing.T, c *client.Client, ch, id string) *node.CallView {
	t.Helper()
	calls, err := c.Calls(context.Background(), ch)
	if err != nil {
		t.Fatal(err)
	}
	for i := range calls {
		if calls[i].Entry == id {
			return &calls[i]
		}
	}
	return nil
}

// TestCalls_RequestAnswerReadouts runs call requests end to end between two
// nodes: addressed by directory role, accepted, declined, countered, left
// unanswered, with both readouts and a joint readout co-signed by both
// parties that the offline verifier accepts.
func TestCalls_RequestAnswerReadouts(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	const ch = "alpha-bravo-strategic"
	publishMinister(t, alpha, ch, "alpha")
	publishMinister(t, bravo, ch, "bravo")
	eventually(t, "both directories reach alpha", func() bool {
		d, err := alpha.Directory(ctx, ch)
		return err == nil && len(d) == 2
	})
	t1 := time.Now().Add(24 * time.Hour).UTC().Truncate(time.Minute)
	t2 := t1.Add(2 * time.Hour)
	ministers := []entry.Participant{{Party: "alpha", Role: "minister"}, {Party: "bravo", Role: "minister"}}
	request := func(purpose string) string {
		ref, err := alpha.RequestCall(ctx, ch, api.CallRequestBody{Purpose: purpose, Times: []time.Time{t1, t2}, Minutes: 45, Participants: ministers})
		if err != nil {
			t.Fatal(err)
		}
		eventually(t, "bravo sees the request", func() bool { return callOf(t, bravo, ch, ref.ID) != nil })
		return ref.ID
	}

	// A request must name a role the other party lists.
	_, err := alpha.RequestCall(ctx, ch, api.CallRequestBody{Purpose: "x", Times: []time.Time{t1}, Minutes: 30,
		Participants: []entry.Participant{{Party: "bravo", Role: "president"}}})
	if hotline.ErrorCode(err) != hotline.EINVALID || !strings.Contains(hotline.ErrorMessage(err), "minister") {
		t.Fatalf("request to an unlisted role: %v; want EINVALID listing bravo's roles", err)
	}

	accepted := request("Incident at sea of 3 May")
	if c := callOf(t, bravo, ch, accepted); c.Participants[1].Name != "Minister of Defence of bravo" || c.State != node.CallRequested {
		t.Errorf("bravo's view of the request: %+v", c)
	}
	if _, err := bravo.AcceptCall(ctx, ch, accepted, t1.Add(time.Minute)); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Errorf("accepting a time not proposed: %v, want EINVALID", err)
	}
	if _, err := bravo.AcceptCall(ctx, ch, accepted, t2); err != nil {
		t.Fatal(err)
	}
	declined := request("Annual dialogue")
	if _, err := bravo.DeclineCall(ctx, ch, declined, "Minister travelling that week"); err != nil {
		t.Fatal(err)
	}
	countered := request("Transparency data")
	counter, err := bravo.RequestCall(ctx, ch, api.CallRequestBody{Purpose: "Transparency data", Times: []time.Time{t2.Add(24 * time.Hour)},
		Minutes: 45, Participants: ministers, Counter: countered})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{alpha, bravo} {
		eventually(t, "both agendas agree", func() bool {
			a, d, k := callOf(t, c, ch, accepted), callOf(t, c, ch, declined), callOf(t, c, ch, countered)
			return a.State == node.CallAccepted && a.Time.Equal(t2) && d.State == node.CallDeclined && k.State == node.CallCountered &&
				callOf(t, c, ch, counter.ID) != nil && callOf(t, c, ch, counter.ID).Counters == countered
		})
	}

	// Readouts: each side's own, then a joint one co-signed by both.
	if _, err := alpha.Readout(ctx, ch, accepted, api.ReadoutBody{Text: "Alpha raised the incident.", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	if _, err := bravo.Readout(ctx, ch, accepted, api.ReadoutBody{Text: "Bravo expressed concern.", Lang: "en"}); err != nil {
		t.Fatal(err)
	}
	draft, err := alpha.Readout(ctx, ch, accepted, api.ReadoutBody{Text: "Both sides agreed to keep 5 nm separation.", Lang: "en", Joint: true})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo holds the draft", func() bool { return findEntry(t, bravo, ch, draft.ID) != nil })
	if _, err := bravo.Cosign(ctx, ch, draft.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.Cosign(ctx, ch, draft.ID); hotline.ErrorCode(err) != hotline.ECONFLICT {
		t.Errorf("alpha co-signing its own draft again: %v, want ECONFLICT", err)
	}
	for _, c := range []*client.Client{alpha, bravo} {
		eventually(t, "both see both readouts and the joint readout", func() bool {
			v := callOf(t, c, ch, accepted)
			return len(v.Readouts) == 3 && v.Joint != nil && strings.Join(v.Joint.Signed, ",") == "alpha,bravo"
		})
	}

	// The joint readout verifies offline with both signatures.
	time.Sleep(1500 * time.Millisecond) // let a checkpoint cover everything
	r, err := VerifyExport(ctx, net.Party("alpha"), ch)
	if err != nil {
		t.Fatal(err)
	}
	if !r.OK {
		t.Fatalf("archive does not verify: %+v", r.Failures)
	}
	if len(r.JointReadouts) != 2 || !r.JointReadouts[1].All || len(r.Calls) != 4 {
		t.Errorf("report: joint readouts %+v, %d calls", r.JointReadouts, len(r.Calls))
	}
}

// TestCalls_UnansweredIsRecorded: in a channel whose members agreed a
// short answer deadline, a request nobody answers is recorded as
// unanswered by a signed entry of the requester, seen on both sides.
func TestCalls_UnansweredIsRecorded(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	within := "1s"
	ch, err := alpha.Propose(ctx, api.ProposeRequest{Name: "fast-calls", Level: "theatre", Members: []string{"bravo"},
		Policy: &api.PolicyRequest{CallWithin: &within, EscalateTo: "alpha-bravo-policy"}})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo is invited", func() bool { _, err := bravo.Accept(ctx, ch.ID); return err == nil })
	eventually(t, "the channel is active at alpha", func() bool {
		c, err := alpha.Channel(ctx, ch.ID)
		return err == nil && c.State == hotline.ChannelActive
	})
	if c, _ := bravo.Channel(ctx, ch.ID); c.Policy.CallWithinSeconds != 1 || c.Policy.EscalateTo == "" {
		t.Fatalf("bravo's view of the agreed policy: %+v", c.Policy)
	}
	publishMinister(t, alpha, ch.ID, "alpha")
	publishMinister(t, bravo, ch.ID, "bravo")
	eventually(t, "both directories reach alpha", func() bool {
		d, err := alpha.Directory(ctx, ch.ID)
		return err == nil && len(d) == 2
	})
	ref, err := alpha.RequestCall(ctx, ch.ID, api.CallRequestBody{Purpose: "Exercise notice follow-up", Times: []time.Time{time.Now().Add(time.Hour)},
		Minutes: 30, Participants: []entry.Participant{{Party: "bravo", Role: "director-policy"}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []*client.Client{alpha, bravo} {
		eventually(t, "the request is recorded unanswered on both sides", func() bool {
			v := callOf(t, c, ch.ID, ref.ID)
			return v != nil && v.State == node.CallUnanswered
		})
	}
	log, err := bravo.Log(ctx, ch.ID)
	if err != nil {
		t.Fatal(err)
	}
	lapses := 0
	for _, e := range log {
		if e.Kind == entry.KindCall && e.Call.Action == entry.CallLapse && e.Author == "alpha" {
			lapses++
		}
	}
	if lapses != 1 {
		t.Errorf("%d lapse entries by alpha, want 1", lapses)
	}
	items, _ := bravo.Pending(ctx)
	if len(items) != 1 || items[0].Kind != entry.KindCall || !items[0].Lapsed || !items[0].Overdue {
		t.Errorf("bravo's pending list: %+v", items)
	}
}
