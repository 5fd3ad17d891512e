package audit_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/policy"
)

type discardSink struct{}

func (discardSink) Write([]*audit.Entry) error { return nil }
func (discardSink) Sync() error                { return nil }
func (discardSink) Close() error               { return nil }

// pausingSink's Write waits while it is paused, so that a benchmark can
// keep the writer goroutine off the CPU and off the queue.
type pausingSink struct {
	discardSink
	mu      sync.Mutex
	cond    *sync.Cond
	paused  bool
	entered chan struct{}
}

func newPausingSink() *pausingSink {
	s := &pausingSink{entered: make(chan struct{}, 1)}
	s.cond = sync.NewCond(&s.mu)
	return s
}

func (s *pausingSink) Write([]*audit.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for s.paused {
		select {
		case s.entered <- struct{}{}:
		default:
		}
		s.cond.Wait()
	}
	return nil
}

func (s *pausingSink) setPaused(p bool) {
	s.mu.Lock()
	s.paused = p
	s.mu.Unlock()
	s.cond.Broadcast()
}

func fillEvent(e *audit.Event, d *policy.Decision) {
	e.Method, e.RequestID, e.Transport, e.Status.Code = "/bank.v1.Bank/Transfer", "0123456789abcdef", "grpc", "OK"
	e.Principal.ID, e.Principal.Kind = "alice", "user"
	e.Decision.Allowed, e.Decision.Required, e.Decision.BundleVersion = d.Allowed, d.Required, d.BundleVersion
}

// BenchmarkEnqueueWriterParked is BenchmarkEnqueue with the writer held in
// its sink while the timer runs (it drains the queue while the timer is
// stopped): the enqueue alone, with no one else on the channel, but with
// every Event taken from the pool of another P.
func BenchmarkEnqueueWriterParked(b *testing.B) {
	sink := newPausingSink()
	l, err := audit.New([]audit.Sink{sink})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	d := &policy.Decision{Allowed: true, Required: []string{"a.b.c"}, BundleVersion: "v1"}
	// Chunks of one batch: in a steady state the queue is short and the
	// pool's Events are warm in the caches.
	const chunk = audit.DefaultBatchSize
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for done := 0; done < b.N; done += chunk {
		b.StopTimer()
		sink.setPaused(true)
		l.Log(l.NewEvent()) // the writer takes it and waits in Write
		<-sink.entered
		b.StartTimer()
		c := audit.CPUTime()
		for range min(chunk, b.N-done) {
			e := l.NewEvent()
			fillEvent(e, d)
			l.Log(e)
		}
		cpu += audit.CPUTime() - c
		b.StopTimer()
		sink.setPaused(false)
		for l.Stats().Queued > 0 {
			time.Sleep(100 * time.Microsecond)
		}
		b.StartTimer()
	}
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkEnqueue measures the request path's share of audit: take a
// pooled Event, fill it, Log it, while the writer drains the queue at the
// same time (on another core if there is one), as in a running gateway.
// The timer stops every 1024 records until the queue is empty, so that
// the figure is an enqueue with room in the queue, not the writer's speed
// (BenchmarkFileWriter is that). Target: ≤150 ns and 0 allocs.
func BenchmarkEnqueue(b *testing.B) {
	l, err := audit.New([]audit.Sink{discardSink{}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	d := &policy.Decision{Allowed: true, Required: []string{"a.b.c"}, BundleVersion: "v1"}
	const chunk = audit.DefaultBatchSize
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if i%chunk == chunk-1 {
			b.StopTimer()
			for l.Stats().Queued > 0 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
		}
		e := l.NewEvent()
		fillEvent(e, d)
		l.Log(e)
	}
}

// BenchmarkUnaryInterceptor is the whole per-call cost of the audit
// interceptor at metadata level (context, Record, facts, Event, Log),
// with a handler that does nothing. cpu-ns/op is the process's CPU time
// per call, the writer's encoding included: what audit adds to a call.
func BenchmarkUnaryInterceptor(b *testing.B) {
	l, err := audit.New([]audit.Sink{discardSink{}})
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	m := &policy.Method{FullMethod: "/bank.v1.Bank/Transfer"}
	intercept := audit.UnaryServerInterceptor(l, methodFunc(m))
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs("x-request-id", "0123456789abcdef",
		"traceparent", testTraceparent))
	info := &grpc.UnaryServerInfo{FullMethod: m.FullMethod}
	req, resp := &testpb.Empty{}, &testpb.Empty{}
	handler := func(ctx context.Context, _ any) (any, error) {
		policy.RecordFrom(ctx).Principal = &policy.Principal{ID: "alice", Kind: policy.KindUser}
		return resp, nil
	}
	const chunk = audit.DefaultQueueSize / 2
	b.ReportAllocs()
	b.ResetTimer()
	cpu := audit.CPUTime()
	for i := 0; i < b.N; i++ {
		if i%chunk == chunk-1 {
			b.StopTimer()
			for l.Stats().Queued > 0 {
				time.Sleep(100 * time.Microsecond)
			}
			b.StartTimer()
		}
		if _, err := intercept(ctx, req, info, handler); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	for l.Stats().Queued > 0 { // the writer's share belongs to the calls
		time.Sleep(100 * time.Microsecond)
	}
	b.ReportMetric(float64((audit.CPUTime()-cpu).Nanoseconds())/float64(b.N), "cpu-ns/op")
}

// BenchmarkLoggerFile is end to end: Log from one goroutine, the writer
// encoding, chaining and writing to a FileSink (fsync every 50ms). It
// reports the sustained records/s, and records per CPU second of the
// whole process (producer and writer).
func BenchmarkLoggerFile(b *testing.B) {
	fs, err := audit.NewFileSink(b.TempDir(), audit.WithMaxBytes(1<<30))
	if err != nil {
		b.Fatal(err)
	}
	l, err := audit.New([]audit.Sink{fs})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), audit.CPUTime()
	for i := 0; i < b.N; i++ {
		e := l.NewEvent()
		e.Time, e.Method, e.RequestID, e.Transport, e.Status.Code = start, "/bank.v1.Bank/Transfer", "0123456789abcdef", "grpc", "OK"
		e.Principal.ID, e.Principal.Kind = "alice", "user"
		l.Log(e)
	}
	if err := l.Close(); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/(audit.CPUTime()-cpu).Seconds(), "records/cpu-s")
}
