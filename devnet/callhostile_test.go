package devnet

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/peer"
)

// TestHostilePeer_CallsCannotBeFaked: with alpha's real keys, a hostile
// alpha cannot write the record of a call bravo requested, cannot make
// bravo's node set up media for a call nobody of bravo is on or that was
// never accepted, and cannot hand bravo a section in another party's
// name. Each attempt changes nothing.
func TestHostilePeer_CallsCannotBeFaked(t *testing.T) {
	a := newAttacker(t)
	ctx := context.Background()
	bravo := clientOf(a.bravo)
	publishMinister(t, bravo, a.channel.String(), "bravo")
	at := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	ref, err := bravo.RequestCall(ctx, a.channel.String(), api.CallRequestBody{Purpose: "bravo's call", Times: []time.Time{at}, Minutes: 10,
		Participants: []entry.Participant{{Party: "bravo", Role: "director-policy"}}})
	if err != nil {
		t.Fatal(err)
	}
	callID, err := entry.ParseID(ref.ID)
	if err != nil {
		t.Fatal(err)
	}
	var callRef entry.Ref
	for _, v := range a.bravoLog() {
		if v.ID == ref.ID {
			callRef = entry.Ref{Party: v.Author, Seq: v.Seq, ID: callID}
		}
	}

	t.Run("a held record of another party's call", func(t *testing.T) {
		held := &entry.Held{Start: 1000, End: 2000, Sections: []entry.HeldSection{{Party: "alpha", Start: 1000, End: 2000}}}
		sig, err := entry.SignBytes(a.alpha.Key.Priv, entry.HeldStatement(a.channel, callID, held))
		if err != nil {
			t.Fatal(err)
		}
		body := &entry.Call{Action: entry.CallHeld, Re: &callRef, Held: held, Sigs: []entry.PartySig{{Party: "alpha", Sig: sig}}}
		seq, prev := a.alphaHead()
		b, err := entry.EncodeBody(body)
		if err != nil {
			t.Fatal(err)
		}
		e, err := entry.Sign(entry.Header{Channel: a.channel, Author: "alpha", Seq: seq + 1, Prev: prev, Time: time.Now().UnixMilli(), Kind: entry.KindCall}, b, a.alpha.Key.Priv)
		if err != nil {
			t.Fatal(err)
		}
		a.pushRejected("requester", e)
	})

	call := func(req *peer.CallRequest) error {
		req.Channel, req.Call = a.channel, callID
		_, err := a.client.Call(ctx, req)
		return err
	}
	refused := func(what string, err error, code int) {
		t.Helper()
		var se *peer.StatusError
		if !errors.As(err, &se) || se.Code != code {
			t.Errorf("%s: %v, want %d", what, err, code)
		}
	}
	refused("an offer for a call not accepted", call(&peer.CallRequest{Op: peer.CallOffer, SDP: "v=0\r\n"}), 409)
	refused("a ring for a call not accepted", call(&peer.CallRequest{Op: peer.CallRing}), 409)
	sec, _ := json.Marshal(map[string]any{"party": "alpha", "start": time.Now(), "end": time.Now(), "attendance": []any{}})
	refused("a section of a call never accepted", call(&peer.CallRequest{Op: peer.CallSection, Section: sec}), 409)
	if _, err := a.client.Call(ctx, &peer.CallRequest{Op: "dial-everyone", Channel: a.channel, Call: callID}); err == nil {
		t.Error("an unknown call operation was taken")
	}
	refused("an offer for a call in no channel", func() error {
		_, err := a.client.Call(ctx, &peer.CallRequest{Op: peer.CallOffer, SDP: "v=0\r\n", Channel: entry.ChannelID{9}, Call: callID})
		return err
	}(), 409)
	// A flood of call operations is answered 429 past the allowance,
	// before bravo's node looks the call up.
	busy := 0
	for range 60 {
		var se *peer.StatusError
		if err := call(&peer.CallRequest{Op: peer.CallRing}); errors.As(err, &se) && se.Code == http.StatusTooManyRequests {
			busy++
		}
	}
	if busy == 0 {
		t.Error("60 call operations at once were all taken")
	}
	if n := len(a.bravo.Server.Node.Channels()); n == 0 {
		t.Fatal("bravo lost its channels")
	}
	if v := callOf(t, bravo, a.channel.String(), ref.ID); v == nil || v.Held != nil {
		t.Errorf("bravo's call after the attempts: %+v", v)
	}
}
