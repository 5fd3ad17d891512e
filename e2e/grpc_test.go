package e2e

import (
	"context"
	"net"
	"slices"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// The tests in this file run against the real bank demo backend (mTLS
// behind the gateway), whose only public method is Ping.

func TestPing(t *testing.T) {
	top := bankEnv(t)
	c := bankv1.NewBankServiceClient(dial(t, top.gw.grpcAddr))
	resp, err := c.Ping(timeout(t, 5*time.Second), &bankv1.PingRequest{})
	if err != nil || resp.GetStatus() != "ok" {
		t.Fatalf("Ping() = %v, %v, want status ok", resp, err)
	}
	if _, err := top.backend.waitLog(5*time.Second, "msg", "call", "grpc.method", "/examples.bank.v1.BankService/Ping", "grpc.code", "OK"); err != nil {
		t.Errorf("bank-backend log: %v", err)
	}
}

func TestHealthServedByGateway(t *testing.T) {
	top := bankEnv(t)
	resp, err := healthpb.NewHealthClient(dial(t, top.gw.grpcAddr)).Check(timeout(t, 5*time.Second), &healthpb.HealthCheckRequest{})
	if got, want := resp.GetStatus(), healthpb.HealthCheckResponse_SERVING; err != nil || got != want {
		t.Errorf("Health.Check() = %v, %v, want %v", got, err, want)
	}
}

func TestBankMetadataRoundTrip(t *testing.T) {
	top := bankEnv(t)
	c := bankv1.NewBankServiceClient(dial(t, top.gw.grpcAddr))
	ctx := metadata.AppendToOutgoingContext(timeout(t, 5*time.Second),
		"x-echo-header", "first", "x-echo-header", "second", "x-echo-trailer", "done")
	var header, trailer metadata.MD
	if _, err := c.Ping(ctx, &bankv1.PingRequest{}, grpc.Header(&header), grpc.Trailer(&trailer)); err != nil {
		t.Fatalf("Ping() = %v, want nil", err)
	}
	if got, want := header.Get("x-echo-header"), []string{"first", "second"}; !slices.Equal(got, want) {
		t.Errorf("Ping() header x-echo-header = %q, want %q", got, want)
	}
	if got, want := trailer.Get("x-echo-trailer"), []string{"done"}; !slices.Equal(got, want) {
		t.Errorf("Ping() trailer x-echo-trailer = %q, want %q", got, want)
	}
}

func TestBankDeadlines(t *testing.T) {
	top := bankEnv(t)
	c := bankv1.NewBankServiceClient(dial(t, top.gw.grpcAddr))
	tests := []struct {
		name        string
		ctx         func(t *testing.T) context.Context
		minDuration time.Duration
		maxDuration time.Duration
	}{
		{"client deadline expires at the backend", func(t *testing.T) context.Context { return timeout(t, 300*time.Millisecond) }, 250 * time.Millisecond, 2 * time.Second},
		{"route timeout without a client deadline", func(t *testing.T) context.Context {
			// No deadline: the route's timeout (1s) applies. The cancel
			// after 10s only bounds the test if the gateway fails to.
			ctx, cancel := context.WithCancel(context.Background())
			stop := time.AfterFunc(10*time.Second, cancel)
			t.Cleanup(func() { stop.Stop(); cancel() })
			return ctx
		}, 900 * time.Millisecond, 4 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// Lines of Ping calls that ended early: the gateway usually wins the
			// race between the two sides' timers, so the backend sees Canceled
			// rather than DeadlineExceeded; either shows the deadline reached it.
			ended := func() []map[string]any {
				var out []map[string]any
				for _, rec := range top.backend.logs() {
					if matches(rec, []string{"msg", "call", "grpc.method", "/examples.bank.v1.BankService/Ping"}) &&
						(rec["grpc.code"] == "DeadlineExceeded" || rec["grpc.code"] == "Canceled") {
						out = append(out, rec)
					}
				}
				return out
			}
			before := len(ended())
			ctx := metadata.AppendToOutgoingContext(tt.ctx(t), "x-bank-delay", "5s")
			start := time.Now()
			_, err := c.Ping(ctx, &bankv1.PingRequest{})
			elapsed := time.Since(start)
			if got, want := status.Code(err), codes.DeadlineExceeded; got != want {
				t.Fatalf("Ping(x-bank-delay 5s) = %v, want code %v", err, want)
			}
			if elapsed < tt.minDuration || elapsed > tt.maxDuration {
				t.Errorf("Ping(x-bank-delay 5s) took %v, want %v to %v", elapsed, tt.minDuration, tt.maxDuration)
			}
			// The backend's call ended at the deadline too, not after its delay.
			deadline := time.Now().Add(5 * time.Second)
			for len(ended()) == before && time.Now().Before(deadline) {
				time.Sleep(10 * time.Millisecond)
			}
			recs := ended()
			if len(recs) != before+1 {
				t.Fatalf("bank-backend Ping lines ending DeadlineExceeded or Canceled = %d, want %d; output:\n%s", len(recs), before+1, top.backend.out)
			}
			rec := recs[before]
			if ms, _ := rec["duration_ms"].(float64); ms > float64(tt.maxDuration.Milliseconds()) {
				t.Errorf("bank-backend Ping duration_ms = %v, want at most %d", ms, tt.maxDuration.Milliseconds())
			}
		})
	}
}

