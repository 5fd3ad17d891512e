package bundle

import (
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/authz"
	"github.com/portcullis/portcullis/policy"
)

// Sizes of the synthetic policy: 10k methods over 1k permissions, 50
// roles of 20 permissions (10 of them conditional), 1k bindings.
const (
	benchPerms, benchMethods, benchRoles, benchBindings = 1000, 10000, 50, 1000
	benchConditional                                    = 10
)

func syntheticRegistry(b *testing.B) *policy.Registry {
	b.Helper()
	t := &policy.Table{File: "synthetic.proto"}
	for i := range benchPerms {
		t.Permissions = append(t.Permissions, policy.Permission{Name: fmt.Sprintf("svc.res%d.read", i)})
	}
	for i := range benchMethods {
		t.Methods = append(t.Methods, policy.Method{FullMethod: fmt.Sprintf("/synthetic.v1.S%d/M%d", i/50, i),
			Permissions: []string{fmt.Sprintf("svc.res%d.read", i%benchPerms)}, Credentials: policy.AnyCredential})
	}
	reg, err := policy.NewRegistry(t)
	if err != nil {
		b.Fatal(err)
	}
	return reg
}

// syntheticYAML is the bundle file (without its version line).
func syntheticYAML() string {
	var s strings.Builder
	s.WriteString("roles:\n")
	for r := range benchRoles {
		perms := make([]string, 20)
		for j := range perms {
			perms[j] = fmt.Sprintf("svc.res%d.read", (r*20+j)%benchPerms)
		}
		fmt.Fprintf(&s, "  role%d:\n    permissions: [%s]\n", r, strings.Join(perms, ", "))
		if r < benchConditional {
			fmt.Fprintf(&s, "    condition: \"principal.tenant == 'tenant-%d'\"\n", r)
		}
	}
	s.WriteString("bindings:\n")
	for i := range benchBindings {
		fmt.Fprintf(&s, "  - {roles: [role%d], users: [user%d], groups: [group%d]}\n", i%benchRoles, i, i%100)
	}
	return s.String()
}

// latencies is a histogram of decision latencies in 10ns buckets up to
// 1ms; it records without allocating.
type latencies struct{ buckets [100001]uint64 }

func (h *latencies) add(d time.Duration) { h.buckets[min(int(d/10), len(h.buckets)-1)]++ }

func (h *latencies) quantile(q float64) time.Duration {
	var n uint64
	for _, c := range h.buckets {
		n += c
	}
	want, seen := uint64(float64(n)*q), uint64(0)
	for i, c := range h.buckets {
		if seen += c; seen > want {
			return time.Duration(i * 10)
		}
	}
	return 0
}

// swapFixture is a Manager over the synthetic policy with a goroutine
// deciding continuously, recording latencies into cur.
type swapFixture struct {
	reg  *policy.Registry
	body string
	base *policy.Bundle
	comp *authz.Compiler
	src  *memSource
	m    *Manager
	l    *live
}

func newSwapFixture(b *testing.B) *swapFixture {
	b.Helper()
	f := &swapFixture{reg: syntheticRegistry(b), body: syntheticYAML(), comp: authz.NewCompiler(), l: &live{}}
	var err error
	if f.base, err = Parse("synthetic.yaml", []byte("version: base\n"+f.body), f.reg); err != nil {
		b.Fatal(err)
	}
	compile := func(bd *policy.Bundle) (any, error) { return authz.NewEngine(f.reg, bd, authz.WithCompiler(f.comp)) }
	f.src = newMemSource([]byte("version: v0\n"+f.body), nil)
	if f.m, err = NewManager(f.src, f.reg, compile, f.l.activate, WithLogger(slog.New(slog.DiscardHandler)), WithHistory(2)); err != nil {
		b.Fatal(err)
	}
	if err := f.m.Reload(testContext(b)); err != nil {
		b.Fatal(err)
	}
	return f
}

// run measures decision latency for a quiet period, then runs step in
// b.Loop while the decisions go on, and reports ms/op and both p99s.
func (f *swapFixture) run(b *testing.B, step func(i int)) {
	// svc.res305.read comes from role15 (unconditional), bound to user15:
	// the decision itself allocates nothing and takes tens of ns.
	method, _ := f.reg.Lookup("/synthetic.v1.S6/M305")
	in := &authz.Input{Principal: &policy.Principal{ID: "user15", Kind: policy.KindUser, Credential: policy.CredentialJWT}}
	quiet, busy := new(latencies), new(latencies)
	var cur atomic.Pointer[latencies]
	var stop atomic.Bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for !stop.Load() {
			h := cur.Load()
			t0 := time.Now()
			ok := f.l.p.Load().engine.Decide(method, in).Allowed
			if d := time.Since(t0); h != nil {
				h.add(d)
			}
			if !ok {
				panic("denied")
			}
		}
	}()
	cur.Store(quiet)
	time.Sleep(500 * time.Millisecond)
	cur.Store(busy)
	b.ReportAllocs()
	b.ResetTimer()
	// The loop runs on one OS thread so that its CPU time can be read:
	// on a shared machine wall time says more about the neighbours.
	runtime.LockOSThread()
	cpu0 := threadCPU()
	i := 0
	for b.Loop() {
		i++
		step(i)
	}
	cpu := threadCPU() - cpu0
	runtime.UnlockOSThread()
	b.StopTimer()
	stop.Store(true)
	wg.Wait()
	pq, pb := quiet.quantile(0.99), busy.quantile(0.99)
	b.ReportMetric(float64(b.Elapsed().Microseconds())/1000/float64(b.N), "ms/op")
	if cpu > 0 {
		b.ReportMetric(float64(cpu.Microseconds())/1000/float64(b.N), "cpu-ms/op")
	}
	b.ReportMetric(float64(pq.Nanoseconds()), "p99-quiet-ns")
	b.ReportMetric(float64(pb.Nanoseconds()), "p99-reload-ns")
	b.Logf("decision p99 %v quiet, %v during reloads (%.0f%%); p50 %v / %v; %d reloads; cached CEL programs: %d",
		pq, pb, 100*float64(pb)/float64(max(pq, 1)), quiet.quantile(0.5), busy.quantile(0.5), b.N, f.comp.Len())
}

// BenchmarkCompileSwap builds an engine for a new version of a bundle
// with 10k methods × 50 roles × 1k bindings (conditions reused from the
// shared CEL compiler) and swaps it in through the Manager, while a
// goroutine decides continuously. It reports ms/op and the p99 decision
// latency during the reloads and in a quiet period of the same run.
func BenchmarkCompileSwap(b *testing.B) {
	f := newSwapFixture(b)
	f.run(b, func(i int) {
		next := *f.base // a new version of the same content
		next.Version = fmt.Sprintf("c%d", i)
		c, err := f.m.safeCompile(&next)
		if err != nil {
			b.Fatal(err)
		}
		f.m.loadMu.Lock()
		f.m.swap(&entry{info: VersionInfo{Version: next.Version}, bundle: &next, compiled: c}, true)
		f.m.loadMu.Unlock()
	})
}

// BenchmarkReload is BenchmarkCompileSwap through Manager.Reload: fetch,
// strict YAML parse, compile and swap.
func BenchmarkReload(b *testing.B) {
	f := newSwapFixture(b)
	ctx := testContext(b)
	f.run(b, func(i int) {
		f.src.set([]byte(fmt.Sprintf("version: p%d\n", i)+f.body), nil)
		if err := f.m.Reload(ctx); err != nil {
			b.Fatal(err)
		}
	})
}
