package proxy_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/stats"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/proxy"
)

func TestHandlerDeadline(t *testing.T) {
	e := newEnv(t, envConfig{})
	ctx, cancel := context.WithTimeout(testContext(t), 300*time.Millisecond)
	defer cancel()
	clientDeadline, _ := ctx.Deadline()
	ctx = metadata.AppendToOutgoingContext(ctx, behaviorKey, behaviorBlock)

	_, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	if got := status.Code(err); got != codes.DeadlineExceeded {
		t.Fatalf("UnaryCall() = %v, want DeadlineExceeded", err)
	}
	select {
	case err := <-e.backend.done:
		// The backend's own timer and the gateway's RST_STREAM(CANCEL) at
		// the same deadline race, as they do for a direct client: either
		// ends the backend call on time.
		if err != context.DeadlineExceeded && err != context.Canceled {
			t.Errorf("backend ctx.Err() = %v, want DeadlineExceeded or Canceled", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("backend call did not end")
	}
	c := e.backend.lastCall(t)
	// grpc-timeout is relative: each hop re-anchors it at its receive time,
	// so the backend's absolute deadline can trail the client's by the
	// transit time of the two hops (milliseconds on a loaded machine), but
	// never by a second.
	if !c.hasDeadline || c.deadline.After(clientDeadline.Add(250*time.Millisecond)) {
		t.Errorf("backend deadline = %v (set %v), want at most the client's %v", c.deadline, c.hasDeadline, clientDeadline)
	}
	if _, ok := c.md["grpc-timeout"]; ok {
		t.Errorf("backend metadata has grpc-timeout %q, want it consumed as the deadline", c.md["grpc-timeout"])
	}
}

func TestHandlerClientCancellation(t *testing.T) {
	e := newEnv(t, envConfig{})
	tests := []struct {
		name  string
		start func(ctx context.Context) error // returns once the backend is blocked
	}{
		{"unary", func(ctx context.Context) error {
			go func() { _, _ = e.client.UnaryCall(ctx, &testpb.SimpleRequest{}) }()
			return nil
		}},
		{"server streaming", func(ctx context.Context) error {
			stream, err := e.client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params(1)})
			if err != nil {
				return err
			}
			_, err = stream.Recv() // the message arrives, then the backend blocks
			return err
		}},
		{"bidi streaming", func(ctx context.Context) error {
			_, err := e.client.FullDuplexCall(ctx)
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(testContext(t))
			defer cancel()
			if err := tt.start(metadata.AppendToOutgoingContext(ctx, behaviorKey, behaviorBlock)); err != nil {
				t.Fatalf("start = %v", err)
			}
			select {
			case <-e.backend.started:
			case <-time.After(2 * time.Second):
				t.Fatal("backend call did not start")
			}
			cancel()
			select {
			case err := <-e.backend.done:
				if err != context.Canceled {
					t.Errorf("backend ctx.Err() = %v, want context.Canceled", err)
				}
			case <-time.After(2 * time.Second):
				t.Fatal("cancellation did not reach the backend")
			}
		})
	}
}

func TestHandlerBackendDown(t *testing.T) {
	e := newEnv(t, envConfig{backendDown: true})
	for _, tt := range rpcs {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			start := time.Now()
			err := tt.run(ctx, e.client)
			elapsed := time.Since(start)
			if st := status.Convert(err); st.Code() != codes.Unavailable || st.Message() != "backend unavailable" {
				t.Errorf("call = %v, want Unavailable \"backend unavailable\"", err)
			}
			if elapsed > time.Second {
				t.Errorf("call took %v, want well under a second (fail fast, not the 5s deadline)", elapsed)
			}
		})
	}
}

// TestHandlerFlowControl has the backend stream far more than the windows
// hold to a client that stops reading, and checks that the backend stalls
// after a bounded number of messages: nothing in between queues them.
func TestHandlerFlowControl(t *testing.T) {
	const (
		window = 64 << 10 // fixed windows turn off BDP-based window growth
		size   = 32 << 10
		total  = 1000 // 32 MiB if nothing pushed back
		bound  = 64   // 2 MiB: windows and write quotas are ~5 × 64 KiB
	)
	windows := []grpc.DialOption{grpc.WithInitialWindowSize(window), grpc.WithInitialConnWindowSize(window)}
	e := newEnv(t, envConfig{
		clientOpts: windows,
		poolOpts:   []proxy.PoolOption{proxy.WithDialOptions(windows...)},
	})
	sizes := make([]int32, total)
	for i := range sizes {
		sizes[i] = size
	}
	ctx, cancel := context.WithCancel(testContext(t))
	defer cancel()
	stream, err := e.client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params(sizes...)})
	if err != nil {
		t.Fatalf("StreamingOutputCall() = %v", err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatalf("Recv() = %v", err)
	}
	// Wait until the backend stops making progress (blocked in Send).
	sent := stalled(t, func() int64 { return e.backend.sent.Load() })
	if sent >= bound {
		t.Fatalf("backend sent %d messages to a client that read 1, want fewer than %d", sent, bound)
	}
	// Reading resumes the flow.
	for range sent + 5 {
		if _, err := stream.Recv(); err != nil {
			t.Fatalf("Recv() = %v", err)
		}
	}
	if now := e.backend.sent.Load(); now <= sent {
		t.Errorf("backend sent %d after the client read on, want more than %d", now, sent)
	}
	t.Logf("backend stalled after %d messages of %d bytes", sent, size)
}

