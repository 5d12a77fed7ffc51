// Package wav reads and writes 16-bit PCM WAV files, the audio a call
// participant plays and records from the command line and the recording a
// node keeps of a call, and converts their sample rate.
package wav

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
)

// MaxSeconds bounds the audio Read accepts: a day of sound.
const MaxSeconds = 24 * 60 * 60

// ErrFormat reports a file that is not a 16-bit PCM WAV file.
var ErrFormat = errors.New("wav: not a 16-bit PCM WAV file")

// Audio is mono 16-bit samples at Rate samples a second.
type Audio struct {
	Rate    int
	Samples []int16
}

// ReadFile reads a WAV file; see Read.
func ReadFile(path string) (*Audio, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	a, err := Read(bufio.NewReader(f))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return a, nil
}

// Read reads a RIFF WAV stream of 16-bit PCM samples, mono or with
// several channels (mixed down to mono), of at most MaxSeconds. A data
// chunk whose size is unknown (0 or 0xFFFFFFFF, as streaming writers and
// recordings cut short leave it) is read to the end of the stream.
func Read(r io.Reader) (*Audio, error) {
	var hdr [12]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrFormat, err)
	}
	if string(hdr[0:4]) != "RIFF" || string(hdr[8:12]) != "WAVE" {
		return nil, fmt.Errorf("%w: no RIFF WAVE header", ErrFormat)
	}
	var channels, bits uint16
	var rate uint32
	for {
		var ch [8]byte
		if _, err := io.ReadFull(r, ch[:]); err != nil {
			return nil, fmt.Errorf("%w: no data chunk: %v", ErrFormat, err)
		}
		id, size := string(ch[0:4]), binary.LittleEndian.Uint32(ch[4:8])
		switch id {
		case "fmt ":
			if size < 16 || size > 1024 {
				return nil, fmt.Errorf("%w: fmt chunk of %d bytes", ErrFormat, size)
			}
			buf := make([]byte, size+size%2)
			if _, err := io.ReadFull(r, buf); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrFormat, err)
			}
			format := binary.LittleEndian.Uint16(buf[0:2])
			channels = binary.LittleEndian.Uint16(buf[2:4])
			rate = binary.LittleEndian.Uint32(buf[4:8])
			bits = binary.LittleEndian.Uint16(buf[14:16])
			if format == 0xFFFE && size >= 40 { // WAVE_FORMAT_EXTENSIBLE: the sub-format's first two bytes
				format = binary.LittleEndian.Uint16(buf[24:26])
			}
			if format != 1 || bits != 16 || channels == 0 || channels > 8 || rate < 1000 || rate > 192000 {
				return nil, fmt.Errorf("%w: format %d, %d bits, %d channels, %d Hz (want PCM, 16 bits, 1 to 8 channels)", ErrFormat, format, bits, channels, rate)
			}
		case "data":
			if channels == 0 {
				return nil, fmt.Errorf("%w: data before fmt", ErrFormat)
			}
			limit := int64(MaxSeconds) * int64(rate) * int64(channels) * 2
			var body io.Reader = io.LimitReader(r, limit+1)
			if size != 0 && size != math.MaxUint32 {
				body = io.LimitReader(r, int64(size))
			}
			raw, err := io.ReadAll(body)
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrFormat, err)
			}
			if int64(len(raw)) > limit {
				return nil, fmt.Errorf("%w: longer than %d seconds", ErrFormat, MaxSeconds)
			}
			frames := len(raw) / (2 * int(channels))
			a := &Audio{Rate: int(rate), Samples: make([]int16, frames)}
			for i := range frames {
				sum := 0
				for c := range int(channels) {
					o := 2 * (i*int(channels) + c)
					sum += int(int16(binary.LittleEndian.Uint16(raw[o:])))
				}
				a.Samples[i] = int16(sum / int(channels))
			}
			return a, nil
		default:
			if _, err := io.CopyN(io.Discard, r, int64(size)+int64(size%2)); err != nil {
				return nil, fmt.Errorf("%w: chunk %q cut short", ErrFormat, id)
			}
		}
	}
}

