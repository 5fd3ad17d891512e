package recovery

import "log/slog"

// Option configures the recovery interceptors.
type Option func(*options)

type options struct {
	logger  *slog.Logger
	counter func(fullMethod string)
}

func evaluateOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithLogger sets the logger that records each recovered panic at level
// Error, with attributes "grpc.method", "panic" and "stack". The default (and
// a nil logger) is slog.Default(), looked up when the panic happens so that a
// later slog.SetDefault takes effect. The logger must be safe for concurrent
// use, as every slog.Logger is.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithCounter sets a callback called once per recovered panic with the full
// method name, for example to increment a Prometheus counter. The default is
// none. f is called concurrently from many calls and must be safe for that;
// the method name comes from the client on the proxy path, so f must not use
// it as an unbounded metric label.
func WithCounter(f func(fullMethod string)) Option {
	return func(o *options) { o.counter = f }
}
