package authn_test

import (
	"context"
	"crypto/tls"
	"net"
	"sync"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/policy"
)

// byName returns a method func that looks the policy up by the call's full
// method name, as resolve would.
func byName(policies map[string]*policy.Method) authn.Option {
	return authn.WithMethodFunc(func(ctx context.Context) (*policy.Method, bool) {
		name, _ := grpc.Method(ctx)
		m, ok := policies[name]
		return m, ok
	})
}

// TestServer runs the interceptors in a real grpc.Server over bufconn,
// across unary, server-, client- and bidi-streaming calls.
func TestServer(t *testing.T) {
	f := newFixture(t)
	calls := grpctest.Calls()
	policies := map[string]*policy.Method{}
	for _, c := range calls {
		policies[c.Method] = &policy.Method{FullMethod: c.Method, Credentials: policy.CredentialJWT | policy.CredentialAPIKey}
	}
	a, err := authn.New(f.cfg, f.source(), byName(policies))
	if err != nil {
		t.Fatalf("authn.New() = %v, want nil", err)
	}
	defer a.Close()
	var (
		mu   sync.Mutex
		seen = map[string]*policy.Principal{}
	)
	srv := grpctest.Start(t, func(ctx context.Context) error {
		name, _ := grpc.Method(ctx)
		p, _ := authn.FromContext(ctx)
		mu.Lock()
		defer mu.Unlock()
		seen[name] = p
		return nil
	},
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor()),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()),
	)
	tok := f.token(nil)
	for _, c := range calls {
		for _, tc := range []struct {
			name   string
			md     []string
			wantID string
			want   codes.Code
		}{
			{name: "jwt", md: bearer(tok), wantID: "alice"},
			{name: "api key", md: apiKeyMD(f.apiKey["good"]), wantID: "svc-reports"},
			{name: "nothing", want: codes.Unauthenticated},
			{name: "expired api key", md: apiKeyMD(f.apiKey["expired"]), want: codes.Unauthenticated},
			{name: "bad token", md: bearer(tok + "x"), want: codes.Unauthenticated},
		} {
			t.Run(c.Name+"/"+tc.name, func(t *testing.T) {
				mu.Lock()
				delete(seen, c.Method)
				mu.Unlock()
				ctx := metadata.AppendToOutgoingContext(testContext(t), tc.md...)
				err := c.Invoke(ctx, srv.Client)
				mu.Lock()
				p, called := seen[c.Method]
				mu.Unlock()
				if status.Code(err) != tc.want {
					t.Fatalf("%s() = %v, want %v", c.Method, err, tc.want)
				}
				if tc.want != codes.OK {
					if msg := status.Convert(err).Message(); msg != refusal || called {
						t.Errorf("%s() = %q (handler called: %v), want %q and no handler", c.Method, msg, called, refusal)
					}
					return
				}
				if p == nil || p.ID != tc.wantID {
					t.Errorf("FromContext(%s()) = %+v, want ID %q", c.Method, p, tc.wantID)
				}
			})
		}
	}
}

// tlsServer serves the health service on 127.0.0.1 over TLS that asks for
// client certificates with clientAuth and trusts ca, behind the
// interceptors.
func tlsServer(t *testing.T, f *fixture, clientAuth tls.ClientAuthType, seen *atomic.Pointer[policy.Principal], opts ...authn.Option) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v, want nil", err)
	}
	a := newAuth(t, f.cfg, f.source(), opts...)
	creds := credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{f.ca.Server()},
		ClientAuth:   clientAuth,
		ClientCAs:    f.ca.Pool,
		MinVersion:   tls.VersionTLS13,
	})
	srv := grpc.NewServer(grpc.Creds(creds),
		grpc.ChainUnaryInterceptor(a.UnaryServerInterceptor(),
			func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
				p, _ := authn.FromContext(ctx)
				seen.Store(p)
				return h(ctx, req)
			}),
		grpc.ChainStreamInterceptor(a.StreamServerInterceptor()))
	healthpb.RegisterHealthServer(srv, health.NewServer())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(lis)
	}()
	t.Cleanup(func() {
		srv.Stop()
		<-done
	})
	return lis.Addr().String()
}

