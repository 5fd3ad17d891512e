package audit_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/policy"
)

// stage stands in for authentication and authorization: it fills the
// Record that the audit interceptor put in the context, and refuses calls
// whose request id starts with "deny".
func stage() (grpc.UnaryServerInterceptor, grpc.StreamServerInterceptor) {
	fill := func(ctx context.Context) error {
		rec := policy.RecordFrom(ctx)
		if rec == nil {
			return status.Error(codes.Internal, "no record")
		}
		rec.Principal = &policy.Principal{ID: "alice", Kind: policy.KindUser, Credential: policy.CredentialJWT, CredentialID: "j1"}
		id := metadata.ValueFromIncomingContext(ctx, "x-request-id")
		allowed := len(id) != 1 || len(id[0]) < 4 || id[0][:4] != "deny"
		rec.Decision = &policy.Decision{Allowed: allowed, Reason: "test", BundleVersion: "v1"}
		if !allowed {
			return status.Error(codes.PermissionDenied, "permission denied")
		}
		return nil
	}
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			if err := fill(ctx); err != nil {
				return nil, err
			}
			return h(ctx, req)
		}, func(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
			if err := fill(ss.Context()); err != nil {
				return err
			}
			return h(srv, ss)
		}
}

func startServer(t *testing.T, l *audit.Logger, opts ...audit.Option) *grpctest.Server {
	t.Helper()
	su, ss := stage()
	return grpctest.Start(t, nil,
		grpc.ChainUnaryInterceptor(audit.UnaryServerInterceptor(l, opts...), su),
		grpc.ChainStreamInterceptor(audit.StreamServerInterceptor(l, opts...), ss))
}

// wantCounts are the messages and bytes each grpctest call moves.
func wantCounts(kind string) (reqMsgs, respMsgs, reqBytes, respBytes int) {
	param := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}}}
	two := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 1}}}
	out := proto.Size(&testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: make([]byte, 1)}})
	switch kind {
	case "unary":
		return 1, 1, 0, 0
	case "server-stream":
		return 1, 2, proto.Size(two), 2 * out
	case "client-stream":
		return 2, 1, 0, 0
	default: // bidi
		return 2, 2, 2 * proto.Size(param), 2 * out
	}
}

// TestServer runs the interceptors in a real grpc.Server over bufconn
// across unary, server-, client- and bidi-streaming calls, allowed and
// denied.
func TestServer(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, []audit.Sink{sink})
	srv := startServer(t, l)
	for _, deny := range []bool{false, true} {
		for _, c := range grpctest.Calls() {
			name := fmt.Sprintf("%s/deny=%v", c.Name, deny)
			t.Run(name, func(t *testing.T) {
				id := "ok-" + c.Name
				if deny {
					id = "deny-" + c.Name
				}
				ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", id, "traceparent", testTraceparent)
				err := c.Invoke(ctx, srv.Client)
				wantCode := codes.OK
				if deny {
					wantCode = codes.PermissionDenied
				}
				if status.Code(err) != wantCode {
					t.Fatalf("%s() = %v, want %v", c.Method, err, wantCode)
				}
				r := sink.find(t, audit.TypeCall, id)
				reqMsgs, respMsgs, reqBytes, respBytes := wantCounts(c.Name)
				if deny {
					reqMsgs, respMsgs, reqBytes, respBytes = 0, 0, 0, 0
					if c.Name == "unary" {
						reqMsgs = 1 // grpc-go decoded it before the chain ran
					}
				}
				want := map[string]any{
					"method": c.Method, "transport": "grpc", "client_ip": "bufconn", "type": "call",
					"trace_id":         "4bf92f3577b34da6a3ce929d0e0e4736",
					"status":           map[string]any{"code": audit.CodeName(wantCode)},
					"request_messages": float64(reqMsgs), "response_messages": float64(respMsgs),
					"request_bytes": float64(reqBytes), "response_bytes": float64(respBytes),
					"principal":  map[string]any{"id": "alice", "kind": "user"},
					"credential": map[string]any{"id": "j1", "kind": "jwt"},
					"decision":   map[string]any{"allowed": !deny, "reason": "test", "bundle_version": "v1"},
				}
				if deny {
					want["status"] = map[string]any{"code": "PERMISSION_DENIED", "message": "permission denied"}
				}
				for k, v := range want {
					if fmt.Sprint(r[k]) != fmt.Sprint(v) {
						t.Errorf("record[%q] = %v, want %v", k, r[k], v)
					}
				}
				wantKeys := []string{"client_ip", "credential", "decision", "duration_us", "hash", "method", "prev_hash",
					"principal", "request_bytes", "request_id", "request_messages", "response_bytes", "response_messages",
					"seq", "status", "time", "trace_id", "transport", "type", "v"}
				if fmt.Sprint(keys(r)) != fmt.Sprint(wantKeys) {
					t.Errorf("record keys = %v, want %v", keys(r), wantKeys)
				}
			})
		}
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	checkChain(t, sink.Lines())
}

// TestServerLoad: under bounded concurrent load, one record per call.
func TestServerLoad(t *testing.T) {
	sink := &memSink{}
	l := newLogger(t, []audit.Sink{sink}, audit.WithQueueSize(64))
	srv := startServer(t, l)
	const workers, perWorker = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := range perWorker {
				c := grpctest.Calls()[i%4]
				ctx := metadata.AppendToOutgoingContext(testContext(t), "x-request-id", fmt.Sprintf("w%d-%d", w, i))
				if err := c.Invoke(ctx, srv.Client); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("call = %v, want nil", err)
	}
	if err := l.Close(); err != nil {
		t.Fatalf("Close() = %v, want nil", err)
	}
	lines := sink.Lines()
	checkChain(t, lines)
	ids := map[string]bool{}
	for _, r := range sink.Records(t) {
		ids[r["request_id"].(string)] = true
	}
	if len(lines) != workers*perWorker || len(ids) != workers*perWorker {
		t.Fatalf("records = %d (%d distinct ids), want %d", len(lines), len(ids), workers*perWorker)
	}
}
