package gateway_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/examples/bank"
	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/gateway/config"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/backend"
)

// TestNoBypass: with assertions on, calls through the gateway reach a
// backend that verifies them against the JWKS the admin listener
// publishes; a direct call to the backend is refused.
func TestNoBypass(t *testing.T) {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	text := fmt.Sprintf(`listeners:
  grpc: {address: 127.0.0.1:0, plaintext: true}
  admin: {address: 127.0.0.1:0, plaintext: true}
routes:
  - {service: examples.bank.v1.BankService, backend: %q, plaintext: true}
assertion: {issuer: gw-test, lifetime: 10s}
`, lis.Addr().String())
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(path, []byte(text))
	if err != nil {
		t.Fatalf("config.Parse() = %v", err)
	}
	gw, err := gateway.New(cfg, gateway.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatalf("gateway.New() = %v", err)
	}
	if err := gw.Start(); err != nil {
		t.Fatalf("Start() = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	v, err := backend.New(backend.Config{Issuer: "gw-test", JWKSURL: "http://" + gw.Addr("admin").String() + assertion.JWKSPath})
	if err != nil {
		t.Fatalf("backend.New() = %v", err)
	}
	t.Cleanup(func() { v.Close() })
	srv := bank.NewGRPCServer(bank.New(), grpc.ChainUnaryInterceptor(v.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(v.StreamServerInterceptor()))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)

	call := func(addr string) error {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_, err := pingClient(t, addr).Ping(ctx, &bankv1.PingRequest{})
		return err
	}
	if err := call(gw.Addr("grpc").String()); err != nil {
		t.Errorf("Ping through the gateway = %v, want OK", err)
	}
	err = call(lis.Addr().String())
	if status.Code(err) != codes.Unauthenticated || status.Convert(err).Message() != "call did not come through the gateway" {
		t.Errorf("Ping direct to the backend = %v, want Unauthenticated %q", err, "call did not come through the gateway")
	}
}
