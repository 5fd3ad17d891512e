package proxy_test

import (
	"context"
	"errors"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/gateway/proxy"
)

func TestHandlerStatusDetails(t *testing.T) {
	e := newEnv(t, envConfig{})
	want := detailsStatus().Proto()
	for _, tt := range rpcs {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(testContext(t), behaviorKey, behaviorDetails)
			err := tt.run(ctx, e.client)
			if got := status.Convert(err).Proto(); !proto.Equal(got, want) {
				t.Errorf("status = %v, want %v", got, want)
			}
		})
	}
}

func TestHandlerPassesBackendStatus(t *testing.T) {
	e := newEnv(t, envConfig{})
	tests := []struct {
		method string
		want   codes.Code
	}{
		{"/grpc.testing.TestService/UnimplementedCall", codes.Unimplemented}, // the backend's own answer
		{"/no.such.v1.Service/Method", codes.Unimplemented},                  // unknown to the backend too
		{"/grpc.testing.TestService/EmptyCall", codes.OK},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			err := e.clientConn.Invoke(testContext(t), tt.method, &testpb.Empty{}, &testpb.Empty{})
			if got := status.Code(err); got != tt.want {
				t.Errorf("Invoke(%s) = %v, want %v", tt.method, err, tt.want)
			}
		})
	}
}

func TestHandlerDirectorErrors(t *testing.T) {
	tests := []struct {
		name     string
		err      error
		nilConn  bool
		wantCode codes.Code
		wantMsg  string
	}{
		{"status error as is", status.Error(codes.PermissionDenied, "no route for caller"), false, codes.PermissionDenied, "no route for caller"},
		{"plain error hidden", errors.New("backend 10.0.0.7 refused"), false, codes.Unavailable, "backend unavailable"},
		{"closed pool", proxy.ErrClosed, false, codes.Unavailable, "backend unavailable"},
		{"no connection", nil, true, codes.Internal, "proxy: no backend connection"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, envConfig{director: func(*env) proxy.Director {
				return proxy.DirectorFunc(func(ctx context.Context, _ string) (context.Context, grpc.ClientConnInterface, error) {
					return ctx, nil, tt.err
				})
			}})
			_, err := e.client.UnaryCall(testContext(t), &testpb.SimpleRequest{})
			if st := status.Convert(err); st.Code() != tt.wantCode || st.Message() != tt.wantMsg {
				t.Errorf("UnaryCall() = %v, want %v %q", err, tt.wantCode, tt.wantMsg)
			}
		})
	}
}
