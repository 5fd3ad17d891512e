// Command bank-backend serves the in-memory demo bank
// (examples.bank.v1.BankService) over gRPC, with the health and reflection
// services, for the Portcullis demo and manual testing.
//
// Usage:
//
//	bank-backend [--listen 127.0.0.1:9091] [--tick 2s]
//	             [--tls-cert f --tls-key f [--client-ca f]]
//
// Without --tls-cert it serves plaintext, which it allows only on a loopback
// address. With --client-ca it requires and verifies client certificates
// (mTLS). Logs are JSON on stderr. SIGINT or SIGTERM stops it gracefully.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // clients may compress; the gateway passes it on
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/examples/bank"
	"github.com/portcullis/portcullis/interceptors/backend"
)

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	err := run(ctx, log, os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		stop()
		log.Error("bank-backend failed", "error", err)
		os.Exit(1)
	}
}

// run serves until ctx ends, then stops gracefully.
func run(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("bank-backend", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:9091", "address to listen on")
	certFile := fs.String("tls-cert", "", "PEM server certificate; plaintext (loopback only) if empty")
	keyFile := fs.String("tls-key", "", "PEM private key of --tls-cert")
	caFile := fs.String("client-ca", "", "PEM CA bundle; if set, clients must present a certificate it signed")
	tick := fs.Duration("tick", 0, "book a synthetic transaction on every account this often (0: off)")
	jwks := fs.String("gateway-jwks", "", "gateway JWKS URL (https, or http on loopback); if set, every call must carry the gateway's identity assertion")
	gwID := fs.String("gateway-id", "portcullis", "the gateway's assertion issuer (its assertion.issuer)")
	if err := fs.Parse(args); err != nil {
		return err
	}

	creds, err := serverCredentials(*listen, *certFile, *keyFile, *caFile)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("bank-backend: %w", err)
	}

	unary := []grpc.UnaryServerInterceptor{logUnary(log)}
	stream := []grpc.StreamServerInterceptor{logStream(log)}
	if *jwks != "" {
		// No bypass: only calls that came through the gateway carry a valid
		// assertion (interceptors/backend).
		v, err := backend.New(backend.Config{Issuer: *gwID, JWKSURL: *jwks},
			backend.WithExemptMethods("/grpc.health.v1.Health/*"), backend.WithLogger(log))
		if err != nil {
			return err
		}
		defer func() { _ = v.Close() }() // closing a verifier stops its refresh; nothing to report
		unary, stream = append(unary, v.UnaryServerInterceptor()), append(stream, v.StreamServerInterceptor())
	}
	b := bank.New(bank.WithTickTransactions(*tick))
	gs := bank.NewGRPCServer(b, grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(unary...), grpc.ChainStreamInterceptor(stream...))

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		log.Info("stopping")
		_ = b.Close() // ends watches, which GracefulStop would wait for
		t := time.AfterFunc(10*time.Second, gs.Stop)
		defer t.Stop()
		gs.GracefulStop()
	}()

	log.Info("serving", "addr", lis.Addr().String(), "tls", *certFile != "", "mtls", *caFile != "", "tick", tick.String())
	err = gs.Serve(lis)
	cancel() // if Serve failed on its own, still stop and wait
	<-stopped
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("bank-backend: serve: %w", err)
	}
	log.Info("stopped")
	return nil
}

// serverCredentials builds TLS or mTLS credentials, or plaintext ones for a
// loopback address.
func serverCredentials(listen, certFile, keyFile, caFile string) (credentials.TransportCredentials, error) {
	if certFile == "" {
		host, _, err := net.SplitHostPort(listen)
		if err != nil {
			return nil, fmt.Errorf("bank-backend: --listen %q: %w", listen, err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return nil, fmt.Errorf("bank-backend: --listen %q: plaintext only on a loopback address; set --tls-cert and --tls-key", listen)
		}
		if caFile != "" {
			return nil, errors.New("bank-backend: --client-ca needs --tls-cert and --tls-key")
		}
		return insecure.NewCredentials(), nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("bank-backend: --tls-cert %q / --tls-key %q: %w", certFile, keyFile, err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("bank-backend: --client-ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("bank-backend: --client-ca %q: no PEM certificates", caFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(cfg), nil
}

func logUnary(log *slog.Logger) grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		start := time.Now()
		resp, err := h(ctx, req)
		logCall(log, info.FullMethod, start, err)
		return resp, err
	}
}

func logStream(log *slog.Logger) grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, h grpc.StreamHandler) error {
		start := time.Now()
		err := h(srv, ss)
		logCall(log, info.FullMethod, start, err)
		return err
	}
}

func logCall(log *slog.Logger, method string, start time.Time, err error) {
	log.Info("call", "grpc.method", method, "grpc.code", status.Code(err).String(),
		"duration_ms", time.Since(start).Milliseconds())
}
