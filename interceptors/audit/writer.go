package audit

import (
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
)

// sinkState is the writer goroutine's view of one sink. Only the atomics
// are read by other goroutines.
type sinkState struct {
	s        Sink
	name     string
	interval time.Duration

	pending  []*Entry // entries the sink missed, oldest first
	lostGap  uint64   // dropped from pending since the sink last took a write
	failing  bool
	backoff  time.Duration
	nextTry  time.Time
	dirty    bool // written since the last Sync
	lastSync time.Time

	written, errors, lost atomic.Uint64
	failingFlag           atomic.Bool
}

func (l *Logger) run() {
	defer close(l.done)
	tick := time.NewTicker(l.tick)
	defer tick.Stop()
	batch := make([]*Event, 0, l.o.batchSize)
	for {
		select {
		case e := <-l.ch:
			batch = l.collect(append(batch[:0], e))
			l.process(batch)
			clear(batch)
		case <-tick.C:
			l.idle()
		case <-l.stop:
			l.shutdown(batch)
			return
		}
	}
}

// collect adds what is queued to batch, up to the batch size. When the
// batch is not full it sleeps for the batch wait (unless a caller waits
// for the batch, or until one does: Write wakes it) and takes what came
// meanwhile: while it sleeps, senders have the channel to themselves.
func (l *Logger) collect(batch []*Event) []*Event {
	batch = l.queued(batch)
	if len(batch) == cap(batch) || l.o.batchWait == 0 {
		return batch
	}
	for _, e := range batch {
		if e.waiter != nil {
			return batch
		}
	}
	l.w.timer.Reset(l.o.batchWait)
	select {
	case <-l.w.timer.C:
	case <-l.urgent:
		l.w.timer.Stop() // Go ≥1.23: no stale tick can be received later
	case <-l.stop:
		l.w.timer.Stop()
	}
	return l.queued(batch)
}

func (l *Logger) newEntry(e *Event, refs int) *Entry {
	var en *Entry
	if n := len(l.w.free); n > 0 {
		en, l.w.free = l.w.free[n-1], l.w.free[:n-1]
	} else {
		en = &Entry{}
	}
	if e.Type == "" {
		e.Type = TypeCall
	}
	if e.Version == 0 {
		e.Version = SchemaVersion
	}
	en.Event, en.refs = e, refs
	en.encode()
	return en
}

// unref drops one sink's hold on en and recycles it when none is left.
func (l *Logger) unref(en *Entry) {
	if en.refs--; en.refs > 0 {
		return
	}
	l.release(en.Event)
	en.Event = nil
	if cap(en.body) > 64<<10 {
		en.body = nil // an outsized record's buffer is not worth keeping
	}
	if len(l.w.free) < 2*l.o.batchSize {
		l.w.free = append(l.w.free, en)
	}
}

func (l *Logger) gapEvent(n uint64, reason string) *Event {
	e := l.NewEvent()
	e.Type, e.Time, e.Dropped, e.Reason = TypeGap, l.o.now(), n, reason
	return e
}

// process encodes a batch, hands it to every sink and answers its waiters.
func (l *Logger) process(batch []*Event) {
	entries := l.w.entries[:0]
	if l.gap.Load() > 0 { // a load first: Swap would write to the line Log reads
		n := l.gap.Swap(0)
		entries = append(entries, l.newEntry(l.gapEvent(n, GapQueueFull), 1))
	}
	force := false
	for _, e := range batch {
		entries = append(entries, l.newEntry(e, 1))
		force = force || e.waiter != nil
	}
	var failed error
	for _, ss := range l.sinks {
		if err := l.deliver(ss, entries, force); err != nil && failed == nil {
			failed = fmt.Errorf("%w: sink %s: %w", ErrNotPersisted, ss.name, err)
		}
	}
	for _, en := range entries {
		if w := en.Event.waiter; w != nil {
			w.done <- failed
		}
	}
	for _, en := range entries {
		l.unref(en) // the batch's hold
	}
	clear(entries)
	l.w.entries = entries[:0]
}

var errBackoff = errors.New("sink failing, retry pending")

