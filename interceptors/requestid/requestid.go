package requestid

import (
	"context"
	"sync/atomic"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	"github.com/portcullis/portcullis/policy"
)

// Metadata keys read from the client, replaced in the incoming metadata seen
// by later handlers, and (for RequestIDKey) sent back as a response header.
const (
	// RequestIDKey is the request id, in and out.
	RequestIDKey = "x-request-id"
	// TraceParentKey is the W3C Trace Context traceparent.
	TraceParentKey = "traceparent"
	// TraceStateKey is the W3C Trace Context tracestate.
	TraceStateKey = "tracestate"
)

// Info is the request id and trace context of one call. A value is never
// modified after it is stored, so it is safe to share between goroutines.
type Info struct {
	// RequestID is the client's valid x-request-id or a generated one.
	RequestID string
	// TraceID is the 32 hex digit trace id: the client's, or a new one
	// when this hop started the trace; "" when the call has no trace
	// context.
	TraceID string
	// SpanID is the 16 hex digit span id of this hop when it started the
	// trace (WithStartTraces): the parent id that TraceParent carries to
	// the next hop. "" otherwise: this hop does not replace a client's.
	SpanID string
	// ParentSpanID is the client's span id (the parent id of its valid
	// traceparent), or "".
	ParentSpanID string
	// TraceParent is the traceparent value to send downstream: the
	// client's valid one unchanged, the new one when this hop started the
	// trace, or "" when none is sent.
	TraceParent string
	// TraceState is the tracestate value to send downstream, or "".
	TraceState string
}

type (
	ctxKey  struct{}
	valsKey struct{}
)

// infoCtx is context.WithValue(parent, ctxKey{}, &info) in one allocation
// instead of two (the Info and the context node), with the values of the
// metadata it sets and the stream wrapper the handler gets: this runs on
// every call.
type infoCtx struct {
	context.Context
	info Info
	// vals backs the metadata values set from info (one allocation with
	// the rest).
	vals [4]string
	// stream is the handler's stream (stream interceptor only).
	stream idStream
	// headerSent records that the handler put the id into the header it
	// sent (ResponseHeaderValue).
	headerSent atomic.Bool
}

func (c *infoCtx) Value(key any) any {
	switch key {
	case ctxKey{}:
		return &c.info
	case valsKey{}:
		return c
	}
	return c.Context.Value(key)
}

// header is the response header that carries the request id.
func (c *infoCtx) header() metadata.MD { return metadata.MD{RequestIDKey: c.vals[3:4:4]} }

// idStream is the handler's stream: the call's stream with ctx.
type idStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *idStream) Context() context.Context { return s.ctx }

// Values returns the metadata values to send downstream for the call in
// ctx: its request id, and its traceparent and tracestate (each nil when
// none is to be sent: the caller removes that key), each a one-element
// slice shared with ctx's Info and capped, so that setting them in
// outgoing metadata allocates nothing. Callers must not modify them. ok is
// false when the interceptors stored no Info.
func Values(ctx context.Context) (requestID, traceParent, traceState []string, ok bool) {
	c, ok := ctx.Value(valsKey{}).(*infoCtx)
	if !ok {
		return nil, nil, nil, false
	}
	v := &c.vals
	if v[1] != "" {
		traceParent = v[1:2:2]
	}
	if v[2] != "" {
		traceState = v[2:3:3]
	}
	return v[0:1:1], traceParent, traceState, true
}

// ResponseHeaderValue returns the request id of the call in ctx for a
// response header that its handler sends itself (see WithHeaderFromHandler),
// and records that the header carries it, so that the stream interceptor
// does not set it again. The slice is shared and capped, as with Values.
// ok is false when the interceptors stored no Info.
func ResponseHeaderValue(ctx context.Context) ([]string, bool) {
	c, ok := ctx.Value(valsKey{}).(*infoCtx)
	if !ok {
		return nil, false
	}
	c.headerSent.Store(true)
	return c.vals[3:4:4], true
}

// FromContext returns the Info that the interceptors stored in ctx, and
// whether there is one. It is safe for concurrent use.
func FromContext(ctx context.Context) (Info, bool) {
	info, ok := ctx.Value(ctxKey{}).(*Info)
	if !ok {
		return Info{}, false
	}
	return *info, true
}

