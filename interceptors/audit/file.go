package audit

import (
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// FileSink writes JSON lines to segment files in one directory, named
// <prefix><8-digit index>.jsonl. Each segment is its own hash chain (seq
// from 1) whose first record links to the previous segment's seal, so that
// a removed, replaced or reordered segment is detected too. A segment that
// has reached its size limit is sealed with a final "seal" record (count
// and last_hash), synced and closed, and the next one is opened; a
// segment therefore exceeds the limit by at most one batch. Close seals
// the current segment.
//
// On start, NewFileSink recovers the newest segment: a torn final line
// (the process died in the middle of a write) is cut off, and an unsealed
// segment is sealed with "recovered": true. Writing then continues in a
// new segment. Every line that was complete before a crash — in
// particular every record synced, and every record a Logger.Write waited
// for — stays and verifies.
//
// A FileSink is used by one Logger's writer goroutine; it is not safe for
// concurrent use.
type FileSink struct {
	o     fileOptions
	dir   string
	f     *os.File
	path  string
	index int
	size  int64  // bytes of the current segment known to be whole
	count uint64 // records in the current segment
	chain Chain
	buf   []byte
	// broken means the current file's tail is unknown after a failed
	// write; the next write starts a new segment.
	broken   bool
	recovery Recovery
}

// Recovery says what NewFileSink found in the newest existing segment.
type Recovery struct {
	// Path is the segment that was recovered, or "" when there was none
	// or it was sealed.
	Path string
	// TornBytes is the length of the torn final line that was cut off.
	TornBytes int
	// Sealed is true when the segment had to be sealed ("recovered").
	Sealed bool
}

// FileOption configures NewFileSink.
type FileOption func(*fileOptions)

type fileOptions struct {
	prefix   string
	maxBytes int64
	interval time.Duration
	now      func() time.Time
}

// Defaults of NewFileSink.
const (
	DefaultMaxSegmentBytes  = 128 << 20
	DefaultFileSyncInterval = 50 * time.Millisecond
)

// WithMaxBytes sets the size at which a segment is sealed and the next one
// started. Default (and 0) DefaultMaxSegmentBytes (128 MiB).
func WithMaxBytes(n int64) FileOption { return func(o *fileOptions) { o.maxBytes = n } }

// WithSyncInterval sets how often the Logger fsyncs the segment while
// records arrive (and at the latest this long after a write); 0 fsyncs
// after every batch. Records a caller waits for (required methods) are
// always synced before the caller continues. Default
// DefaultFileSyncInterval (50ms).
func WithSyncInterval(d time.Duration) FileOption { return func(o *fileOptions) { o.interval = d } }

// WithFilePrefix sets the segment file name prefix. Default "audit-".
func WithFilePrefix(p string) FileOption { return func(o *fileOptions) { o.prefix = p } }

// WithFileClock sets the clock of seal records. Default time.Now.
func WithFileClock(now func() time.Time) FileOption { return func(o *fileOptions) { o.now = now } }

// NewFileSink opens dir (creating it, mode 0700), recovers its newest
// segment and starts a new one. It fails when the newest segment's last
// complete line is not a readable record: that needs a person, not an
// automatic repair.
func NewFileSink(dir string, opts ...FileOption) (*FileSink, error) {
	o := fileOptions{prefix: "audit-", maxBytes: DefaultMaxSegmentBytes, interval: DefaultFileSyncInterval, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.maxBytes == 0 {
		o.maxBytes = DefaultMaxSegmentBytes
	}
	switch {
	case o.maxBytes < 1:
		return nil, fmt.Errorf("audit: WithMaxBytes(%d): must not be negative", o.maxBytes)
	case o.interval < 0:
		return nil, fmt.Errorf("audit: WithSyncInterval(%v): must not be negative", o.interval)
	case o.prefix == "" || filepath.Base(o.prefix) != o.prefix:
		return nil, fmt.Errorf("audit: WithFilePrefix(%q): must be a plain file name prefix", o.prefix)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("audit: file sink: %w", err)
	}
	s := &FileSink{o: o, dir: dir}
	if err := s.recover(); err != nil {
		return nil, err
	}
	if err := s.openNext(); err != nil {
		return nil, err
	}
	return s, nil
}

// Name returns "file".
func (s *FileSink) Name() string { return "file" }

// SyncInterval returns the WithSyncInterval setting.
func (s *FileSink) SyncInterval() time.Duration { return s.o.interval }

// Path returns the current segment's path.
func (s *FileSink) Path() string { return s.path }

// Recovery returns what NewFileSink recovered.
func (s *FileSink) Recovery() Recovery { return s.recovery }

// Write appends entries to the current segment in one write, rotating
// first when the segment is full. On error it cuts the file back to its
// last whole batch.
func (s *FileSink) Write(entries []*Entry) error {
	if s.f == nil || s.broken {
		if err := s.openNext(); err != nil {
			return err
		}
	}
	if s.size >= s.o.maxBytes && s.count > 0 {
		if err := s.rotate(); err != nil {
			return err
		}
	}
	c := s.chain
	buf := s.buf[:0]
	for _, en := range entries {
		buf = append(c.Append(buf, en), '\n')
	}
	s.buf = buf
	if err := s.append(buf); err != nil {
		return err
	}
	s.count += uint64(len(entries))
	s.chain = c
	return nil
}

// append writes b at the end of the segment, or cuts a partial write off.
func (s *FileSink) append(b []byte) error {
	n, err := s.f.Write(b)
	if err == nil {
		s.size += int64(n)
		return nil
	}
	if terr := s.f.Truncate(s.size); terr != nil {
		s.broken = true
	}
	return fmt.Errorf("audit: write %s: %w", s.path, err)
}

// Sync fsyncs the current segment.
func (s *FileSink) Sync() error {
	if s.f == nil {
		return nil
	}
	if err := s.f.Sync(); err != nil {
		s.broken = true // what reached the disk is unknown
		return fmt.Errorf("audit: sync %s: %w", s.path, err)
	}
	return nil
}

// Close seals and closes the current segment.
func (s *FileSink) Close() error {
	if s.f == nil {
		return nil
	}
	var err error
	if !s.broken {
		err = s.seal()
	}
	if cerr := s.f.Close(); err == nil {
		err = cerr
	}
	s.f = nil
	return err
}

// rotate seals the current segment and opens the next one.
func (s *FileSink) rotate() error {
	if err := s.seal(); err != nil {
		return err
	}
	return s.openNext()
}

// seal writes the seal record and syncs.
func (s *FileSink) seal() error {
	c := s.chain
	line := sealLine(&c, s.count, s.o.now(), false)
	if err := s.append(line); err != nil {
		return err
	}
	s.chain = c
	if err := s.f.Sync(); err != nil {
		s.broken = true
		return fmt.Errorf("audit: sync %s: %w", s.path, err)
	}
	return nil
}

func sealLine(c *Chain, count uint64, now time.Time, recovered bool) []byte {
	e := &Event{Version: SchemaVersion, Type: TypeSeal, Time: now, Count: count,
		LastHash: hex.EncodeToString(c.Prev[:]), Recovered: recovered}
	en := &Entry{Event: e}
	en.encode()
	return append(c.Append(nil, en), '\n')
}

// openNext closes the current file and starts the next segment; its chain
// continues from the last record written (the seal, normally).
func (s *FileSink) openNext() error {
	if s.f != nil {
		_ = s.f.Close() // broken: the tail is left for Verify to report
		s.f = nil
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%s%08d.jsonl", s.o.prefix, s.index+1))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("audit: file sink: %w", err)
	}
	if err := syncDir(s.dir); err != nil {
		_ = f.Close()
		return err
	}
	s.f, s.path, s.size, s.count, s.broken = f, path, 0, 0, false
	s.index++
	s.chain.Seq = 0
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("audit: file sink: %w", err)
	}
	defer func() { _ = d.Close() }() // read-only: nothing to lose
	if err := d.Sync(); err != nil {
		return fmt.Errorf("audit: sync %s: %w", dir, err)
	}
	return nil
}
