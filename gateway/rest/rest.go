// Package rest is the gateway's REST front: grpc-gateway's generated
// handlers, registered from the generated policy tables, whose client
// connection reaches the gateway's own gRPC chain in process (the gateway
// passes an inproc.Direct). REST calls therefore run through the same
// interceptor chain as gRPC calls.
//
// Before a request reaches the mux, every header with the internal prefix
// (policy.InternalPrefix) is removed, and the client address, TLS facts,
// HTTP method and matched route pattern are attached as internal metadata.
// JSON is strict: unknown fields and malformed bodies are 400 with a
// google.rpc.Status body; error codes map with runtime.HTTPStatusFromCode.
// Compressed bodies are not supported: a Content-Encoding other than
// identity is 415 with Accept-Encoding: identity and code Unimplemented
// (what the gRPC listener answers for an unknown grpc-encoding).
package rest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"math"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/grpc-ecosystem/grpc-gateway/v2/runtime"
	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/portcullis/portcullis/interceptors/signature"
	"github.com/portcullis/portcullis/policy"
)

// RegisterFunc is the type generated tables store in policy.Service.RegisterHTTP.
type RegisterFunc = func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error

// forwardedHeaders are the plain HTTP headers passed to the chain as gRPC
// metadata (lower-cased). Authorization is always passed by grpc-gateway.
var forwardedHeaders = map[string]bool{
	"X-Request-Id": true,
	"Traceparent":  true,
	"Tracestate":   true,
	"X-Api-Key":    true,
	// RFC 7239, read only from trusted proxies (forwarded_header:
	// forwarded). grpc-gateway itself passes X-Forwarded-For, with the
	// peer appended.
	"Forwarded": true,
}

// New returns the REST handler for services, forwarding to conn (in the
// gateway, an inproc.Direct running the gRPC server's chain). A service without
// HTTP bindings is skipped; a RegisterHTTP of the wrong type is an error.
func New(ctx context.Context, conn grpc.ClientConnInterface, services []policy.Service, opts ...Option) (http.Handler, error) {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	routes, err := routesOf(services)
	if err != nil {
		return nil, err
	}
	mux := runtime.NewServeMux(
		runtime.WithMiddlewares(strictQuery(routes)),
		runtime.WithMarshalerOption(runtime.MIMEWildcard, &runtime.HTTPBodyMarshaler{
			Marshaler: &runtime.JSONPb{
				MarshalOptions:   protojson.MarshalOptions{EmitUnpopulated: true},
				UnmarshalOptions: protojson.UnmarshalOptions{DiscardUnknown: false},
			},
		}),
		runtime.WithIncomingHeaderMatcher(headerMatcher),
		runtime.WithOutgoingHeaderMatcher(outgoingMatcher),
		runtime.WithOutgoingTrailerMatcher(outgoingMatcher),
		runtime.WithErrorHandler(errorHandler),
		runtime.WithRoutingErrorHandler(routingErrorHandler),
		runtime.WithMetadata(annotate),
		runtime.WithDisablePathLengthFallback(),
	)
	for _, s := range services {
		if !s.HTTP {
			continue
		}
		register, ok := s.RegisterHTTP.(RegisterFunc)
		if !ok {
			return nil, fmt.Errorf("rest: service %s: RegisterHTTP has type %T, want %T (regenerate with a matching protoc-gen-portcullis)", s.Name, s.RegisterHTTP, RegisterFunc(nil))
		}
		if err := register(ctx, mux, conn); err != nil {
			return nil, fmt.Errorf("rest: register %s: %w", s.Name, err)
		}
	}
	f := &front{mux: mux, opts: o, next: mux}
	if o.middleware != nil {
		f.next = o.middleware(mux)
	}
	return f, nil
}

// headerMatcher forwards the allow-listed headers and Grpc-Metadata-*
// headers, and never an internal key.
func headerMatcher(key string) (string, bool) {
	key = textproto.CanonicalMIMEHeaderKey(key)
	if forwardedHeaders[key] {
		return strings.ToLower(key), true
	}
	if rest, ok := strings.CutPrefix(key, runtime.MetadataHeaderPrefix); ok && rest != "" {
		if policy.IsInternalKey(rest) || isReserved(rest) {
			return "", false
		}
		// grpc-gateway base64-decodes every header ending in "Bin"; the
		// result is only valid gRPC metadata under a "-bin" key.
		if strings.HasSuffix(key, "Bin") && !strings.HasSuffix(strings.ToLower(rest), "-bin") {
			return "", false
		}
		return strings.ToLower(rest), true
	}
	return "", false
}

