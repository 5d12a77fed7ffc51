package devnet

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/node"
)

// Messages carry a precedence. Without a deadline of its own, a FLASH
// message gets the channel's agreed time for FLASH, or the objective (10
// minutes) where none is agreed, never longer than a routine message's;
// the other party sees the precedence, and what it owes is listed FLASH
// first whatever the deadlines.
func TestPrecedence_FlashComesFirstWithItsDeadline(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	const ch = "alpha-bravo-policy" // routine: 24h
	hour := "1h"
	sent := map[string]string{}
	for _, m := range []struct{ prec, text string }{
		{"", "routine, but due within the hour"},
		{"priority", "priority"},
		{"flash", "flash"},
		{"immediate", "immediate"},
	} {
		req := api.SendRequest{Text: m.text, Precedence: m.prec}
		if m.prec == "" {
			req.AckWithin = &hour
		}
		ref, err := alpha.Send(ctx, ch, req)
		if err != nil {
			t.Fatalf("send %s: %v", m.text, err)
		}
		sent[m.text] = ref.ID
	}
	if _, err := alpha.Send(ctx, ch, api.SendRequest{Text: "x", Precedence: "urgent"}); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("an unknown precedence: %v; want invalid", err)
	}

	var owed []node.Item
	eventually(t, "bravo owes all four, delivered", func() bool {
		items, err := bravo.Pending(ctx)
		owed = owed[:0]
		for _, it := range items {
			if it.Role == "received" && it.Deadline != nil {
				owed = append(owed, it)
			}
		}
		return err == nil && len(owed) == 4
	})
	want := []struct {
		text, prec string
		within     time.Duration
	}{
		{"flash", "flash", 10 * time.Minute},
		{"immediate", "immediate", 30 * time.Minute},
		{"priority", "priority", 3 * time.Hour},
		{"routine, but due within the hour", "routine", time.Hour},
	}
	for i, w := range want {
		it := owed[i]
		if it.Text != w.text || it.Precedence != w.prec {
			t.Fatalf("owed item %d: %q (%s); want %q (%s), flash first", i, it.Text, it.Precedence, w.text, w.prec)
		}
		if got := it.Deadline.Sub(*it.DeliverySeen); got != w.within {
			t.Errorf("%s: deadline %s after delivery; want %s", w.text, got, w.within)
		}
	}
	if e := findEntry(t, bravo, ch, sent["flash"]); e == nil || e.Precedence != "flash" {
		t.Fatalf("bravo's view of the flash message: %+v", e)
	}
	if e := findEntry(t, bravo, ch, sent["routine, but due within the hour"]); e == nil || e.Precedence != "routine" {
		t.Fatalf("bravo's view of the routine message: %+v", e)
	}

	// A channel that agrees its own time for FLASH; and a frontline one,
	// whose routine default (2 minutes) is faster than FLASH's objective.
	c, err := alpha.Propose(ctx, api.ProposeRequest{Name: "alpha-bravo-crisis", Level: "policy", Members: []string{"bravo"},
		Policy: &api.PolicyRequest{AckByPrecedence: map[string]string{"flash": "3m"}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := alpha.Propose(ctx, api.ProposeRequest{Name: "x", Level: "policy", Members: []string{"bravo"},
		Policy: &api.PolicyRequest{AckByPrecedence: map[string]string{"routine": "3m"}}}); hotline.ErrorCode(err) != hotline.EINVALID {
		t.Fatalf("a policy time for routine: %v; want invalid (ack_within sets it)", err)
	}
	eventually(t, "bravo accepts", func() bool { _, err := bravo.Accept(ctx, c.ID); return err == nil })
	eventually(t, "the channel is active at alpha", func() bool {
		v, err := alpha.Channel(ctx, c.ID)
		return err == nil && v.State == hotline.ChannelActive
	})
	v, err := bravo.Channel(ctx, c.ID)
	if err != nil || v.Policy.AckByPrecedenceSeconds["flash"] != 180 || v.Policy.AckByPrecedenceSeconds["immediate"] != 1800 {
		t.Fatalf("bravo's view of the agreed policy: %+v, %v", v, err)
	}
	for _, m := range []struct {
		ch     string
		within float64
	}{{c.ID, 180}, {"alpha-bravo-frontline", 120}} {
		ref, err := alpha.Send(ctx, m.ch, api.SendRequest{Text: "flash in " + m.ch, Precedence: "flash"})
		if err != nil {
			t.Fatal(err)
		}
		e := findEntry(t, alpha, m.ch, ref.ID)
		if e == nil || e.AckWithinSeconds == nil || *e.AckWithinSeconds != m.within {
			t.Fatalf("flash in %s: %+v; want an acknowledgement within %gs", m.ch, e, m.within)
		}
	}
}
