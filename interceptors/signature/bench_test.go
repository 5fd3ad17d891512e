package signature_test

import (
	"context"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/interceptors/signature"
)

// alwaysFresh is a NonceCache that remembers nothing, so that one signed
// call can be verified again and again.
type alwaysFresh struct{}

func (alwaysFresh) Add(context.Context, [32]byte, time.Duration) (bool, error) { return true, nil }

func BenchmarkUnaryServerInterceptor(b *testing.B) {
	for _, id := range []string{"ed", "ec", "mac"} {
		b.Run(id, func(b *testing.B) {
			c := newClock()
			v := newVerifier(b, c, signature.WithNonceCache(alwaysFresh{}))
			md := signedMD(b, newSigner(b, id, c), unaryMethod, transfer)
			ctx := metadata.NewIncomingContext(context.Background(), md)
			intercept := v.UnaryServerInterceptor()
			info := &grpc.UnaryServerInfo{FullMethod: unaryMethod}
			handler := func(context.Context, any) (any, error) { return nil, nil }
			b.ReportAllocs()
			for b.Loop() {
				if _, err := intercept(ctx, transfer, info, handler); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkMemoryNonceCache(b *testing.B) {
	c := signature.NewMemoryNonceCache(1 << 20)
	ctx := context.Background()
	var k [32]byte
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		i++
		k[0], k[1], k[2], k[3] = byte(i), byte(i>>8), byte(i>>16), byte(i>>24)
		if _, err := c.Add(ctx, k, time.Millisecond); err != nil {
			b.Fatal(err)
		}
	}
}
