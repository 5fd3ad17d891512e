package config

// Tracing (tracing) is how the gateway treats W3C Trace Context. The
// gateway records no spans: a client's valid traceparent (and tracestate)
// always reaches the backend unchanged, and an invalid one is dropped.
// This block only decides what a call without one carries.
type Tracing struct {
	// StartTraces (start_traces) starts a new trace for a call that came
	// without a valid traceparent, so that every backend call and audit
	// record (trace_id) carries a trace id. Its span id is recorded by no
	// collector. Default false: such a call carries no trace context.
	StartTraces bool `yaml:"start_traces"`
	// Sampled (sampled) sets trace-flags 01 on the traces start_traces
	// starts, asking parent-based samplers downstream to record them.
	// Default false (00). Needs start_traces.
	Sampled bool `yaml:"sampled"`
}

func (v *validator) tracing(c *Config) {
	if t := c.Tracing; t != nil && t.Sampled && !t.StartTraces {
		v.add("tracing.sampled", "applies only to the traces the gateway starts: set tracing.start_traces: true as well")
	}
}
