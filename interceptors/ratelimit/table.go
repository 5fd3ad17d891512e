package ratelimit

import (
	"math"
	"sync"
	"sync/atomic"
)

// bucketSize is the number of slots of a bucket: 128 bytes, two cache
// lines.
const bucketSize = 8

// frozen is the TAT of a slot that the holder of its shard's lock is
// rewriting, and of every slot of a table that a bigger one replaced. A
// take that reads it takes the lock instead, and so waits for the rewrite.
// No real TAT is negative.
const frozen = math.MinInt64

// slot is one key of a Memory shard: its hash (0: empty) and TAT, each
// read and written atomically. A key's TAT only grows while the key holds
// the slot (a take moves it to max(TAT, now) plus what it takes), and a
// slot given to another key starts above the idle TAT it replaces, which is
// what makes the lock-free update safe (see Memory.take; the one exception,
// eviction at the cap, is described in claim).
type slot struct {
	key atomic.Uint64
	tat atomic.Int64
}

// table is one generation of a shard's slots, whole buckets. It is
// replaced, never resized, so that a lock-free take holding an old table
// meets only frozen slots in it.
type table struct {
	slots []slot
}

// memShard is one shard of a Memory store: a table of buckets in which
// each key has two candidate buckets (two-choice hashing).
//
// Takes of a key the table holds are lock-free: they compare-and-swap the
// slot's TAT (see Memory.take). Everything that changes which key a slot
// holds (inserting a key, replacing an idle or, at the cap, a live one,
// growing the table) happens under mu, and freezes the slots it rewrites
// first, so that a concurrent lock-free take either lands before the
// freeze (and its update is carried over) or fails and retries under mu.
type memShard struct {
	// tab and maxSlots are read by every take; inserts write mu and used,
	// which are on the next cache line so that they do not take this one
	// from the takes of other vCPUs.
	tab      atomic.Pointer[table]
	maxSlots int
	_        [48]byte
	mu       sync.Mutex // held to change which key a slot holds
	used     int        // slots with a key, idle or not; under mu
	_        [48]byte
}

func newTable(size int) *table { return &table{slots: make([]slot, size)} }

// buckets returns h's two buckets (rarely the same one twice). Multiply-
// shift maps 32 bits of hash onto any number of buckets, not only powers
// of two; the second index comes from a remix of h.
func (tb *table) buckets(h uint64) (b1, b2 []slot) {
	n := uint64(len(tb.slots) / bucketSize)
	i := int((h>>32)*n>>32) * bucketSize
	j := int(((h*0x9e3779b97f4a7c15)>>32)*n>>32) * bucketSize
	return tb.slots[i : i+bucketSize : i+bucketSize], tb.slots[j : j+bucketSize : j+bucketSize]
}

// lookup returns the slot holding key h, or nil.
func (tb *table) lookup(h uint64) *slot {
	b1, b2 := tb.buckets(h)
	for i := range b1 {
		if b1[i].key.Load() == h {
			return &b1[i]
		}
	}
	for i := range b2 {
		if b2[i].key.Load() == h {
			return &b2[i]
		}
	}
	return nil
}

// takeLocked is take's slow path, under sh.mu: for a key the table does not
// hold (it inserts it), or one whose slot was frozen (the table was
// replaced, or a slot was being rewritten).
func (sh *memShard) takeLocked(h uint64, now, t, burst, n int64) cells {
	sh.mu.Lock()
	defer sh.mu.Unlock()
	for {
		tb := sh.tab.Load()
		if sl := tb.lookup(h); sl != nil {
			// Only lock-free takes of h race this; under mu no slot of
			// the current table is frozen.
			old := sl.tat.Load()
			c := gcra(now, old, t, burst, n, n)
			if c.granted == 0 || sl.tat.CompareAndSwap(old, c.tat) {
				return c
			}
			continue
		}
		sl, ok := sh.claim(tb, h, now)
		if !ok {
			continue // the table grew, or a slot turned live under us
		}
		// A fresh key always gets its cells (Take checks n ≤ capacity).
		c := gcra(now, 0, t, burst, n, n)
		sl.key.Store(h) // sl is frozen: takes of h wait for mu
		sl.tat.Store(c.tat)
		return c
	}
}