func TestProtectedMethodsRefused(t *testing.T) {
	top := bankEnv(t)
	c := bankv1.NewBankServiceClient(dial(t, top.gw.grpcAddr))
	tests := []struct {
		method string
		call   func(ctx context.Context) error
	}{
		{"GetAccount", func(ctx context.Context) error {
			_, err := c.GetAccount(ctx, &bankv1.GetAccountRequest{Name: "accounts/alice-checking"})
			return err
		}},
		{"CreateTransfer", func(ctx context.Context) error {
			_, err := c.CreateTransfer(ctx, &bankv1.CreateTransferRequest{Account: "accounts/alice-checking", AmountCents: 1, Currency: "EUR"})
			return err
		}},
		{"WatchTransactions", func(ctx context.Context) error { // server streaming
			s, err := c.WatchTransactions(ctx, &bankv1.WatchTransactionsRequest{Account: "accounts/alice-checking"})
			if err != nil {
				return err
			}
			_, err = s.Recv()
			return err
		}},
		{"ImportTransactions", func(ctx context.Context) error { // client streaming
			s, err := c.ImportTransactions(ctx)
			if err != nil {
				return err
			}
			_ = s.Send(&bankv1.ImportTransactionsRequest{}) // io.EOF once refused; the status follows
			_, err = s.CloseAndRecv()
			return err
		}},
		{"QuoteStream", func(ctx context.Context) error { // bidi streaming
			s, err := c.QuoteStream(ctx)
			if err != nil {
				return err
			}
			_ = s.Send(&bankv1.QuoteStreamRequest{Pair: "EURUSD"})
			_, err = s.Recv()
			return err
		}},
	}
	for _, tt := range tests {
		t.Run(tt.method, func(t *testing.T) {
			err := tt.call(timeout(t, 5*time.Second))
			if got, want := status.Code(err), codes.Unauthenticated; got != want {
				t.Fatalf("%s() = %v, want code %v", tt.method, err, want)
			}
			if got, want := status.Convert(err).Message(), "missing or invalid credentials"; got != want {
				t.Errorf("%s() message = %q, want %q", tt.method, got, want)
			}
			full := "/examples.bank.v1.BankService/" + tt.method
			if n := top.backend.countLogs("grpc.method", full); n != 0 {
				t.Errorf("bank-backend log lines for %s = %d, want 0 (the call must not be forwarded)", full, n)
			}
		})
	}
}

func TestBackendDown(t *testing.T) {
	tests := []struct {
		name string
		// backend returns the address to route to, and what to do once the
		// gateway runs to take the backend down (nil: it is down already).
		backend func(t *testing.T) (string, func(t *testing.T, g *gateway))
	}{
		{"stopped after serving", func(t *testing.T) (string, func(*testing.T, *gateway)) {
			b := newBackend(t, "bank-backend")
			return b.addr, func(t *testing.T, g *gateway) {
				c := bankv1.NewBankServiceClient(dial(t, g.grpcAddr))
				if _, err := c.Ping(timeout(t, 5*time.Second), &bankv1.PingRequest{}); err != nil {
					t.Fatalf("Ping() before the backend stops = %v, want nil", err)
				}
				if code, err := b.stop(10 * time.Second); err != nil || code != 0 {
					t.Fatalf("stop bank-backend = %d, %v, want 0, nil", code, err)
				}
			}
		}},
		{"never listening", func(t *testing.T) (string, func(*testing.T, *gateway)) { return closedAddr(t), nil }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr, down := tt.backend(t)
			g := newGateway(t, gatewayConfig{routes: []route{{service: bankService, backend: addr}}})
			if down != nil {
				down(t, g)
			}
			c := bankv1.NewBankServiceClient(dial(t, g.grpcAddr))
			start := time.Now()
			_, err := c.Ping(timeout(t, 10*time.Second), &bankv1.PingRequest{})
			elapsed := time.Since(start)
			if got, want := status.Code(err), codes.Unavailable; got != want {
				t.Fatalf("Ping() with the backend down = %v, want code %v", err, want)
			}
			if got, want := status.Convert(err).Message(), "backend unavailable"; got != want {
				t.Errorf("Ping() with the backend down message = %q, want %q", got, want)
			}
			if elapsed > 3*time.Second {
				t.Errorf("Ping() with the backend down took %v, want under 3s (deadline 10s)", elapsed)
			}
		})
	}
}

// closedAddr returns a loopback address where nothing listens.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// TestBackendRequiresClientCertificate shows the gateway→backend hop is
// mTLS: the backend refuses a client without the gateway's certificate.
func TestBackendRequiresClientCertificate(t *testing.T) {
	top := bankEnv(t)
	_, err := bankv1.NewBankServiceClient(dial(t, top.backend.addr)).Ping(timeout(t, 5*time.Second), &bankv1.PingRequest{})
	if got, want := status.Code(err), codes.Unavailable; got != want {
		t.Errorf("Ping(backend, no client certificate) = %v, want code %v", err, want)
	}
}
