package policy

import "strings"

// Internal metadata keys. The gateway's REST front sets them on the calls it
// makes to the gateway's own gRPC server (in memory), so that every stage of
// the chain sees the same facts for both transports. Any key with
// InternalPrefix is removed from client-supplied HTTP headers and gRPC
// metadata before the chain runs, so a client can never set them.
const (
	// InternalPrefix starts every internal key.
	InternalPrefix = "x-portcullis-"
	// KeyTransport is "http" for calls that came through the REST front.
	KeyTransport = "x-portcullis-transport"
	// KeyClientAddr is the REST client's address, "ip:port".
	KeyClientAddr = "x-portcullis-client-addr"
	// KeyRoute is the matched REST route pattern, e.g. "/v1/{name=accounts/*}".
	KeyRoute = "x-portcullis-route"
	// KeyHTTPMethod is the REST request's HTTP method.
	KeyHTTPMethod = "x-portcullis-http-method"
	// KeyTLSVersion is the REST connection's TLS version, e.g. "1.3".
	KeyTLSVersion = "x-portcullis-tls-version"
	// KeyClientCertSHA256 is the base64url (no padding) SHA-256 thumbprint of
	// the REST client's verified certificate (RFC 8705 x5t#S256 form).
	KeyClientCertSHA256 = "x-portcullis-client-cert-sha256"
	// KeyClientSPIFFE is the SPIFFE URI SAN of the REST client's verified
	// certificate.
	KeyClientSPIFFE = "x-portcullis-client-spiffe-id"
	// KeyClientSubject is the subject of the REST client's verified
	// certificate.
	KeyClientSubject = "x-portcullis-client-subject"
	// KeySignatureKey is the keyid of the HTTP Message Signature the REST
	// front verified on the request (RFC 9421), absent when the request
	// carried none.
	KeySignatureKey = "x-portcullis-signature-key"
	// KeySignatureFailure is why the REST front refused the request's
	// signature; the chain refuses the call with it after authentication,
	// so that the refusal is audited like any other.
	KeySignatureFailure = "x-portcullis-signature-failure"
)

// Transport names.
const (
	TransportGRPC = "grpc"
	TransportHTTP = "http"
)

// IsInternalKey reports whether a metadata or header key (any case) is
// reserved for the gateway.
func IsInternalKey(key string) bool {
	return len(key) >= len(InternalPrefix) && strings.EqualFold(key[:len(InternalPrefix)], InternalPrefix)
}

// HasInternal reports whether md (gRPC metadata or HTTP headers in lower
// case) holds an internal key, without changing it.
func HasInternal(md map[string][]string) bool {
	for k := range md {
		if IsInternalKey(k) {
			return true
		}
	}
	return false
}

// StripInternal deletes every internal key from md (gRPC metadata or HTTP
// headers in lower case) and reports whether any was present.
func StripInternal(md map[string][]string) bool {
	found := false
	for k := range md {
		if IsInternalKey(k) {
			delete(md, k)
			found = true
		}
	}
	return found
}
