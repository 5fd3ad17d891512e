// Command interopserver is the backend of the end-to-end tests. It serves
// grpc-go's interop grpc.testing.TestService (a port of
// interop.NewTestServer, see testServer), an
// examples.bank.v1.BankService that implements only Ping, and the health
// service, and adds test hooks around every call so that a test can see
// what reached the backend.
//
// Usage:
//
//	interopserver [--listen 127.0.0.1:0] [--tls-cert f --tls-key f [--client-ca f]]
//
// Request metadata understood on every method:
//
//	x-e2e-call-id   an opaque id repeated in the call's log lines
//	x-e2e-delay     a Go duration (at most 1m) waited before the handler
//	                runs; the wait ends early when the call is cancelled
//	x-e2e-status    "CODE:message" (numeric code): the call fails with it
//	x-e2e-details   any value: the call fails with InvalidArgument and an
//	                errdetails.BadRequest detail (see badRequest)
//
// Every response carries the headers x-e2e-received-keys, the sorted,
// comma-separated keys of the request metadata as the backend received it,
// and x-e2e-timeout-ms, the time left until the call's deadline when the
// backend received it, in milliseconds ("none" without a deadline).
// Calls to methods nobody serves are answered Unimplemented and logged as
// "unknown method".
//
// Logs are JSON lines on stderr: "serving" (addr), "call started"
// (grpc.method, call_id) and "call" (grpc.method, grpc.code, call_id, and
// cancelled: how many calls so far ended because the client cancelled).
// SIGINT or SIGTERM stops it gracefully.
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
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/credentials/insecure"
	_ "google.golang.org/grpc/encoding/gzip" // clients may compress; the gateway passes it on
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// Hook metadata keys.
const (
	keyCallID   = "x-e2e-call-id"
	keyDelay    = "x-e2e-delay"
	keyStatus   = "x-e2e-status"
	keyDetails  = "x-e2e-details"
	keyReceived = "x-e2e-received-keys"
	keyTimeout  = "x-e2e-timeout-ms"
)

// badRequest is the detail x-e2e-details produces; the tests compare it.
var badRequest = &errdetails.BadRequest{FieldViolations: []*errdetails.BadRequest_FieldViolation{
	{Field: "payload.body", Description: "must not be empty"},
}}

func main() {
	log := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, log, os.Args[1:]); err != nil && !errors.Is(err, flag.ErrHelp) {
		log.Error("interopserver failed", "error", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, log *slog.Logger, args []string) error {
	fs := flag.NewFlagSet("interopserver", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "address to listen on")
	certFile := fs.String("tls-cert", "", "PEM server certificate; plaintext if empty")
	keyFile := fs.String("tls-key", "", "PEM private key of --tls-cert")
	caFile := fs.String("client-ca", "", "PEM CA bundle; if set, clients must present a certificate it signed")
	if err := fs.Parse(args); err != nil {
		return err
	}
	creds, err := serverCredentials(*certFile, *keyFile, *caFile)
	if err != nil {
		return err
	}
	lis, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("interopserver: %w", err)
	}
	h := &hooks{log: log}
	gs := grpc.NewServer(grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(h.unary), grpc.ChainStreamInterceptor(h.stream),
		grpc.UnknownServiceHandler(h.unknown),
		grpc.MaxRecvMsgSize(64<<20), grpc.MaxSendMsgSize(64<<20))
	testpb.RegisterTestServiceServer(gs, testServer{})
	bankv1.RegisterBankServiceServer(gs, pingOnly{})
	hs := health.NewServer()
	hs.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	healthpb.RegisterHealthServer(gs, hs)

	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		<-ctx.Done()
		t := time.AfterFunc(5*time.Second, gs.Stop)
		defer t.Stop()
		gs.GracefulStop()
	}()
	log.Info("serving", "addr", lis.Addr().String(), "tls", *certFile != "", "mtls", *caFile != "")
	err = gs.Serve(lis)
	<-stopped
	if err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("interopserver: serve: %w", err)
	}
	return nil
}

