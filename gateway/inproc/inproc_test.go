package inproc

import (
	"context"
	"net"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestInternalOnlyForInproc serves one grpc.Server on a TCP listener and an
// in-memory one and checks that only the in-memory peer is internal.
func TestInternalOnlyForInproc(t *testing.T) {
	seen := make(chan bool, 2)
	srv := grpc.NewServer(grpc.Creds(NewCredentials(nil)), grpc.UnaryInterceptor(
		func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
			seen <- IsInternal(ctx)
			return h(ctx, req)
		}))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	tcp, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	mem := Listen()
	go func() { _ = srv.Serve(tcp) }()
	go func() { _ = srv.Serve(mem) }()
	defer srv.Stop()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tt := range []struct {
		name string
		dial func() (*grpc.ClientConn, error)
		want bool
	}{
		{"tcp", func() (*grpc.ClientConn, error) {
			return grpc.NewClient(tcp.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
		}, false},
		{"inproc", func() (*grpc.ClientConn, error) { return mem.Dial() }, true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			cc, err := tt.dial()
			if err != nil {
				t.Fatal(err)
			}
			defer cc.Close()
			if _, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{}); err != nil {
				t.Fatalf("Check() = %v", err)
			}
			if got := <-seen; got != tt.want {
				t.Errorf("IsInternal() = %v, want %v", got, tt.want)
			}
		})
	}
}
