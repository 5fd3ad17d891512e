package proxy

import (
	"strings"

	"google.golang.org/grpc/metadata"
)

// notForwarded are request keys that describe the client's hop, not the
// call: grpc-go derives each of them for the backend hop itself (or the
// deadline replaces them), and HTTP/2 forbids the hop-by-hop ones.
var notForwarded = map[string]bool{
	"content-type":               true, // forwarded as the call's content-subtype instead
	"user-agent":                 true, // grpc-go sends the gateway's own
	"te":                         true,
	"grpc-timeout":               true, // the deadline carries it
	"grpc-encoding":              true, // per hop: see WithCompressionMatching
	"grpc-accept-encoding":       true, // per hop: the gateway advertises its own
	"grpc-message-type":          true,
	"grpc-previous-rpc-attempts": true, // counts the client's retries, not ours
	"grpc-status":                true,
	"grpc-message":               true,
	"grpc-status-details-bin":    true,
	"connection":                 true,
	"keep-alive":                 true,
	"proxy-connection":           true,
	"transfer-encoding":          true,
	"upgrade":                    true,
	"host":                       true,
}

// forwardedMetadata returns md without the keys that belong to one hop. It
// is used for the client's request metadata and for the backend's response
// header and trailer (a non-Go backend may send "grpc-accept-encoding",
// which describes the backend, not the gateway). md is never modified:
// when nothing is dropped it is returned as is, without allocating;
// otherwise the result is a new map sharing md's value slices, which is safe
// because metadata.FromIncomingContext, ClientStream.Header and Trailer all
// return private copies.
func forwardedMetadata(md metadata.MD) metadata.MD {
	drop := 0
	for k := range md {
		if !forwardable(k) {
			drop++
		}
	}
	if drop == 0 {
		return md
	}
	return forwardedCopy(md, len(md)-drop)
}

// forwardedCopy is forwardedMetadata that always returns a new map (sized
// for n keys), for metadata the caller shares (WithIncomingMetadata).
func forwardedCopy(md metadata.MD, n int) metadata.MD {
	out := make(metadata.MD, n)
	for k, v := range md {
		if forwardable(k) {
			out[k] = v
		}
	}
	return out
}

// forwardable reports whether key is call metadata rather than a
// pseudo-header (":authority", ":path") or another hop's key.
func forwardable(key string) bool {
	return !strings.HasPrefix(key, ":") && !notForwarded[key]
}

// contentSubtype returns the subtype of the client's content-type
// ("application/grpc+json" → "json"), or "" when it is absent or "proto",
// which is what Codec's name selects anyway.
func contentSubtype(in metadata.MD) string {
	v := in["content-type"]
	if len(v) == 0 {
		return ""
	}
	rest, ok := strings.CutPrefix(strings.ToLower(v[0]), "application/grpc")
	if !ok || len(rest) < 2 || (rest[0] != '+' && rest[0] != ';') {
		return ""
	}
	if sub := rest[1:]; sub != "proto" {
		return sub
	}
	return ""
}
