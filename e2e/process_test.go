package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is a running binary whose output is captured line by line.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *lineBuffer
	done chan struct{} // closed when the process has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// startProc starts a built binary in dir.
func startProc(name, dir string, args ...string) (*proc, error) {
	p := &proc{name: name, out: &lineBuffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(binPath(name), args...)
	p.cmd.Dir = dir
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.WaitDelay = 2 * time.Second
	orphanProof(p.cmd)
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has exited.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// signal sends sig unless the process has exited.
func (p *proc) signal(sig syscall.Signal) error {
	if p.exited() {
		return nil
	}
	return p.cmd.Process.Signal(sig)
}

// wait waits up to timeout for the process to exit and returns its exit
// code; it returns an error if the process is still running.
func (p *proc) wait(timeout time.Duration) (int, error) {
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-p.done:
	case <-t.C:
		return -1, fmt.Errorf("%s still running after %v", p.name, timeout)
	}
	var ee *exec.ExitError
	switch {
	case p.err == nil:
		return 0, nil
	case errors.As(p.err, &ee):
		return ee.ExitCode(), nil
	}
	return -1, p.err
}

// stop sends SIGTERM, waits up to timeout, then kills the process.
func (p *proc) stop(timeout time.Duration) (int, error) {
	_ = p.signal(syscall.SIGTERM)
	code, err := p.wait(timeout)
	if err != nil {
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	return code, err
}

// waitLog waits up to timeout for a JSON log line whose fields have the
// given values (compared as text: "msg", "call", "grpc.code", "OK", ...).
func (p *proc) waitLog(timeout time.Duration, kv ...string) (map[string]any, error) {
	deadline := time.Now().Add(timeout)
	for {
		if rec, ok := p.findLog(kv...); ok {
			return rec, nil
		}
		if p.exited() || time.Now().After(deadline) {
			if rec, ok := p.findLog(kv...); ok { // output can trail the exit
				return rec, nil
			}
			return nil, fmt.Errorf("%s: no log line with %v within %v (exited: %v); output:\n%s", p.name, kv, timeout, p.exited(), p.out)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// findLog returns the first JSON log line with the given field values.
func (p *proc) findLog(kv ...string) (map[string]any, bool) {
	for _, rec := range p.logs() {
		if matches(rec, kv) {
			return rec, true
		}
	}
	return nil, false
}

// countLogs counts the JSON log lines with the given field values.
func (p *proc) countLogs(kv ...string) int {
	n := 0
	for _, rec := range p.logs() {
		if matches(rec, kv) {
			n++
		}
	}
	return n
}

// logs returns the output lines that are JSON objects.
func (p *proc) logs() []map[string]any {
	var out []map[string]any
	for _, line := range p.out.lines() {
		var rec map[string]any
		if json.Unmarshal([]byte(line), &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

func matches(rec map[string]any, kv []string) bool {
	for i := 0; i+1 < len(kv); i += 2 {
		v, ok := rec[kv[i]]
		if !ok || fmt.Sprint(v) != kv[i+1] {
			return false
		}
	}
	return true
}

// lineBuffer collects a process's output. It is safe for concurrent use.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines returns the complete lines written so far.
func (b *lineBuffer) lines() []string {
	s := b.String()
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return strings.Split(s[:i], "\n")
	}
	return nil
}
