package signature

import (
	"container/heap"
	"context"
	"errors"
	"sync"
	"time"
)

// NonceCache remembers the nonces of verified signatures, so that a
// signed request can be used once only.
//
// Add records key for ttl and reports whether it was new; false means the
// nonce was already used (a replay). key is SHA-256 over the keyid, a zero
// byte and the nonce, so nonces are scoped to their key and have a fixed
// size. ttl reaches past the last moment the signature could be accepted.
// An error refuses the call (the verifier fails closed). Add is called
// concurrently, only for signatures that verified, so only holders of a
// valid key can fill a cache.
type NonceCache interface {
	Add(ctx context.Context, key [32]byte, ttl time.Duration) (bool, error)
}

// ErrNonceCacheFull is returned by MemoryNonceCache.Add when the cache
// holds its maximum of unexpired nonces.
var ErrNonceCacheFull = errors.New("nonce cache full")

// MemoryNonceCache is a NonceCache in memory, for a single replica. It
// holds at most a fixed number of nonces (about 80 bytes each) and never
// evicts one before it expires: when it is full, Add fails and calls are
// refused until nonces expire. Expired nonces are dropped as new ones are
// added, so it needs no goroutine. It is safe for concurrent use.
type MemoryNonceCache struct {
	max int
	now func() time.Time

	mu      sync.Mutex
	entries map[[16]byte]int64 // truncated key -> expiry (UnixNano)
	order   expiryHeap
}

// NewMemoryNonceCache returns an empty cache of at most n nonces; an n
// below 1 is taken as 1.
func NewMemoryNonceCache(n int) *MemoryNonceCache {
	return newMemoryNonceCache(n, time.Now)
}

func newMemoryNonceCache(n int, now func() time.Time) *MemoryNonceCache {
	return &MemoryNonceCache{max: max(n, 1), now: now, entries: map[[16]byte]int64{}}
}

// Add records key until ttl passes and reports whether it was new. Keys are
// kept truncated to 128 bits: a collision between two different nonces is
// out of reach (and would refuse a call, not admit one).
func (c *MemoryNonceCache) Add(_ context.Context, key [32]byte, ttl time.Duration) (bool, error) {
	var k [16]byte
	copy(k[:], key[:16])
	now := c.now().UnixNano()
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.order) > 0 && c.order[0].expires <= now {
		e := heap.Pop(&c.order).(expiry)
		delete(c.entries, e.key)
	}
	if _, used := c.entries[k]; used {
		return false, nil
	}
	if len(c.entries) >= c.max {
		return false, ErrNonceCacheFull
	}
	exp := now + int64(ttl)
	c.entries[k] = exp
	heap.Push(&c.order, expiry{key: k, expires: exp})
	return true, nil
}

// Len returns the number of nonces held, expired ones included until the
// next Add drops them.
func (c *MemoryNonceCache) Len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries)
}

// expiry is one heap entry. A key is in the heap exactly while it is in
// the map: it is only added when absent and only removed when popped.
type expiry struct {
	key     [16]byte
	expires int64
}

type expiryHeap []expiry

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].expires < h[j].expires }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(expiry)) }
func (h *expiryHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
