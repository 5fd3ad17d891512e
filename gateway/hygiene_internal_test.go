package gateway

import (
	"context"
	"fmt"
	"testing"

	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/tap"

	"github.com/portcullis/portcullis/gateway/inproc"
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

// TestLimitMetadataStrips: the tap removes a client's internal keys from
// grpc-go's map in place and hands the stages that map, so the strip stage
// passes the call on without copying (and allocating) again; a call from
// the gateway's own in-memory front keeps its keys.
func TestLimitMetadataStrips(t *testing.T) {
	md := metadata.Pairs(policy.KeyClientAddr, "10.1.2.3:5", policy.KeyTransport, policy.TransportHTTP, "x-other", "kept")
	ctx, err := limitMetadata(context.Background(), &tap.Info{FullMethodName: "/s/M", Header: md})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := md[policy.KeyClientAddr]; ok {
		t.Errorf("tap left %s in the stream's metadata: %v", policy.KeyClientAddr, md)
	}
	if !policy.IncomingStripped(ctx) {
		t.Fatal("tap context not marked stripped")
	}
	for _, k := range []string{policy.KeyClientAddr, policy.KeyTransport} {
		if v := policy.IncomingValue(ctx, k); len(v) != 0 {
			t.Errorf("IncomingValue(%s) = %v, want none", k, v)
		}
		if v := metadata.ValueFromIncomingContext(ctx, k); len(v) != 0 {
			t.Errorf("grpc-go view of %s = %v, want none", k, v)
		}
	}
	if v := policy.IncomingValue(ctx, "x-other"); len(v) != 1 {
		t.Errorf("x-other = %v, want kept", v)
	}
	if got := stripInternal(ctx); got != ctx {
		t.Error("stripInternal replaced a context the tap stripped")
	}
	if n := testing.AllocsPerRun(100, func() { _ = stripInternal(ctx) }); n != 0 {
		t.Errorf("stripInternal after the tap: %v allocations, want 0", n)
	}
	// A later WithIncoming (another map) is not taken as stripped.
	if policy.IncomingStripped(policy.WithIncoming(ctx, metadata.Pairs(policy.KeyClientAddr, "x"))) {
		t.Error("WithIncoming over a stripped context reports stripped")
	}

	internal := peer.NewContext(context.Background(), &peer.Peer{AuthInfo: inproc.AuthInfo{}})
	md = metadata.Pairs(policy.KeyClientAddr, "192.0.2.1:7")
	ctx, err = limitMetadata(internal, &tap.Info{FullMethodName: "/s/M", Header: md})
	if err != nil {
		t.Fatal(err)
	}
	if v := policy.IncomingValue(ctx, policy.KeyClientAddr); len(v) != 1 {
		t.Errorf("internal call's %s = %v, want kept", policy.KeyClientAddr, v)
	}

	// No metadata at all still gives the stages a (empty) map.
	ctx, err = limitMetadata(context.Background(), &tap.Info{FullMethodName: "/s/M"})
	if err != nil || !policy.IncomingStripped(ctx) {
		t.Fatalf("empty metadata: stripped %v, err %v", policy.IncomingStripped(ctx), err)
	}
	if md, ok := policy.Incoming(ctx); !ok || md == nil {
		t.Errorf("empty metadata: Incoming = %v, %v", md, ok)
	}

	// Over the limits: refused, nothing stripped or marked.
	big := metadata.MD{}
	for i := range maxMetadataEntries + 1 {
		big.Append(fmt.Sprintf("k%d", i), "v")
	}
	if _, err := limitMetadata(context.Background(), &tap.Info{FullMethodName: "/s/M", Header: big}); err == nil {
		t.Error("over-limit metadata passed the tap")
	}
}
