// Package audiotest makes spoken sentences with espeak-ng for the call
// tests (package voicematch finds them again). Without espeak-ng
// the tests skip, saying so, unless HOTLINE_REQUIRE_ESPEAK is set (CI
// sets it): then they fail.
package audiotest

import (
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
