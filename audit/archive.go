package audit

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"
	"time"

	"github.com/hotline-project/hotline/entry"
)

// ArchiveFormat names a channel archive in its header's "format" field.
const ArchiveFormat = "hotline-archive"

// ArchiveVersion is the archive format version this package writes and
// reads.
const ArchiveVersion = 1

// An archive is JSON Lines: a header object, then one record per line,
// then an end record. Records are, in this order: the parties' keys and revocations, the
// entries in the exporting node's storage order (a causal order: every
// entry comes after everything it references), then the checkpoints of
// every feed. The end record repeats the counts, so a truncated archive is
// detected.

// Header is an archive's first line.
type Header struct {
	Format     string    `json:"format"`
	Version    int       `json:"version"`
	Channel    string    `json:"channel"`
	Name       string    `json:"name"`
	Level      string    `json:"level"`
	ExportedBy string    `json:"exported_by"`
	ExportedAt time.Time `json:"exported_at"`
	Entries    int       `json:"entries"` // entries that follow
}

// Record is one line after the header. Type says which fields are set.
type Record struct {
	Type string `json:"type"` // "key", "revocation", "entry", "checkpoint" or "end"

	// key: a party's signed-note verifier key, signing its feed of the
	// channel from seq From to seq Until (either may be absent:
	// unbounded), as the exporting node holds it. A party has one record
	// per key it has used; its key entries say where one hands over to
	// the next.
	Party string  `json:"party,omitempty"`
	Key   string  `json:"key,omitempty"`
	From  *uint64 `json:"from,omitempty"`
	Until *uint64 `json:"until,omitempty"`

	// entry: the wire-encoded entry, and when the exporting node stored
	// it by its own clock (not signed; for the record only).
	Entry    []byte     `json:"entry,omitempty"`
	Received *time.Time `json:"received,omitempty"`

	// checkpoint: a signed note, with every cosignature the exporting
	// node holds; Party is the feed's author. revocation: Party's signed
	// revocation of one of its keys (see package keychain).
	Note string `json:"note,omitempty"`

	// end: how many entries and checkpoints the archive holds.
	Entries     int `json:"entries,omitempty"`
	Checkpoints int `json:"checkpoints,omitempty"`
}

// Writer writes an archive.
type Writer struct {
	w           *bufio.Writer
	entries     int
	checkpoints int
	err         error
}

// NewWriter writes the header to w and returns a writer for the records.
func NewWriter(w io.Writer, h Header) (*Writer, error) {
	h.Format, h.Version = ArchiveFormat, ArchiveVersion
	aw := &Writer{w: bufio.NewWriterSize(w, 64<<10)}
	aw.line(h)
	return aw, aw.err
}

func (aw *Writer) line(v any) {
	if aw.err != nil {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		aw.err = err
		return
	}
	aw.w.Write(b)
	aw.err = aw.w.WriteByte('\n')
}

// Revocation writes a revocation record: party's signed revocation note.
func (aw *Writer) Revocation(party string, note []byte) error {
	aw.line(Record{Type: "revocation", Party: party, Note: string(note)})
	return aw.err
}

// Key writes a key record.
func (aw *Writer) Key(party, key string, from, until *uint64) error {
	aw.line(Record{Type: "key", Party: party, Key: key, From: from, Until: until})
	return aw.err
}

// Entry writes an entry record.
func (aw *Writer) Entry(e *entry.Entry, received time.Time) error {
	aw.entries++
	aw.line(Record{Type: "entry", Entry: e.Encode(), Received: &received})
	return aw.err
}

// Checkpoint writes a checkpoint record.
func (aw *Writer) Checkpoint(party string, note []byte) error {
	aw.checkpoints++
	aw.line(Record{Type: "checkpoint", Party: party, Note: string(note)})
	return aw.err
}

// Close writes the end record and flushes.
func (aw *Writer) Close() error {
	aw.line(Record{Type: "end", Entries: aw.entries, Checkpoints: aw.checkpoints})
	if aw.err != nil {
		return aw.err
	}
	return aw.w.Flush()
}

// Archive is a parsed archive; nothing in it is verified yet.
type Archive struct {
	Header      Header
	Keys        []Record
	Revocations []Record
	Entries     []Record
	Checkpoints []Record
}

// Limits on what an archive may hold.
const (
	maxLine    = 256 << 10 // one record: an entry of 64 KiB in base64 and JSON
	maxRecords = 10_000_000
)

