package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"

	"github.com/portcullis/portcullis"
	"github.com/portcullis/portcullis/examples/bank"
	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/devcerts"
)

// The demo is the one place outside examples/ that links the bank backend:
// it runs it in-process so `portcullis demo` needs nothing else.

const demoConfig = `# Written by portcullis demo. Run it yourself with:
#   portcullis serve --config %[1]s
listeners:
  grpc:
    address: %[2]s
    tls: {cert_file: server.pem, key_file: server-key.pem, client_ca_file: ca.pem, client_auth: optional}
  http:
    address: %[3]s
    tls: {cert_file: server.pem, key_file: server-key.pem, client_ca_file: ca.pem, client_auth: optional}
  admin:
    address: %[4]s
    plaintext: true
routes:
  - service: examples.bank.v1.BankService
    backend: %[5]s
    tls: {ca_file: ca.pem, cert_file: gateway-client.pem, key_file: gateway-client-key.pem, server_name: localhost}
    timeout: 30s
shutdown_timeout: 10s
log: {level: info, format: text}
`

func runDemo(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cache, _ := os.UserCacheDir()
	dir := fs.String("dir", filepath.Join(cache, "portcullis", "demo"), "directory for the demo's certificates and config")
	grpcAddr := fs.String("grpc", "127.0.0.1:8443", "gateway gRPC listener")
	httpAddr := fs.String("http", "127.0.0.1:8080", "gateway REST listener")
	adminAddr := fs.String("admin", "127.0.0.1:9090", "gateway admin listener (metrics, health)")
	backendAddr := fs.String("backend", "127.0.0.1:0", "bank backend listener")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	files, err := devcerts.Generate(*dir, devcerts.WithClients(demoClients...))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))

	backend, backendLis, err := startBank(files, *backendAddr)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis demo:", err)
		return 1
	}
	defer backend.Stop()

	cfgPath := filepath.Join(*dir, "gateway.yaml")
	text := fmt.Sprintf(demoConfig, cfgPath, *grpcAddr, *httpAddr, *adminAddr, backendLis.Addr().String())
	if err := os.WriteFile(cfgPath, []byte(text), 0o600); err != nil {
		fmt.Fprintln(stderr, "portcullis demo:", err)
		return 1
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	gw, err := gateway.New(cfg, gateway.WithLogger(log), gateway.WithOpenAPI(portcullis.OpenAPI))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if err := gw.Start(); err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	printDemoCalls(stdout, files, gw.Addr("grpc").String(), gw.Addr("http").String(), gw.Addr("admin").String())

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := gw.Shutdown(sctx); err != nil {
		log.Error("shutdown", "err", err)
		return 1
	}
	return 0
}

// startBank serves the bank demo backend over mTLS: it accepts only clients
// with a certificate from the demo CA (the gateway's).
func startBank(files *devcerts.Files, addr string) (*grpc.Server, net.Listener, error) {
	cert, err := tls.LoadX509KeyPair(files.Backend.Cert, files.Backend.Key)
	if err != nil {
		return nil, nil, err
	}
	caPEM, err := os.ReadFile(files.CA.Cert)
	if err != nil {
		return nil, nil, err
	}
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	creds := credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{cert}, ClientCAs: pool,
		ClientAuth: tls.RequireAndVerifyClientCert, MinVersion: tls.VersionTLS12,
	})
	lis, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, nil, err
	}
	srv := bank.NewGRPCServer(bank.New(bank.WithTickTransactions(5*time.Second)), grpc.Creds(creds))
	go func() { _ = srv.Serve(lis) }()
	return srv, lis, nil
}

func printDemoCalls(w io.Writer, files *devcerts.Files, grpcAddr, httpAddr, adminAddr string) {
	ca := files.CA.Cert
	fmt.Fprintf(w, `
Portcullis demo is running (Ctrl-C to stop).
  gRPC  %[2]s   REST  https://%[3]s   admin  http://%[4]s
  config and certificates: %[5]s

Install the clients once:  go install github.com/fullstorydev/grpcurl/cmd/grpcurl@v1.9.3

Public calls succeed:
  grpcurl -cacert %[1]s %[2]s list
  grpcurl -cacert %[1]s %[2]s examples.bank.v1.BankService/Ping
  curl --cacert %[1]s https://%[3]s/v1/ping

Protected calls are refused (Unauthenticated / HTTP 401) without credentials:
  grpcurl -cacert %[1]s -d '{"name":"accounts/alice-checking"}' %[2]s examples.bank.v1.BankService/GetAccount
  curl --cacert %[1]s https://%[3]s/v1/accounts/alice-checking

Unknown methods never reach the backend (Unimplemented / HTTP 404):
  grpcurl -cacert %[1]s -d '{}' %[2]s examples.bank.v1.BankService/Nope
  curl --cacert %[1]s https://%[3]s/v1/nope

Inspect:
  grpcurl -cacert %[1]s %[2]s describe examples.bank.v1.BankService
  curl --cacert %[1]s https://%[3]s/openapi.json
  curl http://%[4]s/metrics
  portcullis policy show
`, ca, grpcAddr, httpAddr, adminAddr, files.Dir)
}
