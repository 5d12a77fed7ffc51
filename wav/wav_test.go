package wav

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteThenRead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.wav")
	w, err := Create(path, 8000)
	if err != nil {
		t.Fatal(err)
	}
	want := make([]int16, 8000)
	for i := range want {
		want[i] = int16(10000 * math.Sin(float64(i)*2*math.Pi*440/8000))
	}
	if err := w.Write(want[:3000]); err != nil {
		t.Fatal(err)
	}
	// Before Close the header says "unknown": a file cut short still reads.
	cut, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Write(want[3000:]); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if a.Rate != 8000 || len(a.Samples) != len(want) || a.Samples[1234] != want[1234] {
		t.Fatalf("read back rate %d, %d samples", a.Rate, len(a.Samples))
	}
	if fi, _ := os.Stat(path); fi.Size() != 44+2*8000 {
		t.Fatalf("file is %d bytes", fi.Size())
	}
	if len(cut) > 44 {
		p, err := Read(bytes.NewReader(cut))
		if err != nil {
			t.Fatalf("a file cut short: %v", err)
		}
		if len(p.Samples) != (len(cut)-44)/2 {
			t.Fatalf("cut short: %d samples from %d bytes", len(p.Samples), len(cut))
		}
	}
}

func TestResampleKeepsAToneAndLength(t *testing.T) {
	a := &Audio{Rate: 22050, Samples: make([]int16, 22050)}
	for i := range a.Samples {
		a.Samples[i] = int16(8000 * math.Sin(float64(i)*2*math.Pi*300/22050))
	}
	out := a.Resample(8000)
	if len(out) != 8000 {
		t.Fatalf("%d samples", len(out))
	}
	var peak int16
	for _, s := range out {
		peak = max(peak, s)
	}
	if peak < 7000 || peak > 8001 {
		t.Fatalf("a 300 Hz tone's peak after resampling is %d", peak)
	}
	up := (&Audio{Rate: 8000, Samples: out}).Resample(16000)
	if len(up) != 16000 {
		t.Fatalf("%d samples up", len(up))
	}
}

func TestReadRefusesOtherFormats(t *testing.T) {
	for name, b := range map[string][]byte{
		"empty":    nil,
		"not riff": []byte("RIFX0000WAVEfmt "),
		"8-bit": append(append([]byte("RIFF\x00\x00\x00\x00WAVEfmt \x10\x00\x00\x00"),
			1, 0, 1, 0, 0x40, 0x1f, 0, 0, 0x40, 0x1f, 0, 0, 1, 0, 8, 0), []byte("data\x00\x00\x00\x00")...),
		"no data": append([]byte("RIFF\x00\x00\x00\x00WAVE"), header(8000, 0)[12:36]...),
	} {
		if _, err := Read(bytes.NewReader(b)); !errors.Is(err, ErrFormat) {
			t.Errorf("%s: %v, want ErrFormat", name, err)
		}
	}
}

func FuzzRead(f *testing.F) {
	f.Add(header(8000, 2))
	f.Add(append(header(16000, 4), 1, 2, 3, 4, 5, 6, 7, 8))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := Read(bytes.NewReader(b))
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		if len(a.Samples) > len(b) {
			t.Fatalf("%d samples from %d bytes", len(a.Samples), len(b))
		}
		_ = a.Resample(8000)
	})
}
