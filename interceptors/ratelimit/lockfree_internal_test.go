package ratelimit

import (
	"context"
	"hash/maphash"
	"strconv"
	"sync"
	"testing"
	"time"
)

// These tests stop a lock-free take at a point of its path (testHook)
// while other calls rewrite its slot, which a stress test only hits by
// chance.

func hashOf(s *Memory, key string) uint64 {
	if h := maphash.String(s.seed, key); h != 0 {
		return h
	}
	return 1
}

// pauseAt sets testHook to stop the first take of h that reaches each of
// points: it signals on the point's reached channel and waits for its
// resume channel to be closed. It removes the hook when the test ends.
func pauseAt(t *testing.T, h uint64, points ...hookPoint) (reached, resume map[hookPoint]chan struct{}) {
	reached, resume = map[hookPoint]chan struct{}{}, map[hookPoint]chan struct{}{}
	once := map[hookPoint]*sync.Once{}
	for _, p := range points {
		reached[p], resume[p], once[p] = make(chan struct{}), make(chan struct{}), new(sync.Once)
	}
	testHook = func(p hookPoint, got uint64) {
		if o := once[p]; o != nil && got == h {
			o.Do(func() {
				reached[p] <- struct{}{}
				<-resume[p]
			})
		}
	}
	t.Cleanup(func() { testHook = nil })
	return reached, resume
}

func fillStore(t *testing.T, s *Memory, l Limit, n int) {
	t.Helper()
	for i := range n {
		if r, _ := s.Take(context.Background(), "fill-"+strconv.Itoa(i), l, 1); !r.Allowed {
			t.Fatalf("filler %d refused", i)
		}
	}
}

// A take of K stops after its lookup; K's slot goes to h and back to K
// (evictions at the cap, frozen clock) while it stops again after reading
// the TAT, which is then h's. Its key check passes (K is back), so only the
// refusal's check that the TAT is unchanged keeps it from refusing K on h's
// state: K had a free cell at every instant of the call.
func TestLockFreeRefusalABA(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	s := NewMemory(WithClock(func() time.Time { return base }), WithShards(1), WithMaxKeys(8))
	ctx := context.Background()
	lk := Limit{Rate: 1, Period: time.Second, Burst: 1} // K: capacity 2
	lh := Limit{Rate: 1, Period: 100 * time.Second}     // h: TAT now+100s
	lf := Limit{Rate: 1, Period: 1000 * time.Second}    // fillers: TAT now+1000s
	if r, _ := s.Take(ctx, "K", lk, 1); !r.Allowed {
		t.Fatal("K refused")
	}
	fillStore(t, s, lf, 7) // one bucket, full; K has the lowest TAT
	reached, resume := pauseAt(t, hashOf(s, "K"), hookLookedUp, hookLoadedTAT)
	done := make(chan Result)
	go func() { r, _ := s.Take(ctx, "K", lk, 1); done <- r }()
	<-reached[hookLookedUp]
	_, _ = s.Take(ctx, "h", lh, 1) // evicts K: h in K's slot
	close(resume[hookLookedUp])
	<-reached[hookLoadedTAT]       // the take has read h's TAT
	_, _ = s.Take(ctx, "K", lk, 1) // K evicts h (now the lowest), into the same slot
	close(resume[hookLoadedTAT])
	if r := <-done; !r.Allowed {
		t.Errorf("take of K = %+v, refused on h's state; K had a free cell throughout", r)
	}
}

// A take of K stops before its swap; K is idle by then and its slot goes
// to a new key h. The swap must fail (h's TAT is above the idle one it
// replaced) and the take must start over: K is inserted afresh (in the
// empty slot; no key is evicted) and h keeps exactly its own state.
func TestLockFreeSwapAfterReuse(t *testing.T) {
	var clock time.Duration
	var mu sync.Mutex
	base := time.Unix(1_700_000_000, 0)
	now := func() time.Time { mu.Lock(); defer mu.Unlock(); return base.Add(clock) }
	advance := func(d time.Duration) { mu.Lock(); clock += d; mu.Unlock() }
	s := NewMemory(WithClock(now), WithShards(1), WithMaxKeys(8))
	ctx := context.Background()
	short := Limit{Rate: 1, Period: time.Second}   // idle 1s after a take
	hourly := Limit{Rate: 1, Period: time.Hour}    // capacity 1
	lf := Limit{Rate: 1, Period: 1000 * time.Hour} // fillers, never idle here
	if r, _ := s.Take(ctx, "K", short, 1); !r.Allowed {
		t.Fatal("K refused")
	}
	fillStore(t, s, lf, 6)   // one bucket: K, 6 fillers and an empty slot
	advance(2 * time.Second) // K idle: a new key takes its slot before the empty one
	reached, resume := pauseAt(t, hashOf(s, "K"), hookSwapping)
	done := make(chan Result)
	go func() { r, _ := s.Take(ctx, "K", hourly, 1); done <- r }()
	<-reached[hookSwapping]
	if r, _ := s.Take(ctx, "h", hourly, 1); !r.Allowed { // reuses K's idle slot
		t.Fatal("h refused")
	}
	close(resume[hookSwapping])
	if r := <-done; !r.Allowed {
		t.Fatalf("take of K = %+v, want allowed (K was idle, so at full capacity)", r)
	}
	for _, k := range []string{"h", "K"} {
		if r, _ := s.Take(ctx, k, hourly, 1); r.Allowed {
			t.Errorf("second hourly take of %s allowed: its first take's state was lost or overwritten", k)
		}
	}
}
