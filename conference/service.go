// Package conference carries a party's calls: each participant connects
// over WebRTC to its own party's node only, and the nodes of the parties
// on a call link to each other, one WebRTC connection for each pair,
// whose session descriptions (and so DTLS fingerprints) travel over the
// pinned mutual-TLS peer link. Each node mixes the audio (G.711 µ-law,
// 8 kHz) for its participants and for the other nodes, records the call
// on its own side when the channel agreed to, and keeps an account of
// it (a Section): who of its people joined and left when, the SHA-256 of
// its recordings, and how the other parties' audio came in.
package conference

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-project/hotline/wav"
)

// Key names a call: its channel and the entry id of its request, in hex.
type Key struct {
	Channel string `json:"channel"`
	Call    string `json:"call"`
}

// String names the call in logs: 8 hex digits of each id.
func (k Key) String() string {
	return k.Channel[:min(8, len(k.Channel))] + "/" + k.Call[:min(8, len(k.Call))]
}

func (k Key) valid() bool { return isHex(k.Channel) && isHex(k.Call) }

func isHex(s string) bool {
	_, err := hex.DecodeString(s)
	return err == nil && len(s) == 64
}

// Host is what the service needs of its node.
type Host interface {
	// Offer sends this node's offer for a call's link to party's node
	// over the peer link and returns that node's answer.
	Offer(ctx context.Context, party string, k Key, sdp string) (string, error)
	// Ended is told of a section once it is on disk, when a room of this
	// node closes (or, at start, one a stop cut short).
	Ended(k Key, s Section)
}

// RoomOptions are what a call's agreement says about a room.
type RoomOptions struct {
	Parties []string // every party of the call, this one included
	Record  bool     // the channel agreed to record calls
}

// Options configure a Service.
type Options struct {
	Party string // this node's party
	Dir   string // recordings and sections, one directory per call
	Media MediaOptions
	// Linger is how long a room stays open after the last of this
	// party's participants left; zero means 5 s.
	Linger time.Duration
	// Redial is how often a missing link is tried again; zero means 2 s.
	Redial time.Duration
	// MaxRooms bounds the calls held at once; zero means 16.
	MaxRooms int
	// MaxParticipants bounds this party's participants on one call; zero
	// means 32.
	MaxParticipants int
	Logger          *slog.Logger
	Registry        prometheus.Registerer
	Now             func() time.Time
}

// Service holds a node's rooms.
type Service struct {
	opts    Options
	host    Host
	api     *webrtc.API
	log     *slog.Logger
	metrics *metrics

	mu    sync.Mutex
	rooms map[Key]*Room
	stop  chan struct{}
	wg    sync.WaitGroup
}

// New returns a service whose rooms tell host of their ends; it finishes
// the recordings and sections a stop cut short.
func New(host Host, o Options) (*Service, error) {
	if o.Linger <= 0 {
		o.Linger = 5 * time.Second
	}
	if o.Redial <= 0 {
		o.Redial = 2 * time.Second
	}
	if o.MaxRooms <= 0 {
		o.MaxRooms = 16
	}
	if o.MaxParticipants <= 0 {
		o.MaxParticipants = 32
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Registry == nil {
		o.Registry = prometheus.NewRegistry()
	}
	if o.Media.Logger == nil {
		o.Media.Logger = o.Logger
	}
	api, err := newAPI(o.Media)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.Dir, 0o700); err != nil {
		return nil, err
	}
	s := &Service{opts: o, host: host, api: api, log: o.Logger, rooms: make(map[Key]*Room), stop: make(chan struct{})}
	if s.metrics, err = newMetrics(o.Registry, s); err != nil {
		return nil, err
	}
	if err := s.recover(); err != nil {
		return nil, err
	}
	return s, nil
}

func (s *Service) now() time.Time { return s.opts.Now().UTC().Truncate(time.Millisecond) }

