package ratelimit_test

import (
	"context"
	"errors"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/ratelimit"
	"github.com/portcullis/portcullis/policy"
)

// serve starts the TestService with both interceptors over store; the
// policy of each method comes from methods, the principal from the
// "x-test-principal" request metadata.
func serve(t *testing.T, store ratelimit.Store, methods map[string]*policy.Method, hook grpctest.Hook, opts ...ratelimit.Option) *grpctest.Server {
	t.Helper()
	opts = append([]ratelimit.Option{
		ratelimit.WithMethodFunc(func(ctx context.Context) (*policy.Method, bool) {
			name, _ := grpc.Method(ctx)
			m, ok := methods[name]
			return m, ok
		}),
		ratelimit.WithPrincipalFunc(func(ctx context.Context) (*policy.Principal, bool) {
			md, _ := metadata.FromIncomingContext(ctx)
			if v := md.Get("x-test-principal"); len(v) == 1 {
				return user(v[0]), true
			}
			return nil, false
		}),
	}, opts...)
	return grpctest.Start(t, hook,
		grpc.ChainUnaryInterceptor(ratelimit.UnaryServerInterceptor(store, opts...)),
		grpc.ChainStreamInterceptor(ratelimit.StreamServerInterceptor(store, opts...)))
}

func as(ctx context.Context, principal string) context.Context {
	return metadata.AppendToOutgoingContext(ctx, "x-test-principal", principal)
}

// TestServer runs every RPC kind through a real server over bufconn: two
// calls allowed, the third refused with RetryInfo, the retry-after trailer
// and ratelimit-* headers as the client sees them.
func TestServer(t *testing.T) {
	methods := map[string]*policy.Method{}
	for _, c := range grpctest.Calls() {
		methods[c.Method] = &policy.Method{FullMethod: c.Method, RateLimit: &policy.RateLimit{Rate: 1, Period: time.Hour, Burst: 1}}
	}
	srv := serve(t, ratelimit.NewMemory(), methods, nil)
	for _, c := range grpctest.Calls() {
		t.Run(c.Name, func(t *testing.T) {
			ctx := as(testContext(t), "alice")
			for i, want := range []struct {
				code      codes.Code
				remaining string
			}{{codes.OK, "1"}, {codes.OK, "0"}, {codes.ResourceExhausted, "0"}} {
				var header, trailer metadata.MD
				err := c.Invoke(ctx, srv.Client, grpc.Header(&header), grpc.Trailer(&trailer))
				if status.Code(err) != want.code {
					t.Fatalf("call %d: %s = %v, want %v", i, c.Name, err, want.code)
				}
				if got := header.Get("ratelimit-limit"); len(got) != 1 || got[0] != "2" {
					t.Errorf("call %d: ratelimit-limit = %q, want [2]", i, got)
				}
				if got := header.Get("ratelimit-remaining"); len(got) != 1 || got[0] != want.remaining {
					t.Errorf("call %d: ratelimit-remaining = %q, want [%s]", i, got, want.remaining)
				}
				if got := header.Get("ratelimit-reset"); len(got) != 1 || got[0] == "0" {
					t.Errorf("call %d: ratelimit-reset = %q, want positive seconds", i, got)
				}
				if want.code == codes.OK {
					continue
				}
				if got := trailer.Get("retry-after"); len(got) != 1 || got[0] != "3600" {
					t.Errorf("call %d: retry-after trailer = %q, want [3600]", i, got)
				}
				if d, ok := retryDelay(err); !ok || d <= 3599*time.Second || d > 3600*time.Second {
					t.Errorf("call %d: RetryInfo delay = %v, %v, want about 1h", i, d, ok)
				}
				if msg := status.Convert(err).Message(); msg != "rate limit exceeded" {
					t.Errorf("call %d: message = %q, want %q", i, msg, "rate limit exceeded")
				}
			}
			// Another principal has its own limit.
			if err := c.Invoke(as(testContext(t), "bob"), srv.Client); err != nil {
				t.Errorf("%s as bob = %v, want nil", c.Name, err)
			}
		})
	}
}

// openBidi opens a FullDuplexCall and completes one exchange, so the
// stream is established (past the interceptors) or has failed.
func openBidi(ctx context.Context, c testpb.TestServiceClient) (testpb.TestService_FullDuplexCallClient, error) {
	s, err := c.FullDuplexCall(ctx)
	if err != nil {
		return nil, err
	}
	if err := s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	if _, err := s.Recv(); err != nil {
		return nil, err
	}
	return s, nil
}

func closeBidi(t *testing.T, s testpb.TestService_FullDuplexCallClient) {
	t.Helper()
	if err := s.CloseSend(); err != nil {
		t.Fatalf("CloseSend() = %v", err)
	}
	if _, err := s.Recv(); !errors.Is(err, io.EOF) {
		t.Fatalf("Recv() after CloseSend = %v, want io.EOF", err)
	}
}

