package audit

import (
	"cmp"
	"fmt"
	"log/slog"
	"time"
)

// FullPolicy says what Log does when the queue is full.
type FullPolicy uint8

const (
	// Block makes Log wait for room: backpressure on the request path,
	// nothing lost. The default.
	Block FullPolicy = iota
	// Drop makes Log discard the record and count it; a gap record with
	// the count is written into the log as soon as there is room again.
	Drop
)

// String returns "block" or "drop".
func (p FullPolicy) String() string {
	if p == Drop {
		return "drop"
	}
	return "block"
}

// LoggerOption configures New.
type LoggerOption func(*loggerOptions)

type loggerOptions struct {
	queueSize  int
	full       FullPolicy
	batchSize  int
	batchWait  time.Duration
	maxPending int
	retry      time.Duration
	maxRetry   time.Duration
	log        *slog.Logger
	now        func() time.Time
}

// Defaults of New.
const (
	DefaultQueueSize  = 1 << 16
	DefaultBatchSize  = 1024
	DefaultMaxPending = 1 << 16
	DefaultBatchWait  = 10 * time.Millisecond
)

func evaluateLoggerOptions(opts []LoggerOption) (*loggerOptions, error) {
	o := &loggerOptions{
		queueSize:  DefaultQueueSize,
		batchSize:  DefaultBatchSize,
		batchWait:  DefaultBatchWait,
		maxPending: DefaultMaxPending,
		retry:      100 * time.Millisecond,
		maxRetry:   5 * time.Second,
		log:        slog.New(slog.DiscardHandler),
		now:        time.Now,
	}
	for _, opt := range opts {
		opt(o)
	}
	// Zero sizes mean the defaults, so that unset config fields can be
	// passed through.
	o.queueSize = cmp.Or(o.queueSize, DefaultQueueSize)
	o.batchSize = cmp.Or(o.batchSize, DefaultBatchSize)
	o.maxPending = cmp.Or(o.maxPending, DefaultMaxPending)
	switch {
	case o.queueSize < 1:
		return nil, fmt.Errorf("audit: WithQueueSize(%d): must not be negative", o.queueSize)
	case o.batchSize < 1:
		return nil, fmt.Errorf("audit: WithBatch(%d, %v): size must not be negative", o.batchSize, o.batchWait)
	case o.batchWait < 0:
		return nil, fmt.Errorf("audit: WithBatch(%d, %v): wait must not be negative", o.batchSize, o.batchWait)
	case o.maxPending < 1:
		return nil, fmt.Errorf("audit: WithMaxPending(%d): must not be negative", o.maxPending)
	case o.retry <= 0 || o.maxRetry < o.retry:
		return nil, fmt.Errorf("audit: WithRetry(%v, %v): need 0 < min <= max", o.retry, o.maxRetry)
	case o.full != Block && o.full != Drop:
		return nil, fmt.Errorf("audit: WithFullPolicy(%d): unknown policy", o.full)
	case o.log == nil || o.now == nil:
		return nil, fmt.Errorf("audit: nil WithErrorLog or WithLoggerClock")
	}
	return o, nil
}

// WithQueueSize sets how many records may wait for the writer. Default
// (and 0) DefaultQueueSize (65536).
func WithQueueSize(n int) LoggerOption { return func(o *loggerOptions) { o.queueSize = n } }

// WithFullPolicy sets what happens when the queue is full. Default Block.
func WithFullPolicy(p FullPolicy) LoggerOption { return func(o *loggerOptions) { o.full = p } }

// WithBatch sets the largest batch handed to the sinks, and how long the
// writer waits for more records once it has a batch that is not full
// (0: it takes what is queued, so batches still grow with load). Waiting
// keeps the writer off the queue while request goroutines enqueue, which
// makes Log cheaper under load. Defaults DefaultBatchSize (1024; also for
// size 0) and DefaultBatchWait (10ms). A batch that holds a record a caller
// waits for (Write) is not held back, and such a record ends a wait at once.
func WithBatch(size int, wait time.Duration) LoggerOption {
	return func(o *loggerOptions) { o.batchSize, o.batchWait = size, wait }
}

// WithMaxPending sets how many records the Logger keeps for a failing sink
// while it retries; beyond that the oldest are dropped and a gap record
// (reason "sink_error") is written to that sink when it recovers. Default
// (and 0) DefaultMaxPending (65536).
func WithMaxPending(n int) LoggerOption { return func(o *loggerOptions) { o.maxPending = n } }

// WithRetry sets the first and the longest wait before a failing sink is
// tried again (doubling in between). Default 100ms and 5s.
func WithRetry(first, max time.Duration) LoggerOption {
	return func(o *loggerOptions) { o.retry, o.maxRetry = first, max }
}

// WithErrorLog sets where sink errors are logged. Default: nowhere (they
// are still counted in portcullis_audit_write_errors_total).
func WithErrorLog(l *slog.Logger) LoggerOption { return func(o *loggerOptions) { o.log = l } }

// WithLoggerClock sets the clock of gap and seal records. Default time.Now.
func WithLoggerClock(now func() time.Time) LoggerOption {
	return func(o *loggerOptions) { o.now = now }
}
