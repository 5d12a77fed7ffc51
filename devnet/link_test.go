package devnet

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hotline-project/hotline"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/node"
	"github.com/hotline-project/hotline/sqlite"
)

func TestNetwork_RestartKeepsEverything(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	sent, err := alpha.Send(ctx, "alpha-bravo-theatre", api.SendRequest{Text: "Exercise notice"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "bravo holds it", func() bool { return findEntry(t, bravo, "alpha-bravo-theatre", sent.ID) != nil })
	if _, err := bravo.Mark(ctx, "alpha-bravo-theatre", sent.ID, "ack", ""); err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha sees the ack", func() bool {
		e := findEntry(t, alpha, "alpha-bravo-theatre", sent.ID)
		return e.Acked && e.Delivered != nil
	})
	eventually(t, "both logs agree", func() bool {
		la, _ := alpha.Log(ctx, "alpha-bravo-theatre")
		lb, _ := bravo.Log(ctx, "alpha-bravo-theatre")
		return slices.EqualFunc(la, lb, func(a, b node.EntryView) bool { return a.ID == b.ID })
	})
	before, _ := alpha.Log(ctx, "alpha-bravo-theatre")

	if err := net.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if err := net.Start(ctx); err != nil {
		t.Fatal(err)
	}
	alpha, bravo = clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))
	for name, c := range map[string]interface {
		Log(context.Context, string) ([]node.EntryView, error)
	}{"alpha": alpha, "bravo": bravo} {
		after, err := c.Log(ctx, "alpha-bravo-theatre")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.EqualFunc(before, after, func(a, b node.EntryView) bool { return a.ID == b.ID && a.Kind == b.Kind && a.Seq == b.Seq }) {
			t.Fatalf("%s's log changed across the restart:\nbefore %d entries, after %d", name, len(before), len(after))
		}
	}
	e := findEntry(t, alpha, "alpha-bravo-theatre", sent.ID)
	if !e.Acked || e.Delivered == nil {
		t.Fatalf("after restart: %+v", e.MessageState)
	}
	chans, _ := alpha.Channels(ctx)
	if len(chans) != 5 || chans[0].State != "active" {
		t.Fatalf("channels after restart: %+v", chans)
	}
}