// plainHeaders are response metadata keys sent as ordinary HTTP headers
// (rate-limit fields, request id) instead of Grpc-Metadata-*.
var plainHeaders = map[string]string{
	"retry-after":         "Retry-After",
	"ratelimit-limit":     "RateLimit-Limit",
	"ratelimit-remaining": "RateLimit-Remaining",
	"ratelimit-reset":     "RateLimit-Reset",
	"x-request-id":        "X-Request-Id",
}

// outgoingMatcher maps response metadata to HTTP headers: plainHeaders by
// name, gRPC's own and internal keys never, the rest as Grpc-Metadata-*.
func outgoingMatcher(key string) (string, bool) {
	if h, ok := plainHeaders[key]; ok {
		return h, true
	}
	if key == "content-type" || strings.HasPrefix(key, "grpc-") || policy.IsInternalKey(key) {
		return "", false
	}
	return runtime.MetadataHeaderPrefix + key, true
}

// errorHandler is grpc-gateway's default (google.rpc.Status body, code
// mapped with runtime.HTTPStatusFromCode) plus a Retry-After header from a
// google.rpc.RetryInfo detail, so rate-limited REST calls get 429 with
// Retry-After.
func errorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, err error) {
	if st, ok := status.FromError(err); ok {
		for _, d := range st.Details() {
			if ri, ok := d.(*errdetails.RetryInfo); ok && ri.GetRetryDelay() != nil {
				secs := int64(math.Ceil(ri.GetRetryDelay().AsDuration().Seconds()))
				w.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			}
		}
	}
	hw := &errorWriter{ResponseWriter: w}
	if st, ok := status.FromError(err); ok {
		switch {
		case st.Code() == codes.Unauthenticated:
			hw.challenge = true
		case st.Code() == codes.InvalidArgument && strings.Contains(st.Message(), "request body too large"):
			hw.status = http.StatusRequestEntityTooLarge
		}
	}
	runtime.DefaultHTTPErrorHandler(ctx, mux, m, hw, r, err)
}

// errorWriter adjusts what grpc-gateway's default error handler writes: a
// proper Bearer challenge instead of the status message in
// WWW-Authenticate, and 413 for bodies over the limit.
type errorWriter struct {
	http.ResponseWriter
	challenge bool
	status    int
}

func (w *errorWriter) WriteHeader(code int) {
	if w.challenge {
		w.Header().Set("WWW-Authenticate", `Bearer realm="portcullis"`)
	}
	if w.status != 0 {
		code = w.status
	}
	w.ResponseWriter.WriteHeader(code)
}

// routingErrorHandler answers 405 (not grpc-gateway's 501) for a known path
// with the wrong HTTP method; other routing errors keep the default.
func routingErrorHandler(ctx context.Context, mux *runtime.ServeMux, m runtime.Marshaler, w http.ResponseWriter, r *http.Request, httpStatus int) {
	if httpStatus == http.StatusMethodNotAllowed {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusMethodNotAllowed)
		_, _ = w.Write([]byte(`{"code":12,"message":"method not allowed","details":[]}`))
		return
	}
	runtime.DefaultRoutingErrorHandler(ctx, mux, m, w, r, httpStatus)
}

// isReserved rejects metadata keys that gRPC or the gateway give meaning
// to; clients may not set them through Grpc-Metadata-.
func isReserved(key string) bool {
	k := strings.ToLower(key)
	return strings.HasPrefix(k, "grpc-") || k == "authorization" || k == "x-forwarded-for" || k == "x-forwarded-host" ||
		k == "forwarded" || k == "x-real-ip" || k == "content-type" || k == "user-agent" || k == "te"
}

// annotate sets the internal metadata keys from the HTTP request.
func annotate(ctx context.Context, r *http.Request) metadata.MD {
	md := metadata.MD{
		policy.KeyTransport:  {policy.TransportHTTP},
		policy.KeyHTTPMethod: {r.Method},
	}
	if r.RemoteAddr != "" {
		md[policy.KeyClientAddr] = []string{r.RemoteAddr}
	}
	if p, ok := runtime.HTTPPathPattern(ctx); ok {
		md[policy.KeyRoute] = []string{p}
	}
	if s, ok := signature.FromContext(r.Context()); ok {
		md[policy.KeySignatureKey] = []string{s.KeyID}
	}
	if why, ok := r.Context().Value(signatureFailureKey{}).(string); ok {
		md[policy.KeySignatureFailure] = []string{why}
	}
	if cs := r.TLS; cs != nil {
		md[policy.KeyTLSVersion] = []string{tlsVersion(cs.Version)}
		if len(cs.VerifiedChains) > 0 && len(cs.PeerCertificates) > 0 {
			leaf := cs.PeerCertificates[0]
			sum := sha256.Sum256(leaf.Raw)
			md[policy.KeyClientCertSHA256] = []string{base64.RawURLEncoding.EncodeToString(sum[:])}
			md[policy.KeyClientSubject] = []string{leaf.Subject.String()}
			for _, u := range leaf.URIs {
				if u.Scheme == "spiffe" {
					md[policy.KeyClientSPIFFE] = []string{u.String()}
					break
				}
			}
		}
	}
	return md
}

