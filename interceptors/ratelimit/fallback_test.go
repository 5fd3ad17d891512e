package ratelimit_test

import (
	"context"
	"errors"
	"net"
	"os/exec"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
)

// redisServer is a redis-server child process of the test, on its own
// port, so that it can be killed without disturbing the shared one.
type redisServer struct {
	t    *testing.T
	addr string
	port string
	cmd  *exec.Cmd
	done chan struct{}
}

// startRedisServer starts a private redis-server on a free loopback port.
func startRedisServer(t *testing.T) *redisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		needRedis(t, "redis-server not installed (%v); install it with: apt-get install redis-server", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	port := strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
	_ = l.Close()
	s := &redisServer{t: t, addr: "127.0.0.1:" + port, port: port}
	s.start(bin)
	t.Cleanup(s.kill)
	return s
}

func (s *redisServer) start(bin string) {
	s.t.Helper()
	s.cmd = exec.Command(bin, "--port", s.port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--daemonize", "no")
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start redis-server: %v", err)
	}
	s.done = make(chan struct{})
	go func(cmd *exec.Cmd, done chan struct{}) {
		_ = cmd.Wait()
		close(done)
	}(s.cmd, s.done)
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.addr, 100*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return
		}
	}
	s.t.Fatalf("redis-server on %s not listening after 5s", s.addr)
}

// kill ends the server (SIGKILL) and waits for it; idempotent.
func (s *redisServer) kill() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGCONT)
	_ = s.cmd.Process.Kill()
	<-s.done
	s.cmd = nil
}

func (s *redisServer) restart() {
	s.t.Helper()
	s.kill()
	bin, _ := exec.LookPath("redis-server")
	s.start(bin)
}

func (s *redisServer) signal(sig syscall.Signal) {
	if err := s.cmd.Process.Signal(sig); err != nil {
		s.t.Fatalf("signal redis-server: %v", err)
	}
}

// phase is one stretch of load and what every call in it must see.
type phase struct {
	name string
	// before runs once before the phase.
	before func()
	// want checks one call; it returns "" when the result is right.
	want func(res ratelimit.Result, err error) string
	// until ends the phase early once it reports true (for recovery).
	until func(res ratelimit.Result, err error) bool
	dur   time.Duration
}

// TestFallbackOutage puts load on a Fallback over a private Redis, kills
// Redis, then restarts it (and separately freezes it with SIGSTOP), and
// checks every call: degraded decisions from the local store or refusals
// per mode, no call taking longer than the timeout plus slack, and
// recovery once Redis answers again.
func TestFallbackOutage(t *testing.T) {
	// The timeout is above the 50ms default: under -race on a busy CI
	// machine a healthy Redis call can take longer, which the Fallback
	// rightly treats as an outage and would make the test flaky.
	const timeout, probe, slack = 250 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond
	for _, mode := range []ratelimit.Mode{ratelimit.FallbackLocal, ratelimit.FailClosed} {
		for _, outage := range []string{"kill", "freeze"} {
			t.Run(mode.String()+"/"+outage, func(t *testing.T) {
				srv := startRedisServer(t)
				c := newClient(t, srv.addr)
				var (
					mu     sync.Mutex
					states []bool
				)
				m := ratelimit.NewMetrics()
				f := ratelimit.NewFallback(ratelimit.NewRedis(c), ratelimit.NewMemory(), mode,
					ratelimit.WithTimeout(timeout), ratelimit.WithProbeInterval(probe), ratelimit.WithFallbackMetrics(m),
					ratelimit.WithOnDegraded(func(d bool, _ error) {
						mu.Lock()
						defer mu.Unlock()
						states = append(states, d)
					}))
				healthy := func(res ratelimit.Result, err error) string {
					if err != nil || res.Degraded || !res.Allowed {
						return "want allowed by Redis"
					}
					return ""
				}
				down := func(res ratelimit.Result, err error) string {
					switch {
					case res.Degraded && mode == ratelimit.FallbackLocal && err == nil && res.Allowed:
					case res.Degraded && mode == ratelimit.FailClosed && errors.Is(err, ratelimit.ErrUnavailable):
					case !res.Degraded && err == nil && res.Allowed: // answered before the outage was noticed
					default:
						return "want degraded (" + mode.String() + ")"
					}
					return ""
				}
				phases := []phase{
					{name: "healthy", want: healthy, dur: 200 * time.Millisecond},
					{name: "down", want: down, dur: 400 * time.Millisecond},
					{name: "recovering", want: down, dur: 5 * time.Second,
						until: func(res ratelimit.Result, err error) bool { return err == nil && !res.Degraded }},
					{name: "recovered", want: healthy, dur: 200 * time.Millisecond},
				}
				if outage == "kill" {
					phases[1].before = srv.kill
					phases[2].before = srv.restart
				} else {
					phases[1].before = func() { srv.signal(syscall.SIGSTOP) }
					phases[2].before = func() { srv.signal(syscall.SIGCONT) }
				}
				l := ratelimit.Limit{Rate: 1_000_000, Period: time.Second, Burst: 1000}
				for _, p := range phases {
					if p.before != nil {
						p.before()
					}
					runPhase(t, f, l, p, timeout+slack)
					if p.name == "down" && !f.Degraded() {
						t.Errorf("Degraded() after the outage = false, want true")
					}
				}
				mu.Lock()
				defer mu.Unlock()
				if len(states) != 2 || !states[0] || states[1] {
					t.Errorf("OnDegraded calls = %v, want [true false]", states)
				}
				if got := gauge(t, m, "portcullis_ratelimit_degraded"); got != 0 {
					t.Errorf("portcullis_ratelimit_degraded after recovery = %v, want 0", got)
				}
				if got := gauge(t, m, "portcullis_ratelimit_store_errors_total"); got < 1 {
					t.Errorf("portcullis_ratelimit_store_errors_total = %v, want ≥ 1", got)
				}
			})
		}
	}
}