func TestNetwork_DeliversAfterPeerReturns(t *testing.T) {
	net := MustStart(t, 2)
	ctx := context.Background()
	alpha := clientOf(net.Party("alpha"))
	if err := net.StopParty(ctx, net.Party("bravo")); err != nil {
		t.Fatal(err)
	}
	// Sending succeeds while bravo is down: the entry is durable at alpha.
	var ids []string
	for i := range 5 {
		ref, err := alpha.Send(ctx, "alpha-bravo-frontline", api.SendRequest{Text: fmt.Sprintf("Keep clear of me %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, ref.ID)
	}
	e := findEntry(t, alpha, "alpha-bravo-frontline", ids[0])
	if e.Delivered != nil || !slices.Equal(e.Pending, []string{"bravo"}) {
		t.Fatalf("delivered while bravo was down: %+v", e.MessageState)
	}
	if err := net.StartParty(ctx, net.Party("bravo")); err != nil {
		t.Fatal(err)
	}
	bravo := clientOf(net.Party("bravo"))
	eventually(t, "every message is delivered and receipted", func() bool {
		for _, id := range ids {
			if findEntry(t, bravo, "alpha-bravo-frontline", id) == nil {
				return false
			}
			if e := findEntry(t, alpha, "alpha-bravo-frontline", id); e.Delivered == nil {
				return false
			}
		}
		return true
	})
	// Exactly once, in feed order.
	log, _ := bravo.Log(ctx, "alpha-bravo-frontline")
	var seqs []uint64
	for _, e := range log {
		if e.Author == "alpha" {
			seqs = append(seqs, e.Seq)
		}
	}
	for i, s := range seqs {
		if s != uint64(i+1) {
			t.Fatalf("bravo holds alpha's feed as %v, want 1..n once each", seqs)
		}
	}
}

// In a channel of three, every member holds every entry and every
// member's receipt for every message.
func TestNetwork_ThreeParties(t *testing.T) {
	net := MustStart(t, 3)
	ctx := context.Background()
	const ch = "all-parties-policy"
	sent := map[string]string{}
	for _, p := range net.Parties {
		ref, err := clientOf(p).Send(ctx, ch, api.SendRequest{Text: "position paper from " + p.Name})
		if err != nil {
			t.Fatal(err)
		}
		sent[p.Name] = ref.ID
	}
	for _, p := range net.Parties {
		c := clientOf(p)
		eventually(t, p.Name+" holds every message, delivered to every other member", func() bool {
			for author, id := range sent {
				e := findEntry(t, c, ch, id)
				if e == nil || e.Author != author || e.Delivered == nil || len(e.DeliveredTo) != 2 {
					return false
				}
			}
			return true
		})
	}
	// And the three logs are the same sequence.
	eventually(t, "three logs agree", func() bool {
		var logs [][]node.EntryView
		for _, p := range net.Parties {
			l, _ := clientOf(p).Log(ctx, ch)
			logs = append(logs, l)
		}
		eq := func(a, b node.EntryView) bool { return a.ID == b.ID }
		return slices.EqualFunc(logs[0], logs[1], eq) && slices.EqualFunc(logs[0], logs[2], eq)
	})
}

func TestLink_ClockSkew(t *testing.T) {
	// Bravo's clock runs three hours fast. Nothing may depend on it.
	skew := 3 * time.Hour
	net := mustStartWith(t, Options{SyncInterval: 200 * time.Millisecond, Clock: func(party string) func() time.Time {
		if party == "bravo" {
			return func() time.Time { return time.Now().Add(skew) }
		}
		return nil
	}})
	ctx := context.Background()
	alpha, bravo := clientOf(net.Party("alpha")), clientOf(net.Party("bravo"))

	ack := "10m"
	sent, err := alpha.Send(ctx, "alpha-bravo-strategic", api.SendRequest{Text: "Confirm receipt", AckWithin: &ack})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := bravo.Send(ctx, "alpha-bravo-strategic", api.SendRequest{Text: "Sent from a fast clock"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "alpha holds bravo's receipt and message", func() bool {
		e := findEntry(t, alpha, "alpha-bravo-strategic", sent.ID)
		return e != nil && e.Delivered != nil && findEntry(t, alpha, "alpha-bravo-strategic", reply.ID) != nil
	})
	e := findEntry(t, alpha, "alpha-bravo-strategic", sent.ID)
	// The receipt says what bravo's clock said; the deadline runs from
	// alpha's own clock, so it is ten minutes from now, not three hours on.
	if e.Delivered.Sub(e.Time) < skew-time.Minute {
		t.Fatalf("delivered %s is not bravo's signed (fast) time; sent %s", e.Delivered, e.Time)
	}
	if e.DeliverySeen == nil || e.Deadline.Sub(*e.DeliverySeen) != 10*time.Minute || e.DeliverySeen.Sub(e.Time) > time.Minute {
		t.Fatalf("deadline %v counts from %v, want alpha's clock", e.Deadline, e.DeliverySeen)
	}
	if e.Overdue {
		t.Fatal("overdue through a peer's clock")
	}
	// Bravo's entries are flagged as future-dated at alpha, not at bravo.
	r := findEntry(t, alpha, "alpha-bravo-strategic", reply.ID)
	if !r.FutureDated {
		t.Fatal("a message dated three hours ahead is not flagged")
	}
	if own := findEntry(t, bravo, "alpha-bravo-strategic", reply.ID); own.FutureDated {
		t.Fatal("bravo flags its own entry")
	}
	if findEntry(t, alpha, "alpha-bravo-strategic", sent.ID).FutureDated {
		t.Fatal("alpha's own message is flagged")
	}
	// Order is causal, never by time: both nodes show the channel in the
	// same order although their clocks disagree by hours.
	eventually(t, "both nodes show the same order", func() bool {
		la, _ := alpha.Log(ctx, "alpha-bravo-strategic")
		lb, _ := bravo.Log(ctx, "alpha-bravo-strategic")
		if len(la) != len(lb) {
			return false
		}
		for i := range la {
			if la[i].ID != lb[i].ID {
				return false
			}
		}
		return true
	})
}

func TestLink_StoreFullThenRecovers(t *testing.T) {
	onSQLiteOnly(t, "the store's cap is SQLite's page count; on PostgreSQL the database server bounds its size (TestAppend_AReadOnlyDatabaseIsUnavailable covers a database that refuses writes)")
	net := MustStart(t, 2)
	ctx := context.Background()
	a := net.Party("alpha")
	alpha, bravo := clientOf(a), clientOf(net.Party("bravo"))
	first, err := alpha.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "before the disk filled"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, "the first message is delivered", func() bool {
		e := findEntry(t, alpha, "alpha-bravo-policy", first.ID)
		return e != nil && e.Delivered != nil
	})

	// The store can no longer grow, as on a full disk.
	if _, err := a.Server.Store.(*sqlite.Store).SetMaxSize(ctx, 1); err != nil {
		t.Fatal(err)
	}
	before, _ := alpha.Log(ctx, "alpha-bravo-policy")
	big := strings.Repeat("x", 16000)
	var failed error
	for range 200 { // fill whatever free pages remain
		if _, failed = alpha.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: big}); failed != nil {
			break
		}
	}
	if hotline.ErrorCode(failed) != hotline.EUNAVAILABLE || !strings.Contains(hotline.ErrorMessage(failed), "nothing was written") {
		t.Fatalf("send to a full store: %v", failed)
	}
	after, _ := alpha.Log(ctx, "alpha-bravo-policy")
	// A second failure changes nothing either.
	if _, err := alpha.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: big + "!"}); hotline.ErrorCode(err) != hotline.EUNAVAILABLE {
		t.Fatalf("second send to a full store: %v", err)
	}
	if again, _ := alpha.Log(ctx, "alpha-bravo-policy"); len(again) != len(after) || len(after) < len(before) {
		t.Fatalf("a failed send changed the log: %d, %d, %d entries", len(before), len(after), len(again))
	}

	// Space returns: the node carries on without a restart, its feed
	// without a gap, and the peer gets everything.
	if _, err := a.Server.Store.(*sqlite.Store).SetMaxSize(ctx, 0); err != nil {
		t.Fatal(err)
	}
	next, err := alpha.Send(ctx, "alpha-bravo-policy", api.SendRequest{Text: "space is back"})
	if err != nil {
		t.Fatal(err)
	}
	var lastSeq uint64
	for _, e := range after {
		if e.Author == "alpha" {
			lastSeq = max(lastSeq, e.Seq)
		}
	}
	if next.Seq != lastSeq+1 {
		t.Fatalf("seq after recovery %d, want %d", next.Seq, lastSeq+1)
	}
	eventually(t, "bravo holds the message sent after recovery", func() bool {
		return findEntry(t, bravo, "alpha-bravo-policy", next.ID) != nil
	})
	eventually(t, "it is delivered", func() bool {
		e := findEntry(t, alpha, "alpha-bravo-policy", next.ID)
		return e != nil && e.Delivered != nil
	})
}