// Decode reads an archive, checking its shape: the header, known record
// types in the documented order, and an end record whose counts match.
// progress, if not nil, is called every 10,000 entries.
func Decode(r io.Reader, progress func(done, total int)) (*Archive, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), maxLine)
	line := 0
	next := func() ([]byte, error) {
		if !sc.Scan() {
			if err := sc.Err(); err != nil {
				return nil, fmt.Errorf("archive line %d: %v", line+1, err)
			}
			return nil, io.EOF
		}
		line++
		return sc.Bytes(), nil
	}
	b, err := next()
	if err == io.EOF {
		return nil, errors.New("archive: empty file, not an archive")
	} else if err != nil {
		return nil, err
	}
	a := &Archive{}
	if err := strictJSON(b, &a.Header); err != nil || a.Header.Format != ArchiveFormat {
		return nil, errors.New("archive: the first line is not a hotline archive header: this is not an archive")
	}
	if a.Header.Version != ArchiveVersion {
		return nil, fmt.Errorf("archive: format version %d; this hotline reads version %d", a.Header.Version, ArchiveVersion)
	}
	order := map[string]int{"key": 0, "revocation": 0, "entry": 1, "checkpoint": 2, "end": 3}
	stage := 0
	var lines [][]byte
	for {
		// A chunk of lines is parsed on every core, then checked in order.
		first := line + 1
		lines = lines[:0]
		for len(lines) < decodeChunk {
			b, err := next()
			if err == io.EOF {
				break
			} else if err != nil {
				return nil, err
			}
			lines = append(lines, bytes.Clone(b))
		}
		recs, errs := parseRecords(lines)
		for i := range lines {
			at := first + i
			if errs[i] != nil {
				return nil, fmt.Errorf("archive line %d: not a valid record: %v", at, errs[i])
			}
			rec := recs[i]
			st, ok := order[rec.Type]
			if !ok {
				return nil, fmt.Errorf("archive line %d: unknown record type %q", at, rec.Type)
			}
			if st < stage {
				return nil, fmt.Errorf("archive line %d: a %s record after the %s records are over", at, rec.Type, rec.Type)
			}
			stage = st
			if len(a.Keys)+len(a.Revocations)+len(a.Entries)+len(a.Checkpoints) >= maxRecords {
				return nil, fmt.Errorf("archive line %d: more than %d records", at, maxRecords)
			}
			switch rec.Type {
			case "key":
				a.Keys = append(a.Keys, rec)
			case "revocation":
				a.Revocations = append(a.Revocations, rec)
			case "entry":
				if rec.Entry == nil {
					return nil, fmt.Errorf("archive line %d: entry record without an entry", at)
				}
				a.Entries = append(a.Entries, rec)
				if progress != nil && len(a.Entries)%10000 == 0 {
					progress(len(a.Entries), a.Header.Entries)
				}
			case "checkpoint":
				a.Checkpoints = append(a.Checkpoints, rec)
			case "end":
				if rec.Entries != len(a.Entries) || rec.Checkpoints != len(a.Checkpoints) || a.Header.Entries != len(a.Entries) {
					return nil, fmt.Errorf("archive line %d: the end record counts %d entries and %d checkpoints (header: %d entries), the archive holds %d and %d: records were removed or added",
						at, rec.Entries, rec.Checkpoints, a.Header.Entries, len(a.Entries), len(a.Checkpoints))
				}
				if i < len(lines)-1 {
					return nil, fmt.Errorf("archive line %d: data after the end record", at+1)
				}
				if _, err := next(); err != io.EOF {
					return nil, fmt.Errorf("archive line %d: data after the end record", line+1)
				}
				return a, nil
			}
		}
		if len(lines) < decodeChunk {
			return nil, fmt.Errorf("archive: ends at line %d without its end record: the file is truncated", line)
		}
	}
}

// decodeChunk is how many lines Decode reads before it parses them in
// parallel: enough to share out, few enough to hold twice.
const decodeChunk = 4096

// parseRecords parses lines as records, a share of them on each core.
func parseRecords(lines [][]byte) ([]Record, []error) {
	recs := make([]Record, len(lines))
	errs := make([]error, len(lines))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(lines)/64))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(lines); i += workers {
				errs[i] = strictJSON(lines[i], &recs[i])
			}
		})
	}
	wg.Wait()
	return recs, errs
}

func strictJSON(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data")
	}
	return nil
}
