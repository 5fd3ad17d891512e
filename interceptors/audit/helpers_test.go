package audit_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/interceptors/audit"
)

func TestMain(m *testing.M) {
	if os.Getenv(crashChildEnv) != "" {
		os.Exit(crashChild(os.Getenv(crashChildEnv)))
	}
	goleak.VerifyTestMain(m)
}

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// memSink is an in-memory Sink that chains its records like a real one.
// Write can be made to fail (failing) or to wait (gate); entered gets a
// value each time Write starts, when non-nil.
type memSink struct {
	failing atomic.Bool
	gate    chan struct{}
	entered chan struct{}
	syncs   atomic.Int64
	closed  atomic.Bool

	mu    sync.Mutex
	chain audit.Chain
	lines []string
}

var errBroken = errors.New("memsink: broken")

func (s *memSink) Write(entries []*audit.Entry) error {
	if s.entered != nil {
		select {
		case s.entered <- struct{}{}:
		default:
		}
	}
	if s.gate != nil {
		<-s.gate
	}
	if s.failing.Load() {
		return errBroken
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.chain
	for _, e := range entries {
		s.lines = append(s.lines, string(c.Append(nil, e)))
	}
	s.chain = c
	return nil
}

func (s *memSink) Sync() error {
	if s.failing.Load() {
		return errBroken
	}
	s.syncs.Add(1)
	return nil
}

func (s *memSink) Close() error { s.closed.Store(true); return nil }

func (s *memSink) Lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.lines)
}

// Records decodes every line into a generic map.
func (s *memSink) Records(t testing.TB) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range s.Lines() {
		out = append(out, decodeMap(t, l))
	}
	return out
}

// find waits until a record of the given type and request id is there.
func (s *memSink) find(t testing.TB, typ, requestID string) map[string]any {
	t.Helper()
	var found map[string]any
	waitFor(t, typ+" record "+requestID, func() bool {
		for _, r := range s.Records(t) {
			if r["type"] == typ && r["request_id"] == requestID {
				found = r
				return true
			}
		}
		return false
	})
	return found
}

func decodeMap(t testing.TB, line string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal([]byte(line), &m); err != nil {
		t.Fatalf("json.Unmarshal(%q) = %v, want nil", line, err)
	}
	return m
}

// waitFor polls cond for up to 10 seconds.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// newLogger returns a Logger closed when the test ends.
func newLogger(t testing.TB, sinks []audit.Sink, opts ...audit.LoggerOption) *audit.Logger {
	t.Helper()
	l, err := audit.New(sinks, opts...)
	if err != nil {
		t.Fatalf("audit.New() = %v, want nil", err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// fakeClock returns start, then start+step, start+2*step, ...
func fakeClock(start time.Time, step time.Duration) func() time.Time {
	var mu sync.Mutex
	next := start
	return func() time.Time {
		mu.Lock()
		defer mu.Unlock()
		now := next
		next = next.Add(step)
		return now
	}
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

const zeroHash = "0000000000000000000000000000000000000000000000000000000000000000"

// checkChain checks that lines form one valid chain from seq 1.
func checkChain(t testing.TB, lines []string) {
	t.Helper()
	var prev [32]byte
	for i, line := range lines {
		l, err := audit.ParseLink([]byte(line))
		if err != nil {
			t.Fatalf("ParseLink(line %d %q) = %v, want nil", i+1, line, err)
		}
		if !l.Valid || !l.Canonical || l.Seq != uint64(i+1) || l.Prev != prev {
			t.Fatalf("ParseLink(line %d %q) = valid %v canonical %v seq %d, want a valid canonical link with seq %d", i+1, line, l.Valid, l.Canonical, l.Seq, i+1)
		}
		prev = l.Hash
	}
}