func TestServerConcurrentStreams(t *testing.T) {
	bidi := testpb.TestService_FullDuplexCall_FullMethodName
	methods := map[string]*policy.Method{bidi: {FullMethod: bidi, Stream: policy.StreamLimits{MaxConcurrentPerPrincipal: 2}}}
	m := ratelimit.NewMetrics()
	srv := serve(t, ratelimit.NewMemory(), methods, nil, ratelimit.WithMetrics(m))
	ctx := testContext(t)
	alice := as(ctx, "alice")
	s1, err := openBidi(alice, srv.Client)
	if err != nil {
		t.Fatalf("stream 1 = %v, want nil", err)
	}
	s2, err := openBidi(alice, srv.Client)
	if err != nil {
		t.Fatalf("stream 2 = %v, want nil", err)
	}
	_, err = openBidi(alice, srv.Client)
	if status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != "too many concurrent streams" {
		t.Fatalf("stream 3 = %v, want ResourceExhausted too many concurrent streams", err)
	}
	// Another principal is counted apart.
	sb, err := openBidi(as(ctx, "bob"), srv.Client)
	if err != nil {
		t.Fatalf("bob's stream = %v, want nil", err)
	}
	closeBidi(t, sb)
	// Ending a stream frees its slot; the release happens when the
	// handler returns, just after the client sees the end.
	closeBidi(t, s1)
	var s3 testpb.TestService_FullDuplexCallClient
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if s3, err = openBidi(alice, srv.Client); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("stream after one closed = %v, want nil", err)
	}
	closeBidi(t, s2)
	closeBidi(t, s3)
	if got := gauge(t, m, "portcullis_ratelimit_decisions_total", "result", "limited"); got != 1 {
		t.Errorf("decisions_total{result=limited} = %v, want 1", got)
	}
}

func TestServerMaxMessages(t *testing.T) {
	in := testpb.TestService_StreamingInputCall_FullMethodName
	methods := map[string]*policy.Method{in: {FullMethod: in, Stream: policy.StreamLimits{MaxMessages: 3}}}
	srv := serve(t, ratelimit.NewMemory(), methods, nil)
	for _, tc := range []struct {
		messages int
		want     codes.Code
	}{{0, codes.OK}, {3, codes.OK}, {4, codes.ResourceExhausted}, {10, codes.ResourceExhausted}} {
		ctx := testContext(t)
		s, err := srv.Client.StreamingInputCall(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for range tc.messages {
			if err := s.Send(&testpb.StreamingInputCallRequest{}); err != nil {
				break // the server already ended the stream
			}
		}
		_, err = s.CloseAndRecv()
		if status.Code(err) != tc.want {
			t.Errorf("StreamingInputCall(%d messages) = %v, want %v", tc.messages, err, tc.want)
		}
		if tc.want != codes.OK && status.Convert(err).Message() != "too many messages" {
			t.Errorf("StreamingInputCall(%d messages) message = %q, want %q", tc.messages, status.Convert(err).Message(), "too many messages")
		}
	}
}

func TestServerMessageRate(t *testing.T) {
	bidi := testpb.TestService_FullDuplexCall_FullMethodName
	methods := map[string]*policy.Method{bidi: {FullMethod: bidi, Stream: policy.StreamLimits{MessagesPerSecond: 20}}}
	srv := serve(t, ratelimit.NewMemory(), methods, nil)
	exchange := func(s testpb.TestService_FullDuplexCallClient) error {
		if err := s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err != nil && !errors.Is(err, io.EOF) {
			return err
		}
		_, err := s.Recv()
		return err
	}
	t.Run("flood", func(t *testing.T) {
		s, err := srv.Client.FullDuplexCall(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for n = 0; n < 200; n++ {
			if err = exchange(s); err != nil {
				break
			}
		}
		if status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != "message rate exceeded" {
			t.Fatalf("exchange %d = %v, want ResourceExhausted message rate exceeded", n, err)
		}
		if n < 20 {
			t.Errorf("refused after %d messages, want ≥ 20 (one second's burst)", n)
		}
	})
	t.Run("paced", func(t *testing.T) {
		s, err := srv.Client.FullDuplexCall(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		for i := range 30 { // 1.5s at under 20/s
			if err := exchange(s); err != nil {
				t.Fatalf("exchange %d at under the rate = %v, want nil", i, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		closeBidi(t, s)
	})
}

func TestServerMaxDuration(t *testing.T) {
	bidi := testpb.TestService_FullDuplexCall_FullMethodName
	out := testpb.TestService_StreamingOutputCall_FullMethodName
	limits := policy.StreamLimits{MaxDuration: 200 * time.Millisecond}
	methods := map[string]*policy.Method{
		bidi: {FullMethod: bidi, Stream: limits},
		out:  {FullMethod: out, Stream: limits},
	}
	// The server-streaming handler waits for its context, as a proxy does.
	hook := func(ctx context.Context) error {
		if name, _ := grpc.Method(ctx); name == out {
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	srv := serve(t, ratelimit.NewMemory(), methods, hook)
	t.Run("bidi", func(t *testing.T) {
		start := time.Now()
		s, err := srv.Client.FullDuplexCall(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 200; i++ {
			if err = s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}); err == nil {
				_, err = s.Recv()
			} else if errors.Is(err, io.EOF) {
				_, err = s.Recv()
			}
			if err != nil {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		checkDuration(t, err, time.Since(start))
	})
	t.Run("server-stream", func(t *testing.T) {
		start := time.Now()
		s, err := srv.Client.StreamingOutputCall(testContext(t), &testpb.StreamingOutputCallRequest{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = s.Recv()
		checkDuration(t, err, time.Since(start))
	})
}

func checkDuration(t *testing.T, err error, took time.Duration) {
	t.Helper()
	if status.Code(err) != codes.DeadlineExceeded || status.Convert(err).Message() != "stream duration exceeded" {
		t.Errorf("stream = %v, want DeadlineExceeded stream duration exceeded", err)
	}
	if took < 200*time.Millisecond || took > 3*time.Second {
		t.Errorf("stream ended after %v, want soon after 200ms", took)
	}
}
