package proxy_test

import (
	"context"
	"fmt"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/portcullis/portcullis/gateway/proxy"
)

// ExampleHandler forwards every call the gateway does not serve itself to
// one backend, here a health service.
func ExampleHandler() {
	// The backend.
	blis, _ := net.Listen("tcp", "127.0.0.1:0")
	backend := grpc.NewServer()
	healthpb.RegisterHealthServer(backend, health.NewServer())
	go func() { _ = backend.Serve(blis) }()
	defer backend.Stop()

	// The gateway: a pool of backend connections, a director, the handler.
	pool := proxy.NewPool(proxy.WithTransportCredentials(func(proxy.Target) (credentials.TransportCredentials, error) {
		return insecure.NewCredentials(), nil // use mTLS in production
	}))
	defer pool.Close()
	director := proxy.DirectorFunc(func(ctx context.Context, _ string) (context.Context, grpc.ClientConnInterface, error) {
		cc, err := pool.Conn(proxy.Target{Address: blis.Addr().String()})
		return ctx, cc, err
	})
	gateway := grpc.NewServer(
		grpc.ForceServerCodecV2(proxy.Codec{}),
		grpc.UnknownServiceHandler(proxy.Handler(director)),
	)
	glis, _ := net.Listen("tcp", "127.0.0.1:0")
	go func() { _ = gateway.Serve(glis) }()
	defer gateway.Stop()

	// A client of the gateway reaches the backend's health service.
	cc, _ := grpc.NewClient(glis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	defer cc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := healthpb.NewHealthClient(cc).Check(ctx, &healthpb.HealthCheckRequest{})
	fmt.Println(resp.GetStatus(), err)
	// Output: SERVING <nil>
}
