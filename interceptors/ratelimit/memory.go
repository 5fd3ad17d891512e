package ratelimit

import (
	"context"
	"hash/maphash"
	"time"
)

// MemoryOption configures NewMemory.
type MemoryOption func(*memoryOptions)

type memoryOptions struct {
	maxKeys int
	shards  int
	now     func() time.Time
}

// WithMaxKeys caps the number of keys a Memory store holds, and so its
// memory (16 bytes a key). Default 1,000,000. Near the cap (from about
// 75% full; 1% of keys at 90%), a new key may replace the live key closest
// to idle among the 16 it could share buckets with, which then starts
// again from full capacity. Values below 8 per shard are raised to that.
func WithMaxKeys(n int) MemoryOption { return func(o *memoryOptions) { o.maxKeys = n } }

// WithShards sets the number of independently locked shards, rounded up to
// a power of two. Default 64.
func WithShards(n int) MemoryOption { return func(o *memoryOptions) { o.shards = n } }

// WithClock sets the time source of a Memory store, for tests. Default
// time.Now; only differences between readings are used, so the monotonic
// clock of time.Now makes the store immune to wall-clock steps.
func WithClock(now func() time.Time) MemoryOption { return func(o *memoryOptions) { o.now = now } }

// Memory is an in-process GCRA Store. Each key's whole state is its
// theoretical arrival time (TAT), one int64: there is no background refill
// or sweep. A key whose TAT has passed is at full capacity and carries no
// information, so its slot is free for any other key.
//
// Keys are spread over shards. A shard is a table of buckets of 8 slots,
// each slot a key's 64-bit hash under a per-store random seed and its TAT
// (the key strings are never kept). A key lives in one of two buckets; a
// call hashes the key once and scans at most those two (four cache lines).
// A call for a key the table holds usually takes no lock: it updates the
// key's TAT with one compare-and-swap, so that concurrent calls share no
// lock and write only the cache line of the slot they update. Inserting and
// replacing keys takes the shard's mutex, and so does a call that finds its
// slot being rewritten or loses the swap four times. A new key takes an
// idle slot in its buckets, else an empty one in the less full bucket. When
// both are full of live keys the shard's table doubles (dropping idle keys)
// until it reaches its share of WithMaxKeys; from then on the new key
// replaces the live key closest to idle. So live keys are lost only near
// the cap, memory follows the peak number of live keys and never exceeds
// the cap (16 bytes a key), and the only call that allocates or scans more
// than two buckets is one that doubles a table.
//
// Two keys share a count only if their hashes collide, which for n keys
// happens with probability about n²/2^65 (3·10⁻⁸ at a million keys) and
// cannot be aimed at without the seed.
//
// A Memory store counts per process: several gateway replicas each count on
// their own. It is safe for concurrent use.
type Memory struct {
	seed maphash.Seed
	mask uint64
	// now returns ns since an epoch an hour before the store was made, so
	// that every reading is positive and a zero TAT is always in the past.
	now    func() int64
	shards []memShard
}

// NewMemory returns an empty Memory store configured by opts. It is safe
// for concurrent use.
func NewMemory(opts ...MemoryOption) *Memory {
	o := memoryOptions{maxKeys: 1_000_000, shards: 64}
	for _, opt := range opts {
		opt(&o)
	}
	n := 1
	for n < o.shards {
		n <<= 1
	}
	maxSlots := max(o.maxKeys/n/bucketSize, 1) * bucketSize
	s := &Memory{
		seed:   maphash.MakeSeed(),
		mask:   uint64(n - 1),
		now:    nanoClock(o.now),
		shards: make([]memShard, n),
	}
	for i := range s.shards {
		sh := &s.shards[i]
		sh.maxSlots = maxSlots
		sh.tab.Store(newTable(min(4*bucketSize, maxSlots)))
	}
	return s
}

// Take takes n cells of l for key if they are free now. It returns
// ErrInvalidLimit for an invalid l or n, and never another error. It is
// safe for concurrent use.
func (s *Memory) Take(_ context.Context, key string, l Limit, n int) (Result, error) {
	t, err := checkInterval(l, n)
	if err != nil {
		return Result{}, err
	}
	c := s.take(key, int64(t), int64(l.Burst), int64(n))
	return c.result(l, time.Nanosecond), nil
}

// take runs one exact GCRA decision for key (n cells, each t apart). For a
// key the table holds it usually takes no lock: it reads the slot's TAT,
// checks that the slot still holds the key, and stores the new TAT only if
// the old one is still there. A refusal stores nothing, so it checks
// instead that the TAT is unchanged: the slot may have held another key
// between the two key checks, and every rewrite of a slot freezes it and
// leaves it with a higher TAT (but see claim, at the cap). A failed check
// means another take of the key won, or the slot was frozen for a rewrite;
// the take then decides again from the new state, and after a few
// failures, or for a key the table does not hold, under the shard's lock.
func (s *Memory) take(key string, t, burst, n int64) cells {
	now := s.now()
	h := maphash.String(s.seed, key)
	if h == 0 {
		h = 1 // 0 marks an empty slot
	}
	// The low bits pick the shard, the high bits the buckets.
	sh := &s.shards[h&s.mask]
	for range lockFreeTries {
		sl := sh.tab.Load().lookup(h)
		if sl == nil {
			break
		}
		if testHook != nil {
			testHook(hookLookedUp, h)
		}
		old := sl.tat.Load()
		if old == frozen {
			break
		}
		if testHook != nil {
			testHook(hookLoadedTAT, h)
		}
		if sl.key.Load() != h {
			continue // the slot changed keys between the two loads
		}
		c := gcra(now, old, t, burst, n, n)
		if c.granted == 0 {
			if sl.tat.Load() == old {
				return c
			}
			continue
		}
		if testHook != nil {
			testHook(hookSwapping, h)
		}
		if sl.tat.CompareAndSwap(old, c.tat) {
			return c
		}
	}
	return sh.takeLocked(h, now, t, burst, n)
}

// testHook, when set by a test, is called at the named points of take's
// lock-free path with the key's hash, so that a test can stop a take there
// while other calls rewrite its slot. Nil outside tests.
var testHook func(point hookPoint, h uint64)

type hookPoint int

const (
	hookLookedUp  hookPoint = iota // found the slot
	hookLoadedTAT                  // read its TAT, not yet checked the key again
	hookSwapping                   // about to compare-and-swap a grant
)

// lockFreeTries bounds a take's compare-and-swap attempts before it falls
// back to the shard's lock.
const lockFreeTries = 4

// nanoClock returns a clock in ns since an hour before now. For the
// default (now nil) it reads only the monotonic clock, one clock read per
// call instead of the two of time.Now.
func nanoClock(now func() time.Time) func() int64 {
	if now == nil {
		base := time.Now().Add(-time.Hour)
		return func() int64 { return int64(time.Since(base)) }
	}
	base := now().Add(-time.Hour)
	return func() int64 { return int64(now().Sub(base)) }
}

// Len returns the number of keys held, idle ones not yet replaced
// included. It locks every shard in turn and is meant for tests and
// metrics, not the request path.
func (s *Memory) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += sh.used
		sh.mu.Unlock()
	}
	return n
}

// Cap returns the most keys the store can hold: WithMaxKeys, rounded down
// to whole buckets per shard.
func (s *Memory) Cap() int { return len(s.shards) * s.shards[0].maxSlots }
