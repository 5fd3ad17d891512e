package resolve

// Option configures the resolve interceptors.
type Option func(*options)

type options struct {
	allow func(fullMethod string) bool
}

func evaluateOptions(opts []Option) *options {
	o := &options{}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithAllow sets a predicate for methods that are not in the Resolver but
// may still be called, for example "/grpc.health.v1.Health/Check" or the
// reflection service that the gateway serves itself. Such calls reach the
// handler with no policy in the context; a method the Resolver knows always
// gets its policy, whatever allow says. The default allows nothing. allow is
// called concurrently and must be safe for that; a nil allow is the default.
func WithAllow(allow func(fullMethod string) bool) Option {
	return func(o *options) { o.allow = allow }
}
