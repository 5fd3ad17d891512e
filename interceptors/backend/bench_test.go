package backend_test

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/interceptors/backend/backendtest"
)

// BenchmarkVerify measures the verification of one assertion, the whole
// per-call cost of the interceptor on a backend (no cache: every call
// carries a fresh assertion).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		for _, replay := range []bool{false, true} {
			name := alg
			if replay {
				name += "/replay"
			}
			b.Run(name, func(b *testing.B) {
				gw := backendtest.New(gatewayID, alg)
				var opts []backend.Option
				if replay {
					opts = append(opts, backend.WithReplayProtection(1<<20))
				}
				v := newVerifier(b, staticConfig(gw), opts...)
				// Distinct assertions, so that replay protection accepts each.
				toks := make([]string, 4096)
				for i := range toks {
					toks[i] = gw.Assertion(method, "alice")
				}
				intercept := v.UnaryServerInterceptor()
				info := &grpc.UnaryServerInfo{FullMethod: method}
				handler := func(context.Context, any) (any, error) { return nil, nil }
				ctxs := make([]context.Context, len(toks))
				for i, tok := range toks {
					ctxs[i] = incoming(context.Background(), backend.MetadataKey, tok)
				}
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; b.Loop(); i++ {
					if replay && i == len(toks) {
						b.StopTimer()
						for j := range toks {
							toks[j] = gw.Assertion(method, "alice")
							ctxs[j] = incoming(context.Background(), backend.MetadataKey, toks[j])
						}
						i = 0
						b.StartTimer()
					}
					if _, err := intercept(ctxs[i%len(ctxs)], nil, info, handler); err != nil {
						b.Fatalf("intercept() = %v, want nil", err)
					}
				}
			})
		}
	}
}
