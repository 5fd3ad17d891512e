package ratelimit_test

import (
	"context"
	"runtime"
	"slices"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
)

// benchLimit allows every call, so that each Take updates its key.
var benchLimit = ratelimit.Limit{Rate: 1_000_000, Period: time.Second, Burst: 100_000}

// liveLimit keeps keys live (their TAT in the future) for the whole
// benchmark once warmed with warmCells, so that Take always finds its key:
// each call adds 1ms, warming adds 100s.
var liveLimit = ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 1_000_000}

const warmCells = 100_000

func benchKeys(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = "/bank.v1.Bank/Transfer|principal|user-" + strconv.Itoa(i)
	}
	return keys
}

// BenchmarkMemory measures Take on existing keys: one goroutine, then two
// goroutines at once on two Ps (ns/call is each goroutine's time per call,
// comparable with the single-goroutine ns/op), and two goroutines on one
// key, the worst case. clock-read is the cost of the clock read alone,
// which dominates on virtual machines.
func BenchmarkMemory(b *testing.B) {
	keys := benchKeys(10_000)
	s := ratelimit.NewMemory()
	ctx := context.Background()
	for _, k := range keys {
		_, _ = s.Take(ctx, k, liveLimit, warmCells)
	}
	// The floor: the one monotonic clock read each Take makes.
	b.Run("clock-read", func(b *testing.B) {
		base := time.Now()
		var sink time.Duration
		defer cpuPerOp(b)()
		for b.Loop() {
			sink += time.Since(base)
		}
		_ = sink
	})
	b.Run("10k-keys", func(b *testing.B) {
		b.ReportAllocs()
		defer cpuPerOp(b)()
		i := 0
		for b.Loop() {
			_, _ = s.Take(ctx, keys[i], liveLimit, 1)
			if i++; i == len(keys) { // no division in the loop
				i = 0
			}
		}
	})
	// parallel runs two goroutines on two Ps; store(g) is goroutine g's
	// store (g is 0 or 1).
	parallel := func(b *testing.B, store func(g int) *ratelimit.Memory, key func(i int) string) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
		b.SetParallelism(1) // 1 × GOMAXPROCS = 2 goroutines
		b.ReportAllocs()
		var next, ids atomic.Int64
		defer cpuPerOp(b)()
		b.RunParallel(func(pb *testing.PB) {
			s := store(int(ids.Add(1)-1) % 2)
			i := int(next.Add(5003))
			for pb.Next() {
				i++
				_, _ = s.Take(ctx, key(i), liveLimit, 1)
			}
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())*2/float64(b.N), "ns/call")
	}
	shared := func(int) *ratelimit.Memory { return s }
	// The baseline of the contended runs: the same two goroutines, each
	// on a store of its own, so that nothing is shared. On this 2-vCPU
	// machine two goroutines are slower per call even then (the vCPUs
	// share a core's caches and execution units); the contention a
	// shared store adds is 10k-keys-2-goroutines ÷ this.
	own := [2]*ratelimit.Memory{ratelimit.NewMemory(), ratelimit.NewMemory()}
	for _, o := range own {
		for _, k := range keys {
			_, _ = o.Take(ctx, k, liveLimit, warmCells)
		}
	}
	b.Run("10k-keys-2-goroutines-own-stores", func(b *testing.B) {
		parallel(b, func(g int) *ratelimit.Memory { return own[g] }, func(i int) string { return keys[i&8191] })
	})
	b.Run("10k-keys-2-goroutines", func(b *testing.B) {
		parallel(b, shared, func(i int) string { return keys[i&8191] })
	})
	// Each goroutine on its own half of the keys (the even or the odd
	// ones), in the same store: the usual case of concurrent calls from
	// different principals. They share shards, tables and bucket lines,
	// but never a key.
	b.Run("10k-keys-2-goroutines-disjoint", func(b *testing.B) {
		defer runtime.GOMAXPROCS(runtime.GOMAXPROCS(2))
		b.SetParallelism(1)
		b.ReportAllocs()
		var ids atomic.Int64
		defer cpuPerOp(b)()
		b.RunParallel(func(pb *testing.PB) {
			g := int(ids.Add(1)-1) % 2
			i := 0
			for pb.Next() {
				_, _ = s.Take(ctx, keys[(i&4095)*2+g], liveLimit, 1)
				i++
			}
		})
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())*2/float64(b.N), "ns/call")
	})
	b.Run("1-key-2-goroutines", func(b *testing.B) {
		parallel(b, shared, func(int) string { return keys[0] })
	})
}