// stalled polls n until it holds still for 200ms (at most 5s) and returns it.
func stalled(t *testing.T, n func() int64) int64 {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	last, since := n(), time.Now()
	for time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if cur := n(); cur != last {
			last, since = cur, time.Now()
		} else if time.Since(since) >= 200*time.Millisecond {
			return cur
		}
	}
	t.Fatalf("counter still moving after 5s: %d", last)
	return 0
}

// compressionRecorder records the grpc-encoding of responses a client gets.
type compressionRecorder struct {
	mu  sync.Mutex
	got []string
}

func (r *compressionRecorder) TagRPC(ctx context.Context, _ *stats.RPCTagInfo) context.Context {
	return ctx
}
func (r *compressionRecorder) HandleRPC(_ context.Context, s stats.RPCStats) {
	if h, ok := s.(*stats.InHeader); ok {
		r.mu.Lock()
		r.got = append(r.got, h.Compression)
		r.mu.Unlock()
	}
}
func (r *compressionRecorder) TagConn(ctx context.Context, _ *stats.ConnTagInfo) context.Context {
	return ctx
}
func (r *compressionRecorder) HandleConn(context.Context, stats.ConnStats) {}

func (r *compressionRecorder) last() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.got) == 0 {
		return "<none>"
	}
	return r.got[len(r.got)-1]
}

func TestHandlerCompression(t *testing.T) {
	tests := []struct {
		name        string
		clientComp  string
		matching    bool
		wantBackend string // grpc-encoding the backend receives
	}{
		{"gzip client, matching", gzip.Name, true, gzip.Name},
		{"gzip client, no matching", gzip.Name, false, ""},
		{"plain client", "", true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := &compressionRecorder{}
			e := newEnv(t, envConfig{
				handlerOpts: []proxy.Option{proxy.WithCompressionMatching(tt.matching)},
				clientOpts:  []grpc.DialOption{grpc.WithStatsHandler(rec)},
			})
			var opts []grpc.CallOption
			if tt.clientComp != "" {
				opts = append(opts, grpc.UseCompressor(tt.clientComp))
			}
			req := &testpb.SimpleRequest{Payload: payload(256 << 10)} // compressible
			resp, err := e.client.UnaryCall(testContext(t), req, opts...)
			if err != nil {
				t.Fatalf("UnaryCall() = %v", err)
			}
			if got := len(resp.GetPayload().GetBody()); got != 256<<10 {
				t.Errorf("UnaryCall() body length = %d, want %d", got, 256<<10)
			}
			if got := e.backend.lastCall(t).compressor; got != tt.wantBackend {
				t.Errorf("backend grpc-encoding = %q, want %q", got, tt.wantBackend)
			}
			// grpc-go servers answer in the request's encoding.
			if got := rec.last(); got != tt.clientComp {
				t.Errorf("client response grpc-encoding = %q, want %q", got, tt.clientComp)
			}
		})
	}
}

// TestHandlerDefaultTimeout: a call whose client sent no deadline reaches
// the backend with WithDefaultTimeout's, and ends when it passes; a
// client's deadline is kept as it is, even a longer one; a method given 0
// gets none.
func TestHandlerDefaultTimeout(t *testing.T) {
	const def = 200 * time.Millisecond
	e := newEnv(t, envConfig{handlerOpts: []proxy.Option{proxy.WithDefaultTimeout(func(fullMethod string) time.Duration {
		if fullMethod == "/grpc.testing.TestService/EmptyCall" {
			return 0
		}
		return def
	})}})

	start := time.Now()
	// No deadline; cancelled after 3s should the default not apply.
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	time.AfterFunc(3*time.Second, stop)
	ctx = metadata.AppendToOutgoingContext(ctx, behaviorKey, behaviorBlock)
	_, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{})
	if got := status.Code(err); got != codes.DeadlineExceeded {
		t.Fatalf("UnaryCall(no deadline) = %v, want DeadlineExceeded after the default timeout", err)
	}
	<-e.backend.done
	c := e.backend.lastCall(t)
	if !c.hasDeadline || c.deadline.Before(start.Add(def-50*time.Millisecond)) || c.deadline.After(start.Add(def+time.Second)) {
		t.Errorf("backend deadline = %v (set %v), want about %v after the call started", c.deadline.Sub(start), c.hasDeadline, def)
	}

	long, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	clientDeadline, _ := long.Deadline()
	if _, err := e.client.UnaryCall(long, &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall(5s deadline) = %v", err)
	}
	if c := e.backend.lastCall(t); !c.hasDeadline || c.deadline.Before(clientDeadline.Add(-time.Second)) {
		t.Errorf("backend deadline = %v before the client's, want the client's (not the default)", clientDeadline.Sub(c.deadline))
	}

	if _, err := e.client.EmptyCall(context.Background(), &testpb.Empty{}); err != nil {
		t.Fatalf("EmptyCall() = %v", err)
	}
	if c := e.backend.lastCall(t); c.hasDeadline {
		t.Errorf("EmptyCall reached the backend with a deadline (%v), want none (timeout 0)", time.Until(c.deadline))
	}
}