// Close ends every room (each hands its section over) and stops.
func (s *Service) Close() {
	s.mu.Lock()
	select {
	case <-s.stop:
	default:
		close(s.stop)
	}
	s.mu.Unlock()
	s.wg.Wait()
}

// room returns the open room of k, creating it when create is set.
func (s *Service) room(k Key, o RoomOptions, create bool) (*Room, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := s.rooms[k]; r != nil {
		return r, nil
	}
	if !create {
		return nil, fmt.Errorf("%w: nobody of %s is on call %s", ErrEnded, s.opts.Party, k)
	}
	select {
	case <-s.stop:
		return nil, ErrEnded
	default:
	}
	if len(s.rooms) >= s.opts.MaxRooms {
		return nil, fmt.Errorf("%w: %d calls are held here already", ErrFull, len(s.rooms))
	}
	r := &Room{s: s, key: k, opts: o, started: s.now(), legs: map[string]*leg{}, links: map[string]*leg{},
		quality: map[string]*LinkQuality{}, lastDial: map[string]time.Time{}, wake: make(chan struct{}, 1),
		done: make(chan struct{}), emptySince: time.Now()}
	dir := s.callDir(k)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	if o.Record {
		r.recName = fmt.Sprintf("%s-%s.wav", s.opts.Party, r.started.Format("20060102T150405.000Z"))
		w, err := wav.Create(filepath.Join(dir, r.recName+".part"), SampleRate)
		if err != nil {
			return nil, fmt.Errorf("call recording: %w", err)
		}
		r.rec = w
	}
	s.rooms[k] = r
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		r.run()
	}()
	s.metrics.rooms.Inc()
	return r, nil
}

// Join connects a participant of this party to call k, given its offer,
// and returns its id and the node's answer.
func (s *Service) Join(ctx context.Context, k Key, o RoomOptions, m Member, listen, offer string) (id, answer string, err error) {
	if listen != ListenOriginal && listen != ListenInterpretation {
		return "", "", fmt.Errorf("listen: %q is neither %s nor %s", listen, ListenOriginal, ListenInterpretation)
	}
	for range 2 {
		r, err := s.room(k, o, true)
		if err != nil {
			return "", "", err
		}
		id, answer, err = r.addParticipant(ctx, m, listen, offer)
		if errors.Is(err, ErrEnded) {
			// The room closed (its linger ran out) as this join came:
			// once it is gone, the join opens a new one.
			select {
			case <-r.done:
				continue
			case <-ctx.Done():
				return "", "", ctx.Err()
			}
		}
		if err == nil {
			s.journal(r)
		}
		return id, answer, err
	}
	return "", "", ErrEnded
}

// Leave takes participant id off call k.
func (s *Service) Leave(k Key, id string) bool {
	r, err := s.room(k, RoomOptions{}, false)
	if err != nil || !r.remove(id) {
		return false
	}
	s.journal(r)
	return true
}

// Listen switches what participant id of call k hears.
func (s *Service) Listen(k Key, id, listen string) bool {
	if listen != ListenOriginal && listen != ListenInterpretation {
		return false
	}
	r, err := s.room(k, RoomOptions{}, false)
	return err == nil && r.setListen(id, listen)
}

// Status returns call k's room now, or nil when none of this party is on
// it.
func (s *Service) Status(k Key) *Status {
	r, err := s.room(k, RoomOptions{}, false)
	if err != nil {
		return nil
	}
	return r.status()
}

