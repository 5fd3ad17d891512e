package backend

import (
	"container/heap"
	"sync"
)

// replayCache remembers the jti of every accepted assertion until it
// expires. Expired ids leave in expiry order from a min-heap as new ones
// arrive, so there is no sweeper goroutine and no full scan. It is safe
// for concurrent use.
type replayCache struct {
	mu   sync.Mutex
	max  int
	seen map[string]struct{}
	q    expiryHeap
}

type replayEntry struct {
	jti   string
	until int64 // Unix nanoseconds after which the id may be forgotten
}

func newReplayCache(max int) *replayCache {
	return &replayCache{max: max, seen: make(map[string]struct{})}
}

// replayResult is the outcome of first.
type replayResult uint8

const (
	replayFirst replayResult = iota // never seen: now remembered
	replaySeen                      // a replay
	replayFull                      // no room for another unexpired id
)

// first records jti, remembered until until, and reports whether it is
// its first use. now is the current time in Unix nanoseconds.
func (c *replayCache) first(jti string, until, now int64) replayResult {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.q) > 0 && c.q[0].until <= now {
		e := heap.Pop(&c.q).(replayEntry)
		delete(c.seen, e.jti)
	}
	if _, ok := c.seen[jti]; ok {
		return replaySeen
	}
	if len(c.seen) >= c.max {
		return replayFull
	}
	c.seen[jti] = struct{}{}
	heap.Push(&c.q, replayEntry{jti: jti, until: until})
	return replayFirst
}

// expiryHeap is a container/heap of entries, soonest expiry first.
type expiryHeap []replayEntry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].until < h[j].until }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(replayEntry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = replayEntry{}
	*h = old[:len(old)-1]
	return e
}
