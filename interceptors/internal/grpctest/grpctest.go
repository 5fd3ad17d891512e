// Package grpctest runs a real grpc.Server over an in-memory bufconn listener
// for the interceptor tests, serving grpc-go's interop TestService so that
// every interceptor is exercised across unary, server-streaming,
// client-streaming and bidi-streaming calls.
//
// It is a test helper only: no production code imports it. It is internal so
// that interceptor packages can share it without importing each other.
package grpctest

import (
	"context"
	"errors"
	"io"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/test/bufconn"
)

// Hook is called by every TestService handler with the handler's context
// before it does anything else. A non-nil error is returned to the client.
// Hooks may panic, to test recovery. Hooks run concurrently when calls do.
type Hook func(ctx context.Context) error

// Server is a running grpc.Server on bufconn and a client connected to it.
type Server struct {
	// Conn is the client connection, for raw Invoke and NewStream calls.
	Conn *grpc.ClientConn
	// Client is a TestService client on Conn.
	Client testpb.TestServiceClient
}

// Start serves the TestService with hook and opts (interceptors, an
// UnknownServiceHandler, ...) and stops everything when the test ends.
func Start(t testing.TB, hook Hook, opts ...grpc.ServerOption) *Server {
	t.Helper()
	if hook == nil {
		hook = func(context.Context) error { return nil }
	}
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(opts...)
	testpb.RegisterTestServiceServer(srv, &service{hook: hook})
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) {
			return lis.DialContext(ctx)
		}),
		grpc.WithTransportCredentials(insecure.NewCredentials()),
	)
	if err != nil {
		srv.Stop()
		<-done
		t.Fatalf("grpc.NewClient() = %v, want nil", err)
	}
	t.Cleanup(func() {
		_ = conn.Close()
		srv.Stop()
		<-done
	})
	return &Server{Conn: conn, Client: testpb.NewTestServiceClient(conn)}
}

// Call is one way of calling the TestService.
type Call struct {
	// Name is the RPC kind: "unary", "server-stream", "client-stream" or
	// "bidi".
	Name string
	// Method is the full method name the call uses.
	Method string
	// Invoke runs the call to completion and returns its final error (nil
	// or a status error). Call options such as grpc.Header apply.
	Invoke func(ctx context.Context, c testpb.TestServiceClient, opts ...grpc.CallOption) error
}

// Calls returns one Call of each RPC kind.
func Calls() []Call {
	return []Call{
		{Name: "unary", Method: testpb.TestService_UnaryCall_FullMethodName, Invoke: unary},
		{Name: "server-stream", Method: testpb.TestService_StreamingOutputCall_FullMethodName, Invoke: serverStream},
		{Name: "client-stream", Method: testpb.TestService_StreamingInputCall_FullMethodName, Invoke: clientStream},
		{Name: "bidi", Method: testpb.TestService_FullDuplexCall_FullMethodName, Invoke: bidi},
	}
}

const messages = 2

func unary(ctx context.Context, c testpb.TestServiceClient, opts ...grpc.CallOption) error {
	_, err := c.UnaryCall(ctx, &testpb.SimpleRequest{}, opts...)
	return err
}

func serverStream(ctx context.Context, c testpb.TestServiceClient, opts ...grpc.CallOption) error {
	req := &testpb.StreamingOutputCallRequest{}
	for range messages {
		req.ResponseParameters = append(req.ResponseParameters, &testpb.ResponseParameters{Size: 1})
	}
	s, err := c.StreamingOutputCall(ctx, req, opts...)
	if err != nil {
		return err
	}
	return drain(s.Recv)
}

func clientStream(ctx context.Context, c testpb.TestServiceClient, opts ...grpc.CallOption) error {
	s, err := c.StreamingInputCall(ctx, opts...)
	if err != nil {
		return err
	}
	for range messages {
		// io.EOF means the server has already finished; the status comes
		// from CloseAndRecv.
		if err := s.Send(&testpb.StreamingInputCallRequest{}); err != nil {
			break
		}
	}
	_, err = s.CloseAndRecv()
	return err
}

func bidi(ctx context.Context, c testpb.TestServiceClient, opts ...grpc.CallOption) error {
	s, err := c.FullDuplexCall(ctx, opts...)
	if err != nil {
		return err
	}
	for range messages {
		if err := s.Send(&testpb.StreamingOutputCallRequest{
			ResponseParameters: []*testpb.ResponseParameters{{Size: 1}},
		}); err != nil {
			break
		}
		if _, err := s.Recv(); err != nil {
			return err
		}
	}
	if err := s.CloseSend(); err != nil {
		return err
	}
	return drain(s.Recv)
}

// drain receives until the stream ends and returns nil on a clean end.
func drain[T any](recv func() (T, error)) error {
	for {
		if _, err := recv(); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
	}
}

// service implements the four TestService calls used by Calls.
type service struct {
	testpb.UnimplementedTestServiceServer
	hook Hook
}

func (s *service) UnaryCall(ctx context.Context, _ *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if err := s.hook(ctx); err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{}, nil
}

func (s *service) StreamingOutputCall(req *testpb.StreamingOutputCallRequest, stream grpc.ServerStreamingServer[testpb.StreamingOutputCallResponse]) error {
	if err := s.hook(stream.Context()); err != nil {
		return err
	}
	for _, p := range req.GetResponseParameters() {
		if err := stream.Send(&testpb.StreamingOutputCallResponse{
			Payload: &testpb.Payload{Body: make([]byte, p.GetSize())},
		}); err != nil {
			return err
		}
	}
	return nil
}

func (s *service) StreamingInputCall(stream grpc.ClientStreamingServer[testpb.StreamingInputCallRequest, testpb.StreamingInputCallResponse]) error {
	if err := s.hook(stream.Context()); err != nil {
		return err
	}
	var n int32
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: n})
		}
		if err != nil {
			return err
		}
		n += int32(len(req.GetPayload().GetBody()))
	}
}

func (s *service) FullDuplexCall(stream grpc.BidiStreamingServer[testpb.StreamingOutputCallRequest, testpb.StreamingOutputCallResponse]) error {
	if err := s.hook(stream.Context()); err != nil {
		return err
	}
	for {
		req, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		for _, p := range req.GetResponseParameters() {
			if err := stream.Send(&testpb.StreamingOutputCallResponse{
				Payload: &testpb.Payload{Body: make([]byte, p.GetSize())},
			}); err != nil {
				return err
			}
		}
	}
}
