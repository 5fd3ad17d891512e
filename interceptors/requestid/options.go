package requestid

// Option configures the request id interceptors.
type Option func(*options)

type options struct {
	newTraceFlags string
	rewrite       bool
}

func evaluateOptions(opts []Option) *options {
	o := &options{newTraceFlags: "00", rewrite: true}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithSampled sets the sampled flag of the traces that the interceptor
// starts (when the client sent no valid traceparent): true sends trace-flags
// "01", which asks parent-based samplers downstream to record the trace.
// The default is false (trace-flags "00"). A continued trace always keeps
// the client's flags.
func WithSampled(sampled bool) Option {
	return func(o *options) {
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
