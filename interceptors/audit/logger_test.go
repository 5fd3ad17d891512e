package audit_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/portcullis/portcullis/interceptors/audit"
)

func logN(l *audit.Logger, from, n int) {
	for i := from; i < from+n; i++ {
		e := l.NewEvent()
		e.RequestID, e.Method, e.Status.Code = fmt.Sprintf("r%d", i), "/a.S/M", "OK"
		l.Log(e)
	}
}

// blockedLogger returns a Logger with a queue of 4 whose sink is stuck in
// its first Write until release is called.
func blockedLogger(t *testing.T, p audit.FullPolicy) (*audit.Logger, *memSink, func()) {
	t.Helper()
	sink := &memSink{gate: make(chan struct{}), entered: make(chan struct{}, 1)}
	l := newLogger(t, []audit.Sink{sink}, audit.WithQueueSize(4), audit.WithBatch(1, 0), audit.WithFullPolicy(p))
	logN(l, 0, 1)
	select {
	case <-sink.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the writer never called Write")
	}
	return l, sink, func() { close(sink.gate) }
}

func TestQueueFullBlock(t *testing.T) {
	l, sink, release := blockedLogger(t, audit.Block)
	logN(l, 1, 4) // fills the queue
	if q := l.Stats().Queued; q != 4 {
		t.Fatalf("Stats().Queued = %d, want 4", q)
	}
	done := make(chan struct{})
	go func() {
		logN(l, 5, 1)
		close(done)
	}()
	select {
	case <-done:
		t.Fatal("Log() on a full queue returned under Block, want it to wait")
	case <-time.After(50 * time.Millisecond):
	}
	release()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Log() still blocked after the sink recovered")
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	lines := sink.Lines()
	checkChain(t, lines)
	if len(lines) != 6 || l.Stats().Dropped != 0 {
		t.Fatalf("records = %d, dropped = %d, want 6 and 0", len(lines), l.Stats().Dropped)
	}
}

func TestQueueFullDrop(t *testing.T) {
	l, sink, release := blockedLogger(t, audit.Drop)
	start := time.Now()
	logN(l, 1, 20) // 4 queued, 16 dropped
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Log() under Drop took %v, want it not to wait", d)
	}
	if st := l.Stats(); st.Dropped != 16 || st.Queued != 4 {
		t.Fatalf("Stats() = %+v, want 16 dropped and 4 queued", st)
	}
	if v := metric(t, l, "portcullis_audit_records_dropped_total", ""); v != 16 {
		t.Errorf("portcullis_audit_records_dropped_total = %v, want 16", v)
	}
	if v := metric(t, l, "portcullis_audit_queue_depth", ""); v != 4 {
		t.Errorf("portcullis_audit_queue_depth = %v, want 4", v)
	}
	release()
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	recs := sink.Records(t)
	checkChain(t, sink.Lines())
	var calls int
	var gaps []map[string]any
	for _, r := range recs {
		switch r["type"] {
		case audit.TypeCall:
			calls++
		case audit.TypeGap:
			gaps = append(gaps, r)
		}
	}
	if calls != 5 || len(gaps) != 1 {
		t.Fatalf("records = %d calls and %d gaps, want 5 and 1", calls, len(gaps))
	}
	g := gaps[0]
	delete(g, "time")
	want := map[string]any{"type": "gap", "v": 1.0, "dropped": 16.0, "reason": "queue_full"}
	for k, v := range want {
		if g[k] != v {
			t.Errorf("gap[%q] = %v, want %v", k, g[k], v)
		}
	}
	if fmt.Sprint(keys(g)) != "[dropped hash prev_hash reason seq type v]" {
		t.Errorf("gap keys = %v, want dropped, hash, prev_hash, reason, seq, time, type, v", keys(g))
	}
	if v := metric(t, l, "portcullis_audit_records_written_total", "memSink"); v != 6 {
		t.Errorf("portcullis_audit_records_written_total = %v, want 6 (5 calls and the gap)", v)
	}
}

