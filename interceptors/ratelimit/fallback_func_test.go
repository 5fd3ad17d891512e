package ratelimit_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
)

// hanging is a primary store that never answers before its context ends,
// and counts its calls.
type hanging struct{ calls atomic.Int64 }

func (h *hanging) Take(ctx context.Context, _ string, _ ratelimit.Limit, _ int) (ratelimit.Result, error) {
	h.calls.Add(1)
	<-ctx.Done()
	return ratelimit.Result{}, ctx.Err()
}

// TestFallbackFunc checks the Fallback without Redis: the default 50ms
// timeout, at most one probe per interval while degraded, and which errors
// are not outages.
func TestFallbackFunc(t *testing.T) {
	l := ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 10}
	t.Run("default timeout", func(t *testing.T) {
		f := ratelimit.NewFallback(&hanging{}, ratelimit.NewMemory(), ratelimit.FallbackLocal)
		start := time.Now()
		res, err := f.Take(testContext(t), "k", l, 1)
		if took := time.Since(start); took < 50*time.Millisecond || took > 2*time.Second {
			t.Errorf("Take(hanging primary) took %v, want about 50ms", took)
		}
		if err != nil || !res.Allowed || !res.Degraded || !f.Degraded() {
			t.Errorf("Take(hanging primary) = %+v, %v, want allowed and degraded", res, err)
		}
	})
	t.Run("one probe per interval", func(t *testing.T) {
		h := &hanging{}
		f := ratelimit.NewFallback(h, ratelimit.NewMemory(), ratelimit.FallbackLocal,
			ratelimit.WithTimeout(5*time.Millisecond), ratelimit.WithProbeInterval(time.Hour))
		ctx := testContext(t)
		for i := range 100 {
			if res, err := f.Take(ctx, "k", l, 1); err != nil || !res.Degraded {
				t.Fatalf("Take(%d) = %+v, %v, want degraded", i, res, err)
			}
		}
		if got := h.calls.Load(); got != 1 {
			t.Errorf("primary calls = %d, want 1 (no probe within the interval)", got)
		}
	})
	t.Run("not outages", func(t *testing.T) {
		var states []bool
		f := ratelimit.NewFallback(&hanging{}, ratelimit.NewMemory(), ratelimit.FallbackLocal,
			ratelimit.WithOnDegraded(func(d bool, _ error) { states = append(states, d) }))
		if _, err := f.Take(testContext(t), "k", ratelimit.Limit{}, 1); !errors.Is(err, ratelimit.ErrInvalidLimit) {
			t.Errorf("Take(invalid limit) = %v, want ErrInvalidLimit", err)
		}
		ctx, cancel := context.WithCancel(testContext(t))
		cancel()
		if _, err := f.Take(ctx, "k", l, 1); !errors.Is(err, context.Canceled) {
			t.Errorf("Take(canceled ctx) = %v, want context.Canceled", err)
		}
		if f.Degraded() || len(states) != 0 {
			t.Errorf("Degraded() = %v, OnDegraded calls %v, want false, none", f.Degraded(), states)
		}
	})
}
