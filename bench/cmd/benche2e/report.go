package main

import (
	"context"
	"fmt"
	"math"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strings"
	"time"

	gwconfig "github.com/portcullis/portcullis/gateway/config"
)

// row is one target's line of the report: medians over the rounds.
type row struct {
	name, note, version     string
	rps, p50Added, p99Added float64 // µs for the latencies
	p50, p99                float64 // absolute, µs
	proxyCPU, backendCPU    float64 // µs per request
	floorRatio              float64 // proxy CPU ÷ its floor's (floorRef), per round, median
	errors, dropped         int64
	firstErr                string
	perRound                []sample
}

// check is one of the issue's targets, computed from per-round ratios.
type check struct {
	label         string
	value, lo, hi float64 // median and range of the per-round ratios
	limit         float64
	pass, valid   bool
	why           string // when not valid

	// The paired phase's figures (see pairedPhase): median and quartiles
	// of the per-block ratios, the ratio of the totals, and the verdict on
	// the median. pair is nil when the phase did not run.
	pair                   *pairSamples
	pValue, pQ1, pQ3, pAll float64
	pPass, pValid          bool
	pWhy                   string
}

// report is the outcome of a run.
type report struct {
	rows                                        []row
	gatewayFloor, restGRPC, jwtFloor, auditCost check
	markdown                                    string
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// median of the values that are not NaN; NaN if there are none.
func median(xs []float64) float64 {
	xs = slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(xs) == 0 {
		return math.NaN()
	}
	slices.Sort(xs)
	if len(xs)%2 == 1 {
		return xs[len(xs)/2]
	}
	return (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
}

// maxOf returns the largest value that is not NaN; NaN if there are none.
func maxOf(xs []float64) float64 {
	xs = slices.DeleteFunc(slices.Clone(xs), math.IsNaN)
	if len(xs) == 0 {
		return math.NaN()
	}
	return slices.Max(xs)
}

// paired applies f to a target's and a reference's samples of the same round.
func paired(a, b []sample, f func(x, y sample) float64) []float64 {
	var out []float64
	for i := range min(len(a), len(b)) {
		out = append(out, f(a[i], b[i]))
	}
	return out
}

func newReport(cfg *config, targets []*target, samples map[string][]sample, pairs map[string]*pairSamples, machine string) *report {
	rep := &report{}
	base := samples["direct"]
	for _, t := range targets {
		ref := t.floorRef
		if ref == "" {
			ref = "floor"
		}
		floor := samples[ref]
		s := samples[t.name]
		r := row{name: t.name, note: t.note, version: t.version, perRound: s}
		col := func(f func(sample) float64) float64 {
			var xs []float64
			for _, x := range s {
				xs = append(xs, f(x))
			}
			return median(xs)
		}
		r.rps = col(func(x sample) float64 { return x.rps })
		r.p50, r.p99 = col(func(x sample) float64 { return us(x.p50) }), col(func(x sample) float64 { return us(x.p99) })
		r.p50Added = median(paired(s, base, func(x, y sample) float64 { return us(x.p50 - y.p50) }))
		r.p99Added = median(paired(s, base, func(x, y sample) float64 { return us(x.p99 - y.p99) }))
		r.proxyCPU = col(func(x sample) float64 { return x.proxyCPU })
		r.backendCPU = col(func(x sample) float64 { return x.backendCPU })
		r.floorRatio = median(paired(s, floor, func(x, y sample) float64 { return x.proxyCPU / y.proxyCPU }))
		for _, x := range s {
			r.errors += x.errors
			r.dropped += x.dropped
			if r.firstErr == "" {
				r.firstErr = x.firstErr
			}
		}
		rep.rows = append(rep.rows, r)
	}
	var cs [4]check
	for i, t := range issueTargets {
		cs[i] = ratioCheck(t, samples, pairs)
	}
	rep.gatewayFloor, rep.restGRPC, rep.jwtFloor, rep.auditCost = cs[0], cs[1], cs[2], cs[3]
	rep.markdown = rep.render(cfg, targets, machine)
	return rep
}

// issueTarget is one of the issues' ratio targets: num's proxy CPU per
// request over den's, at most limit.
type issueTarget struct {
	label    string
	limit    float64
	num, den string
}

// issueTargets are the report's checks, in the order of its fields
// gatewayFloor, restGRPC, jwtFloor and auditCost; the paired phase
// measures the same pairs.
var issueTargets = [4]issueTarget{
	{"gateway CPU per request ≤ 1.05× the raw floor (portcullis-grpc ÷ floor)", 1.05, "portcullis-grpc", "floor"},
	{"REST path ≤ 1.5× the gRPC path's CPU per request (portcullis-rest ÷ portcullis-grpc)", 1.5, "portcullis-rest", "portcullis-grpc"},
	{"full chain with a cached JWT ≤ 1.15× the raw floor (portcullis-jwt ÷ floor-jwt, the floor carrying the same calls)", 1.15, "portcullis-jwt", "floor-jwt"},
	{"audit adds ≤ 5% CPU per request (portcullis-audit ÷ portcullis-grpc)", 1.05, "portcullis-audit", "portcullis-grpc"},
}

// checks returns the report's checks in issueTargets order.
func (rep *report) checks() []check {
	return []check{rep.gatewayFloor, rep.restGRPC, rep.jwtFloor, rep.auditCost}
}

func ratioCheck(t issueTarget, samples map[string][]sample, pairs map[string]*pairSamples) check {
	label, limit, num, den := t.label, t.limit, t.num, t.den
	c := check{label: label, limit: limit}
	if ps := pairs[pairKey(num, den)]; ps != nil {
		c.pair = ps
		c.pValue = median(ps.ratios)
		c.pQ1, c.pQ3 = quartiles(ps.ratios)
		c.pAll = (ps.cpuNum / ps.nNum) / (ps.cpuDen / ps.nDen)
		c.pValid, c.pPass = !math.IsNaN(c.pValue) && ps.errors == 0, c.pValue <= limit
		switch {
		case ps.errors > 0:
			c.pWhy = fmt.Sprintf("%d failed requests; first: %s", ps.errors, cell(ps.firstErr))
		case math.IsNaN(c.pValue):
			c.pWhy = "no CPU figures"
		}
	}
	rs := paired(samples[num], samples[den], func(x, y sample) float64 { return x.proxyCPU / y.proxyCPU })
	rs = slices.DeleteFunc(rs, func(v float64) bool { return math.IsNaN(v) || math.IsInf(v, 0) })
	if len(rs) == 0 {
		c.why = "no CPU figures"
		return c
	}
	c.value, c.lo, c.hi = median(rs), slices.Min(rs), slices.Max(rs)
	c.pass, c.valid = c.value <= limit, true
	for _, name := range []string{num, den} {
		for _, x := range samples[name] {
			if x.errors > 0 {
				c.valid, c.why = false, name+" had errors"
			}
		}
	}
	return c
}

func num(v float64, format string) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "–"
	}
	return fmt.Sprintf(format, v)
}

