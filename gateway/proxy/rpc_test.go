package proxy_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

func params(sizes ...int32) []*testpb.ResponseParameters {
	out := make([]*testpb.ResponseParameters, len(sizes))
	for i, s := range sizes {
		out[i] = &testpb.ResponseParameters{Size: s}
	}
	return out
}

func payload(n int) *testpb.Payload {
	return &testpb.Payload{Body: bytes.Repeat([]byte{'p'}, n)}
}

// rpcs runs one call of each kind through c and checks its responses.
var rpcs = []struct {
	name string
	run  func(ctx context.Context, c testpb.TestServiceClient) error
}{
	{"unary", func(ctx context.Context, c testpb.TestServiceClient) error {
		resp, err := c.UnaryCall(ctx, &testpb.SimpleRequest{Payload: payload(5)})
		if err != nil {
			return err
		}
		if got := len(resp.GetPayload().GetBody()); got != 5 {
			return fmt.Errorf("UnaryCall() body length = %d, want 5", got)
		}
		return nil
	}},
	{"server streaming", func(ctx context.Context, c testpb.TestServiceClient) error {
		stream, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params(1, 2, 3)})
		if err != nil {
			return err
		}
		for want := 1; ; want++ {
			resp, err := stream.Recv()
			if err == io.EOF && want == 4 {
				return nil
			}
			if err != nil {
				return err // unwrapped, so the status stays comparable
			}
			if got := len(resp.GetPayload().GetBody()); got != want {
				return fmt.Errorf("Recv() #%d body length = %d, want %d", want, got, want)
			}
		}
	}},
	{"client streaming", func(ctx context.Context, c testpb.TestServiceClient) error {
		stream, err := c.StreamingInputCall(ctx)
		if err != nil {
			return err
		}
		for _, n := range []int{10, 20, 30} {
			if err := stream.Send(&testpb.StreamingInputCallRequest{Payload: payload(n)}); err == io.EOF {
				break // the backend has ended the call; CloseAndRecv reports how
			} else if err != nil {
				return err
			}
		}
		// Only a forwarded half-close lets the backend answer.
		resp, err := stream.CloseAndRecv()
		if err != nil {
			return err
		}
		if got := resp.GetAggregatedPayloadSize(); got != 60 {
			return fmt.Errorf("CloseAndRecv() size = %d, want 60", got)
		}
		return nil
	}},
	{"bidi streaming", func(ctx context.Context, c testpb.TestServiceClient) error {
		stream, err := c.FullDuplexCall(ctx)
		if err != nil {
			return err
		}
		for round := range 3 { // ping-pong: each answer needs the request first
			// io.EOF from Send means the backend ended the call: Recv says how.
			if err := stream.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: params(7, 8)}); err != nil && err != io.EOF {
				return err
			}
			for _, want := range []int{7, 8} {
				resp, err := stream.Recv()
				if err != nil {
					return err
				}
				if got := len(resp.GetPayload().GetBody()); got != want {
					return fmt.Errorf("round %d: body length = %d, want %d", round, got, want)
				}
			}
		}
		if err := stream.CloseSend(); err != nil {
			return err
		}
		if _, err := stream.Recv(); err != io.EOF {
			return fmt.Errorf("Recv() after CloseSend = %v, want io.EOF", err)
		}
		return nil
	}},
}

