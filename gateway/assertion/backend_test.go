package assertion_test

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/grpc/test/bufconn"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/policy"
)

const (
	check = "/grpc.health.v1.Health/Check"
	watch = "/grpc.health.v1.Health/Watch"
)

// admin serves s's key set on 127.0.0.1 as the admin listener does, and
// counts fetches.
func admin(t *testing.T, s *assertion.Signer) (string, *atomic.Int64) {
	t.Helper()
	var n atomic.Int64
	mux := http.NewServeMux()
	mux.Handle(assertion.JWKSPath, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		s.ServeHTTP(w, r)
	}))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL + assertion.JWKSPath, &n
}

// startBackend serves the health service behind v on bufconn and returns
// a client of it.
func startBackend(t *testing.T, v *backend.Verifier) healthpb.HealthClient {
	t.Helper()
	lis := bufconn.Listen(1 << 20)
	srv := grpc.NewServer(
		grpc.ChainUnaryInterceptor(v.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(v.StreamServerInterceptor()),
	)
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(lis) }()
	conn, err := grpc.NewClient("passthrough:///bufconn",
		grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return lis.DialContext(ctx) }),
		grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient() = %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(); srv.Stop(); <-done })
	return healthpb.NewHealthClient(conn)
}

// forward calls the backend as the gateway's director would: with an
// assertion for the call attached to the outgoing context (tok "" signs
// a fresh one with s; "-" sends none).
func forward(ctx context.Context, s *assertion.Signer, c healthpb.HealthClient, fullMethod, tok string) error {
	switch tok {
	case "":
		rec := &policy.Record{Principal: &policy.Principal{ID: "alice", Kind: policy.KindUser, Credential: policy.CredentialJWT}}
		var err error
		if ctx, err = s.Attach(ctx, assertion.For(rec, fullMethod, "req-1")); err != nil {
			return err
		}
	case "-":
	default:
		ctx = metadata.AppendToOutgoingContext(ctx, backend.MetadataKey, tok)
	}
	if fullMethod == watch {
		st, err := c.Watch(ctx, &healthpb.HealthCheckRequest{})
		if err != nil {
			return err
		}
		_, err = st.Recv()
		return err
	}
	_, err := c.Check(ctx, &healthpb.HealthCheckRequest{})
	return err
}

// TestBackend runs a Signer against a backend verifying with the key set
// the Signer publishes over HTTP, through a key rotation under load.
func TestBackend(t *testing.T) {
	s := newSigner(t, assertion.Config{Issuer: gatewayID})
	url, fetches := admin(t, s)
	v, err := backend.New(backend.Config{Issuer: gatewayID, JWKSURL: url, RefreshInterval: time.Hour, MinRefreshInterval: time.Hour})
	if err != nil {
		t.Fatalf("backend.New() = %v", err)
	}
	t.Cleanup(func() { _ = v.Close() })
	c := startBackend(t, v)

	for _, m := range []string{check, watch} {
		if err := forward(testContext(t), s, c, m, ""); err != nil {
			t.Errorf("%s(through the gateway) = %v, want nil", m, err)
		}
		if err := forward(testContext(t), s, c, m, "-"); status.Code(err) != codes.Unauthenticated {
			t.Errorf("%s(direct) = %v, want Unauthenticated", m, err)
		}
	}
	old, _ := s.Sign(assertion.Assertion{Subject: "alice", Kind: "user", Method: check})
	oldKID := s.KeyID()

	// Rotation under load: no call fails, one fetch serves them all.
	var failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := forward(testContext(t), s, c, check, ""); err != nil {
					failed.Add(1)
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	if _, err := s.Rotate(); err != nil {
		t.Fatalf("Rotate() = %v", err)
	}
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("calls refused during rotation = %d, want 0", n)
	}
	if n := fetches.Load(); n != 2 {
		t.Errorf("JWKS fetches = %d, want 2 (start, then one for the new kid)", n)
	}
	if err := forward(testContext(t), s, c, check, old); err != nil {
		t.Errorf("Check(assertion of the previous key) = %v, want nil until retired", err)
	}

	// Retired: once the backend re-reads the set, the old key is refused.
	v2, err := backend.New(backend.Config{Issuer: gatewayID, JWKSURL: url, RefreshInterval: 20 * time.Millisecond})
	if err != nil {
		t.Fatalf("backend.New() = %v", err)
	}
	t.Cleanup(func() { _ = v2.Close() })
	c2 := startBackend(t, v2)
	if err := forward(testContext(t), s, c2, check, old); err != nil {
		t.Fatalf("Check(assertion of the previous key) = %v, want nil until retired", err)
	}
	if err := s.Retire(oldKID); err != nil {
		t.Fatalf("Retire() = %v", err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for forward(testContext(t), s, c2, check, old) == nil {
		if time.Now().After(deadline) {
			t.Fatal("Check(assertion of a retired key) still accepted after 5s, want Unauthenticated")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := forward(testContext(t), s, c2, check, ""); err != nil {
		t.Errorf("Check(assertion of the current key) = %v, want nil", err)
	}
}
