package requestid

// Option configures the request id interceptors.
type Option func(*options)

type options struct {
	startTraces   bool
	newTraceFlags string
	rewrite       bool
	handlerSends  func(fullMethod string) bool
}

func evaluateOptions(opts []Option) *options {
	o := &options{newTraceFlags: "00", rewrite: true}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithStartTraces makes the interceptor start a new trace for a call whose
// client sent no valid traceparent: a new trace id, a new span id for this
// hop (Info.SpanID) and trace-flags "01" when sampled (which asks
// parent-based samplers downstream to record the trace), else "00". Without
// it such a call carries no trace context at all. A valid client
// traceparent is always passed on unchanged, with or without this option.
//
// This hop records no span of its own, so the new span id is a root that
// no trace collector knows; tracers show the backend's span under a parent
// that is missing. Use it when correlating every call by trace id (the
// audit record's trace_id, backend logs) is worth that.
func WithStartTraces(sampled bool) Option {
	return func(o *options) {
		o.startTraces = true
		if sampled {
			o.newTraceFlags = "01"
		} else {
			o.newTraceFlags = "00"
		}
	}
}

// WithoutMetadataRewrite keeps the incoming metadata as the client sent it
// instead of replacing "x-request-id", "traceparent" and "tracestate" in it,
// which saves copying the whole metadata on every call. Use it when the
// next hop's outgoing metadata is built from FromContext instead (the
// Portcullis gateway does this in its proxy). Default: rewrite.
func WithoutMetadataRewrite() Option { return func(o *options) { o.rewrite = false } }

// WithHeaderFromHandler is for stream handlers that put the request id
// (ResponseHeaderValue) into the response header they send themselves, as
// the Portcullis proxy does (proxy.WithResponseHeader); sends reports, for
// a full method name, whether its handler does. For those calls the stream
// interceptor sets the "x-request-id" response header only when the handler
// returns (or panics) and has not taken the id for its header, which
// reaches the client when the call ended without a header (trailers-only,
// such as a refused call). That saves merging the header metadata twice on
// every call. Other methods get the header up front as usual. The unary
// interceptor ignores it.
func WithHeaderFromHandler(sends func(fullMethod string) bool) Option {
	return func(o *options) { o.handlerSends = sends }
}