// claim finds the slot for new key h and freezes it, counting it in used.
// It reports false, having claimed nothing, when the caller must look
// again: the table grew, or an idle slot it chose was taken meanwhile by
// its key (a lock-free take made it live). The caller holds sh.mu.
func (sh *memShard) claim(tb *table, h uint64, now int64) (*slot, bool) {
	c := tb.choose(h, now)
	free := c.free()
	switch {
	case free == nil && len(tb.slots) < sh.maxSlots:
		// Both buckets full of live keys: make room rather than lose one.
		sh.grow(tb, now)
		return nil, false
	case free == nil:
		// At the cap: give up the live key closest to idle. This is the
		// one rewrite that can lower a slot's TAT (the new key's may be
		// below the evicted one's), so a take of the evicted key that read
		// its TAT v before the freeze, and swaps only later, succeeds if
		// the slot's TAT is then v again: the new key is charged that
		// take's cells. It needs TATs equal to the nanosecond with the
		// default clock (a coarse WithClock makes it likelier), it only
		// ever refuses more, and the eviction has already given up more
		// precision than that (the evicted key restarts from full
		// capacity).
		c.oldest.tat.Store(frozen)
		return c.oldest, true
	case free.key.Load() == 0:
		// No take looks at an empty slot, but one for h may find it as
		// soon as the caller stores the key: it must see frozen then, not
		// a TAT of 0 that the caller's own store would overwrite.
		free.tat.Store(frozen)
		sh.used++
		return free, true
	}
	// An idle key's slot. Its TAT was at most now when scanned; a
	// lock-free take may have moved it since, making the key live.
	if v := free.tat.Swap(frozen); v > now {
		free.tat.Store(v)
		return nil, false
	}
	// Safe to reuse: a take of the old key that read its TAT before the
	// freeze compares against a value at most now, and the new key's TAT
	// is above now, so that take's swap fails.
	return free, true
}

// choose scans h's two buckets (once if they are the same) for where h
// could go.
func (tb *table) choose(h uint64, now int64) choice {
	var c choice
	b1, b2 := tb.buckets(h)
	c.scan(b1, now)
	if &b2[0] != &b1[0] {
		c.scan(b2, now)
	}
	return c
}

// choice collects, over a key's two buckets, where a new key could go.
type choice struct {
	idle, oldest *slot
	oldestTAT    int64
	empty        [2]*slot // the first empty slot of each bucket
	used         [2]int
	n            int // buckets scanned
}

// scan notes the candidate slots of one bucket.
func (c *choice) scan(b []slot, now int64) {
	for i := range b {
		sl := &b[i]
		if sl.key.Load() == 0 {
			if c.empty[c.n] == nil {
				c.empty[c.n] = sl
			}
			continue
		}
		switch tat := sl.tat.Load(); {
		case tat <= now:
			if c.idle == nil {
				c.idle = sl
			}
		case c.oldest == nil || tat < c.oldestTAT:
			c.oldest, c.oldestTAT = sl, tat
		}
		c.used[c.n]++
	}
	c.n++
}

// free returns the slot for a new key: an idle key's first, so that empty
// slots (and growth) are spent on live keys only; else an empty one in the
// less used bucket, which keeps buckets even so that tables fill to about
// 75% before both of a key's buckets are ever full; nil if they are.
func (c *choice) free() *slot {
	switch {
	case c.idle != nil:
		return c.idle
	case c.empty[0] != nil && (c.empty[1] == nil || c.used[0] <= c.used[1]):
		return c.empty[0]
	default:
		return c.empty[1]
	}
}

// kv is a key and its TAT, as moved by grow.
type kv struct {
	key uint64
	tat int64
}

// grow replaces tb by a table twice its size (up to maxSlots), dropping
// idle keys. It freezes every slot of tb first, so that lock-free takes
// still holding tb fall back to mu and then find the new table, and a take
// that swapped before the freeze is carried over. If a live key does not
// fit the doubled table (both its buckets full, which is rare at the load a
// table grows from), it doubles again: below the cap no live key is ever
// dropped. At the cap, a key that does not fit is the one dropped. The
// caller holds sh.mu.
func (sh *memShard) grow(tb *table, now int64) {
	live := make([]kv, 0, sh.used)
	for i := range tb.slots {
		sl := &tb.slots[i]
		if tat, key := sl.tat.Swap(frozen), sl.key.Load(); key != 0 && tat > now {
			live = append(live, kv{key, tat})
		}
	}
	for size := min(2*len(tb.slots), sh.maxSlots); ; size = min(2*size, sh.maxSlots) {
		if nt, used, ok := rehash(live, size, now, size < sh.maxSlots); ok {
			sh.used = used
			sh.tab.Store(nt)
			return
		}
	}
}

// rehash puts live into a new table of size slots, and returns it and how
// many keys it holds. With strict it stops and reports false at the first
// key that does not fit; otherwise it drops such keys.
func rehash(live []kv, size int, now int64, strict bool) (*table, int, bool) {
	nt := newTable(size)
	used := 0
	for _, e := range live {
		c := nt.choose(e.key, now)
		free := c.free()
		if free == nil {
			if strict {
				return nil, 0, false
			}
			continue
		}
		free.key.Store(e.key)
		free.tat.Store(e.tat)
		used++
	}
	return nt, used, true
}
