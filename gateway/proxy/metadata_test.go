package proxy

import (
	"reflect"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestForwardedMetadata(t *testing.T) {
	tests := []struct {
		name string
		in   metadata.MD
		want metadata.MD
	}{
		{"nil", nil, nil},
		{"nothing to drop", metadata.Pairs("x-a", "1", "x-b-bin", "\x00"), metadata.Pairs("x-a", "1", "x-b-bin", "\x00")},
		{"request hop keys", metadata.MD{
			":authority":                 {"gw.example"},
			"content-type":               {"application/grpc"},
			"user-agent":                 {"grpc-go/1.85.0"},
			"te":                         {"trailers"},
			"grpc-timeout":               {"1S"},
			"grpc-encoding":              {"gzip"},
			"grpc-accept-encoding":       {"gzip"},
			"grpc-previous-rpc-attempts": {"1"},
			"connection":                 {"close"},
			"keep-alive":                 {"timeout=5"},
			"grpc-trace-bin":             {"\x01"},
			"x-request-id":               {"r-1"},
		}, metadata.MD{"grpc-trace-bin": {"\x01"}, "x-request-id": {"r-1"}}},
		{"response hop keys", metadata.MD{
			"content-type":            {"application/grpc"},
			"grpc-accept-encoding":    {"identity,gzip"},
			"grpc-status-details-bin": {"\x08"},
			"x-backend":               {"b"},
		}, metadata.MD{"x-backend": {"b"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := forwardedMetadata(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("forwardedMetadata(%v) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestContentSubtype(t *testing.T) {
	tests := []struct {
		contentType []string
		want        string
	}{
		{nil, ""},
		{[]string{"application/grpc"}, ""},
		{[]string{"application/grpc+proto"}, ""},
		{[]string{"application/grpc+json"}, "json"},
		{[]string{"Application/GRPC+JSON"}, "json"},
		{[]string{"application/grpc;cbor"}, "cbor"},
		{[]string{"application/grpc+"}, ""},
		{[]string{"application/grpcx"}, ""},
		{[]string{"text/plain"}, ""},
	}
	for _, tt := range tests {
		md := metadata.MD{}
		if tt.contentType != nil {
			md["content-type"] = tt.contentType
		}
		if got := contentSubtype(md); got != tt.want {
			t.Errorf("contentSubtype(%q) = %q, want %q", tt.contentType, got, tt.want)
		}
	}
}
