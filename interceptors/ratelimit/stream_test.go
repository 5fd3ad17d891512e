package ratelimit_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/ratelimit"
	"github.com/portcullis/portcullis/policy"
)

// streamCall runs the stream interceptor as a function with handler, on a
// fake stream whose RecvMsg always delivers a message.
func streamCall(ctx context.Context, intercept grpc.StreamServerInterceptor, handler grpc.StreamHandler) error {
	return intercept(nil, grpctest.NewStream(ctx), &grpc.StreamServerInfo{FullMethod: testMethod}, handler)
}

// receive returns a handler that calls RecvMsg up to max times and
// reports how many succeeded.
func receive(max int, got *int) grpc.StreamHandler {
	return func(_ any, ss grpc.ServerStream) error {
		for *got = 0; *got < max; *got++ {
			if err := ss.RecvMsg(nil); err != nil {
				return err
			}
		}
		return nil
	}
}

// TestStreamLimits checks the per-stream message limits with a fake
// handler.
func TestStreamLimits(t *testing.T) {
	for _, tc := range []struct {
		name     string
		limits   policy.StreamLimits
		read     int
		wantCode codes.Code
		wantMsg  string
		minOK    int
		maxOK    int
	}{
		{"max messages under", policy.StreamLimits{MaxMessages: 3}, 3, codes.OK, "", 3, 3},
		{"max messages over", policy.StreamLimits{MaxMessages: 3}, 10, codes.ResourceExhausted, "too many messages", 3, 3},
		{"rate burst", policy.StreamLimits{MessagesPerSecond: 5}, 100, codes.ResourceExhausted, "message rate exceeded", 5, 6},
		{"unlimited", policy.StreamLimits{MaxConcurrentPerPrincipal: 10}, 100, codes.OK, "", 100, 100},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &policy.Method{FullMethod: testMethod, Stream: tc.limits}
			intercept := ratelimit.StreamServerInterceptor(ratelimit.NewMemory(), baseOptions(m)...)
			var got int
			err := streamCall(testContext(t), intercept, receive(tc.read, &got))
			if status.Code(err) != tc.wantCode || (tc.wantMsg != "" && status.Convert(err).Message() != tc.wantMsg) {
				t.Fatalf("StreamServerInterceptor() = %v, want %v %q", err, tc.wantCode, tc.wantMsg)
			}
			if got < tc.minOK || got > tc.maxOK {
				t.Errorf("messages received = %d, want %d..%d", got, tc.minOK, tc.maxOK)
			}
		})
	}
}

func TestStreamMaxDuration(t *testing.T) {
	m := &policy.Method{FullMethod: testMethod, Stream: policy.StreamLimits{MaxDuration: 50 * time.Millisecond}}
	intercept := ratelimit.StreamServerInterceptor(ratelimit.NewMemory(), baseOptions(m)...)
	err := streamCall(testContext(t), intercept, func(_ any, ss grpc.ServerStream) error {
		dl, ok := ss.Context().Deadline()
		if !ok || time.Until(dl) > 50*time.Millisecond {
			t.Errorf("stream deadline = %v, %v, want within 50ms", dl, ok)
		}
		if err := ss.RecvMsg(nil); err != nil {
			t.Errorf("RecvMsg() before the deadline = %v, want nil", err)
		}
		<-ss.Context().Done()
		if err := ss.SendMsg(nil); status.Code(err) != codes.DeadlineExceeded {
			t.Errorf("SendMsg() after the deadline = %v, want DeadlineExceeded", err)
		}
		return ss.RecvMsg(nil)
	})
	if status.Code(err) != codes.DeadlineExceeded || status.Convert(err).Message() != "stream duration exceeded" {
		t.Errorf("StreamServerInterceptor() = %v, want DeadlineExceeded stream duration exceeded", err)
	}
	// The client's own, shorter deadline keeps its own error.
	ctx, cancel := context.WithTimeout(testContext(t), 10*time.Millisecond)
	defer cancel()
	err = streamCall(ctx, intercept, func(_ any, ss grpc.ServerStream) error {
		<-ss.Context().Done()
		return status.FromContextError(ss.Context().Err()).Err()
	})
	if status.Code(err) != codes.DeadlineExceeded || status.Convert(err).Message() == "stream duration exceeded" {
		t.Errorf("StreamServerInterceptor(client deadline) = %v, want the client's DeadlineExceeded", err)
	}
}

// TestStreamConcurrency checks the per-principal stream count as a
// function: the slot is held while the handler runs and released when it
// returns or panics.
func TestStreamConcurrency(t *testing.T) {
	m := &policy.Method{FullMethod: testMethod, Stream: policy.StreamLimits{MaxConcurrentPerPrincipal: 1}}
	intercept := ratelimit.StreamServerInterceptor(ratelimit.NewMemory(), baseOptions(m)...)
	alice := withPrincipal(testContext(t), user("alice"))
	ok := func(any, grpc.ServerStream) error { return nil }

	entered, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- streamCall(alice, intercept, func(any, grpc.ServerStream) error {
			close(entered)
			<-release
			return nil
		})
	}()
	<-entered
	rec := &policy.Record{}
	err := streamCall(policy.NewRecordContext(alice, rec), intercept, ok)
	if status.Code(err) != codes.ResourceExhausted || status.Convert(err).Message() != "too many concurrent streams" {
		t.Errorf("second stream = %v, want ResourceExhausted too many concurrent streams", err)
	}
	if !rec.RateLimited || rec.RateLimitKey != testMethod+"|principal|alice" {
		t.Errorf("record = %q, %v, want %q, true", rec.RateLimitKey, rec.RateLimited, testMethod+"|principal|alice")
	}
	if err := streamCall(withPeer(testContext(t), "192.0.2.1:1"), intercept, ok); err != nil {
		t.Errorf("anonymous stream = %v, want nil (counted per client IP)", err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatalf("first stream = %v, want nil", err)
	}
	func() {
		defer func() { _ = recover() }()
		_ = streamCall(alice, intercept, func(any, grpc.ServerStream) error { panic("handler") })
	}()
	if err := streamCall(alice, intercept, ok); err != nil {
		t.Errorf("stream after a panicking one = %v, want nil (slot released)", err)
	}
}
