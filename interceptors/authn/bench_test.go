package authn

import (
	"context"
	"testing"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/policy"
)

// The benchmarks run the same ES256 token through the cache (hit), the
// full verification without the cache (miss), go-jose's signature check
// alone (raw), and the whole stream interceptor (cached).

func BenchmarkCacheHit(b *testing.B) {
	a, _, tok := newBenchAuth(b)
	ctx := context.Background()
	if _, why := a.token(ctx, tok); why != "" {
		b.Fatalf("token() = %q, want accepted", why)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, why := a.token(ctx, tok); why != "" {
			b.Fatal(why)
		}
	}
}

func BenchmarkCacheMiss(b *testing.B) {
	a, _, tok := newBenchAuth(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		e, why := a.token(ctx, tok)
		if why != "" {
			b.Fatal(why)
		}
		a.cache.remove(tok, e)
	}
}

func BenchmarkRawVerify(b *testing.B) {
	a, iss, tok := newBenchAuth(b)
	key := a.issuers[iss.Issuer()].keys.Load().byKID[iss.KeyID()][0].pub
	algs := []jose.SignatureAlgorithm{jose.ES256}
	b.ReportAllocs()
	for b.Loop() {
		jws, err := jose.ParseSignedCompact(tok, algs)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := jws.Verify(key); err != nil {
			b.Fatal(err)
		}
	}
}

type benchStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *benchStream) Context() context.Context { return s.ctx }

func BenchmarkInterceptorCachedJWT(b *testing.B) {
	m := &policy.Method{FullMethod: "/bank.v1.Bank/Transfer", Credentials: policy.AnyCredential}
	a, _, tok := newBenchAuth(b, WithMethodFunc(func(context.Context) (*policy.Method, bool) { return m, true }))
	ctx := metadata.NewIncomingContext(context.Background(), metadata.Pairs(
		"authorization", "Bearer "+tok, "content-type", "application/grpc", "user-agent", "bench", "x-request-id", "r1"))
	b.Run("stream", func(b *testing.B) {
		intercept := a.StreamServerInterceptor()
		ss := &benchStream{ctx: ctx}
		info := &grpc.StreamServerInfo{FullMethod: m.FullMethod}
		handler := func(_ any, ss grpc.ServerStream) error {
			if _, ok := FromContext(ss.Context()); !ok {
				b.Fatal("no principal")
			}
			return nil
		}
		b.ReportAllocs()
		for b.Loop() {
			if err := intercept(nil, ss, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("unary", func(b *testing.B) {
		intercept := a.UnaryServerInterceptor()
		info := &grpc.UnaryServerInfo{FullMethod: m.FullMethod}
		handler := func(ctx context.Context, _ any) (any, error) { return nil, nil }
		b.ReportAllocs()
		for b.Loop() {
			if _, err := intercept(ctx, nil, info, handler); err != nil {
				b.Fatal(err)
			}
		}
	})
}
