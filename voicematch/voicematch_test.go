package voicematch

import (
	"math/rand/v2"
	"testing"
)

func noise(r *rand.Rand, n int) []int16 {
	out := make([]int16, n)
	for i := range out {
		out[i] = int16(r.IntN(8000) - 4000)
	}
	return out
}

func TestFindLocatesAShiftedSoundAndRejectsAnother(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	sound := noise(r, 8000)
	rec := make([]int16, 3*8000)
	copy(rec[12345:], sound)
	for i := range rec {
		rec[i] += int16(r.IntN(400) - 200) // a little noise on the line
	}
	m := Find(sound, rec)
	if m.Offset != 12345 || m.Score < 0.9 {
		t.Fatalf("found at %d with score %.2f, want 12345", m.Offset, m.Score)
	}
	if other := Find(noise(r, 8000), rec); other.Score > 0.3 {
		t.Fatalf("an unrelated sound scored %.2f", other.Score)
	}
	if e := Energy(rec, 0, 12000); e > 200 {
		t.Fatalf("the line's noise has RMS %.0f", e)
	}
	if e := Energy(rec, 12345, 12345+8000); e < 2000 {
		t.Fatalf("the sound has RMS %.0f", e)
	}
}