func TestHandlerRPCKinds(t *testing.T) {
	e := newEnv(t, envConfig{})
	for _, tt := range rpcs {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(testContext(t), e.client); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestHandlerRequestMetadata(t *testing.T) {
	e := newEnv(t, envConfig{clientOpts: []grpc.DialOption{grpc.WithUserAgent("test-client")}})
	bin := string([]byte{0, 1, 2, 0xff})
	ctx := metadata.AppendToOutgoingContext(testContext(t),
		"x-request-id", "r-1", "x-multi", "a", "x-multi", "b", "x-trace-bin", bin)
	if _, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatalf("UnaryCall() = %v", err)
	}
	md := e.backend.lastCall(t).md
	for key, want := range map[string][]string{
		"x-request-id": {"r-1"},
		"x-multi":      {"a", "b"},
		"x-trace-bin":  {bin},
		"x-gateway":    {"portcullis"}, // added by the director
		":authority":   {e.backendAddr},
		"content-type": {"application/grpc+proto"},
	} {
		if got := md.Get(key); !equalStrings(got, want) {
			t.Errorf("backend metadata %q = %q, want %q", key, got, want)
		}
	}
	if ua := md.Get("user-agent"); len(ua) != 1 || strings.Contains(ua[0], "test-client") {
		t.Errorf("backend user-agent = %q, want one value from the gateway", ua)
	}
}

func equalStrings(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

func TestHandlerResponseMetadata(t *testing.T) {
	e := newEnv(t, envConfig{})
	tests := []struct {
		name string
		run  func(ctx context.Context) (header, trailer metadata.MD, err error)
	}{
		{"unary", func(ctx context.Context) (h, tr metadata.MD, err error) {
			_, err = e.client.UnaryCall(ctx, &testpb.SimpleRequest{}, grpc.Header(&h), grpc.Trailer(&tr))
			return h, tr, err
		}},
		{"server streaming", func(ctx context.Context) (h, tr metadata.MD, err error) {
			stream, err := e.client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params(1)})
			if err != nil {
				return nil, nil, err
			}
			if h, err = stream.Header(); err != nil {
				return nil, nil, err
			}
			for err == nil {
				_, err = stream.Recv()
			}
			if err != io.EOF {
				return nil, nil, err
			}
			return h, stream.Trailer(), nil
		}},
		{"bidi header before any message", func(ctx context.Context) (h, tr metadata.MD, err error) {
			stream, err := e.client.FullDuplexCall(ctx)
			if err != nil {
				return nil, nil, err
			}
			// The backend sends its header and then waits for us: the
			// header must arrive before either side sends a message.
			if h, err = stream.Header(); err != nil {
				return nil, nil, err
			}
			if err := stream.CloseSend(); err != nil {
				return nil, nil, err
			}
			if _, err := stream.Recv(); err != io.EOF {
				return nil, nil, fmt.Errorf("Recv() = %v, want io.EOF", err)
			}
			return h, stream.Trailer(), nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, tr, err := tt.run(testContext(t))
			if err != nil {
				t.Fatalf("call = %v", err)
			}
			if got := h.Get("x-backend-header"); !equalStrings(got, []string{"h"}) {
				t.Errorf("header x-backend-header = %q, want [h]", got)
			}
			if got := tr.Get("x-backend-trailer"); !equalStrings(got, []string{"t"}) {
				t.Errorf("trailer x-backend-trailer = %q, want [t]", got)
			}
		})
	}
}

func TestHandlerLocalServicesAlongside(t *testing.T) {
	e := newEnv(t, envConfig{})
	resp, err := healthpb.NewHealthClient(e.clientConn).Check(testContext(t), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Health.Check() = %v, %v, want SERVING", resp, err)
	}
}

func TestHandlerMessageSizes(t *testing.T) {
	e := newEnv(t, envConfig{})
	tests := []struct {
		name     string
		size     int
		wantCode codes.Code
	}{
		{"empty", 0, codes.OK},
		{"one byte", 1, codes.OK},
		{"4 MiB plus one", 4<<20 + 1, codes.OK},
		{"over the gateway limit", maxMsg + 1, codes.ResourceExhausted},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := &testpb.SimpleRequest{}
			if tt.size > 0 {
				req.Payload = &testpb.Payload{Body: make([]byte, tt.size)}
				for i := range req.Payload.Body {
					req.Payload.Body[i] = byte(i * 7)
				}
			}
			// Lift the client's own limit so the gateway is the one to refuse.
			resp, err := e.client.UnaryCall(testContext(t), req, grpc.MaxCallSendMsgSize(64<<20))
			if got := status.Code(err); got != tt.wantCode {
				t.Fatalf("UnaryCall(%d bytes) = %v, want %v", tt.size, err, tt.wantCode)
			}
			if err == nil && !bytes.Equal(resp.GetPayload().GetBody(), req.GetPayload().GetBody()) {
				t.Errorf("UnaryCall(%d bytes) echoed %d different bytes", tt.size, len(resp.GetPayload().GetBody()))
			}
		})
	}
	t.Run("empty message type", func(t *testing.T) {
		if _, err := e.client.EmptyCall(testContext(t), &testpb.Empty{}); err != nil {
			t.Fatalf("EmptyCall() = %v", err)
		}
	})
}
