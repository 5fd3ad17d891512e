package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	gwconfig "github.com/portcullis/portcullis/gateway/config"
)

// TestQuick builds the binaries from the working tree and runs the whole
// harness in --quick mode (1 round of 1 s, no peers). It takes about a
// minute, so it runs only with BENCH_E2E=1.
func TestQuick(t *testing.T) {
	if os.Getenv("BENCH_E2E") != "1" {
		t.Skip("end-to-end benchmark skipped; run it with: BENCH_E2E=1 go test ./bench/cmd/benche2e -run TestQuick -v")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	out := filepath.Join(t.TempDir(), "quick.md")
	rep, err := run(ctx, []string{"--quick", "--out", out}, io.Discard, testWriter{t})
	if err != nil {
		t.Fatalf("run(--quick) = %v, want nil", err)
	}
	want := []string{"direct", "floor", "floor-jwt", "portcullis-grpc", "portcullis-rest", "portcullis-jwt", "portcullis-audit"}
	if len(rep.rows) != len(want) {
		t.Fatalf("run(--quick) reported %d targets, want %d", len(rep.rows), len(want))
	}
	for i, r := range rep.rows {
		if r.name != want[i] {
			t.Errorf("row %d = %q, want %q", i, r.name, want[i])
		}
		if r.note != "" || r.errors != 0 || !(r.rps > 0) {
			t.Errorf("%s: note %q, errors %d (first: %s), %v req/s; want no note, no errors, req/s > 0",
				r.name, r.note, r.errors, r.firstErr, r.rps)
		}
		if r.name != "direct" && (math.IsNaN(r.proxyCPU) || r.proxyCPU <= 0) {
			t.Errorf("%s: proxy CPU %v µs/req, want > 0", r.name, r.proxyCPU)
		}
	}
	for _, c := range rep.checks() {
		if !c.valid || !(c.value > 0) {
			t.Errorf("check %q = %v (valid %v: %s), want a valid ratio > 0", c.label, c.value, c.valid, c.why)
		}
		if c.pair == nil || !c.pValid || !(c.pValue > 0) || !(c.pQ1 <= c.pValue && c.pValue <= c.pQ3) || len(c.pair.ratios) != 4 {
			t.Errorf("check %q paired = %v, quartiles %v–%v (valid %v: %s), want a valid ratio > 0 within its quartiles over 4 blocks", c.label, c.pValue, c.pQ1, c.pQ3, c.pValid, c.pWhy)
		}
	}
	md, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"| target | req/s | p50 added (µs) |", "| portcullis-rest |", "Targets from the issue", "## Paired phase", "CPUs (nproc)"} {
		if !strings.Contains(string(md), s) {
			t.Errorf("%s does not contain %q", out, s)
		}
	}
}

// TestQuartiles checks the interpolated quartiles the paired phase reports.
func TestQuartiles(t *testing.T) {
	for _, tc := range []struct {
		in     []float64
		q1, q3 float64
	}{
		{[]float64{1}, 1, 1},
		{[]float64{4, 1, 3, 2, 5}, 2, 4},
		{[]float64{1, 2, 3, 4}, 1.75, 3.25},
		{[]float64{1, math.NaN(), math.Inf(1), 3}, 1.5, 2.5},
	} {
		if q1, q3 := quartiles(tc.in); q1 != tc.q1 || q3 != tc.q3 {
			t.Errorf("quartiles(%v) = %v, %v, want %v, %v", tc.in, q1, q3, tc.q1, tc.q3)
		}
	}
	if q1, q3 := quartiles(nil); !math.IsNaN(q1) || !math.IsNaN(q3) {
		t.Errorf("quartiles(nil) = %v, %v, want NaN", q1, q3)
	}
}

// TestPercentile checks the nearest-rank percentile.
func TestPercentile(t *testing.T) {
	var lat []time.Duration
	for i := 1; i <= 100; i++ {
		lat = append(lat, time.Duration(i))
	}
	for _, tc := range []struct {
		q    float64
		want time.Duration
	}{{0.5, 50}, {0.99, 99}, {1, 100}, {0.001, 1}} {
		t.Run(fmt.Sprint(tc.q), func(t *testing.T) {
			if got := percentile(lat, tc.q); got != tc.want {
				t.Errorf("percentile(1..100, %v) = %v, want %v", tc.q, got, tc.want)
			}
		})
	}
	if got := percentile(nil, 0.5); got != 0 {
		t.Errorf("percentile(nil, 0.5) = %v, want 0", got)
	}
}

// TestParseStat checks /proc/PID/stat parsing with a command name holding
// spaces and parentheses.
func TestParseStat(t *testing.T) {
	line := "4242 (a (b) c) S 17 4242 4242 0 -1 4194560 100 0 0 0 250 70 0 0 20 0 3 0 1234 0 0\n"
	ppid, ticks, err := parseStat([]byte(line))
	if err != nil || ppid != 17 || ticks != 320 {
		t.Errorf("parseStat(%q) = %d, %d, %v; want 17, 320, nil", line, ppid, ticks, err)
	}
}

// testWriter sends the harness's progress lines to the test log.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// --gc-percent and --gc-min-heap-bytes reach the gateways' config and the
// floor alike; without them the gateways run as shipped and the floor with
// the gateway's default heap floor.
func TestGCSettingsInStep(t *testing.T) {
	s := &setup{backend: "127.0.0.1:1", gc: 400}
	if y := string(s.gatewayYAML("a:1", "b:2", "audit: {}\n")); !strings.Contains(y, "runtime: {gc_percent: "+strconv.Itoa(400)+"}\naudit: {}\n") {
		t.Errorf("gateway config = %q, want the runtime block before the variant's extra", y)
	}
	if env := s.floorEnv(); len(env) != 1 || env[0] != "GOGC=400" {
		t.Errorf("floor env = %q", env)
	}
	floorHeap := func() string { a := s.floorArgs("x:1"); return a[len(a)-1] }
	if got := floorHeap(); got != strconv.Itoa(gwconfig.DefaultGCMinHeapBytes) {
		t.Errorf("floor heap floor = %s, want the gateway's default %d", got, gwconfig.DefaultGCMinHeapBytes)
	}
	s.minHeap = -1
	if y := string(s.gatewayYAML("a:1", "b:2", "")); !strings.Contains(y, "runtime: {gc_percent: 400, gc_min_heap_bytes: -1}\n") || floorHeap() != "-1" {
		t.Errorf("--gc-min-heap-bytes -1: config %q, floor %s, want none for both", y, floorHeap())
	}
	s.gc, s.minHeap = 0, 0
	if y := string(s.gatewayYAML("a:1", "b:2", "")); strings.Contains(y, "runtime") || s.floorEnv() != nil {
		t.Errorf("without the flags: config %q, floor env %q, want neither set", y, s.floorEnv())
	}
}
