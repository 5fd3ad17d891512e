package audit

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/policy"
)

// facts are what a call's context says about the client and transport.
type facts struct {
	requestID, traceID string
	transport          string
	http               HTTP
	clientIP           string
	tls                TLS
}

// gather fills f from ctx. p, when known, spares hashing the certificate
// again.
func (o *options) gather(ctx context.Context, f *facts, p *policy.Principal) {
	f.requestID, f.traceID = o.requestID(ctx)
	f.transport = policy.TransportGRPC
	if a := o.clientAddr(ctx); a.IsValid() {
		f.clientIP = a.String()
	}
	if o.trustInternal {
		if v, _ := single(ctx, policy.KeyTransport); v == policy.TransportHTTP {
			f.transport = policy.TransportHTTP
			f.http.Method, _ = single(ctx, policy.KeyHTTPMethod)
			f.http.Route, _ = single(ctx, policy.KeyRoute)
			f.tls.Version, _ = single(ctx, policy.KeyTLSVersion)
			if sum, _ := single(ctx, policy.KeyClientCertSHA256); sum != "" {
				f.tls.MTLS, f.tls.CertSHA256 = true, sum
				f.tls.SPIFFEID, _ = single(ctx, policy.KeyClientSPIFFE)
			}
			return
		}
	}
	pr, ok := peer.FromContext(ctx)
	if !ok {
		return
	}
	if f.clientIP == "" && pr.Addr != nil {
		f.clientIP = hostOf(pr.Addr.String()) // not an IP (bufconn, a Unix socket): its name
	}
	info, ok := pr.AuthInfo.(credentials.TLSInfo)
	if !ok {
		return
	}
	f.tls.Version = tlsVersion(info.State.Version)
	if len(info.State.VerifiedChains) == 0 || len(info.State.PeerCertificates) == 0 {
		return
	}
	leaf := info.State.PeerCertificates[0]
	f.tls.MTLS = true
	if p != nil && p.CertSHA256 != "" {
		f.tls.CertSHA256, f.tls.SPIFFEID = p.CertSHA256, p.SPIFFEID
		return
	}
	sum := sha256.Sum256(leaf.Raw)
	f.tls.CertSHA256 = base64.RawURLEncoding.EncodeToString(sum[:])
	f.tls.SPIFFEID = spiffeID(leaf)
}

func (f *facts) fill(e *Event) {
	e.RequestID, e.TraceID = f.requestID, f.traceID
	e.Transport, e.HTTP, e.ClientIP, e.TLS = f.transport, f.http, f.clientIP, f.tls
}

// single returns the value of an incoming metadata key that has exactly
// one.
func single(ctx context.Context, key string) (string, bool) {
	v := policy.IncomingValue(ctx, key)
	if len(v) != 1 {
		return "", false
	}
	return v[0], true
}

func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

func spiffeID(cert *x509.Certificate) string {
	for _, u := range cert.URIs {
		if u.Scheme == "spiffe" {
			return u.String()
		}
	}
	return ""
}

func tlsVersion(v uint16) string {
	switch v {
	case tls.VersionTLS10:
		return "1.0"
	case tls.VersionTLS11:
		return "1.1"
	case tls.VersionTLS12:
		return "1.2"
	case tls.VersionTLS13:
		return "1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// codeNames are the canonical names of the gRPC codes (google.rpc.Code).
var codeNames = [...]string{
	codes.OK: "OK", codes.Canceled: "CANCELLED", codes.Unknown: "UNKNOWN",
	codes.InvalidArgument: "INVALID_ARGUMENT", codes.DeadlineExceeded: "DEADLINE_EXCEEDED",
	codes.NotFound: "NOT_FOUND", codes.AlreadyExists: "ALREADY_EXISTS",
	codes.PermissionDenied: "PERMISSION_DENIED", codes.ResourceExhausted: "RESOURCE_EXHAUSTED",
	codes.FailedPrecondition: "FAILED_PRECONDITION", codes.Aborted: "ABORTED",
	codes.OutOfRange: "OUT_OF_RANGE", codes.Unimplemented: "UNIMPLEMENTED",
	codes.Internal: "INTERNAL", codes.Unavailable: "UNAVAILABLE", codes.DataLoss: "DATA_LOSS",
	codes.Unauthenticated: "UNAUTHENTICATED",
}

// CodeName returns the canonical name of c, e.g. "PERMISSION_DENIED", or
// "CODE(<n>)" for a code outside the standard set.
func CodeName(c codes.Code) string {
	if int(c) < len(codeNames) {
		return codeNames[c]
	}
	return fmt.Sprintf("CODE(%d)", uint32(c))
}
