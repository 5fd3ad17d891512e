package ratelimit_test

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
)

// Concurrent calls on a Memory store are exact: with the clock frozen (no
// refill), each key grants exactly its capacity however many goroutines
// take from it at once, also while the shard's table grows under them (one
// shard, starting at its smallest table) and for keys only one goroutine
// uses. A lost update would grant more; a lost key, fewer (or more, as a
// fresh key).
func TestMemoryConcurrentExact(t *testing.T) {
	frozen := time.Unix(1_700_000_000, 0)
	l := ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 49} // capacity 50
	const (
		goroutines = 8
		shared     = 64  // keys every goroutine takes from
		own        = 400 // keys each goroutine alone takes from (they grow the table)
		attempts   = 80  // per goroutine per shared key; capacity is 50
	)
	s := ratelimit.NewMemory(ratelimit.WithClock(func() time.Time { return frozen }), ratelimit.WithShards(1), ratelimit.WithMaxKeys(1<<20))
	ctx := context.Background()
	var granted [shared]atomic.Int64
	ownGranted := make([]atomic.Int64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for a := range attempts {
				for k := range shared {
					if r, _ := s.Take(ctx, "shared-"+strconv.Itoa(k), l, 1); r.Allowed {
						granted[k].Add(1)
					}
				}
				// Interleaved with the shared keys: new keys keep arriving,
				// so the table grows while other goroutines update.
				for k := a * own / attempts; k < (a+1)*own/attempts; k++ {
					if r, _ := s.Take(ctx, "own-"+strconv.Itoa(g)+"-"+strconv.Itoa(k), l, 1); r.Allowed {
						ownGranted[g].Add(1)
					}
				}
			}
		})
	}
	wg.Wait()
	for k := range shared {
		if n := granted[k].Load(); n != 50 {
			t.Errorf("shared key %d granted %d of %d attempts, want exactly its capacity 50", k, n, goroutines*attempts)
		}
	}
	for g := range goroutines {
		if n := ownGranted[g].Load(); n != own {
			t.Errorf("goroutine %d: %d of its %d fresh keys granted, want all", g, n, own)
		}
	}
	if got, want := s.Len(), shared+goroutines*own; got != want {
		t.Errorf("Len() = %d, want %d (no key lost while the table grew)", got, want)
	}
}

// A key whose slot is idle can be taken by a lock-free call at the moment
// another call, holding the shard's lock, picks that slot for a new key.
// The new key must then not overwrite the taken state: each watched key
// here is idle (a 1ns limit) until a 1-per-hour take makes it live, and
// that take must be granted exactly once per key however many goroutines
// try, while fresh keys keep replacing idle slots around it. The clock
// advances 1ns per reading, so idle keys are idle again at once and the
// hourly cell never comes back.
func TestMemoryConcurrentReplaceIdle(t *testing.T) {
	var ticks atomic.Int64
	base := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return base.Add(time.Duration(ticks.Add(1))) }
	short := ratelimit.Limit{Rate: 1_000_000_000, Period: time.Second} // idle 1ns after each take
	hourly := ratelimit.Limit{Rate: 1, Period: time.Hour}              // capacity 1, no refill here
	const (
		goroutines = 8
		watched    = 48   // live keys stay far below the cap: none is evicted
		rounds     = 2000 // or 2s: a lost update needs an unlucky interleaving
		churn      = 3    // fresh keys per goroutine per watched key
	)
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Second)
	for r := 0; r < rounds && time.Now().Before(deadline); r++ {
		var granted [watched]atomic.Int64
		s := ratelimit.NewMemory(ratelimit.WithClock(clock), ratelimit.WithShards(1), ratelimit.WithMaxKeys(256))
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				for k := range watched {
					key := "watched-" + strconv.Itoa(k)
					_, _ = s.Take(ctx, key, short, 1) // present and idle
					for c := range churn {
						_, _ = s.Take(ctx, "churn-"+strconv.Itoa(g)+"-"+strconv.Itoa(k*churn+c), short, 1)
					}
					if res, _ := s.Take(ctx, key, hourly, 1); res.Allowed {
						granted[k].Add(1)
					}
				}
			})
		}
		wg.Wait()
		for k := range watched {
			if n := granted[k].Load(); n != 1 {
				t.Fatalf("round %d: watched key %d granted its one hourly cell %d times by %d goroutines, want exactly once (its state was lost to a key that replaced its slot)", r, k, n, goroutines)
			}
		}
	}
}

