package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// child is one server process started by the harness. Its PID is the
// server's own (started directly, never through a shell), in its own
// process group so that stop also reaches any workers it forks (nginx).
type child struct {
	name    string
	logPath string // "" when output goes to /dev/null
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	waitErr error         // valid after done
}

// children tracks every child so that all of them are stopped on exit.
type children struct {
	mu   sync.Mutex
	list []*child
}

// start runs bin with args in dir. Output goes to logPath, or /dev/null when
// logPath is empty (the bank backend logs every call; a file would grow by
// hundreds of megabytes and a pipe would charge the copying to the harness).
func (k *children) start(name, dir, logPath, bin string, args, env []string) (*child, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), env...)
	// Setpgid: stop signals the whole group. Pdeathsig: children die with us
	// even if the harness is killed without running its deferred cleanup.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if logPath != "" {
		f, err := os.Create(logPath)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }() // the child keeps its own descriptor
		cmd.Stdout, cmd.Stderr = f, f
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	c := &child{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() { c.waitErr = cmd.Wait(); close(c.done) }()
	k.mu.Lock()
	k.list = append(k.list, c)
	k.mu.Unlock()
	return c, nil
}

// stopAll stops every child, newest first.
func (k *children) stopAll() {
	k.mu.Lock()
	list := k.list
	k.list = nil
	k.mu.Unlock()
	for i := len(list) - 1; i >= 0; i-- {
		list[i].stop()
	}
}

// pid returns the server's own process id.
func (c *child) pid() int { return c.cmd.Process.Pid }

// exited reports whether the process has ended, and how.
func (c *child) exited() (bool, error) {
	select {
	case <-c.done:
		return true, c.waitErr
	default:
		return false, nil
	}
}

// stop sends SIGTERM to the child's process group, then SIGKILL after 3 s.
func (c *child) stop() {
	if done, _ := c.exited(); done {
		return
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGTERM)
	select {
	case <-c.done:
		return
	case <-time.After(3 * time.Second):
	}
	_ = syscall.Kill(-c.pid(), syscall.SIGKILL)
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
	}
}

// describe says why a child is not usable, with the end of its log.
func (c *child) describe() string {
	msg := c.name + " is running"
	if done, err := c.exited(); done {
		msg = fmt.Sprintf("%s exited (%v)", c.name, err)
	}
	if c.logPath == "" {
		return msg
	}
	b, _ := os.ReadFile(c.logPath)
	if len(b) > 600 {
		b = b[len(b)-600:]
	}
	if s := strings.TrimSpace(string(b)); s != "" {
		msg += "; log: " + strings.ReplaceAll(s, "\n", " | ")
	}
	return msg
}

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat.
var clockTicks = func() int64 {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "getconf", "CLK_TCK").Output()
	if n, perr := strconv.ParseInt(strings.TrimSpace(string(out)), 10, 64); err == nil && perr == nil && n > 0 {
		return n
	}
	return 100 // USER_HZ on every Linux architecture Go supports
}()

// cpu returns the user+system CPU time used so far by the child and all its
// live descendants (nginx's workers), from /proc/PID/stat.
func (c *child) cpu() (time.Duration, error) { return treeCPU(c.pid()) }

func treeCPU(root int) (time.Duration, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	kids := map[int][]int{}
	ticks := map[int]int64{}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue // exited meanwhile
		}
		ppid, t, err := parseStat(b)
		if err != nil {
			return 0, err
		}
		kids[ppid] = append(kids[ppid], pid)
		ticks[pid] = t
	}
	if _, ok := ticks[root]; !ok {
		return 0, fmt.Errorf("process %d is gone", root)
	}
	var sum int64
	for queue := []int{root}; len(queue) > 0; queue = queue[1:] {
		sum += ticks[queue[0]]
		queue = append(queue, kids[queue[0]]...)
	}
	return time.Duration(sum) * time.Second / time.Duration(clockTicks), nil
}

// foreignCPU returns, in µs, the CPU time the whole machine has spent busy
// (/proc/stat: user, nice, system, irq, softirq, steal) minus that of this
// process and its descendants: other people's load, which skews a run.
// NaN if unreadable.
func foreignCPU() float64 {
	b, err := os.ReadFile("/proc/stat")
	own, err2 := treeCPU(os.Getpid())
	if err != nil || err2 != nil {
		return math.NaN()
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line) // "cpu" user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return math.NaN()
	}
	var busy int64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseInt(f[i], 10, 64)
		if err != nil {
			return math.NaN()
		}
		busy += v
	}
	all := time.Duration(busy) * time.Second / time.Duration(clockTicks)
	return float64((all - own).Microseconds())
}

// parseStat reads ppid (field 4) and utime+stime (fields 14 and 15) from
// /proc/PID/stat. The command name (field 2) is in parentheses and may hold
// spaces, so fields are counted after its closing parenthesis.
func parseStat(b []byte) (ppid int, ticks int64, err error) {
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(string(b[i+1:])) // f[0] is field 3 (state)
	if len(f) < 13 {
		return 0, 0, errors.New("/proc stat: short line")
	}
	ppid, err1 := strconv.Atoi(f[1])
	utime, err2 := strconv.ParseInt(f[11], 10, 64)
	stime, err3 := strconv.ParseInt(f[12], 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		return 0, 0, fmt.Errorf("/proc stat: %w", err)
	}
	return ppid, utime + stime, nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer func() { _ = l.Close() }()
	return l.Addr().String(), nil
}
