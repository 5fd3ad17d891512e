package ratelimit

import (
	"context"
	"hash/maphash"
	"strings"
	"sync"
	"time"
)

// LeaseOption configures NewLeasing.
type LeaseOption func(*leaseOptions)

type leaseOptions struct {
	size    int
	ttl     time.Duration
	maxKeys int
	now     func() time.Time
}

// WithLeaseSize sets how many cells a replica takes from Redis at a time
// (k), capped at each limit's capacity. Default 10. 1 is exact mode with
// extra bookkeeping.
func WithLeaseSize(k int) LeaseOption { return func(o *leaseOptions) { o.size = max(k, 1) } }

// WithLeaseTTL sets how long leased cells may be served locally; cells not
// used by then are dropped (they were already counted in Redis, so dropping
// them only ever refuses more). Default 1s.
func WithLeaseTTL(d time.Duration) LeaseOption { return func(o *leaseOptions) { o.ttl = d } }

// WithLeaseMaxKeys caps the number of keys with local lease state.
// Default 100,000; when full, an insert drops an idle lease among a few
// sampled, else an arbitrary sampled one.
func WithLeaseMaxKeys(n int) LeaseOption { return func(o *leaseOptions) { o.maxKeys = n } }

// WithLeaseClock sets the local time source, for tests. Default time.Now.
func WithLeaseClock(now func() time.Time) LeaseOption { return func(o *leaseOptions) { o.now = now } }

// Leasing is a Store that trades a bounded amount of precision for fewer
// Redis round trips. When a key has no local cells, a replica takes a lease
// of up to k cells from Redis in one script run (as many as are free, at
// least the ones the call needs) and serves the next calls from it
// locally, for at most the lease TTL: about one round trip per k calls. A
// refusal from Redis is remembered until its retry-after (at most the TTL),
// so refused traffic costs no round trips either.
//
// Error bound. Every cell served was first taken from the shared GCRA in
// Redis, so over time the replicas together never admit more than the
// limit. What leases change is when a cell is spent: a cell leased near the
// end of one window may be served in the next. So in any window, allowed
// calls ≤ Burst+1 + Rate×window/Period + replicas × (k−1); the excess over
// exact mode is at most replicas × lease size, and none once leases are
// older than the TTL. Cells may also go unused (a lease expires, or one
// replica holds cells while another is refused), so a quiet replica makes
// the limit slightly stricter for the others. TestReplicas measures both.
//
// Result.Remaining is approximate between leases. It is safe for
// concurrent use.
type Leasing struct {
	r        *Redis
	o        leaseOptions
	seed     maphash.Seed
	mask     uint64
	perShard int
	now      func() int64
	shards   []leaseShard
}

type leaseShard struct {
	mu sync.Mutex
	m  map[string]*lease
}

// lease is the local state of one key. sem (capacity 1) guards the rest and
// is held across the Redis call, so that one caller per key and replica
// refills while the others wait for it, or for their context.
type lease struct {
	sem chan struct{} // never written after creation
	leaseState
}

type leaseState struct {
	limit       Limit
	tokens      int64 // cells left, valid until expires
	expires     int64
	deniedUntil int64
	remaining   int64 // Redis' remaining at the last lease
	resetAt     int64
}

// evictSample is how many leases an insert into a full shard looks at.
const evictSample = 4

// NewLeasing returns a Leasing store over r. It panics if r is nil.
func NewLeasing(r *Redis, opts ...LeaseOption) *Leasing {
	if r == nil {
		panic("ratelimit: nil Redis store")
	}
	o := leaseOptions{size: 10, ttl: time.Second, maxKeys: 100_000}
	for _, opt := range opts {
		opt(&o)
	}
	const shards = 64
	s := &Leasing{
		r:        r,
		o:        o,
		seed:     maphash.MakeSeed(),
		mask:     shards - 1,
		perShard: max(o.maxKeys/shards, 1),
		now:      nanoClock(o.now),
		shards:   make([]leaseShard, shards),
	}
	for i := range s.shards {
		s.shards[i].m = make(map[string]*lease)
	}
	return s
}

// Take takes n cells of l for key, from the local lease if it has them,
// else from a new lease. It returns ErrInvalidLimit for an invalid l or n,
// ctx.Err() if ctx ends while another call refills the same key, and the
// Redis store's error when a lease is needed and Redis fails. It is safe
// for concurrent use.
func (s *Leasing) Take(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if err := check(l, n); err != nil {
		return Result{}, err
	}
	e := s.entry(key)
	select {
	case e.sem <- struct{}{}:
	case <-ctx.Done():
		return Result{}, ctx.Err()
	}
	defer func() { <-e.sem }()

	need := int64(n)
	now := s.now()
	if e.limit != l {
		e.leaseState = leaseState{limit: l}
	}
	if now < e.expires && e.tokens >= need {
		e.tokens -= need
		return Result{Allowed: true, Limit: l.Capacity(), Remaining: int(e.tokens + e.remaining),
			ResetAfter: time.Duration(max(e.resetAt-now, 0))}, nil
	}
	if now < e.deniedUntil {
		return Result{Limit: l.Capacity(), RetryAfter: time.Duration(e.deniedUntil - now),
			ResetAfter: time.Duration(max(e.resetAt-now, 0))}, nil
	}
	want := max(min(int64(s.o.size), int64(l.Capacity())), need)
	c, err := s.r.take(ctx, key, l, want, need)
	if err != nil {
		return Result{}, err
	}
	now = s.now()
	res := c.result(l, time.Microsecond)
	e.remaining = c.remaining
	e.resetAt = now + int64(res.ResetAfter)
	if c.granted == 0 {
		e.deniedUntil = now + min(int64(res.RetryAfter), int64(s.o.ttl))
		return res, nil
	}
	if now >= e.expires {
		e.tokens = 0
	}
	e.tokens += c.granted - need
	e.expires = now + int64(s.o.ttl)
	e.deniedUntil = 0
	res.Remaining += int(e.tokens)
	return res, nil
}

// entry returns the lease state of key, creating it if needed.
func (s *Leasing) entry(key string) *lease {
	sh := &s.shards[maphash.String(s.seed, key)&s.mask]
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if e, ok := sh.m[key]; ok {
		return e
	}
	if len(sh.m) >= s.perShard {
		now := s.now()
		var (
			victim string
			found  bool
			seen   int
		)
		for k, e := range sh.m {
			// Reading expires and deniedUntil without sem is racy, so
			// only leases nobody holds are considered.
			select {
			case e.sem <- struct{}{}:
				idle := e.expires <= now && e.deniedUntil <= now
				<-e.sem
				if idle {
					delete(sh.m, k)
				} else if !found {
					victim, found = k, true
				}
			default:
			}
			if seen++; seen == evictSample {
				break
			}
		}
		if len(sh.m) >= s.perShard && found {
			delete(sh.m, victim)
		}
	}
	e := &lease{sem: make(chan struct{}, 1)}
	sh.m[strings.Clone(key)] = e
	return e
}

// Len returns the number of keys with local lease state, for tests.
func (s *Leasing) Len() int {
	n := 0
	for i := range s.shards {
		sh := &s.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}
