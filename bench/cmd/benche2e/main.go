// Command benche2e is Portcullis's side-by-side end-to-end benchmark. It
// builds the gateway, the bank demo backend and a raw floor proxy from the
// working tree, starts them (and the peer proxies HAProxy, nginx and Caddy
// when installed) as child processes on loopback, all in front of one
// bank-backend, and measures BankService.Ping through each:
//
//	direct           client → backend
//	floor            client → bench/cmd/floorproxy (raw frame pump) → backend
//	portcullis-grpc  client → gateway gRPC listener → backend
//	portcullis-rest  client → gateway HTTP listener, GET /v1/ping → backend
//	haproxy, nginx, caddy  client → peer → backend (configs in bench/peers)
//
// Targets run in interleaved rounds (A B C … A B C …). Each round gives
// every target a closed-loop throughput phase (req/s and CPU per request of
// the proxy and of the backend, from /proc/PID/stat) and an open-loop
// latency phase at a fixed rate (p50 and p99 minus the direct baseline of the
// same round). Every response is checked (grpc-status, HTTP status, body);
// targets with errors are flagged. The medians go to a markdown table,
// printed and written to --out.
//
//	go run ./bench/cmd/benche2e [--rounds 5] [--duration 3s] [--rate 1000]
//	    [--peers haproxy,nginx,caddy] [--quick] [--out bench/results/latest.md]
//
// --quick is 1 round of 1 s without peers or retries, for tests. Every phase is
// bounded in time and count, and the whole run by --timeout; children are
// stopped on exit, also on SIGINT and SIGTERM.
package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// config holds the command-line settings.
type config struct {
	repo, tools, out    string
	rounds              int
	duration, latency   time.Duration
	warmup, timeout     time.Duration
	rate, conns, stream int
	retries             int
	maxOther            float64
	peers               []string
	quick, keep         bool
	gcPercent           int
	gcMinHeap           int64
	pairBlocks          int           // paired phase: blocks per check (0: none)
	slice               time.Duration // paired phase: one target's share of a block
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	_, err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "benche2e:", err)
		os.Exit(1)
	}
}

