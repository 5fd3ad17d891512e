package authz

import (
	"hash/maphash"
	"math"
	"regexp"
	"sync"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// readsRate reports whether a condition's source mentions request_rate.
// A mention inside a string literal also counts: that only turns counting
// on, it never changes a decision.
var readsRateRE = regexp.MustCompile(`\brequest_rate\b`)

func readsRate(src string) bool { return readsRateRE.MatchString(src) }

// DefaultRateWindow is the time constant of a RateMeter made with a zero
// window.
const DefaultRateWindow = 10 * time.Second

// DefaultRateKeys bounds the callers a RateMeter made with a zero bound
// tracks.
const DefaultRateKeys = 100_000

const rateShards = 64

// RateMeter estimates each caller's recent request rate, the
// `context.request_rate` of conditions: calls per second, exponentially
// weighted with the meter's window as time constant (a call counts 1/e as
// much after one window as at once). A caller calling steadily at r calls
// per second reads about r once a few windows have passed; a burst of n
// calls reads about n/window at once and fades out over a few windows.
//
// It tracks at most its bound of callers, spread over 64 shards: a new
// caller in a full shard replaces the longest idle of 8 of the shard's
// callers sampled at random (approximately the least recently seen), so
// memory stays bounded whatever the number of callers. It is safe for
// concurrent use. A RateMeter counts per process: each gateway replica
// measures the calls it serves.
type RateMeter struct {
	seed   maphash.Seed
	tau    float64   // the window, in seconds
	max    int       // callers per shard
	start  time.Time // times are ns since start, on the monotonic clock when it has one
	shards [rateShards]rateShard
}

type rateShard struct {
	mu sync.Mutex
	m  map[uint64]rateEntry
	_  [64 - 16]byte // one shard per 64-byte cache line: neighbours' locks do not share one
}

type rateEntry struct {
	rate float64 // calls per second at time at
	at   int64   // ns since RateMeter.start of the last call
}

// NewRateMeter returns a RateMeter with the given window (0:
// DefaultRateWindow) tracking at most maxKeys callers (0: DefaultRateKeys),
// rounded down to a multiple of its 64 shards and at least 64.
func NewRateMeter(window time.Duration, maxKeys int) *RateMeter {
	if window <= 0 {
		window = DefaultRateWindow
	}
	if maxKeys <= 0 {
		maxKeys = DefaultRateKeys
	}
	m := &RateMeter{seed: maphash.MakeSeed(), tau: window.Seconds(), max: max(maxKeys/rateShards, 1), start: time.Now()}
	for i := range m.shards {
		m.shards[i].m = make(map[uint64]rateEntry)
	}
	return m
}

// Observe counts one call of key at now and returns key's rate including
// it. Times from time.Now are compared on the monotonic clock, so a step
// of the wall clock changes no rate; a time before the last call's counts
// at the last call's time.
func (m *RateMeter) Observe(key string, now time.Time) float64 {
	h := maphash.String(m.seed, key)
	sh := &m.shards[h%rateShards]
	t := int64(now.Sub(m.start))
	sh.mu.Lock()
	e, ok := sh.m[h]
	if ok {
		e = m.decayed(e, t)
	} else {
		if len(sh.m) >= m.max {
			sh.evict()
		}
		e.at = t
	}
	e.rate += 1 / m.tau
	sh.m[h] = e
	sh.mu.Unlock()
	return e.rate
}

// Peek returns the rate Observe would return for a call of key at now,
// without counting the call (to explain a decision).
func (m *RateMeter) Peek(key string, now time.Time) float64 {
	h := maphash.String(m.seed, key)
	sh := &m.shards[h%rateShards]
	sh.mu.Lock()
	e, ok := sh.m[h]
	sh.mu.Unlock()
	if ok {
		e = m.decayed(e, int64(now.Sub(m.start)))
	}
	return e.rate + 1/m.tau
}

// decayed is e's rate carried forward to t (ns since start).
func (m *RateMeter) decayed(e rateEntry, t int64) rateEntry {
	if dt := float64(t-e.at) / 1e9; dt > 0 {
		e.rate *= math.Exp(-dt / m.tau)
		e.at = t
	}
	return e
}

// Len returns the number of callers tracked.
func (m *RateMeter) Len() int {
	n := 0
	for i := range m.shards {
		sh := &m.shards[i]
		sh.mu.Lock()
		n += len(sh.m)
		sh.mu.Unlock()
	}
	return n
}

// evictSample is how many entries a full shard compares to pick the one
// to drop.
const evictSample = 8

// evict drops the longest-idle of a few entries (map iteration starts at a
// random place). The caller holds sh.mu.
func (sh *rateShard) evict() {
	var victim uint64
	oldest, n := int64(math.MaxInt64), 0
	for k, e := range sh.m {
		if e.at < oldest {
			victim, oldest = k, e.at
		}
		if n++; n == evictSample {
			break
		}
	}
	delete(sh.m, victim)
}

// rateKey is the caller a call counts for: the principal (kind and id),
// or "" for anonymous calls, which never reach a condition.
func rateKey(p *policy.Principal) string {
	if p != nil && p.ID != "" && p.Kind != policy.KindAnonymous {
		return p.Kind + "\x00" + p.ID
	}
	return ""
}
