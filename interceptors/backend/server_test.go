package backend_test

import (
	"context"
	"crypto/ed25519"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/interceptors/backend/backendtest"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
)

// seenAssertions records, per method, the assertion the handler saw.
type seenAssertions struct {
	mu sync.Mutex
	m  map[string]*backend.Assertion
}

func (s *seenAssertions) hook(ctx context.Context) error {
	name, _ := grpc.Method(ctx)
	a, _ := backend.FromContext(ctx)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.m == nil {
		s.m = map[string]*backend.Assertion{}
	}
	s.m[name] = a
	return nil
}

func (s *seenAssertions) take(name string) (*backend.Assertion, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.m[name]
	delete(s.m, name)
	return a, ok
}

// startBackend serves the TestService behind v's interceptors on bufconn.
func startBackend(t *testing.T, v *backend.Verifier) (*grpctest.Server, *seenAssertions) {
	t.Helper()
	seen := &seenAssertions{}
	srv := grpctest.Start(t, seen.hook,
		grpc.ChainUnaryInterceptor(v.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(v.StreamServerInterceptor()),
	)
	return srv, seen
}

// TestServer runs the interceptors in a real grpc.Server over bufconn,
// across unary, server-, client- and bidi-streaming calls: a backend
// refuses direct and forged calls and accepts the gateway's.
func TestServer(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	rogue := backendtest.New(gatewayID, "EdDSA")
	v := newVerifier(t, staticConfig(gw), backend.WithReplayProtection(1000))
	srv, seen := startBackend(t, v)
	pub := gw.PrivateKey().Public().(ed25519.PublicKey)
	replayed := map[string]string{} // method -> an assertion already used once

	for _, call := range grpctest.Calls() {
		claims := func(edit func(map[string]any)) map[string]any {
			c := gw.Claims(call.Method, "alice", 30*time.Second)
			if edit != nil {
				edit(c)
			}
			return c
		}
		now := time.Now()
		replayed[call.Method] = gw.Sign(claims(nil))
		tests := []struct {
			name      string
			assertion string // "" sends none
			want      codes.Code
		}{
			{"valid", gw.Sign(claims(nil)), codes.OK},
			{"first use", replayed[call.Method], codes.OK},
			{"replayed jti", replayed[call.Method], codes.Unauthenticated},
			{"direct call, no assertion", "", codes.Unauthenticated},
			{"expired", gw.Sign(claims(func(c map[string]any) {
				c["iat"], c["exp"] = now.Add(-2*time.Minute).Unix(), now.Add(-time.Minute).Unix()
			})), codes.Unauthenticated},
			{"other audience", gw.Sign(claims(func(c map[string]any) { c["aud"] = "examples.bank.v1.BankService" })), codes.Unauthenticated},
			{"other method", gw.Sign(claims(func(c map[string]any) { c["method"] = "/grpc.testing.TestService/EmptyCall" })), codes.Unauthenticated},
			{"untrusted key", rogue.Sign(claims(nil)), codes.Unauthenticated},
			{"alg none", unsigned(t, gw.KeyID(), claims(nil)), codes.Unauthenticated},
			{"HS256 with the public key", backendtest.SignWith("HS256", gw.KeyID(), backend.TokenType, []byte(pub), claims(nil)), codes.Unauthenticated},
		}
		for _, tt := range tests {
			t.Run(call.Name+"/"+tt.name, func(t *testing.T) {
				ctx := testContext(t)
				if tt.assertion != "" {
					ctx = metadata.AppendToOutgoingContext(ctx, backend.MetadataKey, tt.assertion)
				}
				err := call.Invoke(ctx, srv.Client)
				if status.Code(err) != tt.want {
					t.Fatalf("%s(%s) = %v, want %v", call.Method, tt.name, err, tt.want)
				}
				a, ran := seen.take(call.Method)
				if tt.want != codes.OK {
					if msg := status.Convert(err).Message(); msg != refusedMessage {
						t.Errorf("%s(%s) message = %q, want %q", call.Method, tt.name, msg, refusedMessage)
					}
					if ran {
						t.Errorf("%s(%s): handler ran, want not called", call.Method, tt.name)
					}
					return
				}
				if a == nil || a.Subject != "alice" || a.Method != call.Method || a.Audience != "grpc.testing.TestService" {
					t.Errorf("%s(%s): handler saw %+v, want alice's assertion for the call", call.Method, tt.name, a)
				}
			})
		}
	}
}

// TestServerExempt lets an exempt service through without an assertion.
func TestServerExempt(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	v := newVerifier(t, staticConfig(gw), backend.WithExemptMethods("/grpc.testing.TestService/UnaryCall"))
	srv, seen := startBackend(t, v)
	for _, call := range grpctest.Calls() {
		t.Run(call.Name, func(t *testing.T) {
			want := codes.Unauthenticated
			if call.Method == "/grpc.testing.TestService/UnaryCall" {
				want = codes.OK
			}
			if err := call.Invoke(testContext(t), srv.Client); status.Code(err) != want {
				t.Fatalf("%s() = %v, want %v", call.Method, err, want)
			}
			if a, _ := seen.take(call.Method); a != nil {
				t.Errorf("%s(): handler saw %+v, want no assertion", call.Method, a)
			}
		})
	}
}

func TestExemptMethods(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	v := newVerifier(t, staticConfig(gw), backend.WithExemptMethods("/grpc.health.v1.Health/*", "/x.y.Z/Get"))
	for _, tt := range []struct {
		method string
		want   codes.Code
	}{
		{"/grpc.health.v1.Health/Check", codes.OK},
		{"/grpc.health.v1.Health/Watch", codes.OK},
		{"/x.y.Z/Get", codes.OK},
		{"/x.y.Z/Put", codes.Unauthenticated},
		{"/grpc.health.v1.HealthX/Check", codes.Unauthenticated},
		{method, codes.Unauthenticated},
	} {
		if _, err := callUnary(testContext(t), v, tt.method); status.Code(err) != tt.want {
			t.Errorf("intercept(%s) = %v, want %v", tt.method, err, tt.want)
		}
	}
	for _, bad := range []string{"grpc.health.v1.Health/Check", "/grpc.health.v1.Health", "/*", "*"} {
		if _, err := backend.New(staticConfig(gw), backend.WithExemptMethods(bad)); err == nil {
			t.Errorf("New(WithExemptMethods(%q)) = nil error, want an error", bad)
		}
	}
}
