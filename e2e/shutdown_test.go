package e2e

import (
	"context"
	"errors"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// SIGTERM makes the gateway drain: listeners close at once, /readyz turns
// 503, calls in flight finish within shutdown_timeout, then it exits 0.

// inFlight starts a call and returns once the backend is handling it; the
// returned function waits for the call's end and returns its error.
type inFlight func(t *testing.T, g *gateway, id string) func() error

func unaryInFlight(delay string) inFlight {
	return func(t *testing.T, g *gateway, id string) func() error {
		c := bankv1.NewBankServiceClient(dial(t, g.grpcAddr))
		ctx := metadata.AppendToOutgoingContext(timeout(t, 30*time.Second), "x-e2e-call-id", id, "x-e2e-delay", delay)
		errc := make(chan error, 1)
		go func() {
			_, err := c.Ping(ctx, &bankv1.PingRequest{})
			errc <- err
		}()
		if _, err := interopEnv(t).backend.waitLog(5*time.Second, "msg", "call started", "call_id", id); err != nil {
			t.Fatal(err)
		}
		return func() error { return <-errc }
	}
}

// streamInFlight opens a server stream of n messages, interval apart, and
// returns once the first has arrived; the wait function checks the rest.
func streamInFlight(n int, interval time.Duration) inFlight {
	return func(t *testing.T, g *gateway, id string) func() error {
		c := testpb.NewTestServiceClient(dial(t, g.grpcAddr))
		ctx := metadata.AppendToOutgoingContext(timeout(t, 30*time.Second), "x-e2e-call-id", id)
		params := sizes(interval, make([]int32, n)...)
		params[0].IntervalUs = 0
		s, err := c.StreamingOutputCall(ctx, &testpb.StreamingOutputCallRequest{ResponseParameters: params})
		if err != nil {
			t.Fatalf("StreamingOutputCall() = %v", err)
		}
		if _, err := s.Recv(); err != nil {
			t.Fatalf("StreamingOutputCall() first Recv() = %v", err)
		}
		return func() error {
			got, err := recvSizes(s)
			if err == nil && len(got) != n-1 {
				return errors.New("stream ended early")
			}
			return err
		}
	}
}

func TestGracefulShutdown(t *testing.T) {
	top := interopEnv(t)
	tests := []struct {
		name string
		call inFlight
	}{
		{"unary in flight", unaryInFlight("2500ms")},
		{"server stream in flight", streamInFlight(6, 400*time.Millisecond)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g := newGateway(t, interopConfig(top.backend.addr))
			wait := tt.call(t, g, "shutdown-"+t.Name())
			signalled := time.Now()
			if err := g.signal(syscall.SIGTERM); err != nil {
				t.Fatalf("SIGTERM: %v", err)
			}
			waitRefused(t, g.grpcAddr)
			waitRefused(t, g.httpAddr)
			_, err := bankv1.NewBankServiceClient(dial(t, g.grpcAddr)).Ping(timeout(t, 2*time.Second), &bankv1.PingRequest{})
			if got, want := status.Code(err), codes.Unavailable; got != want {
				t.Errorf("Ping() on a new connection while draining = %v, want code %v", err, want)
			}
			if code, body, err := httpsGet(g.adminAddr, "/readyz"); err != nil || code != http.StatusServiceUnavailable {
				t.Errorf("GET /readyz while draining = %d %q, %v, want 503", code, body, err)
			}
			if err := wait(); err != nil {
				t.Errorf("call in flight during shutdown = %v, want it to complete", err)
			}
			code, err := g.wait(10 * time.Second)
			if err != nil || code != 0 {
				t.Errorf("gateway exit = %d, %v, want 0; output:\n%s", code, err, g.out)
			}
			if elapsed := time.Since(signalled); elapsed > 5*time.Second {
				t.Errorf("shutdown took %v, want under shutdown_timeout 5s", elapsed)
			}
			if _, err := g.waitLog(time.Second, "msg", "portcullis gateway stopped"); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestShutdownTimeoutCancelsCalls(t *testing.T) {
	top := interopEnv(t)
	cfg := interopConfig(top.backend.addr)
	cfg.shutdownTimeout = "1s"
	g := newGateway(t, cfg)
	id := "shutdown-timeout-" + t.Name()
	wait := unaryInFlight("20s")(t, g, id)
	signalled := time.Now()
	if err := g.signal(syscall.SIGTERM); err != nil {
		t.Fatalf("SIGTERM: %v", err)
	}
	err := wait()
	if elapsed := time.Since(signalled); err == nil || elapsed > 4*time.Second {
		t.Errorf("Ping(x-e2e-delay 20s) after SIGTERM = %v after %v, want an error within shutdown_timeout 1s (+3s slack)", err, elapsed)
	}
	if got, want := status.Code(err), codes.Unavailable; got != want {
		t.Errorf("Ping(x-e2e-delay 20s) after SIGTERM = %v, want code %v", err, want)
	}
	// The backend's call is cancelled with it.
	if rec, err := top.backend.waitLog(5*time.Second, "msg", "call", "call_id", id); err != nil {
		t.Error(err)
	} else if got, want := rec["grpc.code"], "Canceled"; got != want {
		t.Errorf("interopserver grpc.code of %s = %v, want %v", id, got, want)
	}
	// Cutting calls short is a failed graceful shutdown: exit status 1.
	if code, err := g.wait(5 * time.Second); err != nil || code != 1 {
		t.Errorf("gateway exit = %d, %v, want 1; output:\n%s", code, err, g.out)
	}
	if _, err := g.waitLog(time.Second, "msg", "shutdown deadline reached; cancelling remaining calls"); err != nil {
		t.Error(err)
	}
}

// waitRefused polls until a TCP connection to addr is refused.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		cancel()
		if err != nil {
			return
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Errorf("Dial(%s) after SIGTERM = connected for 3s, want connection refused", addr)
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}
