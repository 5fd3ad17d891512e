package authn_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/netip"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/interceptors/internal/grpctest"
	"github.com/portcullis/portcullis/policy"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	idpName   = "https://idp.test"
	thirdName = "https://third.test"
	audience  = "bank"
	method    = "/bank.v1.Bank/Transfer"
)

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Method policies used across the tests.
var (
	anyCred    = &policy.Method{FullMethod: method, Credentials: policy.AnyCredential}
	jwtOnly    = &policy.Method{FullMethod: method, Credentials: policy.CredentialJWT}
	mtlsOnly   = &policy.Method{FullMethod: method, Credentials: policy.CredentialMTLS}
	noCred     = &policy.Method{FullMethod: method}
	needsMTLS  = &policy.Method{FullMethod: method, Credentials: policy.AnyCredential, RequireMTLS: true}
	needsBound = &policy.Method{FullMethod: method, Credentials: policy.AnyCredential, RequireBoundToken: true}
	restricted = &policy.Method{FullMethod: method, Credentials: policy.AnyCredential, Sensitivity: policy.SensitivityRestricted}
	public     = &policy.Method{FullMethod: method, Public: true, PublicReason: "test", Credentials: policy.AnyCredential}
)

// The method policy travels in the context under a key of the tests, the
// way resolve.FromContext would provide it in the gateway.
type methodKey struct{}

func withMethod(ctx context.Context, m *policy.Method) context.Context {
	return context.WithValue(ctx, methodKey{}, m)
}

func methodFrom(ctx context.Context) (*policy.Method, bool) {
	m, ok := ctx.Value(methodKey{}).(*policy.Method)
	return m, ok
}

// fixture is a set of issuers, certificates and API keys, and a Config
// that trusts them.
type fixture struct {
	idp, third *authntest.Issuer
	idpPath    string
	ca, rogue  *authntest.CA
	alice, bob tls.Certificate // CA-issued user certificates
	ledger     tls.Certificate // CA-issued, spiffe://bank.test/svc/ledger
	stranger   tls.Certificate // from the rogue CA
	keys       map[string]*policy.APIKey
	apiKey     map[string]string // name -> full key
	cfg        authn.Config
}

var (
	fixtureOnce sync.Once
	shared      struct {
		idp, third            *authntest.Issuer
		ca, rogue             *authntest.CA
		alice, bob, ledger, s tls.Certificate
	}
)

func newFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() {
		shared.idp = authntest.NewIssuer(idpName, "ES256")
		shared.third = authntest.NewIssuer(thirdName, "ES256")
		shared.ca, shared.rogue = authntest.NewCA("Bank Test CA"), authntest.NewCA("Rogue CA")
		shared.alice = shared.ca.Client("alice", "")
		shared.bob = shared.ca.Client("bob", "")
		shared.ledger = shared.ca.Client("ledger", "spiffe://bank.test/svc/ledger")
		shared.s = shared.rogue.Client("alice", "")
	})
	dir := t.TempDir()
	f := &fixture{
		idp: shared.idp, third: shared.third, ca: shared.ca, rogue: shared.rogue,
		alice: shared.alice, bob: shared.bob, ledger: shared.ledger, stranger: shared.s,
		idpPath: filepath.Join(dir, "idp.json"),
		keys:    map[string]*policy.APIKey{}, apiKey: map[string]string{},
	}
	thirdPath := filepath.Join(dir, "third.json")
	for _, w := range []struct {
		is   *authntest.Issuer
		path string
	}{{f.idp, f.idpPath}, {f.third, thirdPath}} {
		if err := w.is.WriteJWKS(w.path); err != nil {
			t.Fatalf("WriteJWKS(%q) = %v, want nil", w.path, err)
		}
	}
	now := time.Now()
	for name, k := range map[string]policy.APIKey{
		"good":     {Principal: "svc-reports", Kind: policy.KindService, Roles: []string{"reporter"}, Scopes: []string{"bank.accounts.read"}, Tenant: "acme"},
		"disabled": {Principal: "old", Disabled: true},
		"expired":  {Principal: "temp", ExpiresAt: now.Add(-time.Minute)},
		"future":   {Principal: "temp", ExpiresAt: now.Add(time.Hour)},
		"office":   {Principal: "office", CIDRs: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
	} {
		key, id, hash, err := policy.NewAPIKey()
		if err != nil {
			t.Fatalf("policy.NewAPIKey() = %v, want nil", err)
		}
		k.ID, k.Hash = id, hash
		f.keys[id] = &k
		f.apiKey[name] = key
	}
	f.cfg = authn.Config{
		JWT: true, APIKeys: true, MTLS: true,
		Issuers: []authn.Issuer{
			{
				Issuer: idpName, Audiences: []string{audience, "admin"}, Algorithms: []string{"ES256"},
				JWKSFile: f.idpPath, TenantClaim: "tenant", KindClaim: "kind",
			},
			{Issuer: thirdName, Audiences: []string{audience}, Algorithms: []string{"ES256"}, JWKSFile: thirdPath},
		},
	}
	return f
}

