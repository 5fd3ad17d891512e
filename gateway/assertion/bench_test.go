package assertion_test

import (
	"context"
	"testing"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/interceptors/backend"
)

// BenchmarkSign measures signing one assertion, the gateway's per-call
// cost (every forwarded call signs afresh; see the package doc).
func BenchmarkSign(b *testing.B) {
	for _, alg := range []string{assertion.EdDSA, assertion.ES256} {
		b.Run(alg, func(b *testing.B) {
			s := newSigner(b, assertion.Config{Issuer: gatewayID, Algorithm: alg})
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Sign(alice); err != nil {
					b.Fatalf("Sign() = %v, want nil", err)
				}
			}
		})
	}
}

// BenchmarkAttach adds the outgoing metadata to Sign.
func BenchmarkAttach(b *testing.B) {
	s := newSigner(b, assertion.Config{Issuer: gatewayID})
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Attach(ctx, alice); err != nil {
			b.Fatalf("Attach() = %v, want nil", err)
		}
	}
}

// BenchmarkSignVerify is the round trip: the gateway signs, the backend
// verifies.
func BenchmarkSignVerify(b *testing.B) {
	s := newSigner(b, assertion.Config{Issuer: gatewayID})
	v, err := backend.New(backend.Config{Issuer: gatewayID, JWKS: s.JWKS()})
	if err != nil {
		b.Fatalf("backend.New() = %v", err)
	}
	defer v.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tok, err := s.Sign(alice)
		if err != nil {
			b.Fatalf("Sign() = %v, want nil", err)
		}
		if _, err := v.Verify(ctx, method, tok); err != nil {
			b.Fatalf("Verify() = %v, want nil", err)
		}
	}
}