// Resample returns a's samples at rate, by averaging over each output
// sample's span when going down (a box filter against aliasing) and by
// linear interpolation when going up.
func (a *Audio) Resample(rate int) []int16 {
	if rate == a.Rate || len(a.Samples) == 0 {
		return append([]int16(nil), a.Samples...)
	}
	n := int(int64(len(a.Samples)) * int64(rate) / int64(a.Rate))
	out := make([]int16, n)
	step := float64(a.Rate) / float64(rate)
	for i := range out {
		pos := float64(i) * step
		if step > 1 {
			lo, hi := int(pos), int(pos+step)
			hi = min(max(hi, lo+1), len(a.Samples))
			sum := 0
			for _, s := range a.Samples[lo:hi] {
				sum += int(s)
			}
			out[i] = int16(sum / (hi - lo))
			continue
		}
		j := int(pos)
		if j+1 >= len(a.Samples) {
			out[i] = a.Samples[len(a.Samples)-1]
			continue
		}
		f := pos - float64(j)
		out[i] = int16(float64(a.Samples[j])*(1-f) + float64(a.Samples[j+1])*f)
	}
	return out
}

// Writer writes a mono 16-bit PCM WAV file as samples come. Its header
// says the data's size once Close has run; until then it says unknown
// (0xFFFFFFFF), which Read accepts, so a file cut short by a crash still
// reads.
type Writer struct {
	f       *os.File
	w       *bufio.Writer
	rate    int
	samples int64
	buf     []byte
}

// Create creates path (mode 0600) and writes a header for rate.
func Create(path string, rate int) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	w := &Writer{f: f, w: bufio.NewWriterSize(f, 64<<10), rate: rate}
	_, err = w.w.Write(header(rate, -1))
	if err == nil {
		err = w.w.Flush()
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

// header returns a 44-byte header; samples < 0 means unknown.
func header(rate int, samples int64) []byte {
	h := make([]byte, 44)
	data, riff := uint32(math.MaxUint32), uint32(math.MaxUint32)
	if samples >= 0 {
		data = uint32(samples * 2)
		riff = data + 36
	}
	copy(h[0:], "RIFF")
	binary.LittleEndian.PutUint32(h[4:], riff)
	copy(h[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(h[16:], 16)
	binary.LittleEndian.PutUint16(h[20:], 1) // PCM
	binary.LittleEndian.PutUint16(h[22:], 1) // mono
	binary.LittleEndian.PutUint32(h[24:], uint32(rate))
	binary.LittleEndian.PutUint32(h[28:], uint32(rate*2))
	binary.LittleEndian.PutUint16(h[32:], 2)
	binary.LittleEndian.PutUint16(h[34:], 16)
	copy(h[36:], "data")
	binary.LittleEndian.PutUint32(h[40:], data)
	return h
}

// FixHeader writes into f a header for samples mono samples at rate, as
// on a file whose writer was cut short.
func FixHeader(f io.WriterAt, rate int, samples int64) error {
	_, err := f.WriteAt(header(rate, samples), 0)
	return err
}

// Write appends samples.
func (w *Writer) Write(samples []int16) error {
	w.buf = w.buf[:0]
	for _, s := range samples {
		w.buf = binary.LittleEndian.AppendUint16(w.buf, uint16(s))
	}
	if _, err := w.w.Write(w.buf); err != nil {
		return err
	}
	w.samples += int64(len(samples))
	return nil
}

// Flush hands what is buffered to the file, so a crash loses at most
// what was written since.
func (w *Writer) Flush() error { return w.w.Flush() }

// Samples returns how many samples were written.
func (w *Writer) Samples() int64 { return w.samples }

// Close writes the sizes into the header, syncs the file and closes it.
func (w *Writer) Close() error {
	err := w.w.Flush()
	if err == nil {
		_, err = w.f.WriteAt(header(w.rate, w.samples), 0)
	}
	if err == nil {
		err = w.f.Sync()
	}
	if cerr := w.f.Close(); err == nil {
		err = cerr
	}
	return err
}
