package ratelimit

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// Store decides whether n cells of a limit may be taken for a key now, and
// takes them if so. Memory, Redis, Leasing and Fallback are Stores.
//
// Take is called on the request path, concurrently, for any number of keys,
// and must be safe for that. A non-nil error means no decision was made; the
// interceptors then fail closed (codes.Unavailable) unless the limit is in
// shadow mode.
type Store interface {
	Take(ctx context.Context, key string, l Limit, n int) (Result, error)
}

// StoreFunc adapts a function to a Store.
type StoreFunc func(ctx context.Context, key string, l Limit, n int) (Result, error)

// Take calls f.
func (f StoreFunc) Take(ctx context.Context, key string, l Limit, n int) (Result, error) {
	return f(ctx, key, l, n)
}

// Limit is a GCRA limit: Rate cells per Period in the steady state, and up
// to Burst cells above that at once. A fresh key may take Burst+1 cells at
// once; after that one cell is freed every Period/Rate. A Limit is a plain
// value and safe to share.
type Limit struct {
	Rate   uint32
	Period time.Duration
	Burst  uint32
}

// LimitOf returns the Limit of a method's rate limit, or the zero Limit
// (invalid, see Valid) for nil.
func LimitOf(rl *policy.RateLimit) Limit {
	if rl == nil {
		return Limit{}
	}
	return Limit{Rate: rl.Rate, Period: rl.Period, Burst: rl.Burst}
}

// maxSpan bounds (Burst+1)×Interval, so that GCRA arithmetic in ns (and in
// the Redis script, in µs below 2^53) cannot overflow: about 36 years.
const maxSpan = 1 << 60

// Valid reports whether l has a positive rate and period, and a capacity
// span (Burst+1)×Period/Rate below about 36 years.
func (l Limit) Valid() bool {
	return l.valid(l.Interval())
}

// valid is Valid for a limit whose Interval is t (computed once per call
// on the hot path: it is a 64-bit division).
func (l Limit) valid(t time.Duration) bool {
	return l.Rate > 0 && l.Period > 0 && (float64(l.Burst)+1)*float64(t) < maxSpan
}

// Interval is the steady-state time between two cells, Period/Rate (at
// least 1ns).
func (l Limit) Interval() time.Duration {
	if l.Rate == 0 {
		return 0
	}
	return max(l.Period/time.Duration(l.Rate), 1)
}

// Capacity is the number of cells a fresh key may take at once, Burst+1.
// It is the value of the ratelimit-limit header.
func (l Limit) Capacity() int { return int(l.Burst) + 1 }

// String returns e.g. "60/1m0s+10".
func (l Limit) String() string { return fmt.Sprintf("%d/%v+%d", l.Rate, l.Period, l.Burst) }

// Result is the outcome of one Take. It is a plain value.
type Result struct {
	// Allowed reports whether the cells were taken.
	Allowed bool
	// Limit is the limit's capacity, Burst+1.
	Limit int
	// Remaining is how many more cells could be taken right now.
	Remaining int
	// RetryAfter is, when not Allowed, how long until the request could
	// succeed; zero when Allowed.
	RetryAfter time.Duration
	// ResetAfter is how long until the key is back to its full capacity
	// (zero for a key with no state).
	ResetAfter time.Duration
	// Degraded is set by Fallback when the decision was made without the
	// primary (shared) store: by the local store, or refused fail-closed.
	Degraded bool
}

// Errors returned by the stores. Wrap-checked with errors.Is.
var (
	// ErrInvalidLimit is returned for a Limit that is not Valid, or for n
	// below 1 or above the limit's capacity.
	ErrInvalidLimit = errors.New("ratelimit: invalid limit or cell count")
	// ErrUnavailable is returned by a fail-closed Fallback while its
	// primary store cannot be reached.
	ErrUnavailable = errors.New("ratelimit: store unavailable")
)

// check validates the arguments common to every Store.
func check(l Limit, n int) error {
	_, err := checkInterval(l, n)
	return err
}

// checkInterval is check that also returns l's Interval.
func checkInterval(l Limit, n int) (time.Duration, error) {
	t := l.Interval()
	if !l.valid(t) || n < 1 || n > l.Capacity() {
		return 0, fmt.Errorf("%w: %v, n=%d", ErrInvalidLimit, l, n)
	}
	return t, nil
}

// cells is one GCRA decision, in a single time unit (ns for Memory, µs in
// the Redis script, which implements the same arithmetic in Lua).
type cells struct {
	tat       int64 // the theoretical arrival time to store (unchanged when refused)
	granted   int64 // cells taken; 0 when refused
	remaining int64
	retry     int64 // when refused, time until min cells are free
	reset     int64 // time until the key is back to full capacity
}

// gcra decides taking between min and want cells at time now, for a key
// whose stored theoretical arrival time is tat (now or earlier for a key
// with no state), with emission interval t and burst extra cells. It takes
// as many cells as are free, up to want, if at least min are; exact takes
// pass want == min. It does no I/O and keeps no state.
func gcra(now, tat, t, burst, want, min int64) cells {
	if tat < now {
		tat = now
	}
	capacity := (burst + 1) * t
	// free is floor((now+capacity-tat)/t); negative only when a limit was
	// tightened under a key with state.
	slack := now + capacity - tat
	free := slack / t
	if slack < 0 && slack%t != 0 {
		free--
	}
	if free < min {
		return cells{
			tat:       tat,
			remaining: max(free, 0),
			retry:     tat + min*t - capacity - now,
			reset:     tat - now,
		}
	}
	g := want
	if free < g {
		g = free
	}
	return cells{tat: tat + g*t, granted: g, remaining: free - g, reset: tat + g*t - now}
}

// result converts a decision in unit-long ticks to a Result.
func (c cells) result(l Limit, unit time.Duration) Result {
	return Result{
		Allowed:    c.granted > 0,
		Limit:      l.Capacity(),
		Remaining:  int(c.remaining),
		RetryAfter: time.Duration(c.retry) * unit,
		ResetAfter: time.Duration(c.reset) * unit,
	}
}
