package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
)

// testServer is grpc.testing.TestService with the behaviour of grpc-go's
// interop.NewTestServer (google.golang.org/grpc/interop), minus ORCA load
// reports. It is a port rather than an import because the interop package
// pulls in xDS, OAuth2 and GCE modules the repository does not require.
// One deliberate difference: response intervals (interval_us) end early
// when the call is cancelled, so a test's deadline also frees the backend.
type testServer struct {
	testpb.UnimplementedTestServiceServer
}

// Metadata keys the interop server echoes: the first value of the initial
// key comes back as a response header, of the trailing key as a trailer.
const (
	echoInitialKey  = "x-grpc-test-echo-initial"
	echoTrailingKey = "x-grpc-test-echo-trailing-bin"
	// echoEncodingKey asks for the request's grpc-encoding, as received, in
	// a response header of the same name.
	echoEncodingKey = "x-e2e-echo-encoding"
)

func (testServer) EmptyCall(context.Context, *testpb.Empty) (*testpb.Empty, error) {
	return new(testpb.Empty), nil
}

func (testServer) UnaryCall(ctx context.Context, in *testpb.SimpleRequest) (*testpb.SimpleResponse, error) {
	if md, ok := metadata.FromIncomingContext(ctx); ok {
		if v := md[echoInitialKey]; len(v) > 0 {
			_ = grpc.SendHeader(ctx, metadata.Pairs(echoInitialKey, v[0]))
		}
		if v := md[echoTrailingKey]; len(v) > 0 {
			_ = grpc.SetTrailer(ctx, metadata.Pairs(echoTrailingKey, v[0]))
		}
		if len(md[echoEncodingKey]) > 0 {
			enc := "identity"
			if rc, ok := grpc.ServerTransportStreamFromContext(ctx).(interface{ RecvCompress() string }); ok && rc.RecvCompress() != "" {
				enc = rc.RecvCompress()
			}
			_ = grpc.SendHeader(ctx, metadata.Pairs(echoEncodingKey, enc))
		}
	}
	if st := in.GetResponseStatus(); st != nil && st.Code != 0 {
		return nil, status.Error(codes.Code(st.Code), st.Message)
	}
	pl, err := newPayload(in.GetResponseType(), in.GetResponseSize())
	if err != nil {
		return nil, err
	}
	return &testpb.SimpleResponse{Payload: pl}, nil
}

func (testServer) StreamingOutputCall(in *testpb.StreamingOutputCallRequest, stream testpb.TestService_StreamingOutputCallServer) error {
	return sendResponses(stream, in)
}

func (testServer) StreamingInputCall(stream testpb.TestService_StreamingInputCallServer) error {
	sum := 0
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return stream.SendAndClose(&testpb.StreamingInputCallResponse{AggregatedPayloadSize: int32(sum)})
		}
		if err != nil {
			return err
		}
		sum += len(in.GetPayload().GetBody())
	}
}

func (testServer) FullDuplexCall(stream testpb.TestService_FullDuplexCallServer) error {
	if md, ok := metadata.FromIncomingContext(stream.Context()); ok {
		if v := md[echoInitialKey]; len(v) > 0 {
			_ = stream.SendHeader(metadata.Pairs(echoInitialKey, v[0]))
		}
		if v := md[echoTrailingKey]; len(v) > 0 {
			stream.SetTrailer(metadata.Pairs(echoTrailingKey, v[0]))
		}
	}
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if st := in.GetResponseStatus(); st != nil && st.Code != 0 {
			return status.Error(codes.Code(st.Code), st.Message)
		}
		if err := sendResponses(stream, in); err != nil {
			return err
		}
	}
}

func (testServer) HalfDuplexCall(stream testpb.TestService_HalfDuplexCallServer) error {
	var requests []*testpb.StreamingOutputCallRequest
	for {
		in, err := stream.Recv()
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
		requests = append(requests, in)
	}
	for _, in := range requests {
		if err := sendResponses(stream, in); err != nil {
			return err
		}
	}
	return nil
}

// responseSender is the Send side of the three streaming-response methods.
type responseSender interface {
	Send(*testpb.StreamingOutputCallResponse) error
	Context() context.Context
}

// sendResponses sends one response per response parameter, each after its
// interval.
func sendResponses(stream responseSender, in *testpb.StreamingOutputCallRequest) error {
	for _, p := range in.GetResponseParameters() {
		if us := p.GetIntervalUs(); us > 0 {
			t := time.NewTimer(time.Duration(us) * time.Microsecond)
			select {
			case <-t.C:
			case <-stream.Context().Done():
				t.Stop()
				return status.FromContextError(stream.Context().Err()).Err()
			}
		}
		pl, err := newPayload(in.GetResponseType(), p.GetSize())
		if err != nil {
			return err
		}
		if err := stream.Send(&testpb.StreamingOutputCallResponse{Payload: pl}); err != nil {
			return err
		}
	}
	return nil
}

func newPayload(t testpb.PayloadType, size int32) (*testpb.Payload, error) {
	if size < 0 {
		return nil, fmt.Errorf("requested a response with invalid length %d", size)
	}
	if t != testpb.PayloadType_COMPRESSABLE {
		return nil, fmt.Errorf("unsupported payload type: %d", t)
	}
	return &testpb.Payload{Type: t, Body: make([]byte, size)}, nil
}
