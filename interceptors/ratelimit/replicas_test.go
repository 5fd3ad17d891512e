package ratelimit_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
)

// TestReplicas runs three Store instances, each with its own go-redis
// client (three gateway replicas), against one Redis and one key, as fast
// as they can for a fixed window, and checks that together they stay
// within the one global limit: allowed ≤ Burst+1 + Rate×window/Period, plus
// replicas × lease size in lease mode. It reports the measured overshoot
// (allowed − that exact bound; negative is under it) for the whole window
// and for the second half, where cells leased in the first half can be
// spent late, and the Redis round trips.
func TestReplicas(t *testing.T) {
	const (
		replicas = 3
		workers  = 2 // goroutines per replica
		window   = 1200 * time.Millisecond
		lease    = 10
	)
	l := ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 20}
	for _, mode := range []string{"exact", "lease"} {
		t.Run(mode, func(t *testing.T) {
			_, prefix := sharedRedis(t)
			var (
				stores []ratelimit.Store
				trips  []*counter
			)
			for range replicas {
				c := newClient(t, redisAddr())
				trips = append(trips, countCommands(c))
				r := ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix))
				if mode == "exact" {
					stores = append(stores, r)
				} else {
					stores = append(stores, ratelimit.NewLeasing(r, ratelimit.WithLeaseSize(lease)))
				}
			}
			ctx, cancel := context.WithTimeout(testContext(t), 10*time.Second)
			defer cancel()
			start := time.Now()
			half, end := start.Add(window/2), start.Add(window)
			var calls, errs, total, late atomic.Int64
			var wg sync.WaitGroup
			for _, s := range stores {
				for range workers {
					wg.Add(1)
					go func() {
						defer wg.Done()
						for i := 0; i < 1_000_000 && time.Now().Before(end); i++ {
							res, err := s.Take(ctx, "/bank.v1.Bank/Transfer|principal|alice", l, 1)
							done := time.Now()
							calls.Add(1)
							switch {
							case err != nil:
								errs.Add(1)
							case res.Allowed && !done.After(end):
								total.Add(1)
								if done.After(half) {
									late.Add(1)
								}
							}
						}
					}()
				}
			}
			wg.Wait()
			elapsed := time.Since(start)
			var rt int64
			for _, c := range trips {
				rt += c.n.Load()
			}
			if errs.Load() != 0 {
				t.Fatalf("%d of %d Takes failed, want 0", errs.Load(), calls.Load())
			}
			cells := func(w time.Duration) int64 { return int64(w / l.Interval()) }
			bound := int64(l.Capacity()) + cells(window)
			halfBound := int64(l.Capacity()) + cells(window/2)
			slack := int64(1) // a cell freed exactly at the window's edge
			if mode == "lease" {
				slack += replicas * lease
			}
			t.Logf("%s: %d calls in %v, %d Redis round trips (%.2f per 100 calls, %.0f per 100 allowed); allowed %d, exact bound %d, overshoot %+d; second half allowed %d, bound %d, overshoot %+d",
				mode, calls.Load(), elapsed.Round(time.Millisecond), rt, 100*float64(rt)/float64(calls.Load()), 100*float64(rt)/float64(max(total.Load(), 1)),
				total.Load(), bound, total.Load()-bound, late.Load(), halfBound, late.Load()-halfBound)
			if total.Load() > bound+slack {
				t.Errorf("allowed in %v = %d, want ≤ %d (+%d)", window, total.Load(), bound, slack)
			}
			if late.Load() > halfBound+slack {
				t.Errorf("allowed in second half = %d, want ≤ %d (+%d)", late.Load(), halfBound, slack)
			}
			// Not starved either: at least the burst is granted. (How much of
			// the steady rate is used depends on how fast this machine
			// runs the calls; the log shows it.)
			if min := int64(l.Capacity()); total.Load() < min {
				t.Errorf("allowed in %v = %d, want ≥ %d", window, total.Load(), min)
			}
		})
	}
}

// TestLeasing checks lease mode on its own: about one round trip per
// lease, refusals remembered until their retry time, and expiry of unused
// cells.
func TestLeasing(t *testing.T) {
	c, prefix := sharedRedis(t)
	n := countCommands(c)
	r := ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix))
	clk := newClock()
	s := ratelimit.NewLeasing(r, ratelimit.WithLeaseSize(10), ratelimit.WithLeaseTTL(time.Second),
		ratelimit.WithLeaseClock(clk.Now))
	ctx := testContext(t)
	l := ratelimit.Limit{Rate: 30, Period: time.Hour, Burst: 29} // capacity 30, no refill during the test
	for i := range 30 {
		res, err := s.Take(ctx, "k", l, 1)
		if err != nil || !res.Allowed {
			t.Fatalf("Take(%d) = %+v, %v, want allowed", i, res, err)
		}
		if want := 29 - i; res.Remaining != want {
			t.Errorf("Take(%d).Remaining = %d, want %d", i, res.Remaining, want)
		}
	}
	if got := n.n.Load(); got < 3 || got > 4 { // 3 leases, plus EVAL once if the script was not loaded
		t.Errorf("round trips for 30 calls with leases of 10 = %d, want 3", got)
	}
	before := n.n.Load()
	for i := range 20 {
		res, err := s.Take(ctx, "k", l, 1)
		if err != nil || res.Allowed || res.RetryAfter <= 0 {
			t.Fatalf("Take(over, %d) = %+v, %v, want refused with RetryAfter", i, res, err)
		}
	}
	if got := n.n.Load() - before; got != 1 {
		t.Errorf("round trips for 20 refused calls = %d, want 1 (refusal remembered)", got)
	}

	// Unused cells expire with the lease: take 1 of a lease of 10 on a new
	// key, let the lease expire, and the next call goes to Redis again.
	l2 := ratelimit.Limit{Rate: 100, Period: time.Hour, Burst: 99}
	if _, err := s.Take(ctx, "k2", l2, 1); err != nil {
		t.Fatal(err)
	}
	before = n.n.Load()
	_, _ = s.Take(ctx, "k2", l2, 1)
	if got := n.n.Load() - before; got != 0 {
		t.Errorf("round trips within a lease = %d, want 0", got)
	}
	clk.Advance(2 * time.Second)
	res, err := s.Take(ctx, "k2", l2, 1)
	if got := n.n.Load() - before; err != nil || got != 1 {
		t.Errorf("round trips after the lease TTL = %d (%v), want 1", got, err)
	}
	// 10 + 10 leased, 2 served: Redis has 80 left, the lease 9.
	if res.Remaining != 89 {
		t.Errorf("Take(new lease).Remaining = %d, want 89", res.Remaining)
	}
	if s.Len() != 2 {
		t.Errorf("Len() = %d, want 2", s.Len())
	}
}
