package gateway

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/policy"
)

// TestStripInternalKeys: every internal key a stage reads, the signature
// keys included, is removed from a client's metadata before the chain
// sees it (a gRPC client cannot claim a verified REST signature or a
// signature refusal of its choosing).
func TestStripInternalKeys(t *testing.T) {
	for _, k := range []string{policy.KeySignatureKey, policy.KeySignatureFailure, policy.KeyTransport, policy.KeyClientAddr} {
		md := metadata.Pairs(k, "spoofed", "x-other", "kept")
		ctx := stripInternal(metadata.NewIncomingContext(context.Background(), md))
		if v := metadata.ValueFromIncomingContext(ctx, k); len(v) != 0 {
			t.Errorf("%s after stripInternal = %v, want removed", k, v)
		}
		if v := metadata.ValueFromIncomingContext(ctx, "x-other"); len(v) != 1 {
			t.Errorf("x-other after stripInternal = %v, want kept", v)
		}
	}
}
