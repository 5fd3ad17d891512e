package audit

import "time"

// Sink stores audit records. The Logger's writer goroutine is its only
// caller, so a Sink needs no locking of its own.
//
// Each sink keeps its own hash chain: Write links every entry with a Chain
// (Chain.Append) and stores the resulting records in order. Write must
// store the whole batch or, on error, none of it as far as it can tell
// (a file truncates back, a database rolls back) and leave its chain where
// it was; the Logger then keeps the batch and retries it later, so a
// partial write would be stored twice. A Sink must not keep entries after
// Write returns.
type Sink interface {
	// Write stores entries, in order.
	Write(entries []*Entry) error
	// Sync makes everything written so far durable (fsync). The Logger
	// calls it after every batch that a caller waits for (Logger.Write),
	// per the sink's SyncInterval, and at Close.
	Sync() error
	// Close syncs and releases the sink. It is called once, by
	// Logger.Close.
	Close() error
}

// SyncIntervaler is implemented by sinks that want Sync at most this
// often while records arrive, and this long after the first unsynced
// record at the latest; 0 means after every batch. Sinks without it are
// synced after every batch.
type SyncIntervaler interface {
	SyncInterval() time.Duration
}

// Namer is implemented by sinks with a name for metrics labels and logs
// ("file", "postgres"). Others are named "sink0", "sink1", ...
type Namer interface {
	Name() string
}
