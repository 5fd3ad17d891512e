package bank

import "time"

// Option configures a [Server] built by [New].
type Option func(*options)

type options struct {
	tick        time.Duration
	now         func() time.Time
	watchBuffer int
}

// defaultWatchBuffer is how many booked transactions a watch may fall behind
// before it is ended with codes.ResourceExhausted.
const defaultWatchBuffer = 64

func evaluateOptions(opts []Option) options {
	o := options{now: time.Now, watchBuffer: defaultWatchBuffer}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.watchBuffer <= 0 {
		o.watchBuffer = defaultWatchBuffer
	}
	return o
}

// WithTickTransactions makes the server book a synthetic card transaction on
// every open account once per interval, so that WatchTransactions produces
// output without another client. Ticks alternate between a credit and a
// debit of 2.50 (a debit is skipped if the balance is too low), so balances
// stay where they were. The default, and any interval <= 0, is off; the
// demo backend turns it on. [Server.Close] stops the ticker.
func WithTickTransactions(interval time.Duration) Option {
	return func(o *options) { o.tick = interval }
}

// WithClock sets the clock that stamps booked_unix on new transactions. The
// default (and nil) is time.Now. The seeded history has fixed timestamps in
// January 2026 whatever the clock. now must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return func(o *options) { o.now = now }
}

// WithWatchBuffer sets how many transactions each WatchTransactions stream
// may fall behind before the server ends it with codes.ResourceExhausted
// rather than block bookings. The default (and any n <= 0) is 64.
func WithWatchBuffer(n int) Option {
	return func(o *options) { o.watchBuffer = n }
}
