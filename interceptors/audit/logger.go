package audit

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Errors of Logger.Write.
var (
	// ErrClosed is returned for records given to a closed Logger.
	ErrClosed = errors.New("audit: logger closed")
	// ErrNotPersisted is wrapped by Write when a sink failed to store or
	// sync the record.
	ErrNotPersisted = errors.New("audit: record not persisted")
)

// Logger writes audit records to its sinks from one writer goroutine. The
// request path only enqueues (Log: a channel send of a pooled *Event, no
// allocation); the writer encodes, batches, and hands each batch to every
// sink, retrying failing sinks with the batches they missed (see
// WithMaxPending). It implements prometheus.Collector. A Logger is safe for
// concurrent use; Close stops it.
type Logger struct {
	o     *loggerOptions
	ch    chan *Event
	pool  sync.Pool
	sinks []*sinkState
	tick  time.Duration

	_      [64]byte     // keeps mu off the cache lines above
	mu     sync.RWMutex // held for reading while sending on ch
	closed bool
	_      [64]byte
	stop   chan struct{}
	done   chan struct{}
	// urgent wakes the writer from its batch wait when a record a caller
	// waits for (Write) was queued: such records are never held back.
	urgent chan struct{}

	unhealthy atomic.Int32  // sinks currently failing
	gap       atomic.Uint64 // dropped since the last gap record
	dropped   atomic.Uint64 // dropped in total (queue full, closed)

	// w is the writer goroutine's own state, in its own allocation so that
	// its writes never share a cache line with mu, which every Log
	// touches.
	w *writerState

	closeErr error
}

type writerState struct {
	free    []*Entry // recycled entries
	entries []*Entry // the batch being processed
	timer   *time.Timer
}

type waiter struct {
	done chan error
}

// New starts a Logger writing to sinks (at least one). The Logger owns the
// sinks from now on and closes them in Close.
func New(sinks []Sink, opts ...LoggerOption) (*Logger, error) {
	o, err := evaluateLoggerOptions(opts)
	if err != nil {
		return nil, err
	}
	if len(sinks) == 0 {
		return nil, errors.New("audit: New: no sinks")
	}
	l := &Logger{
		o:      o,
		ch:     make(chan *Event, o.queueSize),
		stop:   make(chan struct{}),
		done:   make(chan struct{}),
		urgent: make(chan struct{}, 1),
		tick:   100 * time.Millisecond,
	}
	l.pool.New = func() any { return new(Event) }
	seen := map[string]bool{}
	for i, s := range sinks {
		if s == nil {
			return nil, fmt.Errorf("audit: New: sink %d is nil", i)
		}
		ss := &sinkState{s: s, name: "sink" + strconv.Itoa(i)}
		if n, ok := s.(Namer); ok && n.Name() != "" {
			ss.name = n.Name()
		}
		if seen[ss.name] {
			ss.name += strconv.Itoa(i)
		}
		seen[ss.name] = true
		if si, ok := s.(SyncIntervaler); ok {
			ss.interval = si.SyncInterval()
		}
		if ss.interval > 0 && ss.interval < l.tick {
			l.tick = max(ss.interval, time.Millisecond)
		}
		l.sinks = append(l.sinks, ss)
	}
	l.w = &writerState{timer: time.NewTimer(time.Hour)}
	l.w.timer.Stop()
	go l.run()
	return l, nil
}

// NewEvent returns an empty Event from the Logger's pool, to fill and hand
// to Log or Write.
func (l *Logger) NewEvent() *Event { return l.pool.Get().(*Event) }

// release clears e and returns it to the pool. The writer clears it while
// its cache lines are still in its core's cache, so that the next user
// only fetches the lines it writes.
func (l *Logger) release(e *Event) {
	*e = Event{}
	l.pool.Put(e)
}

// Log enqueues e and returns; the Logger owns e from then on. When the
// queue is full it waits (Block) or drops e and counts it (Drop, see
// WithFullPolicy). After Close, e is dropped and counted. Type defaults to
// TypeCall and Version to SchemaVersion.
func (l *Logger) Log(e *Event) {
	l.mu.RLock()
	switch {
	case l.closed:
		l.dropped.Add(1)
		l.release(e)
	case l.o.full == Drop:
		select {
		case l.ch <- e:
		default:
			l.dropped.Add(1)
			l.gap.Add(1)
			l.release(e)
		}
	default:
		l.ch <- e
	}
	l.mu.RUnlock()
}

// Write enqueues e, whatever the full policy, and waits until every sink
// has stored and synced it. It returns ctx's error when ctx ends first (e
// may still be written later), ErrClosed after Close, and an error wrapping
// ErrNotPersisted when a sink failed.
func (l *Logger) Write(ctx context.Context, e *Event) error {
	if err := ctx.Err(); err != nil {
		l.release(e)
		return err
	}
	w := &waiter{done: make(chan error, 1)}
	e.waiter = w
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		l.release(e)
		return ErrClosed
	}
	select {
	case l.ch <- e:
	case <-ctx.Done():
		l.mu.RUnlock()
		l.release(e)
		return ctx.Err()
	}
	l.mu.RUnlock()
	select {
	case l.urgent <- struct{}{}: // ends a batch wait now
	default: // a wake-up is pending already
	}
	select {
	case err := <-w.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Healthy reports whether a record given to Write now is likely to be
// persisted: the Logger is open, the queue has room and no sink is failing.
func (l *Logger) Healthy() bool {
	l.mu.RLock()
	closed := l.closed
	l.mu.RUnlock()
	return !closed && l.unhealthy.Load() == 0 && len(l.ch) < cap(l.ch)
}

// Close writes everything queued, syncs and closes the sinks, and stops
// the writer goroutine. Records that a failing sink still could not take
// are counted and reported in the error. Close is idempotent; later calls
// return the same error.
func (l *Logger) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		<-l.done
		return l.closeErr
	}
	l.closed = true
	l.mu.Unlock()
	close(l.stop)
	<-l.done
	return l.closeErr
}

// Stats is a snapshot of a Logger's counters.
type Stats struct {
	// Queued is the number of records waiting for the writer.
	Queued int
	// Dropped counts records dropped because the queue was full (Drop) or
	// the Logger was closed.
	Dropped uint64
	// Sinks has one entry per sink, in the order given to New.
	Sinks []SinkStats
}

// SinkStats are the counters of one sink.
type SinkStats struct {
	Name string
	// Written counts records stored (gap records included).
	Written uint64
	// Errors counts failed writes and syncs; Lost counts records dropped
	// from the retry buffer.
	Errors, Lost uint64
	// Failing is true while the sink's last write or sync failed.
	Failing bool
}

// Stats returns the Logger's counters. It is safe for concurrent use.
func (l *Logger) Stats() Stats {
	st := Stats{Queued: len(l.ch), Dropped: l.dropped.Load()}
	for _, ss := range l.sinks {
		st.Sinks = append(st.Sinks, SinkStats{Name: ss.name, Written: ss.written.Load(),
			Errors: ss.errors.Load(), Lost: ss.lost.Load(), Failing: ss.failingFlag.Load()})
	}
	return st
}
