package ratelimit_test

import (
	"errors"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
)

// step is one Take on a fake clock and what it must return.
type step struct {
	advance time.Duration
	n       int
	want    ratelimit.Result
}

func allowed(remaining int, reset time.Duration) ratelimit.Result {
	return ratelimit.Result{Allowed: true, Limit: 3, Remaining: remaining, ResetAfter: reset}
}

func refused(remaining int, retry, reset time.Duration) ratelimit.Result {
	return ratelimit.Result{Limit: 3, Remaining: remaining, RetryAfter: retry, ResetAfter: reset}
}

// TestMemoryGCRA walks a limit of 10/s with a burst of 2 (interval 100ms,
// capacity 3) through burst, refusal, steady rate and recovery.
func TestMemoryGCRA(t *testing.T) {
	ms := time.Millisecond
	l := ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 2}
	steps := []step{
		{n: 1, want: allowed(2, 100*ms)},
		{n: 1, want: allowed(1, 200*ms)},
		{n: 1, want: allowed(0, 300*ms)},
		{n: 1, want: refused(0, 100*ms, 300*ms)},
		{advance: 50 * ms, n: 1, want: refused(0, 50*ms, 250*ms)},
		{advance: 50 * ms, n: 1, want: allowed(0, 300*ms)},
		{advance: 100 * ms, n: 1, want: allowed(0, 300*ms)},
		{advance: 250 * ms, n: 2, want: allowed(0, 250*ms)}, // 2.5 cells free: 2 taken
		{advance: time.Second, n: 1, want: allowed(2, 100*ms)},
		{n: 3, want: refused(2, 100*ms, 100*ms)},
		{n: 2, want: allowed(0, 300*ms)},
	}
	clk := newClock()
	s := ratelimit.NewMemory(ratelimit.WithClock(clk.Now))
	ctx := testContext(t)
	for i, st := range steps {
		clk.Advance(st.advance)
		got, err := s.Take(ctx, "k", l, st.n)
		if err != nil || got != st.want {
			t.Fatalf("step %d: Take(+%v, n=%d) = %+v, %v, want %+v, nil", i, st.advance, st.n, got, err, st.want)
		}
	}
}

func TestMemoryNoBurst(t *testing.T) {
	clk := newClock()
	s := ratelimit.NewMemory(ratelimit.WithClock(clk.Now))
	l := ratelimit.Limit{Rate: 1, Period: time.Minute}
	ctx := testContext(t)
	if got, _ := s.Take(ctx, "k", l, 1); !got.Allowed || got.Remaining != 0 || got.Limit != 1 {
		t.Fatalf("Take(first) = %+v, want allowed, remaining 0, limit 1", got)
	}
	clk.Advance(20 * time.Second)
	if got, _ := s.Take(ctx, "k", l, 1); got.Allowed || got.RetryAfter != 40*time.Second {
		t.Fatalf("Take(+20s) = %+v, want refused with RetryAfter 40s", got)
	}
	if got, _ := s.Take(ctx, "other", l, 1); !got.Allowed {
		t.Fatalf("Take(other key) = %+v, want allowed", got)
	}
}

// TestMemorySteadyRate checks the GCRA bound over a long run: in any window
// the allowed calls are at most Burst+1 + window/interval.
func TestMemorySteadyRate(t *testing.T) {
	clk := newClock()
	s := ratelimit.NewMemory(ratelimit.WithClock(clk.Now))
	l := ratelimit.Limit{Rate: 10, Period: time.Second, Burst: 4}
	ctx := testContext(t)
	allowedAt := []time.Duration{}
	var elapsed time.Duration
	for range 10_000 { // 10s of calls every millisecond
		if r, _ := s.Take(ctx, "k", l, 1); r.Allowed {
			allowedAt = append(allowedAt, elapsed)
		}
		clk.Advance(time.Millisecond)
		elapsed += time.Millisecond
	}
	if got, want := len(allowedAt), 5+100-1; got != want {
		t.Errorf("allowed in 10s = %d, want %d (burst 5, then 10/s)", got, want)
	}
	// Sliding windows of 1s never hold more than 5 + 10.
	for i := range allowedAt {
		j := i
		for j < len(allowedAt) && allowedAt[j]-allowedAt[i] < time.Second {
			j++
		}
		if j-i > 15 {
			t.Fatalf("window at %v allowed %d, want ≤ 15", allowedAt[i], j-i)
		}
	}
}

