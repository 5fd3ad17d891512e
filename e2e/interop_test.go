package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/encoding/gzip"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// The tests in this file call grpc.testing.TestService (interopserver)
// through the gateway, which routes it from a descriptor set whose policy
// makes every method public.

func testService(t *testing.T) testpb.TestServiceClient {
	t.Helper()
	top := interopEnv(t)
	return testpb.NewTestServiceClient(dial(t, top.gw.grpcAddr))
}

func payload(n int) *testpb.Payload {
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: make([]byte, n)}
}

// sizes returns one response parameter per size, each after interval.
func sizes(interval time.Duration, n ...int32) []*testpb.ResponseParameters {
	var out []*testpb.ResponseParameters
	for _, s := range n {
		out = append(out, &testpb.ResponseParameters{Size: s, IntervalUs: int32(interval.Microseconds())})
	}
	return out
}

// recvSizes receives until the end of the stream and returns the payload
// sizes and the final error (nil for io.EOF).
func recvSizes(s interface {
	Recv() (*testpb.StreamingOutputCallResponse, error)
}) ([]int, error) {
	var got []int
	for range 1000 { // bounded: no test stream is longer
		r, err := s.Recv()
		if errors.Is(err, io.EOF) {
			return got, nil
		}
		if err != nil {
			return got, err
		}
		got = append(got, len(r.GetPayload().GetBody()))
	}
	return got, errors.New("stream too long")
}

func TestRPCKinds(t *testing.T) {
	c := testService(t)
	tests := []struct {
		name string
		call func(ctx context.Context) (any, error)
		want any
	}{
		{"unary empty", func(ctx context.Context) (any, error) {
			_, err := c.EmptyCall(ctx, &testpb.Empty{})
			return nil, err
		}, nil},
		{"unary", func(ctx context.Context) (any, error) {
			r, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 314159, Payload: payload(271828)})
			return len(r.GetPayload().GetBody()), err
		}, 314159},
		{"server streaming", func(ctx context.Context) (any, error) {
			s, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: sizes(0, 31415, 9, 2653, 58979)})
			if err != nil {
				return nil, err
			}
			return recvSizes(s)
		}, []int{31415, 9, 2653, 58979}},
		{"client streaming", func(ctx context.Context) (any, error) {
			s, err := c.StreamingInputCall(ctx)
			if err != nil {
				return nil, err
			}
			for _, n := range []int{27182, 8, 1828, 45904} {
				if err := s.Send(&testpb.StreamingInputCallRequest{Payload: payload(n)}); err != nil {
					return nil, err
				}
			}
			r, err := s.CloseAndRecv()
			return int(r.GetAggregatedPayloadSize()), err
		}, 74922},
		{"bidi ping-pong", func(ctx context.Context) (any, error) {
			s, err := c.FullDuplexCall(ctx)
			if err != nil {
				return nil, err
			}
			var got []int
			for _, n := range []int32{31415, 9, 2653, 58979} {
				if err := s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: sizes(0, n), Payload: payload(int(n) / 2)}); err != nil {
					return got, err
				}
				r, err := s.Recv()
				if err != nil {
					return got, err
				}
				got = append(got, len(r.GetPayload().GetBody()))
			}
			if err := s.CloseSend(); err != nil {
				return got, err
			}
			rest, err := recvSizes(s)
			return append(got, rest...), err
		}, []int{31415, 9, 2653, 58979}},
		{"bidi half duplex", func(ctx context.Context) (any, error) {
			s, err := c.HalfDuplexCall(ctx)
			if err != nil {
				return nil, err
			}
			for _, n := range []int32{1, 2, 3} {
				if err := s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: sizes(0, n, n*10)}); err != nil {
					return nil, err
				}
			}
			if err := s.CloseSend(); err != nil {
				return nil, err
			}
			return recvSizes(s)
		}, []int{1, 10, 2, 20, 3, 30}},
		{"bidi empty", func(ctx context.Context) (any, error) {
			s, err := c.FullDuplexCall(ctx)
			if err != nil {
				return nil, err
			}
			if err := s.CloseSend(); err != nil {
				return nil, err
			}
			return recvSizes(s)
		}, []int(nil)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.call(timeout(t, 10*time.Second))
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("%s = %v, %v, want %v, nil", tt.name, got, err, tt.want)
			}
		})
	}
}

