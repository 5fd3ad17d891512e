package policy_test

import (
	"context"
	"testing"

	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/policy"
)

func TestIncomingValue(t *testing.T) {
	md := metadata.MD{"authorization": {"Bearer x"}, "x-many": {"a", "b"}}
	ctx := policy.WithIncoming(context.Background(), md)
	if got := policy.IncomingValue(ctx, "authorization"); len(got) != 1 || got[0] != "Bearer x" {
		t.Errorf("IncomingValue(authorization) = %q", got)
	}
	if got := policy.IncomingValue(ctx, "x-many"); len(got) != 2 {
		t.Errorf("IncomingValue(x-many) = %q, want both values", got)
	}
	if got := policy.IncomingValue(ctx, "x-api-key"); got != nil {
		t.Errorf("IncomingValue(absent) = %q, want nil", got)
	}
	// grpc-go sees the same metadata.
	if got, _ := metadata.FromIncomingContext(ctx); len(got) != 2 || got["authorization"][0] != "Bearer x" {
		t.Errorf("metadata.FromIncomingContext = %v", got)
	}
	// A later WithIncoming replaces the view (a stage that strips keys).
	ctx = policy.WithIncoming(ctx, metadata.MD{"x-many": {"c"}})
	if got := policy.IncomingValue(ctx, "authorization"); got != nil {
		t.Errorf("after a new WithIncoming, a removed key reads %q", got)
	}
	// Metadata not set by WithIncoming is read through grpc-go, keys in
	// any case.
	plain := metadata.NewIncomingContext(context.Background(), metadata.MD{"X-Mixed": {"v"}})
	if got := policy.IncomingValue(plain, "x-mixed"); len(got) != 1 || got[0] != "v" {
		t.Errorf("fallback IncomingValue = %q", got)
	}
	if got := policy.IncomingValue(context.Background(), "x"); got != nil {
		t.Errorf("no metadata: %q", got)
	}
}

func BenchmarkIncomingValue(b *testing.B) {
	md := metadata.MD{":authority": {"gw"}, "content-type": {"application/grpc"}, "user-agent": {"grpc-go"}, "te": {"trailers"},
		"grpc-accept-encoding": {"gzip"}, "x-request-id": {"r"}, "traceparent": {"t"}, "authorization": {"Bearer x"}}
	for _, bc := range []struct {
		name string
		ctx  context.Context
	}{
		{"WithIncoming", policy.WithIncoming(context.Background(), md)},
		{"grpc-ValueFromIncomingContext", metadata.NewIncomingContext(context.Background(), md)},
	} {
		b.Run(bc.name+"/absent-key", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = policy.IncomingValue(bc.ctx, policy.KeyClientAddr)
			}
		})
		b.Run(bc.name+"/present-key", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = policy.IncomingValue(bc.ctx, "authorization")
			}
		})
	}
}

func TestIncoming(t *testing.T) {
	md := metadata.MD{"a": {"1"}}
	got, ok := policy.Incoming(policy.WithIncoming(context.Background(), md))
	if !ok || got["a"][0] != "1" {
		t.Errorf("Incoming = %v, %v", got, ok)
	}
	got["a"][0] = "shared" // the same map, not a copy
	if md["a"][0] != "shared" {
		t.Error("Incoming returned a copy of WithIncoming's map")
	}
	plain := metadata.NewIncomingContext(context.Background(), metadata.MD{"b": {"2"}})
	if got, ok := policy.Incoming(plain); !ok || got["b"][0] != "2" {
		t.Errorf("fallback Incoming = %v, %v", got, ok)
	}
	if _, ok := policy.Incoming(context.Background()); ok {
		t.Error("Incoming without metadata reports some")
	}
}

// TestHasInternal: any key with the internal prefix, in any case, is
// found, and md is left as it was; StripInternal then removes exactly
// those keys.
func TestHasInternal(t *testing.T) {
	for _, tc := range []struct {
		md   metadata.MD
		want bool
	}{
		{metadata.MD{}, false},
		{metadata.MD{"x-other": {"1"}, "x-portcullis": {"too short a prefix"}}, false},
		{metadata.MD{"x-other": {"1"}, policy.KeyClientAddr: {"10.1.2.3:5"}}, true},
		{map[string][]string{"X-Portcullis-Transport": {"http"}}, true},
	} {
		n := len(tc.md)
		if got := policy.HasInternal(tc.md); got != tc.want || len(tc.md) != n {
			t.Errorf("HasInternal(%v) = %v (len %d → %d), want %v and md unchanged", tc.md, got, n, len(tc.md), tc.want)
		}
		if got := policy.StripInternal(tc.md); got != tc.want || policy.HasInternal(tc.md) {
			t.Errorf("StripInternal(%v) = %v, want %v and no internal key left", tc.md, got, tc.want)
		}
	}
}

func TestMetadataText(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		valid    bool
	}{
		{"203.0.113.5, 10.0.0.1", "203.0.113.5, 10.0.0.1", true},
		{"", "", true},
		{"\xff, 203.0.113.5", "?, 203.0.113.5", false},
		{"ä\t~", "???~", false}, // two bytes of UTF-8, and a tab
	} {
		if got := policy.IsMetadataText(tc.in); got != tc.valid {
			t.Errorf("IsMetadataText(%q) = %v, want %v", tc.in, got, tc.valid)
		}
		if got := policy.MetadataText(tc.in); got != tc.want {
			t.Errorf("MetadataText(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