// UnaryServerInterceptor returns a unary server interceptor that resolves
// the request id and trace context of the call (see the package doc), stores
// them in the handler's context (FromContext), replaces "x-request-id",
// "traceparent" and "tracestate" in its incoming metadata, and sets the
// response header "x-request-id". It never fails the call. It is safe for
// concurrent use.
func UnaryServerInterceptor(opts ...Option) grpc.UnaryServerInterceptor {
	o := evaluateOptions(opts)
	return func(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		c := o.resolve(ctx)
		ctx = c
		// Fails only outside a real server (no transport stream) or after
		// headers were sent, which cannot happen before the handler; the
		// call goes on either way.
		_ = grpc.SetHeader(ctx, c.header())
		return handler(ctx, req)
	}
}

// StreamServerInterceptor returns a stream server interceptor that resolves
// the request id and trace context of the call (see the package doc), stores
// them in the stream's context (FromContext), replaces "x-request-id",
// "traceparent" and "tracestate" in its incoming metadata, and sets the
// response header "x-request-id". It never fails the call. It works on the
// transparent proxy path, which sees no decoded message. It is safe for
// concurrent use.
func StreamServerInterceptor(opts ...Option) grpc.StreamServerInterceptor {
	o := evaluateOptions(opts)
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		c := o.resolve(ss.Context())
		if o.handlerSends != nil && info != nil && o.handlerSends(info.FullMethod) {
			// Deferred, so that a panic recovered further out still
			// returns the id; skipped when the handler's own header
			// carried it (ResponseHeaderValue).
			defer func() {
				if !c.headerSent.Load() {
					_ = ss.SetHeader(c.header())
				}
			}()
		} else {
			_ = ss.SetHeader(c.header())
		}
		c.stream = idStream{ServerStream: ss, ctx: c}
		return handler(srv, &c.stream)
	}
}

// resolve builds the Info of the call from the incoming metadata of ctx and
// returns ctx carrying it and the rewritten incoming metadata.
func (o *options) resolve(ctx context.Context) *infoCtx {
	var md metadata.MD
	if o.rewrite {
		// FromIncomingContext returns a copy, which becomes the new incoming
		// metadata; the caller's is never modified.
		var ok bool
		if md, ok = metadata.FromIncomingContext(ctx); !ok {
			md = make(metadata.MD, 3)
		}
	}
	get := func(key string) []string {
		if md != nil {
			return md[key]
		}
		// Read only this key, without copying the whole metadata.
		return policy.IncomingValue(ctx, key)
	}

	var clientID string
	if v := get(RequestIDKey); len(v) == 1 && validRequestID(v[0]) {
		clientID = v[0]
	}
	var tp string
	if v := get(TraceParentKey); len(v) == 1 {
		tp = v[0]
	}
	traceID, parentID, _, continued := parseTraceParent(tp)
	start := !continued && o.startTraces

	// One string holds what is generated: the request id (unless the
	// client's is kept) and the new traceparent (when this hop starts the
	// trace); the Info fields are substrings of it.
	var buf [32 + traceParentLen]byte
	b := buf[:0]
	if clientID == "" {
		b = appendRandomHex(b, 16)
	}
	if start {
		b = appendNewTraceParent(b, o.newTraceFlags)
	}
	s := string(b)

	c := &infoCtx{}
	info := &c.info
	info.RequestID = clientID
	if clientID == "" {
		info.RequestID = s[:32]
	}
	switch {
	case continued:
		// Passed on unchanged: this hop records no span (see the package doc).
		info.TraceParent, info.TraceID, info.ParentSpanID = tp, traceID, parentID
		info.TraceState = traceState(get(TraceStateKey))
	case start:
		info.TraceParent = s[len(s)-traceParentLen:]
		info.TraceID = info.TraceParent[3:35]
		info.SpanID = info.TraceParent[36:52]
	}

	// One backing array for every value slice set below; each slice is
	// capped so that an append by a later reader cannot overwrite another.
	c.vals = [...]string{info.RequestID, info.TraceParent, info.TraceState, info.RequestID}
	vs := c.vals[:]
	if !o.rewrite {
		c.Context = ctx
		return c
	}
	md[RequestIDKey] = vs[0:1:1]
	if info.TraceParent != "" {
		md[TraceParentKey] = vs[1:2:2]
	} else {
		delete(md, TraceParentKey)
	}
	if info.TraceState != "" {
		md[TraceStateKey] = vs[2:3:3]
	} else {
		delete(md, TraceStateKey)
	}
	c.Context = policy.WithIncoming(ctx, md) // keeps policy.IncomingValue in step
	return c
}