func TestInteropMetadata(t *testing.T) {
	c := testService(t)
	const initial = "test_initial_metadata_value"
	trailing := string([]byte{0xab, 0xab, 0xab})
	tests := []struct {
		name string
		call func(ctx context.Context) (header, trailer metadata.MD, err error)
	}{
		{"unary", func(ctx context.Context) (header, trailer metadata.MD, err error) {
			_, err = c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: 1}, grpc.Header(&header), grpc.Trailer(&trailer))
			return header, trailer, err
		}},
		{"bidi", func(ctx context.Context) (metadata.MD, metadata.MD, error) {
			s, err := c.FullDuplexCall(ctx)
			if err != nil {
				return nil, nil, err
			}
			// The backend sends its headers before any message: they must
			// reach the client without waiting for one.
			header, err := s.Header()
			if err != nil {
				return nil, nil, err
			}
			if err := s.CloseSend(); err != nil {
				return nil, nil, err
			}
			_, err = recvSizes(s)
			return header, s.Trailer(), err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(timeout(t, 5*time.Second),
				"x-grpc-test-echo-initial", initial, "x-grpc-test-echo-trailing-bin", trailing)
			header, trailer, err := tt.call(ctx)
			if err != nil {
				t.Fatalf("%s() = %v, want nil", tt.name, err)
			}
			if got := header.Get("x-grpc-test-echo-initial"); len(got) != 1 || got[0] != initial {
				t.Errorf("%s() header x-grpc-test-echo-initial = %q, want [%q]", tt.name, got, initial)
			}
			if got := trailer.Get("x-grpc-test-echo-trailing-bin"); len(got) != 1 || got[0] != trailing {
				t.Errorf("%s() trailer x-grpc-test-echo-trailing-bin = %q, want [%q]", tt.name, got, trailing)
			}
		})
	}
}

func TestLargeMessages(t *testing.T) {
	c := testService(t)
	const fourMiB = 4 << 20
	t.Run("unary 4 MiB each way", func(t *testing.T) {
		r, err := c.UnaryCall(timeout(t, 20*time.Second), &testpb.SimpleRequest{ResponseSize: fourMiB, Payload: payload(fourMiB)})
		if got := len(r.GetPayload().GetBody()); err != nil || got != fourMiB {
			t.Errorf("UnaryCall(4 MiB) = %d bytes, %v, want %d, nil", got, err, fourMiB)
		}
	})
	t.Run("server streaming 4 MiB responses", func(t *testing.T) {
		s, err := c.StreamingOutputCall(timeout(t, 20*time.Second), &testpb.StreamingOutputCallRequest{ResponseParameters: sizes(0, fourMiB, fourMiB)})
		if err != nil {
			t.Fatalf("StreamingOutputCall() = %v", err)
		}
		if got, err := recvSizes(s); err != nil || !reflect.DeepEqual(got, []int{fourMiB, fourMiB}) {
			t.Errorf("StreamingOutputCall(2 × 4 MiB) = %v, %v, want [%d %d], nil", got, err, fourMiB, fourMiB)
		}
	})
	t.Run("client streaming 4 MiB requests", func(t *testing.T) {
		s, err := c.StreamingInputCall(timeout(t, 20*time.Second))
		if err != nil {
			t.Fatalf("StreamingInputCall() = %v", err)
		}
		for range 2 {
			if err := s.Send(&testpb.StreamingInputCallRequest{Payload: payload(fourMiB)}); err != nil {
				t.Fatalf("Send(4 MiB) = %v", err)
			}
		}
		r, err := s.CloseAndRecv()
		if got := r.GetAggregatedPayloadSize(); err != nil || got != 2*fourMiB {
			t.Errorf("StreamingInputCall(2 × 4 MiB) = %d, %v, want %d, nil", got, err, 2*fourMiB)
		}
	})
	t.Run("request over the route limit", func(t *testing.T) {
		_, err := c.UnaryCall(timeout(t, 20*time.Second), &testpb.SimpleRequest{Payload: payload(9 << 20)})
		if got, want := status.Code(err), codes.ResourceExhausted; got != want {
			t.Errorf("UnaryCall(9 MiB, limit 8 MiB) = %v, want code %v", err, want)
		}
	})
}

func TestStreamsAreNotBuffered(t *testing.T) {
	c := testService(t)
	const interval = 250 * time.Millisecond
	s, err := c.StreamingOutputCall(timeout(t, 10*time.Second), &testpb.StreamingOutputCallRequest{ResponseParameters: sizes(interval, 1, 2, 3)})
	if err != nil {
		t.Fatalf("StreamingOutputCall() = %v", err)
	}
	var at []time.Time
	var got bytes.Buffer
	for range 3 {
		r, err := s.Recv()
		if err != nil {
			t.Fatalf("Recv() = %v, want a message", err)
		}
		at = append(at, time.Now())
		got.WriteByte(byte('0' + len(r.GetPayload().GetBody())))
	}
	if got.String() != "123" {
		t.Errorf("StreamingOutputCall() sizes = %s, want 123", got.String())
	}
	// Sent 250ms apart; a buffering proxy would deliver them together.
	if spread := at[2].Sub(at[0]); spread < interval {
		t.Errorf("StreamingOutputCall() first to last message = %v, want at least %v (messages must not be buffered)", spread, interval)
	}
}

