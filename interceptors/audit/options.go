package audit

import (
	"context"
	"net/netip"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/portcullis/portcullis/interceptors/clientip"
	"github.com/portcullis/portcullis/policy"
)

// Option configures the interceptors.
type Option func(*options)

type options struct {
	method          func(context.Context) (*policy.Method, bool)
	request         func(context.Context) (proto.Message, bool)
	requestID       func(context.Context) (requestID, traceID string)
	skip            func(fullMethod string) bool
	trustInternal   bool
	clientAddr      func(context.Context) netip.Addr
	now             func() time.Time
	requiredTimeout time.Duration
	maxRequest      int
}

// Defaults of the interceptor options.
const (
	DefaultRequiredTimeout = 2 * time.Second
	DefaultMaxRequestJSON  = 16 << 10
)

func evaluateOptions(opts []Option) *options {
	o := &options{
		method:          func(context.Context) (*policy.Method, bool) { return nil, false },
		requestID:       requestIDFromMetadata,
		now:             time.Now,
		requiredTimeout: DefaultRequiredTimeout,
		maxRequest:      DefaultMaxRequestJSON,
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.clientAddr == nil {
		o.clientAddr = clientip.New(clientip.WithTrustInternalMetadata(o.trustInternal)).Addr
	}
	return o
}

// WithClientAddrFunc sets how the record's client_ip is found. The gateway
// passes the clientip.Resolver every stage shares, so that behind a trusted
// proxy the record names the client, not the proxy. Default: the TCP peer,
// or with WithTrustInternalMetadata the REST front's client address. A nil
// f keeps the default.
func WithClientAddrFunc(f func(context.Context) netip.Addr) Option {
	return func(o *options) {
		if f != nil {
			o.clientAddr = f
		}
	}
}

// WithMethodFunc sets how the call's method policy is found (the gateway
// passes resolve.FromContext, with the audit stage after resolve). Without
// a policy a call is still recorded, with its method name and no request
// fields, and never fails closed. Default: no policy for any call.
func WithMethodFunc(f func(context.Context) (*policy.Method, bool)) Option {
	return func(o *options) { o.method = f }
}

// WithRequestFunc sets a fallback source of the decoded first request
// message, for request-level audit: f is called once, after the handler
// returns, with the context the interceptor gave the handler, when neither
// SetRequest nor the call itself (a unary request, or the first message a
// stream received as a proto.Message) provided one. Default: none.
func WithRequestFunc(f func(context.Context) (proto.Message, bool)) Option {
	return func(o *options) { o.request = f }
}

// WithRequestIDFunc sets how the call's request id and trace id are found.
// The default reads the incoming metadata that the requestid interceptor
// sets: "x-request-id", and the trace id of "traceparent".
func WithRequestIDFunc(f func(context.Context) (requestID, traceID string)) Option {
	return func(o *options) { o.requestID = f }
}

// WithSkip sets a predicate for methods that are not audited at all (no
// record, no policy.Record in the context), e.g. health checks. Default:
// every method is audited, also those without a policy.
func WithSkip(skip func(fullMethod string) bool) Option {
	return func(o *options) { o.skip = skip }
}

// WithTrustInternalMetadata makes the interceptor read the REST front's
// internal metadata keys (transport, client address, route, HTTP method,
// TLS version and client certificate). Only set it when those keys are
// stripped from client input, as the gateway does. Default false: gRPC
// facts only, from the peer and its credentials.TLSInfo.
func WithTrustInternalMetadata(trust bool) Option {
	return func(o *options) { o.trustInternal = trust }
}

// WithClock sets the clock for record times and durations. Default
// time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// WithRequiredTimeout bounds how long a call of a method whose audit is
// required waits for its intent record to be persisted before it is
// refused. Default DefaultRequiredTimeout (2s); the call's deadline also
// applies.
func WithRequiredTimeout(d time.Duration) Option {
	return func(o *options) { o.requiredTimeout = d }
}

// WithMaxRequestJSON caps the rendered request fields of one record; a
// larger rendering is replaced by "[TRUNCATED]". Default
// DefaultMaxRequestJSON (16 KiB).
func WithMaxRequestJSON(n int) Option { return func(o *options) { o.maxRequest = n } }

// requestIDFromMetadata reads "x-request-id" and the trace id part of
// "traceparent" ("00-<trace id>-<span id>-<flags>").
func requestIDFromMetadata(ctx context.Context) (string, string) {
	var id, trace string
	if v := policy.IncomingValue(ctx, "x-request-id"); len(v) == 1 {
		id = v[0]
	}
	if v := policy.IncomingValue(ctx, "traceparent"); len(v) == 1 && len(v[0]) == 55 && v[0][2] == '-' && v[0][35] == '-' {
		trace = v[0][3:35]
	}
	return id, trace
}
