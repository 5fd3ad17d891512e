package gateway_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// The built-in metadata limits (gateway/hygiene.go): at most 100 entries
// and 8 KiB per value, on gRPC (InvalidArgument) and REST (431).

const limitsMessage = "request metadata over the gateway's limits: at most 100 entries and 8 KiB per value"

// numbered returns n key, value pairs prefix-0: value, prefix-1: value, ...
func numbered(prefix string, n int, value string) []string {
	var out []string
	for i := range n {
		out = append(out, fmt.Sprintf("%s-%d", prefix, i), value)
	}
	return out
}

// repeated returns key: value n times.
func repeated(key string, n int, value string) []string {
	var out []string
	for range n {
		out = append(out, key, value)
	}
	return out
}

func TestMetadataLimitsGRPC(t *testing.T) {
	h := newHarness(t)
	tests := []struct {
		name  string
		pairs []string
		want  codes.Code
	}{
		// grpc-go adds :authority, content-type and user-agent.
		{"90 entries", numbered("x-e", 90, "v"), codes.OK},
		{"101 entries", numbered("x-e", 101, "v"), codes.InvalidArgument},
		{"one key, 101 values", repeated("x-e", 101, "v"), codes.InvalidArgument},
		{"value of 8 KiB", []string{"x-big", strings.Repeat("v", 8<<10)}, codes.OK},
		{"value of 8 KiB + 1", []string{"x-big", strings.Repeat("v", 8<<10+1)}, codes.InvalidArgument},
		// -bin values are measured decoded: 8 KiB is 10.7 KiB of base64.
		{"binary value of 8 KiB", []string{"x-big-bin", strings.Repeat("\xff", 8<<10)}, codes.OK},
		{"binary value of 8 KiB + 1", []string{"x-big-bin", strings.Repeat("\xff", 8<<10+1)}, codes.InvalidArgument},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := cred{pairs: tt.pairs}.outgoing(timeout(t, callTimeout))
			_, err := h.grpcClient(certNone).Ping(ctx, &bankv1.PingRequest{})
			if got := status.Code(err); got != tt.want {
				t.Fatalf("Ping(%s) = %v, want code %v", tt.name, err, tt.want)
			}
			if tt.want != codes.OK {
				if got := status.Convert(err).Message(); got != limitsMessage {
					t.Errorf("Ping(%s) message = %q, want %q", tt.name, got, limitsMessage)
				}
			}
		})
	}
	// A long bearer token is authentication's to refuse (identity.
	// max_token_bytes, configurable): TestAttacks "oversized token".
	t.Run("authorization of 9 KiB", func(t *testing.T) {
		ctx := cred{pairs: []string{"authorization", "Bearer " + strings.Repeat("a", 9<<10)}}.outgoing(timeout(t, callTimeout))
		_, err := h.grpcClient(certNone).Ping(ctx, &bankv1.PingRequest{})
		if status.Convert(err).Message() == limitsMessage {
			t.Errorf("Ping(authorization of 9 KiB) = %v, want no metadata-limit refusal", err)
		}
	})
	// The refusals leave the connection usable.
	if _, err := h.grpcClient(certNone).Ping(timeout(t, callTimeout), &bankv1.PingRequest{}); err != nil {
		t.Errorf("Ping() after the refusals = %v, want nil", err)
	}
}

func TestMetadataLimitsREST(t *testing.T) {
	h := newHarness(t)
	ping := restCall{method: "GET", path: "/v1/ping"}
	tests := []struct {
		name  string
		pairs []string
		want  int
	}{
		// Go's client adds User-Agent and Accept-Encoding.
		{"90 headers", numbered("X-E", 90, "v"), http.StatusOK},
		{"101 headers", numbered("X-E", 101, "v"), http.StatusRequestHeaderFieldsTooLarge},
		{"one header, 101 values", repeated("X-E", 101, "v"), http.StatusRequestHeaderFieldsTooLarge},
		{"value of 8 KiB", []string{"X-Big", strings.Repeat("v", 8<<10)}, http.StatusOK},
		{"value of 8 KiB + 1", []string{"X-Big", strings.Repeat("v", 8<<10+1)}, http.StatusRequestHeaderFieldsTooLarge},
		// 95 forwarded headers become more than 100 metadata entries with
		// the keys the REST front and grpc-gateway add; the gRPC limit does
		// not apply to the front's own in-memory calls.
		{"95 forwarded headers", numbered("Grpc-Metadata-X-E", 95, "v"), http.StatusOK},
		// Bearer tokens are bounded by identity.max_token_bytes instead.
		{"authorization of 9 KiB", []string{"Authorization", "Bearer " + strings.Repeat("a", 9<<10)}, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, msg, err := h.rest(timeout(t, callTimeout), cred{pairs: tt.pairs}, ping)
			if err != nil || got != tt.want {
				t.Fatalf("GET /v1/ping (%s) = %d %q, %v, want %d", tt.name, got, msg, err, tt.want)
			}
			if tt.want != http.StatusOK && msg != limitsMessage {
				t.Errorf("GET /v1/ping (%s) message = %q, want %q", tt.name, msg, limitsMessage)
			}
		})
	}
}