// textPayload is n bytes of varied text that gzip compresses about 5:1,
// like real messages (unlike zeros, which compress 1000:1, like a bomb).
func textPayload(n int) *testpb.Payload {
	var b bytes.Buffer
	for i := 0; b.Len() < n; i++ {
		fmt.Fprintf(&b, "transfer %d from accounts/a-%d to accounts/b-%d: %d cents;", i, i*7919%1000, i*104729%1000, i*31%100000)
	}
	return &testpb.Payload{Type: testpb.PayloadType_COMPRESSABLE, Body: b.Bytes()[:n]}
}

// TestCompressedMessages: gzip-compressed requests and responses pass
// through the gateway (the backend receives them compressed), on unary and
// streaming calls; a bomb is refused at the size limit, and a smaller one
// at the expansion ratio.
func TestCompressedMessages(t *testing.T) {
	c := testService(t)
	const size = 2 << 20
	t.Run("unary", func(t *testing.T) {
		ctx := metadata.AppendToOutgoingContext(timeout(t, 20*time.Second), "x-e2e-echo-encoding", "1")
		var header metadata.MD
		r, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseSize: size, Payload: textPayload(size)},
			grpc.UseCompressor(gzip.Name), grpc.Header(&header))
		if got := len(r.GetPayload().GetBody()); err != nil || got != size {
			t.Fatalf("UnaryCall(gzip, 2 MiB) = %d bytes, %v, want %d, nil", got, err, size)
		}
		if got := header.Get("x-e2e-echo-encoding"); len(got) != 1 || got[0] != "gzip" {
			t.Errorf("backend received grpc-encoding %v, want gzip (passed through)", got)
		}
	})
	t.Run("bidi streaming", func(t *testing.T) {
		s, err := c.FullDuplexCall(timeout(t, 20*time.Second), grpc.UseCompressor(gzip.Name))
		if err != nil {
			t.Fatalf("FullDuplexCall() = %v", err)
		}
		for range 3 {
			if err := s.Send(&testpb.StreamingOutputCallRequest{Payload: textPayload(64 << 10), ResponseParameters: sizes(0, 64<<10)}); err != nil {
				t.Fatalf("Send() = %v", err)
			}
			r, err := s.Recv()
			if err != nil || len(r.GetPayload().GetBody()) != 64<<10 {
				t.Fatalf("Recv() = %d bytes, %v, want 64 KiB", len(r.GetPayload().GetBody()), err)
			}
		}
		_ = s.CloseSend()
		if _, err := s.Recv(); !errors.Is(err, io.EOF) {
			t.Errorf("end of stream = %v, want io.EOF", err)
		}
	})
	t.Run("zeros response", func(t *testing.T) {
		// Responses are not held to the ratio: 2 MiB of zeros (1000:1).
		r, err := c.UnaryCall(timeout(t, 20*time.Second), &testpb.SimpleRequest{ResponseSize: size, Payload: textPayload(1024)}, grpc.UseCompressor(gzip.Name))
		if got := len(r.GetPayload().GetBody()); err != nil || got != size {
			t.Errorf("UnaryCall(gzip, 2 MiB of zeros back) = %d bytes, %v, want %d, nil", got, err, size)
		}
	})
	t.Run("ratio", func(t *testing.T) {
		// 2 MiB of zeros is about 2 KiB of gzip: under the size limit,
		// over 512× past 1 MiB.
		_, err := c.UnaryCall(timeout(t, 20*time.Second), &testpb.SimpleRequest{Payload: payload(size)}, grpc.UseCompressor(gzip.Name))
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "request message expands too far when decompressed" {
			t.Errorf("UnaryCall(gzip, 2 MiB of zeros) = %v, want ResourceExhausted \"request message expands too far when decompressed\"", err)
		}
	})
	t.Run("ratio, later stream message", func(t *testing.T) {
		s, err := c.StreamingInputCall(timeout(t, 20*time.Second), grpc.UseCompressor(gzip.Name))
		if err != nil {
			t.Fatalf("StreamingInputCall() = %v", err)
		}
		for _, p := range []*testpb.Payload{textPayload(4096), payload(size)} {
			if err := s.Send(&testpb.StreamingInputCallRequest{Payload: p}); err != nil {
				break // the status is in CloseAndRecv
			}
		}
		_, err = s.CloseAndRecv()
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted || st.Message() != "request message expands too far when decompressed" {
			t.Errorf("StreamingInputCall(text, then 2 MiB of zeros) = %v, want ResourceExhausted \"request message expands too far when decompressed\"", err)
		}
	})
	t.Run("bomb", func(t *testing.T) {
		// 9 MiB of zeros is 9 KiB of gzip, over the route's 8 MiB once
		// inflated: refused, never forwarded whole.
		_, err := c.UnaryCall(timeout(t, 20*time.Second), &testpb.SimpleRequest{Payload: payload(9 << 20)}, grpc.UseCompressor(gzip.Name))
		if st := status.Convert(err); st.Code() != codes.ResourceExhausted {
			t.Errorf("UnaryCall(gzip, 9 MiB of zeros) = %v, want ResourceExhausted", err)
		}
	})
}
