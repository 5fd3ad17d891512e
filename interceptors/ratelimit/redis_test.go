package ratelimit_test

import (
	"errors"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
)

// near reports whether a and b differ by at most d.
func near(a, b, d time.Duration) bool { return a-b <= d && b-a <= d }

// TestRedisMatchesMemory runs the same sequences against the Redis store
// (real Redis, real time) and the Memory store (fake clock, no time
// passing): decisions and counts must be equal, durations nearly so.
func TestRedisMatchesMemory(t *testing.T) {
	c, prefix := sharedRedis(t)
	r := ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix))
	for _, tc := range []struct {
		name string
		l    ratelimit.Limit
		ns   []int
	}{
		{"no burst", ratelimit.Limit{Rate: 1, Period: time.Hour}, []int{1, 1, 1}},
		{"burst", ratelimit.Limit{Rate: 60, Period: time.Hour, Burst: 4}, []int{1, 1, 1, 1, 1, 1, 1}},
		{"multi-cell", ratelimit.Limit{Rate: 10, Period: time.Hour, Burst: 9}, []int{3, 3, 3, 3, 1, 1}},
		{"odd interval", ratelimit.Limit{Rate: 7, Period: time.Hour, Burst: 2}, []int{2, 1, 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := testContext(t)
			m := ratelimit.NewMemory(ratelimit.WithClock(newClock().Now))
			for i, n := range tc.ns {
				want, err := m.Take(ctx, tc.name, tc.l, n)
				if err != nil {
					t.Fatalf("Memory.Take(%d) = %v", i, err)
				}
				got, err := r.Take(ctx, tc.name, tc.l, n)
				if err != nil {
					t.Fatalf("Redis.Take(%d) = %v, want nil", i, err)
				}
				if got.Allowed != want.Allowed || got.Remaining != want.Remaining || got.Limit != want.Limit ||
					!near(got.RetryAfter, want.RetryAfter, time.Second) || !near(got.ResetAfter, want.ResetAfter, time.Second) {
					t.Errorf("Redis.Take(%v, call %d, n=%d) = %+v, want %+v (Memory)", tc.l, i, n, got, want)
				}
			}
		})
	}
}

// TestRedisKeys checks namespacing and expiry: a key lives under the
// prefix, expires when its TAT passes, and another prefix counts apart.
func TestRedisKeys(t *testing.T) {
	c, prefix := sharedRedis(t)
	ctx := testContext(t)
	l := ratelimit.Limit{Rate: 10, Period: time.Second} // 100ms per cell
	r := ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix))
	if got := r.Prefix(); got != prefix {
		t.Errorf("Prefix() = %q, want %q", got, prefix)
	}
	if res, err := r.Take(ctx, "/a.B/C|principal|alice", l, 1); err != nil || !res.Allowed {
		t.Fatalf("Take() = %+v, %v, want allowed", res, err)
	}
	key := prefix + "/a.B/C|principal|alice"
	ttl, err := c.PTTL(ctx, key).Result()
	if err != nil || ttl <= 0 || ttl > 100*time.Millisecond {
		t.Errorf("PTTL(%q) = %v, %v, want in (0, 100ms]", key, ttl, err)
	}
	if res, _ := r.Take(ctx, "/a.B/C|principal|alice", l, 1); res.Allowed {
		t.Errorf("Take(again) = %+v, want refused", res)
	}
	other := ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix+"other:"))
	if res, err := other.Take(ctx, "/a.B/C|principal|alice", l, 1); err != nil || !res.Allowed {
		t.Errorf("Take(other prefix) = %+v, %v, want allowed (own namespace)", res, err)
	}
	time.Sleep(150 * time.Millisecond)
	if n, err := c.Exists(ctx, key).Result(); err != nil || n != 0 {
		t.Errorf("Exists(%q) after its TAT = %d, %v, want 0", key, n, err)
	}
	if res, _ := r.Take(ctx, "/a.B/C|principal|alice", l, 1); !res.Allowed {
		t.Errorf("Take(after expiry) = %+v, want allowed", res)
	}
	if def := ratelimit.NewRedis(c); def.Prefix() != "portcullis:rl:" {
		t.Errorf("NewRedis().Prefix() = %q, want %q", def.Prefix(), "portcullis:rl:")
	}
}

// TestRedisOneRoundTrip counts commands: one per Take once the script is
// cached by the server.
func TestRedisOneRoundTrip(t *testing.T) {
	c, prefix := sharedRedis(t)
	n := countCommands(c)
	r := ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix))
	ctx := testContext(t)
	l := ratelimit.Limit{Rate: 100, Period: time.Second, Burst: 10}
	if _, err := r.Take(ctx, "warm", l, 1); err != nil {
		t.Fatalf("Take(warm) = %v", err)
	}
	before := n.n.Load()
	for i := range 50 {
		if _, err := r.Take(ctx, "k", l, 1); err != nil {
			t.Fatalf("Take(%d) = %v", i, err)
		}
	}
	if got := n.n.Load() - before; got != 50 {
		t.Errorf("round trips for 50 Takes = %d, want 50", got)
	}
}

func TestRedisInvalid(t *testing.T) {
	c, prefix := sharedRedis(t)
	r := ratelimit.NewRedis(c, ratelimit.WithPrefix(prefix))
	if _, err := r.Take(testContext(t), "k", ratelimit.Limit{}, 1); !errors.Is(err, ratelimit.ErrInvalidLimit) {
		t.Errorf("Take(zero Limit) = %v, want ErrInvalidLimit", err)
	}
}
