package e2e

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// Status codes, messages, details, deadlines and cancellation, through the
// interop topology: the bank service's Ping and the TestService both reach
// interopserver, whose hooks (x-e2e-*) shape the response.

// wantBadRequest is the detail interopserver attaches for x-e2e-details.
var wantBadRequest = &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
	{Field: "payload.body", Description: "must not be empty"},
}}

func TestStatusCodesFromBackend(t *testing.T) {
	top := interopEnv(t)
	c := bankv1.NewBankServiceClient(dial(t, top.gw.grpcAddr))
	for code := codes.Canceled; code <= codes.Unauthenticated; code++ {
		t.Run(code.String(), func(t *testing.T) {
			msg := fmt.Sprintf("backend says %v: 100%% sure, \"quoted\"", code)
			ctx := metadata.AppendToOutgoingContext(timeout(t, 5*time.Second), "x-e2e-status", strconv.Itoa(int(code))+":"+msg)
			_, err := c.Ping(ctx, &bankv1.PingRequest{})
			st := status.Convert(err)
			if st.Code() != code || st.Message() != msg {
				t.Errorf("Ping(x-e2e-status %d) = %v, %q, want %v, %q", code, st.Code(), st.Message(), code, msg)
			}
		})
	}
}

func TestInteropEchoStatus(t *testing.T) {
	c := testService(t)
	// The interop suite's special_status_message: whitespace and Unicode.
	const special = "\t\ntest with whitespace\r\nand Unicode BMP ☺ and non-BMP 😈\t\n"
	tests := []struct {
		name string
		call func(ctx context.Context, st *testpb.EchoStatus) error
	}{
		{"unary", func(ctx context.Context, st *testpb.EchoStatus) error {
			_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{ResponseStatus: st})
			return err
		}},
		{"bidi", func(ctx context.Context, st *testpb.EchoStatus) error {
			s, err := c.FullDuplexCall(ctx)
			if err != nil {
				return err
			}
			if err := s.Send(&testpb.StreamingOutputCallRequest{ResponseStatus: st}); err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
	}
	for _, tt := range tests {
		for _, want := range []*testpb.EchoStatus{
			{Code: int32(codes.Unknown), Message: "test status message"},
			{Code: int32(codes.FailedPrecondition), Message: special},
			{Code: int32(codes.PermissionDenied), Message: "denied by the backend, not the gateway"},
		} {
			t.Run(fmt.Sprintf("%s/%v", tt.name, codes.Code(want.Code)), func(t *testing.T) {
				st := status.Convert(tt.call(timeout(t, 5*time.Second), want))
				if st.Code() != codes.Code(want.Code) || st.Message() != want.Message {
					t.Errorf("%s(EchoStatus %v) = %v, %q, want %v, %q", tt.name, want, st.Code(), st.Message(), codes.Code(want.Code), want.Message)
				}
			})
		}
	}
}

func TestStatusDetails(t *testing.T) {
	top := interopEnv(t)
	cc := dial(t, top.gw.grpcAddr)
	tests := []struct {
		name string
		call func(ctx context.Context) error
	}{
		{"Ping", func(ctx context.Context) error {
			_, err := bankv1.NewBankServiceClient(cc).Ping(ctx, &bankv1.PingRequest{})
			return err
		}},
		{"UnaryCall", func(ctx context.Context) error {
			_, err := testpb.NewTestServiceClient(cc).UnaryCall(ctx, &testpb.SimpleRequest{})
			return err
		}},
		{"FullDuplexCall", func(ctx context.Context) error {
			s, err := testpb.NewTestServiceClient(cc).FullDuplexCall(ctx)
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(timeout(t, 5*time.Second), "x-e2e-details", "1")
			st := status.Convert(tt.call(ctx))
			if st.Code() != codes.InvalidArgument || st.Message() != "e2e: bad request" {
				t.Errorf("%s(x-e2e-details) = %v, %q, want %v, %q", tt.name, st.Code(), st.Message(), codes.InvalidArgument, "e2e: bad request")
			}
			details := st.Details()
			if len(details) != 1 {
				t.Fatalf("%s(x-e2e-details) details = %v, want [%v]", tt.name, details, wantBadRequest)
			}
			if got, ok := details[0].(*errdetails.BadRequest); !ok || !proto.Equal(got, wantBadRequest) {
				t.Errorf("%s(x-e2e-details) detail = %v, want %v", tt.name, details[0], wantBadRequest)
			}
		})
	}
}

func TestDeadlineForwarded(t *testing.T) {
	top := interopEnv(t)
	c := bankv1.NewBankServiceClient(dial(t, top.gw.grpcAddr))
	tests := []struct {
		name     string
		ctx      func(t *testing.T) context.Context
		min, max int64 // x-e2e-timeout-ms the backend saw
	}{
		{"client deadline", func(t *testing.T) context.Context { return timeout(t, 5*time.Second) }, 3000, 5000},
		{"route default without a client deadline", func(t *testing.T) context.Context {
			ctx, cancel := context.WithCancel(context.Background())
			stop := time.AfterFunc(10*time.Second, cancel) // bounds the call if the gateway does not
			t.Cleanup(func() { stop.Stop(); cancel() })
			return ctx
		}, 28000, 30000},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var header metadata.MD
			if _, err := c.Ping(tt.ctx(t), &bankv1.PingRequest{}, grpc.Header(&header)); err != nil {
				t.Fatalf("Ping() = %v, want nil", err)
			}
			v := header.Get("x-e2e-timeout-ms")
			ms, err := strconv.ParseInt(first(v), 10, 64)
			if err != nil || ms < tt.min || ms > tt.max {
				t.Errorf("Ping() backend x-e2e-timeout-ms = %q, want %d to %d", v, tt.min, tt.max)
			}
		})
	}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}