func parseFlags(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("benche2e", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&c.repo, "repo", "", "repository root (default: found from the working directory)")
	fs.StringVar(&c.tools, "tools", "", "directory with installed peer binaries (default: REPO/bench/.tools)")
	fs.StringVar(&c.out, "out", "", "markdown output (default: REPO/bench/results/latest.md, quick.md with --quick)")
	fs.IntVar(&c.rounds, "rounds", 5, "interleaved rounds (medians are reported)")
	fs.DurationVar(&c.duration, "duration", 3*time.Second, "closed-loop throughput phase per target per round")
	fs.DurationVar(&c.latency, "latency-duration", 3*time.Second, "open-loop latency phase per target per round")
	fs.DurationVar(&c.warmup, "warmup", time.Second, "unmeasured closed-loop warm-up per target, before round 1")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "bound on the whole run")
	fs.IntVar(&c.rate, "rate", 1000, "open-loop request rate (req/s) for latency")
	fs.Float64Var(&c.maxOther, "max-other-load", 0.25, "CPUs of other load above which a measurement is retried")
	fs.IntVar(&c.retries, "retries", 1, "retries per measurement while other load exceeds --max-other-load (0..5)")
	fs.IntVar(&c.conns, "conns", 4, "gRPC connections per target")
	fs.IntVar(&c.stream, "streams", 32, "concurrent requests in the throughput phase (REST: HTTP/1.1 connections)")
	peerList := fs.String("peers", "haproxy,nginx,caddy", "peer proxies to measure when installed (empty: none)")
	fs.IntVar(&c.pairBlocks, "pair-blocks", 24, "paired phase: blocks per issue target, each measuring its two targets back to back for --slice each (0: skip the phase)")
	fs.DurationVar(&c.slice, "slice", time.Second, "paired phase: closed-loop time per target per block")
	fs.BoolVar(&c.quick, "quick", false, "1 round of 1 s, 4 paired blocks, no peers, no retries (flags given explicitly still win)")
	fs.BoolVar(&c.keep, "keep", false, "keep the scratch directory (configs, logs)")
	fs.IntVar(&c.gcPercent, "gc-percent", 0, "GC target for the gateways (runtime.gc_percent) and the floor (GOGC) alike; 0: their defaults (Go's 100)")
	fs.Int64Var(&c.gcMinHeap, "gc-min-heap-bytes", 0, "GC heap floor for the gateways (runtime.gc_min_heap_bytes) and the floor alike; 0: the gateway's default for both; -1: none")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if c.quick {
		for name, apply := range map[string]func(){
			"rounds": func() { c.rounds = 1 }, "duration": func() { c.duration = time.Second },
			"latency-duration": func() { c.latency = time.Second }, "warmup": func() { c.warmup = 300 * time.Millisecond },
			"peers": func() { *peerList = "" }, "retries": func() { c.retries = 0 },
			"pair-blocks": func() { c.pairBlocks = 4 }, "slice": func() { c.slice = 300 * time.Millisecond },
		} {
			if !set[name] {
				apply()
			}
		}
	}
	for p := range strings.SplitSeq(*peerList, ",") {
		if p = strings.TrimSpace(p); p != "" {
			c.peers = append(c.peers, p)
		}
	}
	if c.rounds < 1 || c.rounds > 50 || c.duration <= 0 || c.duration > 5*time.Minute || c.latency <= 0 ||
		c.latency > 5*time.Minute || c.rate < 1 || c.rate > 100000 || c.conns < 1 || c.stream < 1 || c.stream > 4096 || c.retries < 0 || c.retries > 5 ||
		c.gcPercent != 0 && (c.gcPercent < 25 || c.gcPercent > 10000) || c.gcMinHeap < -1 || c.gcMinHeap > 0 && c.gcMinHeap < 4<<20 ||
		c.pairBlocks < 0 || c.pairBlocks > 1000 || c.slice < 100*time.Millisecond || c.slice > time.Minute {
		return nil, errors.New("flags out of range: rounds 1..50, durations (0, 5m], rate 1..100000, conns ≥ 1, streams 1..4096, retries 0..5, gc-percent 0 or 25..10000, gc-min-heap-bytes -1, 0 or ≥ 4 MiB, pair-blocks 0..1000, slice 100ms..1m")
	}
	var err error
	if c.repo == "" {
		if c.repo, err = findRepo(); err != nil {
			return nil, err
		}
	}
	if c.tools == "" {
		c.tools = filepath.Join(c.repo, "bench", ".tools")
	}
	if c.out == "" {
		name := "latest.md"
		if c.quick {
			name = "quick.md"
		}
		c.out = filepath.Join(c.repo, "bench", "results", name)
	}
	return c, nil
}

// findRepo walks up from the working directory to the Portcullis go.mod.
func findRepo() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil &&
			bytes.HasPrefix(b, []byte("module github.com/portcullis/portcullis\n")) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no github.com/portcullis/portcullis go.mod above the working directory; pass --repo")
		}
		dir = parent
	}
}