// Participant returns the member participant id of call k is, if on it.
func (s *Service) Participant(k Key, id string) (Member, bool) {
	r, err := s.room(k, RoomOptions{}, false)
	if err != nil {
		return Member{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if l := r.legs[id]; l != nil {
		return l.member, true
	}
	return Member{}, false
}

// AcceptLink answers party's node's offer of a link for call k. Only a
// room with this party's people on it takes one: a node cannot make
// another hold a call nobody joined.
func (s *Service) AcceptLink(ctx context.Context, k Key, party, offer string) (string, error) {
	r, err := s.room(k, RoomOptions{}, false)
	if err != nil {
		return "", err
	}
	if !slices.Contains(r.opts.Parties, party) || party == s.opts.Party {
		return "", fmt.Errorf("%w: %s is not a party of call %s", ErrEnded, party, k)
	}
	return r.acceptLink(ctx, party, offer)
}

// Ring tells call k's room, if open, that party's people are on the call,
// so it links to that party's node now rather than at its next try.
func (s *Service) Ring(k Key, party string) {
	if r, err := s.room(k, RoomOptions{}, false); err == nil {
		r.mu.Lock()
		delete(r.lastDial, party)
		r.mu.Unlock()
		r.poke()
	}
}

// Rooms returns the calls held now.
func (s *Service) Rooms() []Key {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Key, 0, len(s.rooms))
	for k := range s.rooms {
		out = append(out, k)
	}
	return out
}

// callDir is call k's directory.
func (s *Service) callDir(k Key) string { return filepath.Join(s.opts.Dir, k.Channel, k.Call) }

// finish closes a recording, moves it to its final name and hashes it.
func (s *Service) finish(dir string, w *wav.Writer, name string) (Recording, error) {
	if err := w.Close(); err != nil {
		return Recording{}, err
	}
	final := filepath.Join(dir, name)
	if err := os.Rename(final+".part", final); err != nil {
		return Recording{}, err
	}
	sum, n, err := hashFile(final)
	return Recording{File: name, SHA256: sum, Bytes: n, Seconds: float64(w.Samples()) / SampleRate}, err
}

// repair finishes a recording a stop cut short: its header gets the
// sizes the file has, and it moves to its final name.
func repair(part, final string) (Recording, error) {
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		return Recording{}, err
	}
	fi, err := f.Stat()
	if err == nil && fi.Size() < 44 {
		err = fmt.Errorf("%d bytes: no header", fi.Size())
	}
	var samples int64
	if err == nil {
		samples = (fi.Size() - 44) / 2
		err = f.Truncate(44 + 2*samples)
	}
	if err == nil {
		err = wav.FixHeader(f, SampleRate, samples)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(part, final)
	}
	if err != nil {
		return Recording{}, err
	}
	sum, n, err := hashFile(final)
	return Recording{File: filepath.Base(final), SHA256: sum, Bytes: n, Seconds: float64(samples) / SampleRate}, err
}

// Path returns the file of a recording of call k, named as in its
// section.
func (s *Service) Path(k Key, file string) string {
	return filepath.Join(s.callDir(k), filepath.Base(file))
}

// hashFile returns the SHA-256 and size of a file.
func hashFile(path string) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, err
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// journal writes the room's section so far, so that a stop mid-call
// leaves an account of it that the next start finishes.
func (s *Service) journal(r *Room) {
	r.mu.Lock()
	sec := Section{Party: s.opts.Party, Start: r.started, Attendance: slices.Clone(r.attendance)}
	for _, l := range r.legs {
		sec.Attendance = append(sec.Attendance, Attendance{Member: l.member, Joined: l.joined})
	}
	if r.rec != nil {
		sec.Recordings = []Recording{{File: r.recName}}
	}
	name := "open-" + r.started.Format("20060102T150405.000Z") + ".json"
	r.mu.Unlock()
	if err := writeJSON(filepath.Join(s.callDir(r.key), name), sec); err != nil {
		s.log.Error("call journal", "call", r.key, "err", err)
	}
}