func (f *fixture) source() authn.KeySource {
	return authn.KeySourceFunc(func(id string) (*policy.APIKey, bool) {
		k, ok := f.keys[id]
		return k, ok
	})
}

// token signs the usual claims of alice for the bank audience, changed by
// edits (a nil value deletes the claim).
func (f *fixture) token(edits map[string]any) string {
	return sign(f.idp, "alice", edits)
}

func sign(is *authntest.Issuer, sub string, edits map[string]any) string {
	cl := is.Claims(sub, audience, time.Hour)
	for k, v := range edits {
		if v == nil {
			delete(cl, k)
		} else {
			cl[k] = v
		}
	}
	return is.Sign(cl)
}

// newAuth builds an Authenticator that is closed when the test ends. The
// method policy comes from withMethod.
func newAuth(t testing.TB, cfg authn.Config, keys authn.KeySource, opts ...authn.Option) *authn.Authenticator {
	t.Helper()
	a, err := authn.New(cfg, keys, append([]authn.Option{authn.WithMethodFunc(methodFrom)}, opts...)...)
	if err != nil {
		t.Fatalf("authn.New() = %v, want nil", err)
	}
	t.Cleanup(func() { _ = a.Close() })
	return a
}

// tlsPeer is a peer on a TCP address whose TLS state holds cert, verified
// (by ca) or not.
func tlsPeer(addr string, cert *tls.Certificate, verified bool) *peer.Peer {
	p := &peer.Peer{Addr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))}
	if cert == nil {
		p.AuthInfo = credentials.TLSInfo{}
		return p
	}
	st := tls.ConnectionState{PeerCertificates: []*x509.Certificate{cert.Leaf}}
	if verified {
		st.VerifiedChains = [][]*x509.Certificate{{cert.Leaf}}
	}
	p.AuthInfo = credentials.TLSInfo{State: st}
	return p
}

// outcome of one call through an interceptor used as a plain function.
type outcome struct {
	p      *policy.Principal
	hasP   bool
	called bool
	err    error
	rec    *policy.Record
}

// kinds are the two interceptors, called as plain functions.
var kinds = []struct {
	name string
	call func(ctx context.Context, a *authn.Authenticator) outcome
}{
	{"unary", func(ctx context.Context, a *authn.Authenticator) outcome {
		var o outcome
		_, o.err = a.UnaryServerInterceptor()(ctx, "req", &grpc.UnaryServerInfo{FullMethod: method},
			func(ctx context.Context, _ any) (any, error) {
				o.called = true
				o.p, o.hasP = authn.FromContext(ctx)
				return "resp", nil
			})
		return o
	}},
	{"stream", func(ctx context.Context, a *authn.Authenticator) outcome {
		var o outcome
		o.err = a.StreamServerInterceptor()(nil, grpctest.NewStream(ctx), &grpc.StreamServerInfo{FullMethod: method},
			func(_ any, ss grpc.ServerStream) error {
				o.called = true
				o.p, o.hasP = authn.FromContext(ss.Context())
				return nil
			})
		return o
	}},
}

// call runs one call with method policy m, metadata md (key, value pairs)
// and peer p (nil: none) through the interceptor kind k.
func call(ctx context.Context, a *authn.Authenticator, k int, m *policy.Method, p *peer.Peer, md ...string) outcome {
	if m != nil {
		ctx = withMethod(ctx, m)
	}
	if p != nil {
		ctx = peer.NewContext(ctx, p)
	}
	if len(md) > 0 {
		ctx = metadata.NewIncomingContext(ctx, metadata.Pairs(md...))
	}
	rec := &policy.Record{}
	ctx = policy.NewRecordContext(ctx, rec)
	o := kinds[k].call(ctx, a)
	o.rec = rec
	return o
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }
func bearer(tok string) []string             { return []string{"authorization", "Bearer " + tok} }
func apiKeyMD(key string) []string           { return []string{"x-api-key", key} }
func join(mds ...[]string) (out []string) {
	for _, m := range mds {
		out = append(out, m...)
	}
	return out
}
