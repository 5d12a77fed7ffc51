package hostile

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/config"
	"github.com/hotline-project/hotline/devnet"
)

// Target is a node under attack: a `hotline serve` process, watched from
// outside.
type Target struct {
	Party string
	Dir   *config.Dir
	API   string // base URL of its operator API
	Token string // an operator token
	Log   string // the file its log goes to

	binary string
	proc   *devnet.Process
	logf   *os.File
}

// NewTarget returns the node in dir, to be run by the hotline binary.
func NewTarget(binary string, dir *config.Dir, token, logPath string) *Target {
	return &Target{Party: dir.Config.Party, Dir: dir, API: "http://" + dir.Config.API.Listen, Token: token, Log: logPath, binary: binary}
}

// Start runs `hotline serve` and waits until the node is ready.
func (t *Target) Start() error {
	var err error
	if t.logf, err = os.OpenFile(t.Log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
		return err
	}
	if t.proc, err = devnet.NewProcess(t.binary, t.Party, t.Dir.Path, t.logf); err != nil {
		return err
	}
	if err := t.proc.Start(context.Background(), 30*time.Second); err != nil {
		return fmt.Errorf("hostile: %w (log: %s)", err, t.Log)
	}
	return nil
}

// Stop stops the node with SIGTERM, as an administrator does, and waits.
func (t *Target) Stop() error {
	if t.proc == nil || !t.proc.Running() {
		return nil
	}
	err := t.proc.Stop(syscall.SIGTERM)
	t.logf.Close()
	return err
}

// Kill ends the node at once (test clean-up).
func (t *Target) Kill() {
	if t.proc != nil && t.proc.Running() {
		t.proc.Stop(syscall.SIGKILL)
		t.logf.Close()
	}
}

// Running reports whether the process is still alive.
func (t *Target) Running() bool { return t.proc != nil && t.proc.Running() }

// Client returns an operator API client of the node.
func (t *Target) Client() *client.Client { return client.New(t.API, t.Token) }

// Memory returns the process's resident memory now and at its highest
// since it started (VmRSS and VmHWM in /proc/PID/status), in bytes.
func (t *Target) Memory() (rss, peak int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", t.proc.Pid()))
	if err != nil {
		return 0, 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || (k != "VmRSS" && k != "VmHWM") {
			continue
		}
		fs := strings.Fields(v)
		kb, err := strconv.ParseInt(fs[0], 10, 64)
		if err != nil {
			return 0, 0, err
		}
		if k == "VmRSS" {
			rss = kb << 10
		} else {
			peak = kb << 10
		}
	}
	return rss, peak, sc.Err()
}

// StoreBytes returns the size of the node's store on disk: the SQLite
// file and its write-ahead log.
func (t *Target) StoreBytes() int64 {
	var n int64
	for _, p := range []string{t.Dir.StorePath(), t.Dir.StorePath() + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}

// LogLines counts the lines of the node's log that contain substr.
func (t *Target) LogLines(substr string) int {
	b, err := os.ReadFile(t.Log)
	if err != nil {
		return 0
	}
	n := 0
	for line := range strings.SplitSeq(string(b), "\n") {
		if strings.Contains(line, substr) {
			n++
		}
	}
	return n
}

// Latencies is a sample of durations, for percentiles.
type Latencies []time.Duration

// Percentile returns the p-th percentile (0 < p ≤ 100) of the sample.
func (l Latencies) Percentile(p float64) time.Duration {
	if len(l) == 0 {
		return 0
	}
	s := append(Latencies(nil), l...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(float64(len(s))*p/100+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Timed runs f and returns how long it took.
func Timed(ctx context.Context, f func(context.Context) error) (time.Duration, error) {
	start := time.Now()
	err := f(ctx)
	return time.Since(start), err
}
