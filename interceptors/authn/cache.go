package authn

import (
	"context"
	"sync"
	"sync/atomic"
	"time"
)

// cache holds verified tokens, keyed by the token string itself: a hit is
// one map probe with the metadata value, no hashing of our own and no
// allocation. It is split into shards by a character of the signature
// (random-looking in every well-formed token), so that concurrent calls
// rarely contend on one lock.
//
// An entry is valid while its token is unexpired and the issuer's key set
// is still the one that verified it; the caller checks both on every hit.
// Expiry is checked against a coarse clock, because reading the real clock
// costs more than the rest of a hit: the coarse clock advances every
// coarseTick, and an entry ends cacheSlack before its token's exp, so that
// the coarse clock's lag never lets a token through after its exp. (From
// cacheSlack before exp to exp plus the leeway, the token is verified in
// full on every call.)
// Everything that depends on the connection or the method (certificate
// binding, RequireMTLS, allowed credentials) is checked after the cache, on
// every call.
type cache struct {
	shards   []cacheShard
	perShard int
	clock    coarseClock
}

const (
	coarseTick = 100 * time.Millisecond
	cacheSlack = time.Second
)

// coarseClock is a wall clock in Unix nanoseconds that run advances every
// coarseTick. With WithClock it reads the given clock on every call instead
// (exact), so tests are deterministic.
type coarseClock struct {
	ns    atomic.Int64
	now   func() time.Time
	exact bool
}

func (c *coarseClock) unixNano() int64 {
	if c.exact {
		return c.now().UnixNano()
	}
	return c.ns.Load()
}

// run advances the clock until ctx ends.
func (c *coarseClock) run(ctx context.Context) {
	t := time.NewTicker(coarseTick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			c.ns.Store(time.Now().UnixNano())
		}
	}
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]*entry
}

// entry is one verified token.
type entry struct {
	verified
	iss  *issuer
	keys *keySet // the issuer's key set that verified the token
}

// newCache returns a cache of about size entries, or nil (no caching) when
// size is 0.
func newCache(size int, now func() time.Time, exact bool) *cache {
	if size <= 0 {
		return nil
	}
	n := 1
	if size >= 1024 {
		n = 16
	}
	c := &cache{shards: make([]cacheShard, n), perShard: (size + n - 1) / n}
	c.clock.now, c.clock.exact = now, exact
	c.clock.ns.Store(now().UnixNano())
	for i := range c.shards {
		c.shards[i].m = make(map[string]*entry)
	}
	return c
}

func (c *cache) shard(token string) *cacheShard {
	if len(c.shards) == 1 || len(token) < 2 {
		return &c.shards[0]
	}
	// The second-to-last character: the last one of a base64url signature
	// carries only a few bits.
	return &c.shards[int(token[len(token)-2])&(len(c.shards)-1)]
}

// get returns the entry for token, without checking its validity.
func (c *cache) get(token string) *entry {
	if c == nil {
		return nil
	}
	s := c.shard(token)
	s.mu.RLock()
	e := s.m[token]
	s.mu.RUnlock()
	return e
}

// put stores e for token, evicting an entry when the shard is full:
// expired ones first, else an arbitrary one (Go's map iteration starts at a
// random place).
func (c *cache) put(token string, e *entry, now int64) {
	if c == nil {
		return
	}
	s := c.shard(token)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, again := s.m[token]; !again && len(s.m) >= c.perShard {
		var victim string
		sampled := 0
		for k, o := range s.m {
			if o.until <= now || o.keys != o.iss.keys.Load() {
				victim = k
				break
			}
			if sampled == 0 {
				victim = k
			}
			if sampled++; sampled == 8 {
				break
			}
		}
		delete(s.m, victim)
	}
	s.m[token] = e
}

// remove deletes token's entry if it is still e.
func (c *cache) remove(token string, e *entry) {
	if c == nil {
		return
	}
	s := c.shard(token)
	s.mu.Lock()
	if s.m[token] == e {
		delete(s.m, token)
	}
	s.mu.Unlock()
}

// dropIssuer deletes every entry of is, after its key set changed. (Hits
// check the key set too; this returns the memory at once.)
func (c *cache) dropIssuer(is *issuer) {
	if c == nil {
		return
	}
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.Lock()
		for k, e := range s.m {
			if e.iss == is {
				delete(s.m, k)
			}
		}
		s.mu.Unlock()
	}
}

// len returns the number of entries, for tests.
func (c *cache) len() int {
	if c == nil {
		return 0
	}
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
