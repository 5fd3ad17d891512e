package rest

import "net/http"

// Option configures the REST front.
type Option func(*options)

type options struct {
	maxBodyBytes int64
	middleware   func(http.Handler) http.Handler
}

func defaultOptions() options { return options{maxBodyBytes: 4 << 20} }

// WithMaxBodyBytes caps request bodies; larger bodies fail with 400 before
// they are decoded. Default 4 MiB; 0 disables the cap.
func WithMaxBodyBytes(n int64) Option { return func(o *options) { o.maxBodyBytes = n } }

// WithMiddleware wraps the route handlers in mw, after internal headers
// are stripped and the body is bounded, before the body is decoded: the
// gateway verifies HTTP Message Signatures there. mw answers refusals with
// WriteError so that every REST error looks the same.
func WithMiddleware(mw func(http.Handler) http.Handler) Option {
	return func(o *options) { o.middleware = mw }
}
