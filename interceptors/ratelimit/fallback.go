package ratelimit

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"
)

// Mode is what a Fallback does while its primary store is unreachable.
type Mode uint8

const (
	// FallbackLocal decides with the local store, per replica (the
	// default).
	FallbackLocal Mode = iota
	// FailClosed refuses every call: Take returns ErrUnavailable, and the
	// interceptors answer codes.Unavailable.
	FailClosed
)

// String returns "local" or "fail_closed".
func (m Mode) String() string {
	if m == FailClosed {
		return "fail_closed"
	}
	return "local"
}

// FallbackOption configures NewFallback.
type FallbackOption func(*fallbackOptions)

type fallbackOptions struct {
	timeout    time.Duration
	probe      time.Duration
	onDegraded func(degraded bool, err error)
	metrics    *Metrics
	localLimit func(Limit) Limit
	now        func() time.Time
}

// WithTimeout bounds every call to the primary store. Default 50ms. A call
// that takes longer counts as the primary being unreachable.
func WithTimeout(d time.Duration) FallbackOption { return func(o *fallbackOptions) { o.timeout = d } }

// WithProbeInterval sets how often, while degraded, one call tries the
// primary again (the others go straight to the fallback, so an outage costs
// at most one timeout per interval). Default 500ms.
func WithProbeInterval(d time.Duration) FallbackOption {
	return func(o *fallbackOptions) { o.probe = d }
}

// WithOnDegraded sets a function called on every change of state: with
// true and the primary's error when it becomes unreachable, with false and
// nil when it answers again. Calls are serialized; f must not block.
// Default none.
func WithOnDegraded(f func(degraded bool, err error)) FallbackOption {
	return func(o *fallbackOptions) { o.onDegraded = f }
}

// WithFallbackMetrics makes the Fallback count the primary's errors in
// portcullis_ratelimit_store_errors_total and report its state in
// portcullis_ratelimit_degraded. Default none.
func WithFallbackMetrics(m *Metrics) FallbackOption {
	return func(o *fallbackOptions) { o.metrics = m }
}

// WithLocalLimit maps the limit used by the local store while degraded,
// e.g. dividing the rate by the number of replicas so that the replicas
// together stay near the global limit. Default: the same limit per replica.
func WithLocalLimit(f func(Limit) Limit) FallbackOption {
	return func(o *fallbackOptions) { o.localLimit = f }
}

// Fallback is a Store that uses a primary (shared) store while it answers
// and switches to a local store, or refuses (FailClosed), when it does not:
// on any error other than ErrInvalidLimit, or no answer within the
// timeout. While degraded, at most one call per probe interval tries the
// primary again, and the first success switches back. Every Result decided
// without the primary has Degraded set (for the audit record). It starts no
// goroutine and is safe for concurrent use.
type Fallback struct {
	primary, local Store
	mode           Mode
	o              fallbackOptions
	now            func() int64

	degraded  atomic.Bool
	nextProbe atomic.Int64 // on the now clock
	stateMu   sync.Mutex   // serializes onDegraded
}

// NewFallback returns a Fallback over primary and local (used in
// FallbackLocal mode; may be nil for FailClosed). It panics if primary is
// nil, or local is nil in FallbackLocal mode.
func NewFallback(primary, local Store, mode Mode, opts ...FallbackOption) *Fallback {
	if primary == nil || (local == nil && mode == FallbackLocal) {
		panic("ratelimit: nil store in NewFallback")
	}
	o := fallbackOptions{timeout: 50 * time.Millisecond, probe: 500 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	return &Fallback{primary: primary, local: local, mode: mode, o: o, now: nanoClock(o.now)}
}

// Degraded reports whether the primary is currently considered
// unreachable. It is safe for concurrent use.
func (f *Fallback) Degraded() bool { return f.degraded.Load() }

// Take takes n cells from the primary, or while it is unreachable from the
// local store (Result.Degraded set) or not at all (FailClosed:
// ErrUnavailable). It returns within about the timeout plus the local
// store's time, provided the primary honours its context (for Redis: a
// client with ContextTimeoutEnabled). It is safe for concurrent use.
func (f *Fallback) Take(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if err := check(l, n); err != nil {
		return Result{}, err
	}
	if f.degraded.Load() {
		next := f.nextProbe.Load()
		if f.now() < next || !f.nextProbe.CompareAndSwap(next, f.now()+int64(f.o.probe)) {
			return f.fallback(ctx, key, l, n)
		}
		// This call is the probe.
	}
	pctx, cancel := context.WithTimeout(ctx, f.o.timeout)
	res, err := f.primary.Take(pctx, key, l, n)
	cancel()
	switch {
	case err == nil:
		f.setState(false, nil)
		return res, nil
	case errors.Is(err, ErrInvalidLimit) || ctx.Err() != nil:
		// The caller's mistake (a primary stricter than check) or the
		// caller's own deadline, not an outage of the primary.
		return Result{}, err
	}
	if m := f.o.metrics; m != nil {
		m.storeErrors.Inc()
	}
	f.nextProbe.Store(f.now() + int64(f.o.probe))
	f.setState(true, err)
	return f.fallback(ctx, key, l, n)
}

// fallback decides without the primary.
func (f *Fallback) fallback(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if f.mode == FailClosed {
		return Result{Limit: l.Capacity(), RetryAfter: f.o.probe, Degraded: true}, ErrUnavailable
	}
	if f.o.localLimit != nil {
		l = f.o.localLimit(l)
		n = min(n, l.Capacity())
	}
	res, err := f.local.Take(ctx, key, l, n)
	res.Degraded = true
	return res, err
}

// setState records a change of state and reports it once.
func (f *Fallback) setState(degraded bool, err error) {
	if f.degraded.Load() == degraded {
		return
	}
	f.stateMu.Lock()
	defer f.stateMu.Unlock()
	if !f.degraded.CompareAndSwap(!degraded, degraded) {
		return
	}
	if m := f.o.metrics; m != nil {
		m.SetDegraded(degraded)
	}
	if f.o.onDegraded != nil {
		f.o.onDegraded(degraded, err)
	}
}
