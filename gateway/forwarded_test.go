package gateway_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/examples/bank"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

// TestRequestIDAndTraceForwarded: the backend receives the request id the
// client got back and the client's valid trace context unchanged (the
// gateway records no span, so it must not replace the parent id), no
// trace context without one unless tracing.start_traces (then a new
// trace), tracestate only with a valid traceparent, one value each, and
// never an internal key.
func TestRequestIDAndTraceForwarded(t *testing.T) {
	backend, received := startCapturingBank(t)
	plain, _ := startBenchGateway(t, backend, "")
	starting, _ := startBenchGateway(t, backend, "tracing: {start_traces: true, sampled: true}\n")

	const (
		traceID    = "0af7651916cd43dd8448eb211c80319c"
		clientSpan = "b7ad6b7169203331"
		clientTP   = "00-" + traceID + "-" + clientSpan + "-01"
	)
	traceParent := regexp.MustCompile(`^00-([0-9a-f]{32})-([0-9a-f]{16})-01$`)
	for _, tc := range []struct {
		name       string
		addr       string
		pairs      []string
		wantID     string // "" for a generated one
		wantTP     string // "" for none, "new" for a new sampled trace
		wantState  string
		spoofedKey string
	}{
		{name: "continued", addr: plain, pairs: []string{"x-request-id", "client-req-1", "traceparent", clientTP, "tracestate", "k=v"},
			wantID: "client-req-1", wantTP: clientTP, wantState: "k=v"},
		{name: "continued, start_traces", addr: starting, pairs: []string{"traceparent", clientTP}, wantTP: clientTP},
		{name: "none", addr: plain, pairs: []string{policy.KeyClientAddr, "10.1.2.3:5"}, spoofedKey: policy.KeyClientAddr},
		{name: "invalid dropped", addr: plain, pairs: []string{"traceparent", strings.ToUpper(clientTP), "tracestate", "k=v"}},
		{name: "new, start_traces", addr: starting, wantTP: "new"},
		{name: "invalid replaced, start_traces", addr: starting, pairs: []string{"traceparent", "00-x", "tracestate", "k=v"}, wantTP: "new"},
		{name: "tracestate without traceparent", addr: plain, pairs: []string{"tracestate", "k=v"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := pingClient(t, tc.addr)
			var header metadata.MD
			ctx := metadata.AppendToOutgoingContext(context.Background(), tc.pairs...)
			if _, err := c.Ping(ctx, &bankv1.PingRequest{}, grpc.Header(&header)); err != nil {
				t.Fatal(err)
			}
			md := received()
			id := md.Get("x-request-id")
			if len(id) != 1 || len(header.Get("x-request-id")) != 1 || id[0] != header.Get("x-request-id")[0] {
				t.Fatalf("backend x-request-id %q, client got %q: want one, the same", id, header.Get("x-request-id"))
			}
			if tc.wantID != "" && id[0] != tc.wantID {
				t.Errorf("x-request-id = %q, want the client's %q", id[0], tc.wantID)
			}
			if tc.wantID == "" && !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id[0]) {
				t.Errorf("generated x-request-id = %q, want 32 hex digits", id[0])
			}
			tp := md.Get("traceparent")
			switch tc.wantTP {
			case "":
				if len(tp) != 0 {
					t.Errorf("backend traceparent = %q, want none", tp)
				}
			case "new":
				if len(tp) != 1 || !traceParent.MatchString(tp[0]) || strings.Contains(tp[0], traceID) {
					t.Errorf("backend traceparent = %q, want one new sampled trace", tp)
				}
			default:
				if len(tp) != 1 || tp[0] != tc.wantTP {
					t.Errorf("backend traceparent = %q, want the client's %q unchanged", tp, tc.wantTP)
				}
			}
			if ts := md.Get("tracestate"); tc.wantState == "" && len(ts) != 0 || tc.wantState != "" && (len(ts) != 1 || ts[0] != tc.wantState) {
				t.Errorf("tracestate = %q, want %q", ts, tc.wantState)
			}
			if tc.spoofedKey != "" {
				if v := md.Get(tc.spoofedKey); len(v) != 0 {
					t.Errorf("backend received %s = %q", tc.spoofedKey, v)
				}
			}
		})
	}
}

// TestRequestIDOnRefusedCall: a call that ends before the proxy sends a
// header (refused by the chain: trailers-only) still returns its request
// id, once, and a backend that answers with no header at all gets the
// gateway's id to the client too.
func TestRequestIDOnRefusedCall(t *testing.T) {
	backend, _ := startCapturingBank(t)
	addr, _ := startBenchGateway(t, backend, "")
	c := pingClient(t, addr)
	var header, trailer metadata.MD
	_, err := c.GetAccount(context.Background(), &bankv1.GetAccountRequest{Name: "accounts/a1"}, grpc.Header(&header), grpc.Trailer(&trailer))
	if status.Code(err) != codes.Unauthenticated {
		t.Fatalf("anonymous GetAccount = %v, want Unauthenticated", err)
	}
	got := append(header.Get("x-request-id"), trailer.Get("x-request-id")...)
	if len(got) != 1 || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got[0]) {
		t.Errorf("x-request-id in header %q and trailer %q, want one generated id", header.Get("x-request-id"), trailer.Get("x-request-id"))
	}
}

