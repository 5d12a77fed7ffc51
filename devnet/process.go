package devnet

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"sync"
	"time"

	"github.com/hotline-project/hotline/config"
)

// Process is one node directory run as a `hotline serve` process: a
// party, or one replica of it. hotline dev --replicas and the crash tests
// run nodes this way, so that they can be killed.
type Process struct {
	Party string
	Dir   string
	API   string // the operator API's base URL
	Peer  string // the peer listener's address

	binary string
	log    io.Writer

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when the running process has exited
	err  error         // how it exited
}

// NewProcess returns the process of the node directory dir of party,
// not started; binary is the hotline executable, and the process writes
// its log to log.
func NewProcess(binary, party, dir string, log io.Writer) (*Process, error) {
	d, err := config.Open(dir)
	if err != nil {
		return nil, err
	}
	return &Process{Party: party, Dir: dir, API: "http://" + d.Config.API.Listen, Peer: d.Config.Peer.Listen, binary: binary, log: log}, nil
}

// Start starts the process and waits, up to ready, until its /readyz
// answers 200: as the writer, or as a ready standby.
func (p *Process) Start(ctx context.Context, ready time.Duration) error {
	cmd := exec.Command(p.binary, "serve", "--dir", p.Dir)
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	p.mu.Lock()
	p.cmd, p.done, p.err = cmd, done, nil
	p.mu.Unlock()
	go func() {
		err := cmd.Wait()
		p.mu.Lock()
		p.err = err
		p.mu.Unlock()
		close(done)
	}()
	deadline := time.Now().Add(ready)
	for {
		resp, err := http.Get(p.API + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-done:
			return fmt.Errorf("%s exited before it was ready: %v", p.Dir, p.Err())
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s not ready %s after start: %v", p.Dir, ready, err)
		}
	}
}

// Pid is the running process's id; 0 before it started.
func (p *Process) Pid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// Exited is closed when the process started last has exited.
func (p *Process) Exited() <-chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.done
}

// Err is how the process exited; nil while it runs or after a clean exit.
func (p *Process) Err() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.err
}

// Running reports whether the process started last still runs.
func (p *Process) Running() bool {
	select {
	case <-p.Exited():
		return false
	default:
		return p.Pid() != 0
	}
}

// Stop sends sig and waits for the process to exit, returning how it
// exited. A process already gone is left alone.
func (p *Process) Stop(sig os.Signal) error {
	if !p.Running() {
		return p.Err()
	}
	p.mu.Lock()
	proc := p.cmd.Process
	p.mu.Unlock()
	proc.Signal(sig)
	<-p.Exited()
	return p.Err()
}

// Signal sends sig without waiting.
func (p *Process) Signal(sig os.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cmd == nil || p.cmd.Process == nil {
		return fmt.Errorf("%s is not running", p.Dir)
	}
	return p.cmd.Process.Signal(sig)
}