// dial returns a health client that presents cert (if any) to addr.
func dial(t *testing.T, f *fixture, addr string, cert *tls.Certificate) healthpb.HealthClient {
	t.Helper()
	cfg := &tls.Config{RootCAs: f.ca.Pool, ServerName: "localhost", MinVersion: tls.VersionTLS13}
	if cert != nil {
		// Send the certificate whatever CAs the server names, as an
		// attacker would (the default client sends none that does not fit).
		cfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return cert, nil }
	}
	conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(credentials.NewTLS(cfg)))
	if err != nil {
		t.Fatalf("grpc.NewClient(%s) = %v, want nil", addr, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return healthpb.NewHealthClient(conn)
}

// TestTLS checks client certificates end to end, over a real TLS listener:
// a certificate from the trusted CA authenticates and binds tokens; one
// from another CA is rejected in the handshake (client auth optional, but
// verified if given) or, where the listener does not verify, never counts.
func TestTLS(t *testing.T) {
	f := newFixture(t)
	check := healthpb.Health_Check_FullMethodName
	mtls := byName(map[string]*policy.Method{check: {FullMethod: check, Credentials: policy.AnyCredential}})
	boundOnly := byName(map[string]*policy.Method{check: {FullMethod: check, Credentials: policy.CredentialJWT, RequireBoundToken: true}})
	var seen atomic.Pointer[policy.Principal]
	verifying := tlsServer(t, f, tls.VerifyClientCertIfGiven, &seen, mtls)
	bound := tlsServer(t, f, tls.VerifyClientCertIfGiven, &seen, boundOnly)
	unverifying := tlsServer(t, f, tls.RequestClientCert, &seen, mtls)
	aliceTok := f.token(map[string]any{"cnf": authntest.CNF(f.alice.Leaf)})
	for _, tc := range []struct {
		name string
		addr string
		cert *tls.Certificate
		md   []string
		want codes.Code
		who  string // the principal's ID and whether it is bound
	}{
		{name: "trusted certificate", addr: verifying, cert: &f.ledger, who: "spiffe://bank.test/svc/ledger service mtls"},
		{name: "no certificate", addr: verifying, want: codes.Unauthenticated},
		{name: "untrusted CA", addr: verifying, cert: &f.stranger, want: codes.Unavailable},
		{name: "untrusted CA, unverifying listener", addr: unverifying, cert: &f.stranger, want: codes.Unauthenticated},
		{name: "trusted CA, unverifying listener", addr: unverifying, cert: &f.alice, want: codes.Unauthenticated},
		{name: "bound token with its certificate", addr: bound, cert: &f.alice, md: bearer(aliceTok), who: "alice user jwt bound"},
		{name: "bound token without certificate", addr: bound, md: bearer(aliceTok), want: codes.Unauthenticated},
		{name: "bound token with another certificate", addr: bound, cert: &f.bob, md: bearer(aliceTok), want: codes.Unauthenticated},
		{name: "unbound token", addr: bound, cert: &f.alice, md: bearer(f.token(nil)), want: codes.Unauthenticated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			seen.Store(nil)
			ctx := metadata.AppendToOutgoingContext(testContext(t), tc.md...)
			_, err := dial(t, f, tc.addr, tc.cert).Check(ctx, &healthpb.HealthCheckRequest{})
			if status.Code(err) != tc.want {
				t.Fatalf("Check() = %v, want %v", err, tc.want)
			}
			if tc.want != codes.OK {
				return
			}
			p := seen.Load()
			if p == nil {
				t.Fatalf("FromContext(Check()) = nil, want %s", tc.who)
			}
			got := p.ID + " " + p.Kind + " " + p.Credential.String()
			if p.Bound {
				got += " bound"
			}
			if got != tc.who || !p.MTLS || p.CertSHA256 != authntest.Thumbprint(tc.cert.Leaf) {
				t.Errorf("FromContext(Check()) = %s (mtls %v, cert %s), want %s with the client's certificate", got, p.MTLS, p.CertSHA256, tc.who)
			}
		})
	}
}
