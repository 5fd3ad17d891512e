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
	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/devcerts"
	"github.com/portcullis/portcullis/interceptors/backend"
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
identity:
  jwt: true
  api_keys: true
  mtls: true
  issuers:
    - issuer: %[6]s
      audiences: [%[7]s]
      algorithms: [ES256]
      jwks_file: jwks.json
      max_lifetime: 24h
bundle: bundle.yaml
audit:
  file: {dir: audit}
assertion:
  issuer: portcullis-demo
  key_file: assertion-key.pem
grants:
  - subject: spiffe://portcullis.local/svc/ledger
    permissions: [bank.ledger.reconcile, bank.transactions.import]
shutdown_timeout: 10s
log: {level: info, format: text}
`

// demoBundle is the demo's policy bundle; %s is the reporting bot's API
// key hash.
const demoBundle = `# Written by portcullis demo: roles, bindings and API key hashes.
version: demo-1
author: portcullis demo
message: demo personas
roles:
  teller:
    permissions: [bank.accounts.read, bank.accounts.list, bank.transfers.create, bank.transactions.read, bank.transactions.watch, bank.quotes.read, bank.payees.create]
  closer:
    permissions: [bank.accounts.close]
  auditor:
    permissions: [bank.audit.read, bank.accounts.read]
  customer:
    permissions: [bank.accounts.read, bank.transactions.read]
  operator:
    permissions: [portcullis.admin.read, portcullis.audit.review]
bindings:
  - roles: [auditor]
    users: [audrey]
  - roles: [customer]
    groups: [customers]
  - roles: [teller]
    spiffe: [spiffe://portcullis.local/user/teller]
api_keys:
  - id: %s
    hash: sha256:%x
    principal: reporting-bot
    kind: service
    roles: [auditor]
    cidrs: [127.0.0.0/8, "::1/128"]
signing_keys:
  - id: teller-1-demo
    principal: teller-1
    public_key: |
%s`

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

	jwks, err := demoAssertionKeys(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis demo:", err)
		return 1
	}
	backend, backendLis, err := startBank(files, *backendAddr, jwks)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis demo:", err)
		return 1
	}
	defer backend.Stop()

	iss, err := loadDevIssuer(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "portcullis demo:", err)
		return 1
	}
	if err := writePersonas(*dir, iss, files); err != nil {
		fmt.Fprintln(stderr, "portcullis demo:", err)
		return 1
	}
	cfgPath := filepath.Join(*dir, "gateway.yaml")
	text := fmt.Sprintf(demoConfig, cfgPath, *grpcAddr, *httpAddr, *adminAddr, backendLis.Addr().String(), devIssuerName, devAudience)
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
	applyRuntime(cfg.Runtime, log)
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

// demoAssertionKeys creates (once) the key the gateway signs identity
// assertions with and returns the JWK Set the bank verifies them against
// (the same document the gateway publishes on its admin listener at
// /.well-known/portcullis-jwks.json).
func demoAssertionKeys(dir string) ([]byte, error) {
	path := filepath.Join(dir, "assertion-key.pem")
	if _, err := os.Stat(path); os.IsNotExist(err) {
		key, err := assertion.GenerateKey(assertion.EdDSA)
		if err != nil {
			return nil, err
		}
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, err
		}
	}
	s, err := assertion.New(assertion.Config{Issuer: "portcullis-demo", KeyFile: path})
	if err != nil {
		return nil, err
	}
	return s.JWKS(), nil
}

// startBank serves the bank demo backend over mTLS (it accepts only clients
// with a certificate from the demo CA: the gateway's) and with the
// interceptors/backend verifier: a call without a valid assertion from the
// gateway is refused, so there is no way around the gateway.
func startBank(files *devcerts.Files, addr string, jwks []byte) (*grpc.Server, net.Listener, error) {
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
	v, err := backend.New(backend.Config{Issuer: "portcullis-demo", JWKS: jwks}, backend.WithExemptMethods("/grpc.health.v1.Health/*"))
	if err != nil {
		return nil, nil, err
	}
	srv := bank.NewGRPCServer(bank.New(bank.WithTickTransactions(5*time.Second)), grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(v.UnaryServerInterceptor()), grpc.ChainStreamInterceptor(v.StreamServerInterceptor()))
	go func() { _ = srv.Serve(lis) }()
	return srv, lis, nil
}
