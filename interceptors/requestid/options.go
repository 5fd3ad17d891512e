package requestid

// Option configures the request id interceptors.
type Option func(*options)

type options struct {
	newTraceFlags string
}

func evaluateOptions(opts []Option) *options {
	o := &options{newTraceFlags: "00"}
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
