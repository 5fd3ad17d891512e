package ratelimit

import "sync"

// bucketSize is the number of slots of a bucket: 128 bytes, two cache
// lines.
const bucketSize = 8

// slot is one key of a Memory shard: its hash (0: empty) and TAT.
type slot struct {
	key uint64
	tat int64
}

// memShard is one shard of a Memory store: a table of buckets in which
// each key has two candidate buckets (two-choice hashing).
type memShard struct {
	mu       sync.Mutex
	slots    []slot // whole buckets
	used     int    // slots with a key, idle or not
	maxSlots int
	_        [16]byte // keep neighbouring shards' mutexes off one cache line
}

// find returns the slot of key h: its own, or the one it may take, empty.
// A fresh key always gets a cell (Take checks n ≤ capacity), so emptying
// the slot here is never wasted. The caller holds sh.mu.
func (sh *memShard) find(h uint64, now int64) *slot {
	for {
		b1, b2 := sh.buckets(h)
		// Fast path, an existing key: compare hashes only.
		for i := range b1 {
			if b1[i].key == h {
				return &b1[i]
			}
		}
		for i := range b2 {
			if b2[i].key == h {
				return &b2[i]
			}
		}
		var c choice
		c.scan(b1, now)
		if &b2[0] != &b1[0] {
			c.scan(b2, now)
		}
		free := c.free()
		if free == nil && len(sh.slots) < sh.maxSlots {
			// Both buckets full of live keys: make room rather than lose one.
			sh.grow(now)
			continue
		}
		if free == nil {
			// At the cap: give up the live key closest to idle.
			free = c.oldest
		}
		if free.key != 0 {
			*free = slot{}
			sh.used--
		}
		return free
	}
}

// choice collects, over a key's two buckets, where a new key could go.
type choice struct {
	idle, oldest *slot
	empty        [2]*slot // the first empty slot of each bucket
	used         [2]int
	n            int // buckets scanned
}

// scan notes the candidate slots of one bucket.
func (c *choice) scan(b []slot, now int64) {
	for i := range b {
		sl := &b[i]
		switch {
		case sl.key == 0:
			if c.empty[c.n] == nil {
				c.empty[c.n] = sl
			}
			continue
		case sl.tat <= now:
			if c.idle == nil {
				c.idle = sl
			}
		case c.oldest == nil || sl.tat < c.oldest.tat:
			c.oldest = sl
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

// buckets returns h's two buckets (rarely the same one twice). Multiply-
// shift maps 32 bits of hash onto any number of buckets, not only powers
// of two; the second index comes from a remix of h.
func (sh *memShard) buckets(h uint64) (b1, b2 []slot) {
	n := uint64(len(sh.slots) / bucketSize)
	i := int((h>>32)*n>>32) * bucketSize
	j := int(((h*0x9e3779b97f4a7c15)>>32)*n>>32) * bucketSize
	return sh.slots[i : i+bucketSize : i+bucketSize], sh.slots[j : j+bucketSize : j+bucketSize]
}

// grow doubles the table (up to maxSlots), dropping idle keys. If a live
// key does not fit the doubled table (both its buckets full, which is rare
// at the load a table grows from), it doubles again: below the cap no live
// key is ever dropped. At the cap, a key that does not fit is the one
// dropped. The caller holds sh.mu.
func (sh *memShard) grow(now int64) {
	old := sh.slots
	for size := min(2*len(old), sh.maxSlots); ; size = min(2*size, sh.maxSlots) {
		if sh.rehash(old, size, now, size < sh.maxSlots) {
			return
		}
	}
}

// rehash puts the live keys of old into a new table of size slots. With
// strict it stops and reports false at the first key that does not fit;
// otherwise it drops such keys and reports true.
func (sh *memShard) rehash(old []slot, size int, now int64, strict bool) bool {
	sh.slots = make([]slot, size)
	sh.used = 0
	for _, sl := range old {
		if sl.key == 0 || sl.tat <= now {
			continue
		}
		var c choice
		b1, b2 := sh.buckets(sl.key)
		c.scan(b1, now)
		if &b2[0] != &b1[0] {
			c.scan(b2, now)
		}
		free := c.free()
		if free == nil {
			if strict {
				return false
			}
			continue
		}
		*free = sl
		sh.used++
	}
	return true
}