func (rep *report) render(cfg *config, targets []*target, machine string) string {
	var b strings.Builder
	p := func(format string, a ...any) { fmt.Fprintf(&b, format, a...) }
	p("# Portcullis end-to-end benchmark\n\n%s", machine)
	p("- load: the harness's own Go client (grpc-go; net/http for REST), in the same machine and sharing its CPUs\n")
	p("- throughput: closed loop, %d concurrent requests (gRPC: over %d h2c connections; REST: %d HTTP/1.1 keep-alive connections), %v per target per round\n",
		cfg.stream, cfg.conns, cfg.stream, cfg.duration)
	p("- latency: open loop at %d req/s for %v per target per round; \"added\" = target − direct in the same round\n", cfg.rate, cfg.latency)
	p("- CPU: utime+stime of the server process and its children (/proc/PID/stat) over the throughput phase ÷ its requests\n")
	target := "Go's default target (100)"
	if cfg.gcPercent != 0 {
		target = fmt.Sprintf("--gc-percent %d (gateways: runtime.gc_percent, floor: GOGC)", cfg.gcPercent)
	}
	floor := fmt.Sprintf("the gateway's default heap floor (runtime.gc_min_heap_bytes, %d MiB)", gwconfig.DefaultGCMinHeapBytes>>20)
	switch {
	case cfg.gcMinHeap == -1:
		floor = "no heap floor (--gc-min-heap-bytes -1)"
	case cfg.gcMinHeap > 0:
		floor = fmt.Sprintf("--gc-min-heap-bytes %d", cfg.gcMinHeap)
	}
	p("- GC: the gateways and the floor alike, so the ratio compares work, not GC settings: %s, %s; peers as shipped\n", target, floor)
	p("- other load: each measurement waits up to 3 s for other processes to use under %.2f CPUs (/proc/stat); one with more is taken again, up to %d times, and the quietest attempt counts\n",
		cfg.maxOther, cfg.retries)
	p("- rounds: %d, interleaved in this order: %s; every figure is the median over rounds (ratios: median of per-round ratios)\n",
		cfg.rounds, activeNames(targets))
	p("- calls: BankService.Ping (REST: GET /v1/ping), except floor-jwt and portcullis-jwt: GetAccount with a cached ES256 bearer token (a protected method whose policy reads the request); portcullis-jwt's ratio is to floor-jwt, the floor carrying those same calls\n\n")
	p("| target | req/s | p50 added (µs) | p99 added (µs) | proxy CPU µs/req | ratio to floor CPU | backend CPU µs/req | errors |\n")
	p("|---|--:|--:|--:|--:|--:|--:|--:|\n")
	var notes []string
	var foreign []float64
	for _, r := range rep.rows {
		for _, x := range r.perRound {
			foreign = append(foreign, x.foreign)
		}
		if r.note != "" {
			p("| %s | – | – | – | – | – | – | %s |\n", r.name, cell(r.note))
			continue
		}
		p50, p99 := num(r.p50Added, "%+.0f"), num(r.p99Added, "%+.0f")
		proxy, ratio := num(r.proxyCPU, "%.1f"), num(r.floorRatio, "%.2f×")
		if r.name == "direct" {
			p50, p99 = num(r.p50, "base %.0f"), num(r.p99, "base %.0f")
			proxy, ratio = num(r.backendCPU, "%.1f (backend)"), "–"
		}
		errs := "0"
		if r.errors > 0 {
			errs = fmt.Sprintf("⚠ %d", r.errors)
			notes = append(notes, fmt.Sprintf("- ⚠ %s: %d failed requests; first: %s", r.name, r.errors, cell(r.firstErr)))
		}
		if r.dropped > 0 {
			errs += fmt.Sprintf(" (%d dropped)", r.dropped)
			notes = append(notes, fmt.Sprintf("- %s: the open loop dropped %d requests unsent, with %d already in flight: the machine or the target stalled (not response errors)",
				r.name, r.dropped, maxInFlight))
		}
		p("| %s | %s | %s | %s | %s | %s | %s | %s |\n", r.name, num(r.rps, "%.0f"), p50, p99, proxy, ratio, num(r.backendCPU, "%.1f"), errs)
	}
	p("\n## Targets from the issue\n\n| target | computed | rounds | limit | result |\n|---|--:|--:|--:|---|\n")
	for _, c := range rep.checks() {
		result := "PASS"
		if !c.pass {
			result = "FAIL"
		}
		if !c.valid {
			result = "not valid: " + c.why
		}
		p("| %s | %s | %s–%s | ≤ %.2f× | %s |\n", c.label, num(c.value, "%.2f×"), num(c.lo, "%.2f"), num(c.hi, "%.2f"), c.limit, result)
	}
	if checks := rep.pairedChecks(); len(checks) > 0 {
		p("\n## Paired phase\n\nThe same ratios measured again after the rounds: the two targets of each back to back, %v each, for %d blocks,\n", cfg.slice, cfg.pairBlocks)
		p("alternating which goes first, so that the host's drift falls on both sides alike (per-round ratios above are seconds apart).\n")
		p("The result is the median of the per-block ratios; the quartiles give its spread, and \"all blocks\" is total CPU ÷ total requests of one side over the other's.\n\n")
		p("| target | median | quartiles | all blocks | blocks | other load (mean, peak block) | limit | result |\n|---|--:|--:|--:|--:|--:|--:|---|\n")
		for _, c := range checks {
			result := "PASS"
			if !c.pPass {
				result = "FAIL"
			}
			if !c.pValid {
				result = "not valid: " + c.pWhy
			}
			p("| %s | %s | %s–%s | %s | %d | %s, %s | ≤ %.2f× | %s |\n", c.label, num(c.pValue, "%.2f×"), num(c.pQ1, "%.2f"), num(c.pQ3, "%.2f"),
				num(c.pAll, "%.2f×"), len(c.pair.ratios), num(c.pair.foreign, "%.2f"), num(c.pair.foreignPeak, "%.2f"), c.limit, result)
		}
	}
	p("\n## Per round\n\nEach cell: req/s, proxy CPU µs/req (direct: backend), p50/p99 µs, and the other load on the machine during the\n")
	p("measurement, in CPUs busy outside this benchmark (all cells: %s median, %s max), with the number of attempts when more than one.\n\n| target |",
		num(median(foreign), "%.2f"), num(maxOf(foreign), "%.2f"))
	for i := range cfg.rounds {
		p(" round %d |", i+1)
	}
	p("\n|---|%s\n", strings.Repeat("--:|", cfg.rounds))
	for _, r := range rep.rows {
		if r.note != "" {
			continue
		}
		p("| %s |", r.name)
		for _, x := range r.perRound {
			cpu := x.proxyCPU
			if r.name == "direct" {
				cpu = x.backendCPU
			}
			tries := ""
			if x.attempts > 1 {
				tries = fmt.Sprintf(" (%d attempts)", x.attempts)
			}
			p(" %.0f, %s, %.0f/%.0f, other %s%s |", x.rps, num(cpu, "%.1f"), us(x.p50), us(x.p99), num(x.foreign, "%.2f"), tries)
		}
		p("\n")
	}
	if len(notes) > 0 {
		p("\n## Errors and drops\n\n%s\n", strings.Join(notes, "\n"))
	}
	var versions []string
	for _, r := range rep.rows {
		if r.version != "" {
			versions = append(versions, fmt.Sprintf("%s: `%s`", r.name, r.version))
		}
	}
	if len(versions) > 0 {
		p("\nPeers: %s.\n", strings.Join(versions, "; "))
	}
	return b.String()
}

