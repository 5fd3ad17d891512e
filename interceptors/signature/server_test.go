package signature_test

import (
	"context"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/client/sign"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/interceptors/signature"
)

// intercepted applies client interceptors to a connection, the way
// grpc.WithChainUnaryInterceptor would, so that one server can be called
// with and without them.
type intercepted struct {
	cc     *grpc.ClientConn
	unary  grpc.UnaryClientInterceptor
	stream grpc.StreamClientInterceptor
}

func (c intercepted) Invoke(ctx context.Context, method string, args, reply any, opts ...grpc.CallOption) error {
	invoke := func(ctx context.Context, method string, args, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
		return cc.Invoke(ctx, method, args, reply, opts...)
	}
	return c.unary(ctx, method, args, reply, c.cc, invoke, opts...)
}

func (c intercepted) NewStream(ctx context.Context, desc *grpc.StreamDesc, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	streamer := func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		return cc.NewStream(ctx, desc, method, opts...)
	}
	return c.stream(ctx, desc, c.cc, method, streamer, opts...)
}

// signing returns a TestService client that signs every call with s; with
// tamper, each message is changed after it was signed.
func signing(srv *grpctest.Server, s *sign.Signer, tamper bool) testpb.TestServiceClient {
	u, st := sign.UnaryClientInterceptor(s), sign.StreamClientInterceptor(s)
	if !tamper {
		return testpb.NewTestServiceClient(intercepted{cc: srv.Conn, unary: u, stream: st})
	}
	return testpb.NewTestServiceClient(intercepted{cc: srv.Conn,
		unary: func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
			return u(ctx, method, req, reply, cc, func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, opts ...grpc.CallOption) error {
				return invoker(ctx, method, addUnknownField(req), reply, cc, opts...)
			}, opts...)
		},
		stream: func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
			return st(ctx, desc, cc, method, func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, opts ...grpc.CallOption) (grpc.ClientStream, error) {
				cs, err := streamer(ctx, desc, cc, method, opts...)
				return &tampering{ClientStream: cs}, err
			}, opts...)
		},
	})
}

// addUnknownField returns a copy of m with one more (unknown) field: a
// different encoding of an otherwise equal message.
func addUnknownField(m any) any {
	c := proto.Clone(m.(proto.Message))
	r := c.ProtoReflect()
	r.SetUnknown(protowire.AppendVarint(protowire.AppendTag(r.GetUnknown(), 1000, protowire.VarintType), 1))
	return c
}

type tampering struct{ grpc.ClientStream }

func (s *tampering) SendMsg(m any) error { return s.ClientStream.SendMsg(addUnknownField(m)) }

// A real grpc.Server on bufconn with the verifier's interceptors, called
// with the client helper across every kind of RPC.
func TestServerSignedCalls(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c)
	var verified atomic.Int32
	srv := grpctest.Start(t, func(ctx context.Context) error {
		if s, ok := signature.FromContext(ctx); ok && s.KeyID == "ed" {
			verified.Add(1)
		}
		return nil
	}, grpc.ChainUnaryInterceptor(v.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(v.StreamServerInterceptor()))
	signer := newSigner(t, "ed", c)
	fixed := newSigner(t, "ed", c, sign.WithNonceFunc(func() (string, error) { return "the-same-nonce", nil }))

	for _, call := range grpctest.Calls() {
		t.Run(call.Name, func(t *testing.T) {
			ctx := testContext(t)
			before := verified.Load()
			if err := call.Invoke(ctx, signing(srv, signer, false)); err != nil {
				t.Fatalf("%s(signed) = %v, want nil", call.Name, err)
			}
			if verified.Load() != before+1 {
				t.Errorf("%s(signed): handler saw no verified signature", call.Name)
			}
			for _, bad := range []struct {
				name   string
				client testpb.TestServiceClient
			}{
				{"unsigned", srv.Client},
				{"tampered message", signing(srv, signer, true)},
			} {
				if err := call.Invoke(ctx, bad.client); status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() != "invalid request signature" {
					t.Errorf("%s(%s) = %v, want Unauthenticated %q", call.Name, bad.name, err, "invalid request signature")
				}
			}
		})
	}
	t.Run("replay", func(t *testing.T) {
		ctx := testContext(t)
		client := signing(srv, fixed, false)
		if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); err != nil {
			t.Fatalf("UnaryCall(nonce once) = %v, want nil", err)
		}
		if _, err := client.UnaryCall(ctx, &testpb.SimpleRequest{}); status.Code(err) != codes.Unauthenticated {
			t.Errorf("UnaryCall(same nonce again) = %v, want Unauthenticated", err)
		}
		s, err := client.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{})
		if err == nil {
			_, err = s.Recv()
		}
		if status.Code(err) != codes.Unauthenticated {
			t.Errorf("StreamingOutputCall(same nonce again) = %v, want Unauthenticated", err)
		}
	})
	t.Run("client stream without messages", func(t *testing.T) {
		s, err := signing(srv, signer, false).StreamingInputCall(testContext(t))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CloseAndRecv(); err != nil {
			t.Errorf("StreamingInputCall(no message).CloseAndRecv() = %v, want nil", err)
		}
	})
}