func tlsVersion(v uint16) string {
	switch v {
	case 0x0303:
		return "1.2"
	case 0x0304:
		return "1.3"
	}
	return fmt.Sprintf("0x%04x", v)
}

// front strips internal headers and bounds bodies before the mux runs.
type front struct {
	mux  *runtime.ServeMux
	next http.Handler // mux, behind the middleware if any
	opts options
}

func (f *front) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Path and query values become proto string fields, which must be
	// valid UTF-8: refuse them here (400) instead of failing to marshal
	// the request later (500).
	if !utf8.ValidString(r.URL.Path) || !validQuery(r.URL.RawQuery) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusBadRequest)
		_, _ = w.Write([]byte(`{"code":3,"message":"path or query is not valid UTF-8","details":[]}`))
		return
	}
	// grpc-gateway would decode a compressed body as if it were JSON: refuse
	// every content coding but identity before the body is read.
	if !identityCoded(r.Header) {
		w.Header().Set("Accept-Encoding", "identity")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnsupportedMediaType)
		_, _ = w.Write([]byte(`{"code":12,"message":"Content-Encoding is not supported; send the body uncompressed","details":[]}`))
		return
	}
	if !jsonBody(r) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusUnsupportedMediaType)
		_, _ = w.Write([]byte(`{"code":3,"message":"Content-Type must be application/json","details":[]}`))
		return
	}
	for k := range r.Header {
		if policy.IsInternalKey(k) || policy.IsInternalKey(strings.TrimPrefix(k, runtime.MetadataHeaderPrefix)) {
			delete(r.Header, k)
		}
	}
	sanitizeForwarding(r.Header)
	if r.Body != nil && f.opts.maxBodyBytes > 0 {
		r.Body = http.MaxBytesReader(w, r.Body, f.opts.maxBodyBytes)
	}
	f.next.ServeHTTP(w, r)
}

// sanitizeForwarding replaces every byte of the forwarding headers that is
// not valid in gRPC metadata (outside 0x20–0x7E) with '?'. grpc-gateway
// drops a whole header line holding one; since a proxy appends the real
// client address to the line the client sent, a client could otherwise
// erase it by sending a single such byte, and be taken for the proxy. The
// '?' still stops the right-to-left walk (interceptors/clientip), after the
// proxy's own entries.
func sanitizeForwarding(h http.Header) {
	for _, name := range [...]string{"X-Forwarded-For", "Forwarded"} {
		for i, v := range h[name] {
			h[name][i] = policy.MetadataText(v)
		}
	}
}

// errorMux and errorMarshaler serve WriteError, outside any route.
var (
	errorMux       = runtime.NewServeMux()
	errorMarshaler = &runtime.JSONPb{MarshalOptions: protojson.MarshalOptions{EmitUnpopulated: true}}
)

// WriteError answers r with err the way the front answers every failed
// call: a google.rpc.Status JSON body, the HTTP status from
// runtime.HTTPStatusFromCode (413 for a body over the limit), and a Bearer
// challenge for Unauthenticated.
func WriteError(w http.ResponseWriter, r *http.Request, err error) {
	errorHandler(r.Context(), errorMux, errorMarshaler, w, r, err)
}

// identityCoded reports whether every Content-Encoding of h is identity
// (or there is none).
func identityCoded(h http.Header) bool {
	for _, v := range h.Values("Content-Encoding") {
		for c := range strings.SplitSeq(v, ",") {
			if c = strings.TrimSpace(c); c != "" && !strings.EqualFold(c, "identity") {
				return false
			}
		}
	}
	return true
}

// validQuery reports whether every query key and value decodes to valid
// UTF-8 (a malformed query is left to grpc-gateway, which answers 400).
func validQuery(raw string) bool {
	if raw == "" {
		return true
	}
	q, err := url.ParseQuery(raw)
	if err != nil {
		return true
	}
	for k, vs := range q {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

type signatureFailureKey struct{}

// WithSignatureFailure marks a request whose signature the middleware
// refused: the front passes why into the chain (policy.KeySignatureFailure),
// which refuses the call there.
func WithSignatureFailure(ctx context.Context, why string) context.Context {
	return context.WithValue(ctx, signatureFailureKey{}, why)
}
