package voicematch

import (
	"math"
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

func TestCoverageHoldsUpWhenPartsAreShifted(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	speech := noise(r, 4*8000)
	// The second half arrives 300 ms later than the first would have it.
	rec := make([]int16, 8*8000)
	copy(rec[8000:], speech[:2*8000])
	copy(rec[8000+2*8000+2400:], speech[2*8000:])
	found, total := Coverage(speech, rec)
	if total != 8 || found < 7 {
		t.Fatalf("found %d of %d half-seconds", found, total)
	}
	if found, _ := Coverage(noise(r, 4*8000), rec); found != 0 {
		t.Fatalf("an unrelated sound covered %d half-seconds", found)
	}
}

func TestPowerTellsTonesApart(t *testing.T) {
	pcm := make([]int16, 8000)
	for i := range pcm {
		pcm[i] = int16(4000 * math.Sin(2*math.Pi*440*float64(i)/8000))
	}
	if p := Power(pcm, 440); p < 3.5e6 || p > 4.5e6 {
		t.Fatalf("a 440 Hz tone of amplitude 4000 has power %.0f at 440 Hz", p)
	}
	if p := Power(pcm, 1000); p > 1e3 {
		t.Fatalf("and %.0f at 1000 Hz", p)
	}
}
