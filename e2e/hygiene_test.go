package e2e

import (
	"context"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// Internal metadata keys (x-portcullis-*) set by a client must never reach
// a backend or influence the chain. interopserver reports the keys it
// received in the x-e2e-received-keys response header.

// spoofedKeys are internal keys a client might try to set, in gRPC form.
var spoofedKeys = []string{
	"x-portcullis-transport", "http",
	"x-portcullis-client-addr", "203.0.113.7:4444",
	"x-portcullis-route", "/v1/{name=accounts/*}",
	"x-portcullis-http-method", "GET",
	"x-portcullis-tls-version", "1.3",
	"x-portcullis-client-cert-sha256", "AAAA",
	"x-portcullis-client-spiffe-id", "spiffe://example.org/admin",
	"x-portcullis-client-subject", "CN=admin",
	"x-portcullis-not-yet-invented", "1",
	"x-portcullis-secret-bin", "\x00\x01",
}

// checkReceived fails unless the backend's key list has none of the
// internal keys and does have the control key.
func checkReceived(t *testing.T, call, received string) {
	t.Helper()
	keys := strings.Split(received, ",")
	if !slices.Contains(keys, "x-e2e-marker") {
		t.Errorf("%s: backend received keys %q, want x-e2e-marker among them (control)", call, received)
	}
	for _, k := range keys {
		if strings.HasPrefix(k, "x-portcullis-") {
			t.Errorf("%s: backend received internal key %q (all: %q), want none", call, k, received)
		}
	}
}

func TestInternalKeysStrippedGRPC(t *testing.T) {
	top := interopEnv(t)
	cc := dial(t, top.gw.grpcAddr)
	tests := []struct {
		name string
		call func(ctx context.Context) (metadata.MD, error)
	}{
		{"unary Ping", func(ctx context.Context) (metadata.MD, error) {
			var header metadata.MD
			_, err := bankv1.NewBankServiceClient(cc).Ping(ctx, &bankv1.PingRequest{}, grpc.Header(&header))
			return header, err
		}},
		{"bidi FullDuplexCall", func(ctx context.Context) (metadata.MD, error) {
			s, err := testpb.NewTestServiceClient(cc).FullDuplexCall(ctx)
			if err != nil {
				return nil, err
			}
			if err := s.CloseSend(); err != nil {
				return nil, err
			}
			header, err := s.Header()
			if err != nil {
				return nil, err
			}
			_, err = recvSizes(s)
			return header, err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(timeout(t, 5*time.Second), slices.Concat(spoofedKeys, []string{"x-e2e-marker", "1"})...)
			header, err := tt.call(ctx)
			if err != nil {
				t.Fatalf("%s = %v, want nil", tt.name, err)
			}
			checkReceived(t, tt.name, strings.Join(header.Get("x-e2e-received-keys"), ","))
		})
	}
}

func TestInternalKeysStrippedREST(t *testing.T) {
	g := interopEnv(t).gw
	var args []string
	for i := 0; i < len(spoofedKeys)-2; i += 2 { // the -bin key is not a valid header value
		k, v := spoofedKeys[i], spoofedKeys[i+1]
		args = append(args, "-H", k+": "+v, "-H", "Grpc-Metadata-"+k+": "+v)
	}
	args = append(args,
		"-H", "X-PORTCULLIS-TRANSPORT: grpc", // any case
		"-H", "grpc-metadata-X-Portcullis-Route: /evil",
		"-H", "Grpc-Metadata-X-E2e-Marker: 1")
	r := curl(t, "https://"+g.httpAddr+"/v1/ping", args...)
	if r.status != http.StatusOK {
		t.Fatalf("GET /v1/ping with spoofed headers = %v, want 200", r)
	}
	checkReceived(t, "GET /v1/ping", r.header.Get("Grpc-Metadata-X-E2e-Received-Keys"))
}

func TestTransportMetricNotSpoofable(t *testing.T) {
	top := interopEnv(t)
	const ping = "/examples.bank.v1.BankService/Ping"
	count := func(transport string) float64 {
		return metricValue(t, top.gw, "portcullis_requests_total", map[string]string{"method": ping, "code": "OK", "transport": transport})
	}
	tests := []struct {
		name          string
		call          func(t *testing.T)
		wantTransport string
	}{
		{"gRPC claiming http", func(t *testing.T) {
			ctx := metadata.AppendToOutgoingContext(timeout(t, 5*time.Second), "x-portcullis-transport", "http")
			if _, err := bankv1.NewBankServiceClient(dial(t, top.gw.grpcAddr)).Ping(ctx, &bankv1.PingRequest{}); err != nil {
				t.Fatalf("Ping() = %v, want nil", err)
			}
		}, "grpc"},
		{"REST claiming grpc", func(t *testing.T) {
			r := curl(t, "https://"+top.gw.httpAddr+"/v1/ping", "-H", "X-Portcullis-Transport: grpc", "-H", "Grpc-Metadata-X-Portcullis-Transport: grpc")
			if r.status != http.StatusOK {
				t.Fatalf("GET /v1/ping = %v, want 200", r)
			}
		}, "http"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			grpcBefore, httpBefore := count("grpc"), count("http")
			tt.call(t)
			wantGRPC, wantHTTP := grpcBefore, httpBefore
			if tt.wantTransport == "grpc" {
				wantGRPC++
			} else {
				wantHTTP++
			}
			// The counter is updated when the call's status is sent, which
			// can trail the client's view by a moment.
			deadline := time.Now().Add(2 * time.Second)
			for (count("grpc") != wantGRPC || count("http") != wantHTTP) && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			if got := count("grpc"); got != wantGRPC {
				t.Errorf("portcullis_requests_total{transport=grpc} after %s = %v, want %v", tt.name, got, wantGRPC)
			}
			if got := count("http"); got != wantHTTP {
				t.Errorf("portcullis_requests_total{transport=http} after %s = %v, want %v", tt.name, got, wantHTTP)
			}
		})
	}
}
