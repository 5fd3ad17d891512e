package gateway_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/examples/bank"
	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/proxy"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
)

// BenchmarkPing compares a public unary call made directly to the bank
// backend with the same call through the gateway's full chain (plaintext
// loopback both ways, one process), so the chain's cost shows as the
// difference.
func BenchmarkPing(b *testing.B) {
	backend := startBankB(b)
	gwAddr, _ := startBenchGateway(b, backend, "")
	auditAddr, _ := startBenchGateway(b, backend, "audit:\n  file: {dir: audit}\n")
	floor := startFloor(b, backend)
	for _, target := range []struct{ name, addr string }{{"direct", backend}, {"proxy-only", floor}, {"gateway", gwAddr}, {"gateway+audit", auditAddr}} {
		b.Run(target.name, func(b *testing.B) {
			c := benchClient(b, target.addr)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if _, err := c.Ping(ctx, &bankv1.PingRequest{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPingParallel is BenchmarkPing under concurrent load (16 calls in
// flight per CPU over one connection), the shape of the end-to-end harness:
// costs that only show when many calls overlap (goroutine stacks, GC,
// contention) appear here and not in the sequential benchmark.
func BenchmarkPingParallel(b *testing.B) {
	backend := startBankB(b)
	gwAddr, _ := startBenchGateway(b, backend, "")
	auditAddr, _ := startBenchGateway(b, backend, "audit:\n  file: {dir: audit}\n")
	floor := startFloor(b, backend)
	for _, target := range []struct{ name, addr string }{{"proxy-only", floor}, {"gateway", gwAddr}, {"gateway+audit", auditAddr}} {
		b.Run(target.name, func(b *testing.B) {
			c := benchClient(b, target.addr)
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Ping(context.Background(), &bankv1.PingRequest{}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// BenchmarkPingRESTParallel is BenchmarkPingParallel's gateway case over
// REST: GET /v1/ping from 32 HTTP/1.1 keep-alive connections, as the
// end-to-end harness's REST load. Its difference from the gRPC case is the
// REST front's cost (HTTP/1.1, routing, JSON, the in-process hop).
func BenchmarkPingRESTParallel(b *testing.B) {
	_, httpAddr := startBenchGateway(b, startBankB(b), "")
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	b.Cleanup(tr.CloseIdleConnections)
	client := &http.Client{Transport: tr}
	url := "http://" + httpAddr + "/v1/ping"
	b.ReportAllocs()
	b.SetParallelism(16)
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Get(url)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				b.Errorf("GET /v1/ping = %d", resp.StatusCode)
				return
			}
		}
	})
}

// benchClient returns a bank client of addr over one plaintext connection,
// closed when b ends.
func benchClient(b *testing.B, addr string) bankv1.BankServiceClient {
	b.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = cc.Close() })
	return bankv1.NewBankServiceClient(cc)
}

// startBenchGateway starts an in-process gateway (plaintext loopback, rate
// limits in shadow so the load is never refused) with extra config, and
// returns its gRPC and REST addresses.
func startBenchGateway(b testing.TB, backend, extra string) (grpcAddr, httpAddr string) {
	b.Helper()
	return startRouteGateway(b, backend, "", extra)
}

// startRouteGateway is startBenchGateway with more keys for the route
// (routeKeys, such as ", timeout: 1s", goes inside its flow mapping).
func startRouteGateway(b testing.TB, backend, routeKeys, extra string) (grpcAddr, httpAddr string) {
	b.Helper()
	dir := b.TempDir()
	text := fmt.Sprintf("listeners:\n  grpc: {address: 127.0.0.1:0, plaintext: true}\n  http: {address: 127.0.0.1:0, plaintext: true}\nroutes:\n  - {service: examples.bank.v1.BankService, backend: %q, plaintext: true%s}\nrate_limits: {shadow: true}\n", backend, routeKeys) + extra
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		b.Fatal(err)
	}
	cfg, err := config.Parse(path, []byte(text))
	if err != nil {
		b.Fatal(err)
	}
	gw, err := gateway.New(cfg, gateway.WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		b.Fatal(err)
	}
	if err := gw.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	return gw.Addr("grpc").String(), gw.Addr("http").String()
}

func startBankB(b *testing.B) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := bank.NewGRPCServer(bank.New())
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// startFloor serves the bare proxy core (no interceptors) in front of
// backend: the floor the gateway's chain is measured against.
func startFloor(b *testing.B, backend string) string {
	b.Helper()
	cc, err := grpc.NewClient(backend, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cc.Close() })
	srv := grpc.NewServer(grpc.ForceServerCodecV2(proxy.Codec{}), grpc.UnknownServiceHandler(proxy.Handler(
		proxy.DirectorFunc(func(ctx context.Context, _ string) (context.Context, grpc.ClientConnInterface, error) {
			return ctx, cc, nil
		}))))
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	go func() { _ = srv.Serve(lis) }()
	b.Cleanup(srv.Stop)
	return lis.Addr().String()
}

// BenchmarkJWTParallel is the end-to-end harness's portcullis-jwt case in
// process: GetAccount (a protected method whose policy binds the request's
// name, so its first message is decoded) with a cached ES256 token, beside
// the same call through the bare proxy core. Their difference is the full
// chain's cost: authentication (token cache hit), decoding, authorization.
func BenchmarkJWTParallel(b *testing.B) {
	backend := startBankB(b)
	iss := authntest.NewIssuer("bench-issuer", "ES256")
	dir := b.TempDir()
	jwks, bundle := filepath.Join(dir, "jwks.json"), filepath.Join(dir, "bundle.yaml")
	if err := iss.WriteJWKS(jwks); err != nil {
		b.Fatal(err)
	}
	if err := os.WriteFile(bundle, []byte("version: bench-1\nroles:\n  teller: {permissions: [bank.accounts.read]}\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	claims := iss.Claims("teller-1", "bench", 2*time.Hour)
	claims["roles"] = []string{"teller"}
	token := iss.Sign(claims)
	gwAddr, _ := startBenchGateway(b, backend, fmt.Sprintf("identity:\n  jwt: true\n  issuers:\n    - {issuer: bench-issuer, audiences: [bench], algorithms: [ES256], jwks_file: %q}\nbundle: %q\n", jwks, bundle))
	floor := startFloor(b, backend)
	for _, target := range []struct{ name, addr string }{{"proxy-only", floor}, {"gateway", gwAddr}} {
		b.Run(target.name, func(b *testing.B) {
			c := benchClient(b, target.addr)
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", "Bearer "+token)
			if _, err := c.GetAccount(ctx, &bankv1.GetAccountRequest{Name: aliceChecking}); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.SetParallelism(16)
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.GetAccount(ctx, &bankv1.GetAccountRequest{Name: aliceChecking}); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
