// Package audiotest makes spoken sentences with espeak-ng for the call
// tests, and finds one recording's speech in another. Without espeak-ng
// the tests skip, saying so, unless HOTLINE_REQUIRE_ESPEAK is set (CI
// sets it): then they fail.
package audiotest

import (
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/hotline-project/hotline/conference"
	"github.com/hotline-project/hotline/wav"
)

// Speech writes text spoken by espeak-ng, at 8 kHz, to a WAV file in a
// temporary directory and returns its path and samples.
func Speech(tb testing.TB, text, voice string) (string, []int16) {
	tb.Helper()
	bin, err := exec.LookPath("espeak-ng")
	if err != nil {
		if os.Getenv("HOTLINE_REQUIRE_ESPEAK") != "" {
			tb.Fatal("espeak-ng is not installed, and HOTLINE_REQUIRE_ESPEAK is set (apt-get install espeak-ng)")
		}
		tb.Skip("espeak-ng is not installed (apt-get install espeak-ng); skipping a test of real speech through a call")
	}
	raw := filepath.Join(tb.TempDir(), "speech.wav")
	if out, err := exec.Command(bin, "-v", voice, "-s", "150", "-w", raw, text).CombinedOutput(); err != nil {
		tb.Fatalf("espeak-ng: %v: %s", err, out)
	}
	a, err := wav.ReadFile(raw)
	if err != nil {
		tb.Fatal(err)
	}
	pcm := a.Resample(conference.SampleRate)
	path := filepath.Join(tb.TempDir(), "speech-8k.wav")
	w, err := wav.Create(path, conference.SampleRate)
	if err == nil {
		err = w.Write(pcm)
	}
	if err == nil {
		err = w.Close()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return path, pcm
}

// Pad returns pcm after lead of silence (8 kHz samples).
func Pad(pcm []int16, leadSamples int) []int16 {
	return append(make([]int16, leadSamples), pcm...)
}

// Match is where a sentence was found in a recording.
type Match struct {
	Offset int     // samples into the recording
	Score  float64 // normalised cross-correlation, -1 to 1
}

// Find looks for speech in rec and returns the offset where it
// correlates best, and how well (normalised cross-correlation of the
// waveforms). The search first aligns 10 ms energy envelopes, then the
// waveforms within 30 ms of that.
func Find(speech, rec []int16) Match {
	const win = conference.SampleRate / 100
	es, er := envelope(speech, win), envelope(rec, win)
	best, bestAt := math.Inf(-1), 0
	for lag := 0; lag+len(es) <= len(er); lag++ {
		if c := ncc(es, er[lag:lag+len(es)]); c > best {
			best, bestAt = c, lag
		}
	}
	m := Match{Score: -1}
	for off := max(0, bestAt*win-3*win); off <= bestAt*win+3*win && off+len(speech) <= len(rec); off++ {
		if c := nccInt(speech, rec[off:off+len(speech)]); c > m.Score {
			m = Match{Offset: off, Score: c}
		}
	}
	return m
}

// Energy returns the RMS of rec between samples from and to.
func Energy(rec []int16, from, to int) float64 {
	from, to = max(0, from), min(len(rec), to)
	if to <= from {
		return 0
	}
	var sum float64
	for _, s := range rec[from:to] {
		sum += float64(s) * float64(s)
	}
	return math.Sqrt(sum / float64(to-from))
}

func envelope(pcm []int16, win int) []float64 {
	out := make([]float64, len(pcm)/win)
	for i := range out {
		out[i] = Energy(pcm, i*win, (i+1)*win)
	}
	return out
}

func ncc(a, b []float64) float64 {
	var ma, mb float64
	for i := range a {
		ma += a[i]
		mb += b[i]
	}
	ma /= float64(len(a))
	mb /= float64(len(b))
	var num, da, db float64
	for i := range a {
		x, y := a[i]-ma, b[i]-mb
		num += x * y
		da += x * x
		db += y * y
	}
	if da == 0 || db == 0 {
		return 0
	}
	return num / math.Sqrt(da*db)
}

func nccInt(a, b []int16) float64 {
	var num, da, db float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		num += x * y
		da += x * x
		db += y * y
	}
	if da == 0 || db == 0 {
		return 0
	}
	return num / math.Sqrt(da*db)
}