// runPhase calls f from four goroutines for p.dur and checks every call.
func runPhase(t *testing.T, f ratelimit.Store, l ratelimit.Limit, p phase, maxCall time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(testContext(t), p.dur+5*time.Second)
	defer cancel()
	end := time.Now().Add(p.dur)
	var (
		mu       sync.Mutex
		problems []string
		calls    int
		slowest  time.Duration
		ended    bool
	)
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100_000 && time.Now().Before(end); i++ {
				start := time.Now()
				res, err := f.Take(ctx, "k"+strconv.Itoa(w), l, 1)
				d := time.Since(start)
				mu.Lock()
				calls++
				slowest = max(slowest, d)
				if d > maxCall {
					problems = append(problems, "call took "+d.String())
				}
				if msg := p.want(res, err); msg != "" && !ended {
					problems = append(problems, msg+": got "+resultString(res, err))
				}
				stop := p.until != nil && p.until(res, err)
				ended = ended || stop
				mu.Unlock()
				if stop {
					return
				}
				time.Sleep(time.Millisecond)
			}
		}()
	}
	wg.Wait()
	t.Logf("phase %s: %d calls, slowest %v", p.name, calls, slowest.Round(time.Millisecond))
	if len(problems) > 0 {
		t.Errorf("phase %s: %d of %d calls wrong, first: %s", p.name, len(problems), calls, problems[0])
	}
	if p.until != nil && !ended {
		t.Errorf("phase %s: not recovered within %v", p.name, p.dur)
	}
}

func resultString(res ratelimit.Result, err error) string {
	s := "allowed=" + strconv.FormatBool(res.Allowed) + " degraded=" + strconv.FormatBool(res.Degraded)
	if err != nil {
		s += " err=" + err.Error()
	}
	return s
}

// TestRedisNoScript checks the EVAL fallback after the server forgot the
// script (SCRIPT FLUSH, as after a restart), on a private server.
func TestRedisNoScript(t *testing.T) {
	srv := startRedisServer(t)
	c := newClient(t, srv.addr)
	n := countCommands(c)
	r := ratelimit.NewRedis(c)
	ctx := testContext(t)
	if err := c.Ping(ctx).Err(); err != nil { // connect first: the handshake is commands too
		t.Fatal(err)
	}
	l := ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 5}
	for i, want := range []int64{2, 1, 1} { // EVALSHA+EVAL, then EVALSHA
		before := n.n.Load()
		if res, err := r.Take(ctx, "k", l, 1); err != nil || !res.Allowed {
			t.Fatalf("Take(%d) = %+v, %v, want allowed", i, res, err)
		}
		if got := n.n.Load() - before; got != want {
			t.Errorf("Take(%d) round trips = %d, want %d", i, got, want)
		}
	}
	if err := c.ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Take(ctx, "k", l, 1); err != nil || !res.Allowed || res.Remaining != 2 {
		t.Errorf("Take(after SCRIPT FLUSH) = %+v, %v, want allowed, remaining 2", res, err)
	}
}