func TestMemoryInvalid(t *testing.T) {
	s := ratelimit.NewMemory()
	ok := ratelimit.Limit{Rate: 1, Period: time.Second, Burst: 1}
	for _, tc := range []struct {
		name string
		l    ratelimit.Limit
		n    int
	}{
		{"zero rate", ratelimit.Limit{Period: time.Second}, 1},
		{"zero period", ratelimit.Limit{Rate: 1}, 1},
		{"n=0", ok, 0},
		{"n over capacity", ok, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := s.Take(testContext(t), "k", tc.l, tc.n)
			if !errors.Is(err, ratelimit.ErrInvalidLimit) {
				t.Errorf("Take(%v, %d) = %v, want ErrInvalidLimit", tc.l, tc.n, err)
			}
		})
	}
}

func TestMemoryZeroAllocs(t *testing.T) {
	s := ratelimit.NewMemory()
	l := ratelimit.Limit{Rate: 1000, Period: time.Second, Burst: 100}
	ctx := testContext(t)
	_, _ = s.Take(ctx, "existing", l, 1)
	if n := testing.AllocsPerRun(1000, func() { _, _ = s.Take(ctx, "existing", l, 1) }); n != 0 {
		t.Errorf("Take(existing key) allocs = %v, want 0", n)
	}
}

// TestMemoryBounded inserts 1M distinct keys whose state is still live
// into a store capped at 100k keys: the store stays at its cap and the heap
// stops growing once it is full.
func TestMemoryBounded(t *testing.T) {
	const cap, total = 100_000, 1_000_000
	clk := newClock()
	s := ratelimit.NewMemory(ratelimit.WithClock(clk.Now), ratelimit.WithMaxKeys(cap))
	l := ratelimit.Limit{Rate: 1, Period: time.Hour}
	ctx := testContext(t)
	deadline := time.Now().Add(2 * time.Minute)
	var full uint64
	buf := make([]byte, 0, 32)
	for i := range total {
		buf = strconv.AppendInt(append(buf[:0], "client-"...), int64(i), 10)
		if r, _ := s.Take(ctx, string(buf), l, 1); !r.Allowed {
			t.Fatalf("Take(new key %d) = %+v, want allowed", i, r)
		}
		if i == 2*cap {
			full = heapInuse()
		}
		if i%10_000 == 0 && time.Now().After(deadline) {
			t.Fatalf("inserted %d keys in 2m, too slow", i)
		}
	}
	if got := s.Len(); got > cap || got < cap*9/10 {
		t.Errorf("Len() after %d keys = %d, want ≤ %d and near it", total, got, cap)
	}
	end := heapInuse()
	t.Logf("heap in use: %d MiB at %d keys, %d MiB at %d keys; %d keys held",
		full>>20, 2*cap, end>>20, total, s.Len())
	if end > full+16<<20 {
		t.Errorf("HeapInuse grew from %d to %d bytes between %d and %d keys, want ≤ 16 MiB growth", full, end, 2*cap, total)
	}
}

// TestMemoryIdleEviction checks that keys with no state left are dropped
// as new keys arrive, long before the cap.
func TestMemoryIdleEviction(t *testing.T) {
	clk := newClock()
	s := ratelimit.NewMemory(ratelimit.WithClock(clk.Now))
	l := ratelimit.Limit{Rate: 1000, Period: time.Second} // idle 1ms after each call
	ctx := testContext(t)
	for i := range 100_000 {
		_, _ = s.Take(ctx, "k"+strconv.Itoa(i), l, 1)
		clk.Advance(time.Millisecond)
	}
	if got := s.Len(); got > 5_000 {
		t.Errorf("Len() after 100k keys each idle 1ms later = %d, want ≤ 5000", got)
	}
}

func heapInuse() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapInuse
}

// TestMemoryKeepsLiveKeys checks that below the cap no live key loses its
// state: every key is still refused on its second call.
func TestMemoryKeepsLiveKeys(t *testing.T) {
	clk := newClock()
	s := ratelimit.NewMemory(ratelimit.WithClock(clk.Now), ratelimit.WithMaxKeys(200_000))
	l := ratelimit.Limit{Rate: 1, Period: time.Hour}
	ctx := testContext(t)
	const n = 100_000 // half full
	for i := range n {
		_, _ = s.Take(ctx, "k"+strconv.Itoa(i), l, 1)
	}
	lost := 0
	for i := range n {
		if r, _ := s.Take(ctx, "k"+strconv.Itoa(i), l, 1); r.Allowed {
			lost++
		}
	}
	if lost != 0 || s.Len() != n {
		t.Errorf("after %d live keys in a store of %d: %d lost their state, Len() = %d, want 0 and %d", n, s.Cap(), lost, s.Len(), n)
	}
}