func serverCredentials(certFile, keyFile, caFile string) (credentials.TransportCredentials, error) {
	if certFile == "" {
		return insecure.NewCredentials(), nil
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("interopserver: %w", err)
	}
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("interopserver: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("interopserver: %s: no PEM certificates", caFile)
		}
		cfg.ClientCAs, cfg.ClientAuth = pool, tls.RequireAndVerifyClientCert
	}
	return credentials.NewTLS(cfg), nil
}

// pingOnly is a BankService whose only method is Ping.
type pingOnly struct {
	bankv1.UnimplementedBankServiceServer
}

func (pingOnly) Ping(context.Context, *bankv1.PingRequest) (*bankv1.PingResponse, error) {
	return &bankv1.PingResponse{Status: "ok"}, nil
}

// hooks are the interceptors that apply the x-e2e-* metadata and log calls.
type hooks struct {
	log       *slog.Logger
	cancelled atomic.Int64
}

// before runs ahead of a handler: it logs the start, returns the
// x-e2e-received-keys header, and applies delay, status and details.
func (h *hooks) before(ctx context.Context, method string) (metadata.MD, error) {
	md, _ := metadata.FromIncomingContext(ctx)
	h.log.Info("call started", "grpc.method", method, "call_id", first(md, keyCallID))
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	left := "none"
	if d, ok := ctx.Deadline(); ok {
		left = strconv.FormatInt(time.Until(d).Milliseconds(), 10)
	}
	header := metadata.Pairs(keyReceived, strings.Join(keys, ","), keyTimeout, left)
	if v := first(md, keyDelay); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 || d > time.Minute {
			return header, status.Error(codes.InvalidArgument, "x-e2e-delay: want a duration up to 1m")
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-t.C:
		case <-ctx.Done():
			return header, status.FromContextError(ctx.Err()).Err()
		}
	}
	if v := first(md, keyStatus); v != "" {
		code, msg, _ := strings.Cut(v, ":")
		c, err := strconv.ParseUint(code, 10, 32)
		if err != nil {
			return header, status.Error(codes.InvalidArgument, "x-e2e-status: want CODE:message")
		}
		return header, status.Error(codes.Code(c), msg)
	}
	if first(md, keyDetails) != "" {
		st, err := status.New(codes.InvalidArgument, "e2e: bad request").WithDetails(badRequest)
		if err != nil {
			return header, status.Error(codes.Internal, err.Error())
		}
		return header, st.Err()
	}
	return header, nil
}

// after logs the end of a call and counts client cancellations.
func (h *hooks) after(ctx context.Context, method string, err error) {
	if status.Code(err) == codes.Canceled || errors.Is(ctx.Err(), context.Canceled) {
		h.cancelled.Add(1)
	}
	md, _ := metadata.FromIncomingContext(ctx)
	h.log.Info("call", "grpc.method", method, "grpc.code", status.Code(err).String(),
		"call_id", first(md, keyCallID), "cancelled", h.cancelled.Load())
}

func (h *hooks) unary(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (resp any, err error) {
	defer func() { h.after(ctx, info.FullMethod, err) }()
	header, err := h.before(ctx, info.FullMethod)
	_ = grpc.SetHeader(ctx, header) // fails only without a server stream
	if err != nil {
		return nil, err
	}
	return handler(ctx, req)
}

func (h *hooks) stream(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) (err error) {
	ctx := ss.Context()
	defer func() { h.after(ctx, info.FullMethod, err) }()
	header, err := h.before(ctx, info.FullMethod)
	_ = ss.SetHeader(header) // fails only once headers are sent
	if err != nil {
		return err
	}
	return handler(srv, ss)
}

// unknown answers methods nobody serves, and logs them so that a test can
// prove the gateway did not forward one.
func (h *hooks) unknown(_ any, ss grpc.ServerStream) error {
	method, _ := grpc.MethodFromServerStream(ss)
	h.log.Info("unknown method", "grpc.method", method)
	return status.Errorf(codes.Unimplemented, "interopserver: unknown method %s", method)
}

func first(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return v[0]
	}
	return ""
}