// ended writes a closed room's section, removes its journal and tells the
// host.
func (s *Service) ended(r *Room, sec Section) {
	dir := s.callDir(r.key)
	stamp := r.started.Format("20060102T150405.000Z")
	if err := writeJSON(filepath.Join(dir, "section-"+stamp+".json"), sec); err != nil {
		s.log.Error("call section not written", "call", r.key, "err", err)
	} else {
		os.Remove(filepath.Join(dir, "open-"+stamp+".json"))
	}
	s.mu.Lock()
	delete(s.rooms, r.key)
	s.mu.Unlock()
	s.metrics.rooms.Dec()
	s.log.Info("call ended here", "call", r.key, "attendance", len(sec.Attendance), "recordings", len(sec.Recordings))
	s.host.Ended(r.key, sec)
}

// discard removes a room nobody joined, with its files.
func (s *Service) discard(r *Room) {
	if r.rec != nil {
		r.rec.Close()
		os.Remove(filepath.Join(s.callDir(r.key), r.recName+".part"))
	}
	os.Remove(filepath.Join(s.callDir(r.key), "open-"+r.started.Format("20060102T150405.000Z")+".json"))
	os.Remove(s.callDir(r.key)) // only if empty: an earlier session's files stay
	os.Remove(filepath.Dir(s.callDir(r.key)))
	s.mu.Lock()
	delete(s.rooms, r.key)
	s.mu.Unlock()
	s.metrics.rooms.Dec()
}

// recover finishes what a stop cut short: each call journal becomes a
// section whose open attendance ends at the journal's last change, and
// its recording is finished.
func (s *Service) recover() error {
	journals, err := filepath.Glob(filepath.Join(s.opts.Dir, "*", "*", "open-*.json"))
	if err != nil {
		return err
	}
	for _, j := range journals {
		var sec Section
		fi, err := os.Stat(j)
		if err != nil {
			return err
		}
		if err := readJSON(j, &sec); err != nil {
			s.log.Error("call journal unreadable; left in place", "file", j, "err", err)
			continue
		}
		k := Key{Channel: filepath.Base(filepath.Dir(filepath.Dir(j))), Call: filepath.Base(filepath.Dir(j))}
		if !k.valid() {
			continue
		}
		end := fi.ModTime().UTC().Truncate(time.Millisecond)
		recs := sec.Recordings
		sec.Recordings = nil
		for _, rec := range recs {
			part := filepath.Join(filepath.Dir(j), filepath.Base(rec.File)+".part")
			if r, err := repair(part, filepath.Join(filepath.Dir(j), filepath.Base(rec.File))); err == nil {
				sec.Recordings = append(sec.Recordings, r)
				if e := sec.Start.Add(time.Duration(r.Seconds * float64(time.Second))).Truncate(time.Millisecond); e.After(end) {
					end = e
				}
			} else {
				s.log.Error("call recording cut short and not recovered", "file", part, "err", err)
			}
		}
		for i := range sec.Attendance {
			if sec.Attendance[i].Left.IsZero() {
				sec.Attendance[i].Left = end
			}
		}
		sec.End = end
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(j), "open-"), ".json")
		if err := writeJSON(filepath.Join(filepath.Dir(j), "section-"+stamp+".json"), sec); err != nil {
			return err
		}
		os.Remove(j)
		s.log.Warn("call cut short by a stop: its section is finished from the journal", "call", k, "end", end)
		s.host.Ended(k, sec)
	}
	return nil
}

// Sections returns this party's sections of call k, oldest first.
func (s *Service) Sections(k Key) ([]Section, error) {
	return s.readSections(k, "section-*.json")
}

// readSections reads the sections in call k's files matching pattern, in
// name order.
func (s *Service) readSections(k Key, pattern string) ([]Section, error) {
	files, err := filepath.Glob(filepath.Join(s.callDir(k), pattern))
	if err != nil {
		return nil, err
	}
	slices.Sort(files)
	var out []Section
	for _, f := range files {
		var sec Section
		if err := readJSON(f, &sec); err != nil {
			return nil, err
		}
		out = append(out, sec)
	}
	return out, nil
}

