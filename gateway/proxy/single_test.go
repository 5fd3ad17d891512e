package proxy_test

import (
	"context"
	"io"
	"testing"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/gateway/proxy"
)

// single says UnaryCall and StreamingOutputCall take one request message,
// as their descriptors do.
func single(_ context.Context, m string) bool {
	return m == "/grpc.testing.TestService/UnaryCall" || m == "/grpc.testing.TestService/StreamingOutputCall"
}

func TestHandlerSingleRequest(t *testing.T) {
	e := newEnv(t, envConfig{handlerOpts: []proxy.Option{proxy.WithSingleRequest(single)}})
	// Every kind still works: single methods without the request
	// goroutine, the streaming ones pumped as before.
	for _, tt := range rpcs {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(testContext(t), e.client); err != nil {
				t.Fatal(err)
			}
		})
	}

	// A client that sends two messages on a unary method: only the first
	// reaches the backend, which answers it (pumped as a stream, both would
	// arrive and grpc-go's server would refuse the call).
	t.Run("second message not forwarded", func(t *testing.T) {
		s, err := e.clientConn.NewStream(testContext(t), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/grpc.testing.TestService/UnaryCall")
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range []int{3, 7} {
			if err := s.SendMsg(&testpb.SimpleRequest{Payload: payload(n)}); err != nil && err != io.EOF {
				t.Fatalf("SendMsg(%d) = %v", n, err)
			}
		}
		_ = s.CloseSend()
		var resp testpb.SimpleResponse
		if err := s.RecvMsg(&resp); err != nil {
			t.Fatalf("RecvMsg() = %v, want the answer to the first message", err)
		}
		if got := len(resp.GetPayload().GetBody()); got != 3 {
			t.Errorf("answer body length = %d, want 3 (the first message)", got)
		}
	})

	// No message at all: the half-close is forwarded and the backend's own
	// refusal reaches the client.
	t.Run("no message", func(t *testing.T) {
		s, err := e.clientConn.NewStream(testContext(t), &grpc.StreamDesc{ClientStreams: true, ServerStreams: true}, "/grpc.testing.TestService/UnaryCall")
		if err != nil {
			t.Fatal(err)
		}
		_ = s.CloseSend()
		var resp testpb.SimpleResponse
		if err := s.RecvMsg(&resp); err == nil {
			t.Fatal("RecvMsg() = nil, want the backend's refusal of a call without a request")
		}
	})
}

// WithIncomingMetadata: the Handler reads the caller's map and never
// changes it, even when the outgoing hook edits the backend's metadata.
func TestHandlerIncomingMetadata(t *testing.T) {
	shared := metadata.MD{"x-keep": {"k"}, "x-drop": {"d"}, "user-agent": {"client"}, ":authority": {"gw"}}
	e := newEnv(t, envConfig{handlerOpts: []proxy.Option{
		proxy.WithIncomingMetadata(func(context.Context) (metadata.MD, bool) { return shared, true }),
		proxy.WithOutgoingMetadata(func(_ context.Context, md metadata.MD) {
			delete(md, "x-drop")
			md["x-keep"] = []string{"replaced"}
			md["x-added"] = []string{"a"}
		}),
	}})
	// What the client actually sends is not read: the hook's map is.
	ctx := metadata.AppendToOutgoingContext(testContext(t), "x-client", "ignored")
	if _, err := e.client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
		t.Fatal(err)
	}
	md := e.backend.lastCall(t).md
	if got := md.Get("x-keep"); len(got) != 1 || got[0] != "replaced" {
		t.Errorf("backend x-keep = %q", got)
	}
	if len(md.Get("x-drop")) != 0 || len(md.Get("x-client")) != 0 || md.Get("x-added")[0] != "a" {
		t.Errorf("backend metadata = %v", md)
	}
	want := metadata.MD{"x-keep": {"k"}, "x-drop": {"d"}, "user-agent": {"client"}, ":authority": {"gw"}}
	if len(shared) != len(want) || shared.Get("x-keep")[0] != "k" || len(shared.Get("x-drop")) != 1 || len(shared.Get("x-added")) != 0 {
		t.Errorf("the caller's metadata changed: %v, want %v", shared, want)
	}
}
