package proxy_test

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	testpb "google.golang.org/grpc/interop/grpc_testing"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/proxy"
)

func TestPoolReusesConnection(t *testing.T) {
	e := newEnv(t, envConfig{})
	const calls = 10
	var wg sync.WaitGroup
	errs := make(chan error, calls*len(rpcs))
	for range calls {
		for _, r := range rpcs {
			wg.Go(func() { errs <- r.run(testContext(t), e.client) })
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("call = %v", err)
		}
	}
	if got := e.dials.Load(); got != 1 {
		t.Errorf("backend dials after %d calls = %d, want 1", calls*len(rpcs), got)
	}
	a, errA := e.pool.Conn(proxy.Target{Address: e.backendAddr})
	b, errB := e.pool.Conn(proxy.Target{Address: e.backendAddr})
	if errA != nil || errB != nil || a != b {
		t.Errorf("Conn() twice = %p, %v and %p, %v, want the same connection", a, errA, b, errB)
	}
	c, err := e.pool.Conn(proxy.Target{Address: e.backendAddr, ServerName: "other.example"})
	if err != nil || c == a {
		t.Errorf("Conn(other ServerName) = %p, %v, want a new connection", c, err)
	}
}

func TestPoolConnErrors(t *testing.T) {
	credErr := errors.New("no certificate")
	tests := []struct {
		name    string
		opts    []proxy.PoolOption
		target  proxy.Target
		close   bool
		wantErr string
		wantIs  error
	}{
		{"no address", nil, proxy.Target{}, false, "proxy: target has no address", nil},
		{"credentials fail", []proxy.PoolOption{proxy.WithTransportCredentials(func(proxy.Target) (credentials.TransportCredentials, error) {
			return nil, credErr
		})}, proxy.Target{Address: "127.0.0.1:1"}, false, `proxy: credentials for "127.0.0.1:1"`, credErr},
		{"bad target", nil, proxy.Target{Address: "::bad::%%"}, false, "proxy: dial", nil},
		{"closed", nil, proxy.Target{Address: "127.0.0.1:1"}, true, "proxy: pool closed", proxy.ErrClosed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := proxy.NewPool(tt.opts...)
			defer p.Close()
			if tt.close {
				if err := p.Close(); err != nil {
					t.Fatalf("Close() = %v", err)
				}
			}
			_, err := p.Conn(tt.target)
			if err == nil || !strings.HasPrefix(err.Error(), tt.wantErr) {
				t.Fatalf("Conn(%+v) = %v, want prefix %q", tt.target, err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("Conn(%+v) = %v, want errors.Is %v", tt.target, err, tt.wantIs)
			}
		})
	}
}

func TestPoolDefaultsToTLS(t *testing.T) {
	lis := listen(t)
	srv := grpc.NewServer() // plaintext
	testpb.RegisterTestServiceServer(srv, newBackend())
	serve(t, srv, lis)

	p := proxy.NewPool()
	defer p.Close()
	cc, err := p.Conn(proxy.Target{Address: lis.Addr().String(), ServerName: "orders.internal"})
	if err != nil {
		t.Fatalf("Conn() = %v", err)
	}
	// Without WithTransportCredentials the pool speaks TLS, which a
	// plaintext backend cannot answer: the call fails instead of going out
	// in the clear.
	_, err = testpb.NewTestServiceClient(cc).EmptyCall(testContext(t), &testpb.Empty{})
	if got := status.Code(err); got != codes.Unavailable {
		t.Errorf("EmptyCall(plaintext backend) = %v, want Unavailable", err)
	}
}