// Merge returns one section of sections of one party: the earliest start,
// the latest end, every attendance, recording and link's quality.
func Merge(party string, sections []Section) Section {
	out := Section{Party: party, Attendance: []Attendance{}}
	byParty := map[string]*LinkQuality{}
	for i, s := range sections {
		if i == 0 || s.Start.Before(out.Start) {
			out.Start = s.Start
		}
		if s.End.After(out.End) {
			out.End = s.End
		}
		out.Attendance = append(out.Attendance, s.Attendance...)
		out.Recordings = append(out.Recordings, s.Recordings...)
		for _, q := range s.Quality {
			m := byParty[q.Party]
			if m == nil {
				m = &LinkQuality{Party: q.Party}
				byParty[q.Party] = m
			}
			m.Received += q.Received
			m.Lost += q.Lost
			m.JitterMs = max(m.JitterMs, q.JitterMs)
			m.RTTMs = max(m.RTTMs, q.RTTMs)
			m.LatencyMs = max(m.LatencyMs, q.LatencyMs)
			m.Breaks += q.Breaks
		}
	}
	for _, q := range byParty {
		if exp := q.Received + q.Lost; exp > 0 {
			q.LossRate = float64(q.Lost) / float64(exp)
		}
		out.Quality = append(out.Quality, *q)
	}
	slices.SortFunc(out.Quality, func(a, b LinkQuality) int { return strings.Compare(a.Party, b.Party) })
	return out
}

// SaveReceived keeps the section another party's node sent for call k.
func (s *Service) SaveReceived(k Key, sec Section) error {
	if !k.valid() {
		return fmt.Errorf("conference: bad call key")
	}
	if err := os.MkdirAll(s.callDir(k), 0o700); err != nil {
		return err
	}
	if sec.Party == "" || strings.ContainsAny(sec.Party, `/\.`) {
		return fmt.Errorf("conference: bad party name %q", sec.Party)
	}
	return writeJSON(filepath.Join(s.callDir(k), "from-"+sec.Party+".json"), sec)
}

// Received returns the sections other parties sent for call k.
func (s *Service) Received(k Key) ([]Section, error) {
	return s.readSections(k, "from-*.json")
}

// writeJSON writes v to path atomically and durably.
func writeJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err = f.Write(append(b, '\n')); err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err == nil {
		if d, derr := os.Open(filepath.Dir(path)); derr == nil {
			d.Sync()
			d.Close()
		}
	}
	return err
}

func readJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// Calls returns the calls this node keeps files of and has not marked
// settled (MarkSettled).
func (s *Service) Calls() []Key {
	dirs, _ := filepath.Glob(filepath.Join(s.opts.Dir, "*", "*"))
	var out []Key
	for _, d := range dirs {
		k := Key{Channel: filepath.Base(filepath.Dir(d)), Call: filepath.Base(d)}
		if _, err := os.Stat(filepath.Join(d, "settled")); k.valid() && err != nil {
			out = append(out, k)
		}
	}
	return out
}

// MarkSettled records that nothing is left to do for call k (its record
// is written and signed here, or given up on), so that a start does not
// look at it again.
func (s *Service) MarkSettled(k Key) {
	if err := writeJSON(filepath.Join(s.callDir(k), "settled"), s.now()); err != nil && !os.IsNotExist(err) {
		s.log.Error("call settled, not recorded as such", "call", k, "err", err)
	}
}

// SentCount returns how many of this party's sections of call k the
// requester has taken (MarkSent).
func (s *Service) SentCount(k Key) int {
	b, err := os.ReadFile(filepath.Join(s.callDir(k), "sent"))
	if err != nil {
		return 0
	}
	n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	return n
}

// MarkSent records that the requester took this party's first n
// sections of call k.
func (s *Service) MarkSent(k Key, n int) {
	if err := writeJSON(filepath.Join(s.callDir(k), "sent"), n); err != nil {
		s.log.Error("call section sent, not recorded as sent", "call", k, "err", err)
	}
}
