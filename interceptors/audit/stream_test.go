package audit_test

import (
	"context"
	"fmt"
	"io"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/policy"
)

// fakeStream is a server stream that delivers recv and collects sent.
type fakeStream struct {
	grpc.ServerStream
	ctx  context.Context
	recv []proto.Message
	sent []any
}

func (s *fakeStream) Context() context.Context { return s.ctx }

func (s *fakeStream) RecvMsg(m any) error {
	if len(s.recv) == 0 {
		return io.EOF
	}
	proto.Merge(m.(proto.Message), s.recv[0])
	s.recv = s.recv[1:]
	return nil
}

func (s *fakeStream) SendMsg(m any) error { s.sent = append(s.sent, m); return nil }

// frame stands in for the proxy's raw frame: it has Len and is no
// proto.Message.
type frame struct{ n int }

func (f *frame) Len() int { return f.n }

// TestStreamRecord calls the stream interceptor as a function: messages
// and bytes in both directions are counted (raw frames by Len), and the
// first request message (or SetRequest) gives the request fields.
func TestStreamRecord(t *testing.T) {
	m := &policy.Method{FullMethod: testpb.TestService_FullDuplexCall_FullMethodName, ClientStreaming: true,
		ServerStreaming: true, Audit: policy.Audit{Level: policy.AuditRequest}, SensitiveFields: []string{"payload"}}
	first := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 3}},
		Payload: &testpb.Payload{Body: []byte("pin")}}
	second := &testpb.StreamingOutputCallRequest{ResponseParameters: []*testpb.ResponseParameters{{Size: 1}, {Size: 2}}}
	out := &testpb.StreamingOutputCallResponse{Payload: &testpb.Payload{Body: []byte("abc")}}
	for _, tc := range []struct {
		name       string
		setRequest proto.Message // handed over by an inner stage
		sendFrame  bool
		want       string
	}{
		{name: "typed messages", want: `{"payload":"[REDACTED]","responseParameters":[{"size":3}]}`},
		{name: "SetRequest wins", setRequest: second, want: `{"responseParameters":[{"size":1},{"size":2}]}`},
		{name: "raw frames", sendFrame: true, want: `{"payload":"[REDACTED]","responseParameters":[{"size":3}]}`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sink := &memSink{}
			l := newLogger(t, []audit.Sink{sink})
			intercept := audit.StreamServerInterceptor(l, methodFunc(m), audit.WithClock(fakeClock(t0, time.Millisecond)))
			ss := &fakeStream{ctx: metadata.NewIncomingContext(testContext(t), metadata.Pairs("x-request-id", "s-1")),
				recv: []proto.Message{first, second}}
			info := &grpc.StreamServerInfo{FullMethod: m.FullMethod, IsClientStream: true, IsServerStream: true}
			wantResp := 0
			err := intercept(nil, ss, info, func(_ any, s grpc.ServerStream) error {
				if tc.setRequest != nil {
					audit.SetRequest(s.Context(), tc.setRequest)
				}
				for range 3 {
					if err := s.RecvMsg(&testpb.StreamingOutputCallRequest{}); err != nil {
						break
					}
				}
				var msg any = out
				wantResp = proto.Size(out)
				if tc.sendFrame {
					msg, wantResp = &frame{n: 7}, 7
				}
				for range 2 {
					if err := s.SendMsg(msg); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				t.Fatalf("intercept() = %v, want nil", err)
			}
			if err := l.Close(); err != nil {
				t.Fatalf("Close() = %v, want nil", err)
			}
			lines := sink.Lines()
			if len(lines) != 1 {
				t.Fatalf("records = %d, want 1", len(lines))
			}
			want := `{"client_ip":"","duration_us":1000,"method":"/grpc.testing.TestService/FullDuplexCall",
				"request":` + tc.want + `,"request_bytes":` + itoa(proto.Size(first)+proto.Size(second)) + `,
				"request_id":"s-1","request_messages":2,"response_bytes":` + itoa(2*wantResp) + `,"response_messages":2,
				"status":{"code":"OK"},"time":"2026-12-01T09:30:00.123456789Z","trace_id":"","transport":"grpc","type":"call","v":1}`
			compareRecord(t, lines[0], want)
		})
	}
}

// TestRequestFunc: on a stream of raw frames without SetRequest, the
// request fields come from WithRequestFunc, read with the handler's
// context after the call.
func TestRequestFunc(t *testing.T) {
	m := &policy.Method{FullMethod: "/a.S/Stream", Audit: policy.Audit{Level: policy.AuditRequest}, SensitiveFields: []string{"payload.body"}}
	sink := &memSink{}
	l := newLogger(t, []audit.Sink{sink})
	type key struct{}
	msg := &testpb.SimpleRequest{ResponseSize: 3, Payload: &testpb.Payload{Body: []byte("x")}}
	intercept := audit.StreamServerInterceptor(l, methodFunc(m), audit.WithRequestFunc(func(ctx context.Context) (proto.Message, bool) {
		if policy.RecordFrom(ctx) == nil {
			t.Errorf("WithRequestFunc got a context without the Record, want the handler's")
		}
		return msg, true
	}))
	ss := &fakeStream{ctx: context.WithValue(testContext(t), key{}, 1)}
	if err := intercept(nil, ss, &grpc.StreamServerInfo{FullMethod: m.FullMethod}, func(any, grpc.ServerStream) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	recs := sink.Records(t)
	want := map[string]any{"payload": map[string]any{"body": "[REDACTED]"}, "responseSize": 3.0}
	if len(recs) != 1 || fmt.Sprint(recs[0]["request"]) != fmt.Sprint(want) {
		t.Errorf("records = %v, want one with request %v", recs, want)
	}
}