// TestRequestIDOnGatewayOwnedStream: the gateway's own streaming services
// (health Watch here) send their own header, without the proxy's hook, and
// still return the call's request id.
func TestRequestIDOnGatewayOwnedStream(t *testing.T) {
	backend, _ := startCapturingBank(t)
	addr, _ := startBenchGateway(t, backend, "")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	w, err := healthpb.NewHealthClient(plaintextConn(t, addr)).Watch(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	header, err := w.Header()
	if err != nil {
		t.Fatal(err)
	}
	if got := header.Get("x-request-id"); len(got) != 1 || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(got[0]) {
		t.Errorf("health Watch header x-request-id = %q, want one generated id", got)
	}
}

// startCapturingBank serves the bank backend on 127.0.0.1 and returns its
// address and a function that returns the metadata of the last unary call
// it received.
func startCapturingBank(t *testing.T) (addr string, received func() metadata.MD) {
	t.Helper()
	var mu sync.Mutex
	var last metadata.MD
	capture := func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		mu.Lock()
		last = md
		mu.Unlock()
		return h(ctx, req)
	}
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := bank.NewGRPCServer(bank.New(), grpc.ChainUnaryInterceptor(capture))
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	return lis.Addr().String(), func() metadata.MD {
		mu.Lock()
		defer mu.Unlock()
		md := last
		last = nil
		return md
	}
}

// pingClient returns a plaintext BankService client of addr.
func pingClient(t *testing.T, addr string) bankv1.BankServiceClient {
	t.Helper()
	return bankv1.NewBankServiceClient(plaintextConn(t, addr))
}

// plaintextConn is a plaintext client connection to addr, closed when the
// test ends.
func plaintextConn(t *testing.T, addr string) *grpc.ClientConn {
	t.Helper()
	cc, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cc.Close() })
	return cc
}

// TestCredentialsNotForwarded: the client's bearer token and API key reach
// the backend, over gRPC and REST, only on a route with
// forward_credentials: true; other metadata is forwarded either way.
func TestCredentialsNotForwarded(t *testing.T) {
	const (
		bearer = "Bearer eyJhbGciOiJFUzI1NiJ9.e30.c2ln"
		apiKey = "pcs_abc_s3cr3t"
	)
	for _, tc := range []struct {
		name, routeKeys string
		forwarded       bool
	}{
		{name: "default", forwarded: false},
		{name: "forward_credentials", routeKeys: ", forward_credentials: true", forwarded: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			backend, received := startCapturingBank(t)
			grpcAddr, httpAddr := startRouteGateway(t, backend, tc.routeKeys, "")
			check := func(transport string, md metadata.MD) {
				t.Helper()
				if md == nil {
					t.Fatalf("%s: the backend received no call", transport)
				}
				for key, want := range map[string]string{"authorization": bearer, "x-api-key": apiKey} {
					got := md.Get(key)
					if tc.forwarded && !slices.Contains(got, want) {
						t.Errorf("%s: backend %s = %q, want it to hold %q", transport, key, got, want)
					}
					if !tc.forwarded && len(got) != 0 {
						t.Errorf("%s: backend received %s = %q, want it removed", transport, key, got)
					}
				}
				if got := md.Get("x-other"); len(got) != 1 || got[0] != "kept" {
					t.Errorf("%s: backend x-other = %q, want [kept] (only credentials are removed)", transport, got)
				}
			}

			// Duplicates too: every value goes.
			ctx := metadata.AppendToOutgoingContext(context.Background(), "authorization", bearer, "authorization", "Bearer second",
				"x-api-key", apiKey, "x-api-key", "pcs_other_key", "x-other", "kept")
			if _, err := pingClient(t, grpcAddr).Ping(ctx, &bankv1.PingRequest{}); err != nil {
				t.Fatal(err)
			}
			check("grpc", received())

			req, err := http.NewRequest(http.MethodGet, "http://"+httpAddr+"/v1/ping", nil)
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", bearer)
			req.Header.Set("X-Api-Key", apiKey)
			req.Header.Set("Grpc-Metadata-X-Api-Key", "pcs_other_key") // the same metadata key, another spelling
			req.Header.Set("Grpc-Metadata-X-Other", "kept")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("GET /v1/ping = %d %s, want 200", resp.StatusCode, body)
			}
			check("rest", received())
		})
	}
}