// cell makes text safe for one markdown table cell or list item: one line,
// no column separators, at most 300 characters.
func cell(s string) string {
	s = strings.NewReplacer("|", "/", "\n", " ", "\r", " ").Replace(s)
	if len(s) > 300 {
		s = strings.ToValidUTF8(s[:300], "") + "…"
	}
	return s
}

func activeNames(targets []*target) string {
	var names []string
	for _, t := range targets {
		if t.note == "" {
			names = append(names, t.name)
		}
	}
	return strings.Join(names, " → ")
}

// machineInfo describes where and when the run happened, as markdown bullets.
func machineInfo(repo string) string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	kernel, _ := os.ReadFile("/proc/sys/kernel/osrelease")
	commit := strings.TrimSpace(gitOutput(repo, "rev-parse", "--short", "HEAD"))
	if commit == "" {
		commit = "unknown"
	}
	if strings.TrimSpace(gitOutput(repo, "status", "--porcelain", "--untracked-files=no")) != "" {
		commit += " with uncommitted changes"
	}
	return fmt.Sprintf("- date: %s\n- machine: %d CPUs (nproc), %s, Linux %s, %s\n- code: commit %s\n",
		time.Now().UTC().Format("2006-01-02 15:04 UTC"), runtime.NumCPU(), model, strings.TrimSpace(string(kernel)),
		runtime.Version(), commit)
}

func gitOutput(repo string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, "git", append([]string{"-C", repo}, args...)...).Output()
	return string(out)
}

// pairedChecks are the checks the paired phase measured.
func (rep *report) pairedChecks() []check {
	var out []check
	for _, c := range rep.checks() {
		if c.pair != nil {
			out = append(out, c)
		}
	}
	return out
}
