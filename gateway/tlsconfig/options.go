package tlsconfig

import (
	"log/slog"
	"time"
)

// Option configures NewServer, NewClient, ServerConfig and ClientConfig.
type Option func(*options)

type options struct {
	nextProtos []string
	interval   time.Duration
	logger     *slog.Logger
	onError    func(error)
}

func defaultOptions() options {
	return options{nextProtos: []string{"h2"}, interval: time.Second}
}

// WithNextProtos sets the ALPN protocols, in order of preference. The
// default is "h2" only, right for gRPC; listeners that also serve HTTP/1.1
// clients (the REST front, the admin endpoints) pass "h2", "http/1.1".
func WithNextProtos(protos ...string) Option {
	return func(o *options) { o.nextProtos = append([]string(nil), protos...) }
}

// WithCheckInterval sets how often, at most, a handshake stats the files for
// changes. The default is one second; zero checks on every handshake.
func WithCheckInterval(d time.Duration) Option {
	return func(o *options) { o.interval = max(d, 0) }
}

// WithLogger sets the logger for successful reloads and, unless
// WithErrorHandler is given, failed ones. The default is slog.Default().
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

// WithErrorHandler sets the function told about a failed reload; the
// previous certificates stay in use. It may be called from any handshake
// goroutine, but never concurrently. The default logs at error level.
func WithErrorHandler(fn func(error)) Option {
	return func(o *options) { o.onError = fn }
}
