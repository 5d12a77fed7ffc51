package entry

import (
	"crypto/ed25519"
	"errors"
	"strings"
	"testing"
)

func TestCall_Check(t *testing.T) {
	re := &Ref{Party: "bravo", Seq: 2}
	sig := make([]byte, ed25519.SignatureSize)
	good := []*Call{
		{Action: CallPropose, Purpose: "p", Times: []int64{1, 2}, Minutes: 30, Participants: []Participant{{"alpha", "minister"}, {"bravo", "minister"}}, Level: "strategic"},
		{Action: CallAccept, Re: re, Times: []int64{2}},
		{Action: CallDecline, Re: re, Reason: "busy"},
		{Action: CallLapse, Re: re},
		{Action: CallReadout, Re: re, Text: "t", Sigs: []PartySig{{"alpha", sig}}},
		{Action: CallCosign, Re: re, Draft: re, Text: "t", Sigs: []PartySig{{"alpha", sig}, {"bravo", sig}}},
	}
	for _, c := range good {
		if err := c.Check(); err != nil {
			t.Errorf("%s: %v", c.Action, err)
		}
	}
	bad := map[string]*Call{
		"no times":             {Action: CallPropose, Purpose: "p", Minutes: 30, Participants: []Participant{{"alpha", "m"}}, Level: "policy"},
		"times out of order":   {Action: CallPropose, Purpose: "p", Times: []int64{2, 1}, Minutes: 30, Participants: []Participant{{"alpha", "m"}}, Level: "policy"},
		"no length":            {Action: CallPropose, Purpose: "p", Times: []int64{1}, Participants: []Participant{{"alpha", "m"}}, Level: "policy"},
		"unsorted people":      {Action: CallPropose, Purpose: "p", Times: []int64{1}, Minutes: 5, Participants: []Participant{{"bravo", "m"}, {"alpha", "m"}}, Level: "policy"},
		"repeated person":      {Action: CallPropose, Purpose: "p", Times: []int64{1}, Minutes: 5, Participants: []Participant{{"alpha", "m"}, {"alpha", "m"}}, Level: "policy"},
		"accept two times":     {Action: CallAccept, Re: re, Times: []int64{1, 2}},
		"answer without re":    {Action: CallDecline, Reason: "x"},
		"decline no reason":    {Action: CallDecline, Re: re},
		"extra field":          {Action: CallLapse, Re: re, Text: "x"},
		"cosign one signature": {Action: CallCosign, Re: re, Draft: re, Text: "t", Sigs: []PartySig{{"alpha", sig}}},
		"short signature":      {Action: CallReadout, Re: re, Text: "t", Sigs: []PartySig{{"alpha", sig[:10]}}},
		"unknown action":       {Action: "maybe", Re: re},
	}
	for name, c := range bad {
		if err := c.Check(); !errors.Is(err, ErrMalformed) && !errors.Is(err, ErrTooLarge) {
			t.Errorf("%s: got %v, want a malformed-body error", name, err)
		}
	}
}

func TestJoint_SignaturesBindTextCallAndChannel(t *testing.T) {
	pubA, privA, _ := ed25519.GenerateKey(nil)
	pubB, privB, _ := ed25519.GenerateKey(nil)
	keys := map[string]ed25519.PublicKey{"alpha": pubA, "bravo": pubB}
	keyOf := func(p string) []ed25519.PublicKey {
		if k, ok := keys[p]; ok {
			return []ed25519.PublicKey{k}
		}
		return nil
	}
	ch, re := ChannelID{1}, Ref{Party: "alpha", Seq: 4, ID: ID{2}}
	sigA, errA := SignJoint("alpha", privA, ch, re.ID, "en", "Both sides agreed.")
	sigB, errB := SignJoint("bravo", privB, ch, re.ID, "en", "Both sides agreed.")
	if errA != nil || errB != nil {
		t.Fatal(errA, errB)
	}
	c := &Call{Action: CallCosign, Re: &re, Draft: &re, Text: "Both sides agreed.", Lang: "en", Sigs: []PartySig{sigA, sigB}}
	if got, err := VerifyJoint(c, ch, keyOf); err != nil || strings.Join(got, ",") != "alpha,bravo" {
		t.Fatalf("VerifyJoint = %v, %v", got, err)
	}
	for name, mutate := range map[string]func(c *Call, ch *ChannelID){
		"text":    func(c *Call, _ *ChannelID) { c.Text = "Both sides disagreed." },
		"lang":    func(c *Call, _ *ChannelID) { c.Lang = "zh" },
		"call":    func(c *Call, _ *ChannelID) { r := *c.Re; r.ID = ID{3}; c.Re = &r },
		"channel": func(_ *Call, ch *ChannelID) { ch[0] = 9 },
		"signer":  func(c *Call, _ *ChannelID) { c.Sigs[1].Party = "charlie" },
	} {
		cc, cch := *c, ch
		cc.Sigs = append([]PartySig(nil), c.Sigs...)
		mutate(&cc, &cch)
		if _, err := VerifyJoint(&cc, cch, keyOf); !errors.Is(err, ErrBadSignature) {
			t.Errorf("changed %s: %v, want a bad signature", name, err)
		}
	}
}

func TestHeldRecordChecks(t *testing.T) {
	re := &Ref{Party: "alpha", Seq: 3}
	sig := []PartySig{{Party: "alpha", Sig: make([]byte, 64)}}
	good := func() *Call {
		return &Call{Action: CallHeld, Re: re, Sigs: sig, Held: &Held{Start: 1000, End: 9000, Sections: []HeldSection{
			{Party: "alpha", Start: 1000, End: 9000, Attendance: []Attendance{{Role: "minister", Joined: 1000, Left: 8000}},
				Recordings: []RecordingHash{{File: "a.wav", SHA256: make([]byte, 32), Bytes: 44}}},
			{Party: "bravo", Start: 2000, End: 9000}}}}
	}
	if err := good().Check(); err != nil {
		t.Fatal(err)
	}
	for name, spoil := range map[string]func(c *Call){
		"no record":             func(c *Call) { c.Held = nil },
		"no signature":          func(c *Call) { c.Sigs = nil },
		"co-signature alone":    func(c *Call) { c.Draft = re },
		"ends before it starts": func(c *Call) { c.Held.End = 500 },
		"sections out of order": func(c *Call) { c.Held.Sections[0], c.Held.Sections[1] = c.Held.Sections[1], c.Held.Sections[0] },
		"section outside":       func(c *Call) { c.Held.Sections[1].End = 10000 },
		"left before joining":   func(c *Call) { c.Held.Sections[0].Attendance[0].Left = 900 },
		"a short hash":          func(c *Call) { c.Held.Sections[0].Recordings[0].SHA256 = []byte{1} },
		"too many recordings":   func(c *Call) { c.Held.Sections[0].Recordings = make([]RecordingHash, MaxRecordings+1) },
		"text on a held record": func(c *Call) { c.Text = "x" },
		"negative loss":         func(c *Call) { c.Held.Sections[0].Quality = []CallQuality{{From: "bravo", Lost: -1}} },
		"held on a readout":     func(c *Call) { c.Action, c.Text = CallReadout, "t" },
		"record on an accept":   func(c *Call) { c.Action, c.Held, c.Sigs, c.Times, c.Record = CallAccept, nil, nil, []int64{5}, re },
	} {
		c := good()
		spoil(c)
		if err := c.Check(); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
