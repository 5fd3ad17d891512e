package authn

import (
	"context"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/policy"
)

// The benchmarks run the same ES256 token through the cache (hit), the
// full verification without the cache (miss), go-jose's signature check
// alone (raw), both of those interleaved in one loop (the ratio), and the
// whole stream interceptor (cached).

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
	raw := rawVerifier(b, a, iss.Issuer(), iss.KeyID(), tok)
	b.ReportAllocs()
	for b.Loop() {
		raw()
	}
}

// BenchmarkMissVsRaw times a cache miss and the raw verification of the
// same token alternately in one loop, swapping their order every
// iteration, so that the host's drift (frequency, neighbours) falls on
// both alike. It reports each one's time per call and miss/raw, the
// ratio #4 bounds; the separate benchmarks above give their allocations.
func BenchmarkMissVsRaw(b *testing.B) {
	a, iss, tok := newBenchAuth(b)
	raw := rawVerifier(b, a, iss.Issuer(), iss.KeyID(), tok)
	ctx := context.Background()
	miss := func() {
		e, why := a.token(ctx, tok)
		if why != "" {
			b.Fatal(why)
		}
		a.cache.remove(tok, e)
	}
	var tMiss, tRaw time.Duration
	n := 0
	for b.Loop() {
		first, second, d1, d2 := miss, raw, &tMiss, &tRaw
		if n%2 == 1 {
			first, second, d1, d2 = raw, miss, &tRaw, &tMiss
		}
		t0 := time.Now()
		first()
		t1 := time.Now()
		second()
		*d1 += t1.Sub(t0)
		*d2 += time.Since(t1)
		n++
	}
	b.ReportMetric(float64(tMiss.Microseconds())/float64(n), "miss-µs/op")
	b.ReportMetric(float64(tRaw.Microseconds())/float64(n), "raw-µs/op")
	b.ReportMetric(float64(tMiss)/float64(tRaw), "miss/raw")
}

// rawVerifier returns go-jose's parse and signature check of tok with the
// key the Authenticator holds for kid: the floor a cache miss is held to.
func rawVerifier(b *testing.B, a *Authenticator, iss, kid, tok string) func() {
	key := a.issuers[iss].keys.Load().byKID[kid][0].pub
	algs := []jose.SignatureAlgorithm{jose.ES256}
	return func() {
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