func TestInteropDeadlineAtBackend(t *testing.T) {
	c := testService(t)
	top := interopEnv(t)
	id := "deadline-" + t.Name()
	ctx := metadata.AppendToOutgoingContext(timeout(t, 300*time.Millisecond), "x-e2e-call-id", id)
	start := time.Now()
	s, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: sizes(5*time.Second, 1)})
	if err == nil {
		_, err = recvSizes(s)
	}
	if elapsed := time.Since(start); status.Code(err) != codes.DeadlineExceeded || elapsed > 2*time.Second {
		t.Errorf("StreamingOutputCall(interval 5s, deadline 300ms) = %v after %v, want code %v within 2s", err, elapsed, codes.DeadlineExceeded)
	}
	rec, err := top.backend.waitLog(5*time.Second, "msg", "call", "call_id", id)
	if err != nil {
		t.Fatal(err)
	}
	if code := rec["grpc.code"]; code != "DeadlineExceeded" && code != "Canceled" {
		t.Errorf("interopserver grpc.code of %s = %v, want DeadlineExceeded or Canceled", id, code)
	}
}

func TestCancellationReachesBackend(t *testing.T) {
	top := interopEnv(t)
	cc := dial(t, top.gw.grpcAddr)
	tests := []struct {
		name string
		// start begins the call and returns once the backend is in it;
		// wait returns the call's error after cancellation.
		start func(ctx context.Context, id string) (wait func() error, err error)
	}{
		{"unary", func(ctx context.Context, id string) (func() error, error) {
			errc := make(chan error, 1)
			go func() {
				_, err := bankv1.NewBankServiceClient(cc).Ping(metadata.AppendToOutgoingContext(ctx, "x-e2e-delay", "30s"), &bankv1.PingRequest{})
				errc <- err
			}()
			if _, err := top.backend.waitLog(5*time.Second, "msg", "call started", "call_id", id); err != nil {
				return nil, err
			}
			return func() error { return <-errc }, nil
		}},
		{"server streaming", func(ctx context.Context, id string) (func() error, error) {
			s, err := testpb.NewTestServiceClient(cc).StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{
				ResponseParameters: append(sizes(0, 1), sizes(30*time.Second, 1)...)})
			if err != nil {
				return nil, err
			}
			if _, err := s.Recv(); err != nil {
				return nil, err
			}
			return func() error { _, err := s.Recv(); return err }, nil
		}},
		{"bidi", func(ctx context.Context, id string) (func() error, error) {
			s, err := testpb.NewTestServiceClient(cc).FullDuplexCall(ctx)
			if err != nil {
				return nil, err
			}
			if err := s.Send(&testpb.StreamingOutputCallRequest{ResponseParameters: sizes(0, 1)}); err != nil {
				return nil, err
			}
			if _, err := s.Recv(); err != nil {
				return nil, err
			}
			return func() error { _, err := s.Recv(); return err }, nil
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "cancel-" + t.Name()
			ctx, cancel := context.WithTimeout(metadata.AppendToOutgoingContext(context.Background(), "x-e2e-call-id", id), 20*time.Second)
			defer cancel()
			wait, err := tt.start(ctx, id)
			if err != nil {
				t.Fatalf("start %s call = %v", tt.name, err)
			}
			cancel()
			if err := wait(); status.Code(err) != codes.Canceled {
				t.Errorf("%s call after cancel = %v, want code %v", tt.name, err, codes.Canceled)
			}
			rec, err := top.backend.waitLog(5*time.Second, "msg", "call", "call_id", id)
			if err != nil {
				t.Fatal(err)
			}
			if got, want := rec["grpc.code"], "Canceled"; got != want {
				t.Errorf("interopserver grpc.code of %s = %v, want %v", id, got, want)
			}
			if n, _ := rec["cancelled"].(float64); n < 1 {
				t.Errorf("interopserver cancelled count after %s = %v, want at least 1", id, rec["cancelled"])
			}
		})
	}
}