// TestSinkRetry: a failing sink gets what it missed when it recovers; what
// overflowed its retry buffer becomes a gap record; other sinks go on.
func TestSinkRetry(t *testing.T) {
	bad, good := &memSink{}, &memSink{}
	bad.failing.Store(true)
	l := newLogger(t, []audit.Sink{bad, good}, audit.WithMaxPending(3), audit.WithRetry(5*time.Millisecond, 10*time.Millisecond))
	logN(l, 0, 5)
	waitFor(t, "the healthy sink", func() bool { return len(good.Lines()) == 5 })
	waitFor(t, "the failing sink to drop", func() bool { return l.Stats().Sinks[0].Lost == 2 })
	if l.Healthy() {
		t.Errorf("Healthy() with a failing sink = true, want false")
	}
	if err := l.Write(testContext(t), l.NewEvent()); !errors.Is(err, audit.ErrNotPersisted) {
		t.Errorf("Write() with a failing sink = %v, want ErrNotPersisted", err)
	}
	bad.failing.Store(false)
	waitFor(t, "recovery", func() bool { return l.Healthy() })
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	recs := bad.Records(t)
	checkChain(t, bad.Lines())
	// The failed Write's record pushed r2 out too: gap(3), r3, r4, it.
	if len(recs) != 4 || recs[0]["type"] != "gap" || recs[0]["dropped"] != 3.0 || recs[0]["reason"] != "sink_error" ||
		recs[1]["request_id"] != "r3" || recs[2]["request_id"] != "r4" {
		t.Errorf("failing sink's records = %v, want a sink_error gap of 3 and the last 3 pending records", recs)
	}
	if st := l.Stats(); st.Sinks[0].Lost != 3 || st.Sinks[0].Written != 4 || st.Sinks[1].Written != 6 {
		t.Errorf("Stats().Sinks = %+v, want 3 lost and 4 written, and 6 written by the healthy sink", st.Sinks)
	}
	st := l.Stats()
	if st.Sinks[0].Errors == 0 || st.Sinks[0].Failing || st.Sinks[1].Errors != 0 {
		t.Errorf("Stats().Sinks = %+v, want errors counted for the failing sink only, none failing now", st.Sinks)
	}
	if v := metric(t, l, "portcullis_audit_sink_healthy", "memSink"); v != 1 {
		t.Errorf("portcullis_audit_sink_healthy = %v, want 1", v)
	}
}

func TestWriteAndClose(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, []audit.Sink{sink})
	if err := l.Write(testContext(t), l.NewEvent()); err != nil {
		t.Fatalf("Write() = %v, want nil", err)
	}
	if sink.syncs.Load() == 0 || len(sink.Lines()) != 1 {
		t.Errorf("after Write: %d syncs, %d records, want a synced record", sink.syncs.Load(), len(sink.Lines()))
	}
	ctx, cancel := context.WithCancel(testContext(t))
	cancel()
	if err := l.Write(ctx, l.NewEvent()); !errors.Is(err, context.Canceled) {
		t.Errorf("Write(canceled ctx) = %v, want context.Canceled", err)
	}
	logN(l, 0, 1000)
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("second Close() = %v, want nil", err)
	}
	if n := len(sink.Lines()); n < 1001 || !sink.closed.Load() {
		t.Errorf("after Close: %d records, sink closed %v, want at least 1001 and closed", n, sink.closed.Load())
	}
	if err := l.Write(testContext(t), l.NewEvent()); !errors.Is(err, audit.ErrClosed) {
		t.Errorf("Write() after Close = %v, want ErrClosed", err)
	}
	before := l.Stats().Dropped
	logN(l, 0, 1)
	if l.Stats().Dropped != before+1 || l.Healthy() {
		t.Errorf("Log() after Close: dropped %d → %d, healthy %v, want counted and unhealthy", before, l.Stats().Dropped, l.Healthy())
	}
}

func TestNewErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		sinks []audit.Sink
		opts  []audit.LoggerOption
	}{
		{name: "no sinks"},
		{name: "nil sink", sinks: []audit.Sink{nil}},
		{name: "queue", sinks: []audit.Sink{&memSink{}}, opts: []audit.LoggerOption{audit.WithQueueSize(-1)}},
		{name: "batch", sinks: []audit.Sink{&memSink{}}, opts: []audit.LoggerOption{audit.WithBatch(-1, 0)}},
		{name: "pending", sinks: []audit.Sink{&memSink{}}, opts: []audit.LoggerOption{audit.WithMaxPending(-1)}},
		{name: "retry", sinks: []audit.Sink{&memSink{}}, opts: []audit.LoggerOption{audit.WithRetry(time.Second, time.Millisecond)}},
		{name: "policy", sinks: []audit.Sink{&memSink{}}, opts: []audit.LoggerOption{audit.WithFullPolicy(9)}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if l, err := audit.New(tc.sinks, tc.opts...); err == nil {
				_ = l.Close()
				t.Errorf("New(%s) = nil error, want an error", tc.name)
			}
		})
	}
}

// metric returns the value of one metric of l (for sink-labelled ones, the
// first sink's when sink is a type name).
func metric(t *testing.T, l *audit.Logger, name, sink string) float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(l); err != nil {
		t.Fatalf("Register() = %v, want nil", err)
	}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v, want nil", err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		m := mf.GetMetric()[0]
		if m.Counter != nil {
			return m.GetCounter().GetValue()
		}
		return m.GetGauge().GetValue()
	}
	t.Fatalf("metric %s not found", name)
	return 0
}

// A record a caller waits for is not held back by the batch wait: Write
// wakes the writer while it waits for a batch to fill.
func TestWriteEndsBatchWait(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, []audit.Sink{sink}, audit.WithBatch(1024, time.Hour))
	logN(l, 0, 1) // the writer takes it and waits (an hour) for more
	time.Sleep(20 * time.Millisecond)
	done := make(chan error, 1)
	go func() { done <- l.Write(testContext(t), l.NewEvent()) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Write() = %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Write() waited for the batch wait")
	}
	if n := len(sink.Lines()); n != 2 {
		t.Errorf("%d records written, want both", n)
	}
}
