// Package voicematch finds one recording's sound in another: where a
// spoken sentence (or any stretch of sound) lies in what a call's other
// end recorded, and how closely it matches. The call tests and the call
// bench use it to show that real audio crossed the real path, and how
// late.
package voicematch

import "math"

// Match is where a sound was found in a recording.
type Match struct {
	Offset int     // samples into the recording
	Score  float64 // normalised cross-correlation, -1 to 1
}

// Find looks for speech in rec (both 8 kHz) and returns the offset where
// it correlates best, and how well (normalised cross-correlation of the
// waveforms). The search first aligns 10 ms energy envelopes, then the
// waveforms within 30 ms of that.
func Find(speech, rec []int16) Match {
	const win = 8000 / 100 // 10 ms at 8 kHz
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

// Coverage looks for each half-second of sound in speech (8 kHz) within
// rec, on its own, and returns how many such windows it found (a
// normalised cross-correlation of at least 0.5) out of how many it
// looked for. Unlike Find over the whole, it holds up when the path
// shifted parts of the speech against each other: a jitter buffer that
// skipped a backlog, or a participant that fell behind.
func Coverage(speech, rec []int16) (found, total int) {
	const win = 8000 / 2
	for w := 0; (w+1)*win <= len(speech); w++ {
		seg := speech[w*win : (w+1)*win]
		if Energy(seg, 0, len(seg)) < 300 {
			continue
		}
		total++
		if Find(seg, rec).Score >= 0.5 {
			found++
		}
	}
	return found, total
}

// Power returns how much of a tone of hz is in pcm (8 kHz): the Goertzel
// filter's power, per sample squared so that it does not grow with the
// length. A tone of amplitude A gives about A²/4.
func Power(pcm []int16, hz float64) float64 {
	if len(pcm) == 0 {
		return 0
	}
	k := 2 * math.Cos(2*math.Pi*hz/8000)
	var s1, s2 float64
	for _, x := range pcm {
		s0 := float64(x) + k*s1 - s2
		s2, s1 = s1, s0
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(pcm)) / float64(len(pcm))
}