// run is the whole benchmark; it returns the report it wrote.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) (*report, error) {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.timeout)
	defer cancel()
	work, err := os.MkdirTemp("", "benche2e-")
	if err != nil {
		return nil, err
	}
	if cfg.keep {
		defer fmt.Fprintln(stderr, "benche2e: scratch directory kept:", work)
	} else {
		defer func() { _ = os.RemoveAll(work) }() // best effort: a temp dir
	}
	kids := &children{}
	defer kids.stopAll() // before the scratch directory goes

	fmt.Fprintln(stderr, "benche2e: building binaries")
	bins, err := build(ctx, cfg.repo, filepath.Join(work, "bin"), stderr)
	if err != nil {
		return nil, err
	}
	backendAddr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	backend, err := kids.start("bank-backend", work, "", bins.backend, []string{"--listen", backendAddr}, nil)
	if err != nil {
		return nil, err
	}
	s := &setup{kids: kids, work: work, repo: cfg.repo, tools: cfg.tools, backend: backendAddr, gc: cfg.gcPercent, minHeap: cfg.gcMinHeap}
	floor, err := s.startFloor(bins.floor)
	if err != nil {
		return nil, err
	}
	gwGRPC, gwREST, err := s.startGateway(bins.gateway)
	if err != nil {
		return nil, err
	}
	gwJWT, err := s.startJWTGateway(bins.gateway)
	if err != nil {
		return nil, err
	}
	gwAudit, err := s.startVariant(bins.gateway, "portcullis-audit", fmt.Sprintf("audit:\n  file: {dir: %q}\n", filepath.Join(work, "audit")))
	if err != nil {
		return nil, err
	}
	// floor-jwt is the floor proxy carrying portcullis-jwt's calls (GetAccount
	// with the bearer token), so that the full chain is compared with the
	// floor forwarding the same requests, not with Ping.
	floorJWT := &target{name: "floor-jwt", addr: floor.addr, proxy: floor.proxy, token: gwJWT.token}
	gwJWT.floorRef = floorJWT.name
	targets := []*target{{name: "direct", addr: backendAddr}, floor, floorJWT, gwGRPC, gwREST, gwJWT, gwAudit}
	core := len(targets)
	for _, name := range cfg.peers {
		targets = append(targets, s.startPeer(name))
	}
	var active []*target
	for i, t := range targets {
		if t.note != "" {
			continue
		}
		if err := connect(ctx, t, backend, cfg); err != nil {
			if i < core {
				return nil, fmt.Errorf("%s: %w", t.name, err)
			}
			t.note = "failed to start: " + err.Error()
			t.proxy.stop()
			continue
		}
		defer t.caller.close()
		active = append(active, t)
	}
	for _, t := range targets[core:] {
		if t.note != "" {
			fmt.Fprintf(stderr, "benche2e: %s skipped: %s\n", t.name, t.note)
		}
	}

	fmt.Fprintf(stderr, "benche2e: warming up %d targets\n", len(active))
	for _, t := range active {
		closedLoop(ctx, t.caller, cfg.stream, cfg.warmup, &errCount{})
	}
	samples := map[string][]sample{}
	for r := range cfg.rounds {
		for _, t := range active {
			if err := ctx.Err(); err != nil {
				return nil, fmt.Errorf("stopped in round %d: %w", r+1, err)
			}
			m := measure(ctx, t, backend, cfg)
			samples[t.name] = append(samples[t.name], m)
			fmt.Fprintf(stderr, "benche2e: round %d/%d %-16s %6.0f req/s  CPU µs/req proxy %s backend %s  p50 %v  p99 %v  errors %d  dropped %d  other load %.2f CPUs (attempts %d)\n",
				r+1, cfg.rounds, t.name, m.rps, num(m.proxyCPU, "%.1f"), num(m.backendCPU, "%.1f"),
				m.p50.Round(time.Microsecond), m.p99.Round(time.Microsecond), m.errors, m.dropped, m.foreign, m.attempts)
		}
	}
	pairs := pairedPhase(ctx, active, cfg, stderr)
	rep := newReport(cfg, targets, samples, pairs, machineInfo(cfg.repo))
	fmt.Fprint(stdout, rep.markdown)
	if err := os.MkdirAll(filepath.Dir(cfg.out), 0o755); err != nil {
		return rep, err
	}
	return rep, os.WriteFile(cfg.out, []byte(rep.markdown), 0o644)
}

// connect opens the target's client and waits until a request succeeds.
func connect(ctx context.Context, t *target, backend *child, cfg *config) error {
	if t.rest {
		t.caller = newRESTCaller(t.addr, cfg.stream)
	} else {
		g, err := newGRPCCaller(t.addr, cfg.conns)
		if err != nil {
			return err
		}
		g.token = t.token
		t.caller = g
	}
	if err := waitReady(ctx, t, backend); err != nil {
		t.caller.close()
		return err
	}
	return nil
}