// cpuPerOp reports the process's CPU time (user+system, all threads) per
// operation as cpu-ns/op: unlike ns/op it does not count time spent waiting
// for a CPU, so it stays meaningful on a shared, loaded machine. With
// several goroutines it is still the CPU one call costs, including what
// contention adds (cache-line transfers, spinning). Call it as
// defer cpuPerOp(b)().
func cpuPerOp(b *testing.B) func() {
	start := cpuTime()
	return func() {
		if b.N > 0 {
			b.ReportMetric(float64((cpuTime()-start).Nanoseconds())/float64(b.N), "cpu-ns/op")
		}
	}
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchRedis returns a client of the shared Redis, or skips.
func benchRedis(b *testing.B) (*redis.Client, string) {
	b.Helper()
	return sharedRedis(b)
}

// timed runs op in b.Loop, recording each duration, and reports the p50
// and p99 in ns.
func timed(b *testing.B, op func() error) (p50 time.Duration) {
	b.Helper()
	d := make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		start := time.Now()
		if err := op(); err != nil {
			b.Fatal(err)
		}
		d = append(d, time.Since(start))
	}
	slices.Sort(d)
	p50 = d[len(d)/2]
	b.ReportMetric(float64(p50.Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[len(d)*99/100].Nanoseconds()), "p99-ns")
	return p50
}

// pingP50 measures the p50 of n plain PINGs.
func pingP50(ctx context.Context, c *redis.Client, n int) time.Duration {
	d := make([]time.Duration, n)
	for i := range d {
		start := time.Now()
		_ = c.Ping(ctx).Err()
		d[i] = time.Since(start)
	}
	slices.Sort(d)
	return d[n/2]
}

// BenchmarkRedisPing is the floor: one plain PING round trip.
func BenchmarkRedisPing(b *testing.B) {
	c, _ := benchRedis(b)
	ctx := context.Background()
	timed(b, func() error { return c.Ping(ctx).Err() })
}

// BenchmarkRedisExact is one exact-mode Take: one EVALSHA round trip. It
// also measures PING in the same run and reports the p50 the script adds
// over it, and the round trips per call.
func BenchmarkRedisExact(b *testing.B) {
	c, prefix := benchRedis(b)
	ctx := context.Background()
	r := ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix))
	keys := benchKeys(10_000)
	_, _ = r.Take(ctx, keys[0], benchLimit, 1) // load the script
	ping := pingP50(ctx, c, 2000)
	n := countCommands(c)
	i := 0
	p50 := timed(b, func() error {
		i++
		_, err := r.Take(ctx, keys[i%len(keys)], benchLimit, 1)
		return err
	})
	b.ReportMetric(float64((p50 - ping).Nanoseconds()), "added-p50-ns")
	b.ReportMetric(float64(n.n.Load())/float64(b.N), "roundtrips/op")
}

// BenchmarkLease is lease mode (leases of 10) on one key: it reports Redis
// round trips per 100 calls.
func BenchmarkLease(b *testing.B) {
	c, prefix := benchRedis(b)
	ctx := context.Background()
	s := ratelimit.NewLeasing(ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix)), ratelimit.WithLeaseSize(10))
	_, _ = s.Take(ctx, "warm", benchLimit, 1)
	n := countCommands(c)
	b.ReportAllocs()
	timed(b, func() error {
		_, err := s.Take(ctx, "/bank.v1.Bank/Transfer|principal|alice", benchLimit, 1)
		return err
	})
	b.ReportMetric(100*float64(n.n.Load())/float64(b.N), "roundtrips/100calls")
}