// deliver writes entries (after what the sink missed before) to one sink.
// An entry's refs count the batch (released by process when every sink
// had it) and each sink that keeps it pending for a retry.
func (l *Logger) deliver(ss *sinkState, entries []*Entry, force bool) error {
	now := time.Now()
	if ss.failing && now.Before(ss.nextTry) {
		l.keep(ss, entries)
		return errBackoff
	}
	batch := entries
	var gap *Entry // this sink's own gap record, rebuilt on every try
	if len(ss.pending) > 0 || ss.lostGap > 0 {
		l.keep(ss, entries)
		batch = ss.pending
		if ss.lostGap > 0 {
			gap = l.newEntry(l.gapEvent(ss.lostGap, GapSinkError), 1)
			defer l.unref(gap)
			batch = append([]*Entry{gap}, ss.pending...)
		}
	}
	if len(batch) > 0 {
		if err := ss.s.Write(batch); err != nil {
			if len(ss.pending) == 0 {
				l.keep(ss, entries)
			}
			l.fail(ss, "write", err)
			return err
		}
		ss.written.Add(uint64(len(batch)))
		if gap != nil {
			ss.lostGap = 0
		}
		for _, en := range ss.pending {
			l.unref(en)
		}
		clear(ss.pending)
		ss.pending = ss.pending[:0]
		ss.dirty = true
	}
	if ss.dirty && (force || ss.interval == 0 || now.Sub(ss.lastSync) >= ss.interval) {
		if err := ss.s.Sync(); err != nil {
			l.fail(ss, "sync", err)
			return err
		}
		ss.dirty, ss.lastSync = false, now
	}
	l.recovered(ss)
	return nil
}

// keep holds entries for a retry, dropping the oldest beyond maxPending.
func (l *Logger) keep(ss *sinkState, entries []*Entry) {
	for _, en := range entries {
		en.refs++
		ss.pending = append(ss.pending, en)
	}
	if k := len(ss.pending) - l.o.maxPending; k > 0 {
		for _, en := range ss.pending[:k] {
			l.unref(en)
		}
		ss.pending = append(ss.pending[:0], ss.pending[k:]...)
		ss.lostGap += uint64(k)
		ss.lost.Add(uint64(k))
	}
}

func (l *Logger) fail(ss *sinkState, op string, err error) {
	ss.errors.Add(1)
	if !ss.failing {
		ss.failing, ss.backoff = true, l.o.retry
		ss.failingFlag.Store(true)
		l.unhealthy.Add(1)
	} else {
		ss.backoff = min(2*ss.backoff, l.o.maxRetry)
	}
	ss.nextTry = time.Now().Add(ss.backoff)
	l.o.log.Error("audit: sink failed", slog.String("sink", ss.name), slog.String("op", op),
		slog.Int("pending", len(ss.pending)), slog.Any("error", err))
}

func (l *Logger) recovered(ss *sinkState) {
	if ss.failing {
		ss.failing = false
		ss.failingFlag.Store(false)
		l.unhealthy.Add(-1)
		l.o.log.Info("audit: sink recovered", slog.String("sink", ss.name))
	}
}

// idle runs on every tick: it writes a pending gap record, retries failing
// sinks and syncs sinks whose interval has passed.
func (l *Logger) idle() {
	if l.gap.Load() > 0 {
		l.process(nil)
		return
	}
	now := time.Now()
	for _, ss := range l.sinks {
		if (ss.failing && !now.Before(ss.nextTry)) || (ss.dirty && now.Sub(ss.lastSync) >= ss.interval) {
			_ = l.deliver(ss, nil, false)
		}
	}
}

// shutdown writes what is queued, gives failing sinks one last try, and
// closes the sinks.
func (l *Logger) shutdown(batch []*Event) {
	for range 1 << 30 { // bounded by what was queued: Log refuses new records
		batch = l.queued(batch[:0])
		if len(batch) == 0 && l.gap.Load() == 0 {
			break
		}
		l.process(batch)
		clear(batch)
	}
	var errs []error
	for _, ss := range l.sinks {
		ss.nextTry = time.Time{}
		if err := l.deliver(ss, nil, true); err != nil {
			errs = append(errs, fmt.Errorf("audit: sink %s: %d records not written: %w", ss.name, len(ss.pending), err))
			for _, en := range ss.pending {
				l.unref(en)
			}
			ss.lost.Add(uint64(len(ss.pending)))
			ss.pending = nil
		}
		if err := ss.s.Close(); err != nil {
			errs = append(errs, fmt.Errorf("audit: close sink %s: %w", ss.name, err))
		}
	}
	l.closeErr = errors.Join(errs...)
}

// queued adds what is in the queue now to batch, up to its capacity.
func (l *Logger) queued(batch []*Event) []*Event {
	for len(batch) < cap(batch) {
		select {
		case e := <-l.ch:
			batch = append(batch, e)
		default:
			return batch
		}
	}
	return batch
}