// At the cap, new keys evict the live key closest to idle, in the very
// buckets where other keys are being updated lock-free. The store here is
// one shard of 16 slots (two buckets, at the cap from the start) and the
// clock is frozen. Four hot keys (a 1-per-1000h limit, so their TATs are
// hours above every filler's) are taken by every goroutine at once; fillers
// (capacity 2 at 1/s) keep arriving and evict one another. No bucket can
// hold more than the 4 hot keys, so every eviction picks a filler, a hot
// key is never evicted, and each must grant exactly its capacity: a slot
// rewritten without a freeze, a hot key's update lost to an insertion or
// applied to a filler's slot, or a filler's applied to a hot key's, all
// change that count. Each round also inserts the hot keys at the cap
// (evicting fillers) while all goroutines race to take them.
func TestMemoryConcurrentEvictAtCap(t *testing.T) {
	base := time.Unix(1_700_000_000, 0)
	hot := ratelimit.Limit{Rate: 1, Period: 1000 * time.Hour, Burst: 49} // capacity 50
	filler := ratelimit.Limit{Rate: 1, Period: time.Second, Burst: 1}    // capacity 2
	const (
		goroutines = 8
		hotKeys    = 4
		attempts   = 10 // per goroutine per hot key: 80 > 50
		churn      = 4  // fresh fillers per goroutine per attempt
		rounds     = 3000
	)
	ctx := context.Background()
	deadline := time.Now().Add(3 * time.Second)
	r := 0
	for ; r < rounds && time.Now().Before(deadline); r++ {
		s := ratelimit.NewMemory(ratelimit.WithClock(func() time.Time { return base }), ratelimit.WithShards(1), ratelimit.WithMaxKeys(16))
		// Fill the table with fillers first, so the hot keys' own
		// insertions are evictions too.
		for i := range 32 {
			_, _ = s.Take(ctx, "pre-"+strconv.Itoa(i), filler, 1)
		}
		var granted [hotKeys]atomic.Int64
		start := make(chan struct{}) // all at once on the hot keys' insertions
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				<-start
				for a := range attempts {
					for k := range hotKeys {
						if res, _ := s.Take(ctx, "hot-"+strconv.Itoa(r)+"-"+strconv.Itoa(k), hot, 1); res.Allowed {
							granted[k].Add(1)
						}
					}
					for c := range churn {
						// Shared fillers (every goroutine takes the same
						// ones, so lock-free takes of a filler race its
						// eviction) and goroutine-own ones.
						_, _ = s.Take(ctx, "fill-"+strconv.Itoa(a*churn+c), filler, 1)
						_, _ = s.Take(ctx, "own-"+strconv.Itoa(g)+"-"+strconv.Itoa(a*churn+c), filler, 1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		for k := range hotKeys {
			if n := granted[k].Load(); n != 50 {
				t.Fatalf("round %d: hot key %d granted %d of %d attempts, want exactly its capacity 50 (it is never evicted)", r, k, n, goroutines*attempts)
			}
		}
		if n, c := s.Len(), s.Cap(); n > c {
			t.Fatalf("round %d: Len() = %d > Cap() = %d", r, n, c)
		}
	}
	t.Logf("%d rounds", r)
}

// Rounds of one fresh key that all goroutines take at once, released
// together, while each also inserts fresh keys so that the shard's table
// grows (freezing the slot, sending takes to the locked path) during the
// very takes that spend the key's capacity. Clock frozen: exactly the
// capacity must be granted each round.
func TestMemoryConcurrentSameKeyRounds(t *testing.T) {
	frozen := time.Unix(1_700_000_000, 0)
	l := ratelimit.Limit{Rate: 1, Period: time.Hour, Burst: 15} // capacity 16
	const (
		goroutines = 8
		attempts   = 4 // per goroutine: 32 > 16
		fresh      = 3 // fresh keys per goroutine per attempt (grows 32 -> 64 -> 128)
		rounds     = 20000
	)
	ctx := context.Background()
	deadline := time.Now().Add(2 * time.Second)
	r := 0
	for ; r < rounds && time.Now().Before(deadline); r++ {
		s := ratelimit.NewMemory(ratelimit.WithClock(func() time.Time { return frozen }), ratelimit.WithShards(1), ratelimit.WithMaxKeys(1<<12))
		var granted atomic.Int64
		if r%2 == 0 { // held, so the first takes are lock-free; else all race its insertion
			_, _ = s.Take(ctx, "k", l, 1)
			granted.Add(1)
		}
		start := make(chan struct{})
		var wg sync.WaitGroup
		for g := range goroutines {
			wg.Go(func() {
				<-start
				for a := range attempts {
					if res, _ := s.Take(ctx, "k", l, 1); res.Allowed {
						granted.Add(1)
					}
					for f := range fresh {
						_, _ = s.Take(ctx, "f-"+strconv.Itoa(g)+"-"+strconv.Itoa(a*fresh+f), l, 1)
					}
				}
			})
		}
		close(start)
		wg.Wait()
		if n := granted.Load(); n != 16 {
			t.Fatalf("round %d: granted %d of %d attempts, want exactly its capacity 16", r, n, goroutines*attempts)
		}
	}
	t.Logf("%d rounds", r)
}
