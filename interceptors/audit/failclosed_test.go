package audit_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/policy"
)

var (
	restricted = &policy.Method{FullMethod: "/bank.v1.Bank/Close", Sensitivity: policy.SensitivityRestricted}
	required   = &policy.Method{FullMethod: "/bank.v1.Bank/Export", Audit: policy.Audit{Required: true}}
	ordinary   = &policy.Method{FullMethod: "/bank.v1.Bank/Get"}
)

// TestFailClosed calls both interceptors as functions: a method whose
// audit is required never reaches the handler when its intent cannot be
// persisted, and gets Unavailable "audit unavailable".
func TestFailClosed(t *testing.T) {
	for _, tc := range []struct {
		name       string
		method     *policy.Method
		sink       func() *memSink
		preFail    bool // a failing write before the call made the logger unhealthy
		wantCalled bool
	}{
		{name: "restricted, broken sink", method: restricted, sink: failingSink},
		{name: "restricted, logger already unhealthy", method: restricted, sink: failingSink, preFail: true},
		{name: "required, broken sink", method: required, sink: failingSink},
		{name: "restricted, stuck sink", method: restricted, sink: stuckSink},
		{name: "ordinary, broken sink", method: ordinary, sink: failingSink, wantCalled: true},
		{name: "restricted, healthy sink", method: restricted, sink: func() *memSink { return &memSink{} }, wantCalled: true},
	} {
		for _, kind := range []string{"unary", "stream"} {
			t.Run(tc.name+"/"+kind, func(t *testing.T) {
				sink := tc.sink()
				l := newLogger(t, []audit.Sink{sink}, audit.WithRetry(time.Hour, time.Hour))
				if tc.preFail {
					_ = l.Write(testContext(t), l.NewEvent())
					if l.Healthy() {
						t.Fatalf("Healthy() after a failed write = true, want false")
					}
				}
				opts := []audit.Option{methodFunc(tc.method), audit.WithRequiredTimeout(50 * time.Millisecond)}
				ctx := metadata.NewIncomingContext(testContext(t), metadata.Pairs("x-request-id", "fc-1"))
				var called atomic.Bool
				var intentBefore atomic.Bool
				check := func() {
					called.Store(true)
					for _, r := range sink.Records(t) {
						if r["type"] == audit.TypeIntent && r["request_id"] == "fc-1" && sink.syncs.Load() > 0 {
							intentBefore.Store(true)
						}
					}
				}
				var err error
				if kind == "unary" {
					_, err = audit.UnaryServerInterceptor(l, opts...)(ctx, &testpb.Empty{},
						&grpc.UnaryServerInfo{FullMethod: tc.method.FullMethod},
						func(context.Context, any) (any, error) { check(); return &testpb.Empty{}, nil })
				} else {
					err = audit.StreamServerInterceptor(l, opts...)(nil, &fakeStream{ctx: ctx},
						&grpc.StreamServerInfo{FullMethod: tc.method.FullMethod},
						func(any, grpc.ServerStream) error { check(); return nil })
				}
				if tc.wantCalled {
					if err != nil || !called.Load() {
						t.Fatalf("intercept(%s) = %v, handler called %v, want nil and called", tc.method.FullMethod, err, called.Load())
					}
					if tc.method == restricted && !intentBefore.Load() {
						t.Errorf("handler ran before a synced intent record for fc-1 existed")
					}
					return
				}
				if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "audit unavailable" {
					t.Fatalf("intercept(%s) = %v, want Unavailable \"audit unavailable\"", tc.method.FullMethod, err)
				}
				if called.Load() {
					t.Fatalf("intercept(%s) reached the handler, want it refused before", tc.method.FullMethod)
				}
				if sink.gate != nil {
					close(sink.gate)
				}
			})
		}
	}
}

func failingSink() *memSink {
	s := &memSink{}
	s.failing.Store(true)
	return s
}

// stuckSink never finishes a write until its gate is closed.
func stuckSink() *memSink { return &memSink{gate: make(chan struct{})} }

// TestFailClosedServer: the same over a real server, for every RPC kind.
func TestFailClosedServer(t *testing.T) {
	sink := failingSink()
	l := newLogger(t, []audit.Sink{sink}, audit.WithRetry(time.Hour, time.Hour))
	var reached atomic.Int32
	opts := []audit.Option{audit.WithMethodFunc(func(context.Context) (*policy.Method, bool) { return restricted, true })}
	srv := grpctest.Start(t, func(context.Context) error { reached.Add(1); return nil },
		grpc.ChainUnaryInterceptor(audit.UnaryServerInterceptor(l, opts...)),
		grpc.ChainStreamInterceptor(audit.StreamServerInterceptor(l, opts...)))
	for _, c := range grpctest.Calls() {
		t.Run(c.Name, func(t *testing.T) {
			err := c.Invoke(testContext(t), srv.Client)
			if status.Code(err) != codes.Unavailable || status.Convert(err).Message() != "audit unavailable" {
				t.Fatalf("%s() = %v, want Unavailable \"audit unavailable\"", c.Method, err)
			}
		})
	}
	if n := reached.Load(); n != 0 {
		t.Fatalf("handlers reached %d times, want 0", n)
	}
}
