package signature

import (
	"context"
	"log/slog"
	"net/http"
	"time"
)

// Option configures a Verifier.
type Option func(*options)

type options struct {
	requiredGRPC  func(context.Context) bool
	requiredHTTP  func(*http.Request) bool
	window        time.Duration
	nonces        NonceCache
	firstMessage  func(context.Context) ([]byte, bool)
	components    []string
	maxBodyBytes  int64
	errorHandler  func(http.ResponseWriter, *http.Request, error)
	logger        *slog.Logger
	now           func() time.Time
	memoryNonces  int
	nonceCacheSet bool
}

// Defaults.
const (
	defaultWindow       = 5 * time.Minute
	defaultMaxBodyBytes = 4 << 20
	defaultMemoryNonces = 1 << 20
)

// defaultComponents must be covered by every signed REST request.
var defaultComponents = []string{"@method", "@authority", "@path"}

func evaluateOptions(opts []Option) *options {
	o := &options{
		requiredGRPC: func(context.Context) bool { return true },
		requiredHTTP: func(*http.Request) bool { return true },
		window:       defaultWindow,
		components:   defaultComponents,
		maxBodyBytes: defaultMaxBodyBytes,
		errorHandler: writeError,
		logger:       slog.New(slog.DiscardHandler),
		now:          time.Now,
		memoryNonces: defaultMemoryNonces,
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithRequired decides which gRPC calls must be signed: f sees the call's
// context (method policy, API key, metadata; grpc.Method(ctx) gives the
// full method) and reports true for calls that must carry a valid
// signature. Calls for which it reports false pass through untouched,
// whether or not they carry a signature. The default requires a signature
// on every call, so that the interceptors fail closed. f is called
// concurrently; a nil f keeps the default.
func WithRequired(f func(ctx context.Context) bool) Option {
	return func(o *options) {
		if f != nil {
			o.requiredGRPC = f
		}
	}
}

// WithRequiredHTTP is WithRequired for HTTPMiddleware: f sees the REST
// request before it is read. The default requires a signature on every
// request. f is called concurrently; a nil f keeps the default.
func WithRequiredHTTP(f func(r *http.Request) bool) Option {
	return func(o *options) {
		if f != nil {
			o.requiredHTTP = f
		}
	}
}

// WithWindow sets how far the signature's created time may be from now,
// in either direction (default 5 minutes). It is also how long a nonce is
// remembered. New refuses a window that is not positive.
func WithWindow(d time.Duration) Option {
	return func(o *options) { o.window = d }
}

// WithNonceCache sets where used nonces are remembered, for example a
// RedisNonceCache shared by every replica. The default is an in-memory
// cache of up to about one million nonces per Verifier (see
// WithMemoryNonceCacheSize). A nil cache keeps the default.
func WithNonceCache(c NonceCache) Option {
	return func(o *options) {
		if c != nil {
			o.nonces, o.nonceCacheSet = c, true
		}
	}
}

// WithMemoryNonceCacheSize bounds the default in-memory nonce cache to n
// nonces (default 1<<20, about 80 MB when full). When it is full of
// unexpired nonces, signed calls are refused until entries expire: the
// cache never forgets a nonce early. New refuses n < 1. It has no effect
// with WithNonceCache.
func WithMemoryNonceCacheSize(n int) Option {
	return func(o *options) { o.memoryNonces = n }
}

// WithFirstMessageBytes gives the stream interceptor the raw bytes of the
// first request message, for the gateway's proxy path, where messages are
// never decoded: f returns them and true once the decode stage has read
// the first message, or false when it has not. With the bytes, the digest
// is checked before the handler runs. Without them (no option, or f
// reports false) the stream interceptor checks the digest when the
// handler receives the first message, against its deterministic protobuf
// encoding, and fails that RecvMsg. f is called concurrently.
func WithFirstMessageBytes(f func(ctx context.Context) ([]byte, bool)) Option {
	return func(o *options) { o.firstMessage = f }
}

// WithRequiredComponents replaces the components every signed REST request
// must cover (default "@method", "@authority", "@path"). Whatever the
// setting, a request must also cover "@query" when it has a query string,
// "content-type" when it has that header and "content-digest" unless it
// declares an empty body. New refuses names outside the supported
// components. The gRPC profile's required components are fixed (see the
// package documentation).
func WithRequiredComponents(names ...string) Option {
	return func(o *options) { o.components = append([]string(nil), names...) }
}

// WithMaxBodyBytes bounds the REST request bodies that HTTPMiddleware reads
// to check content-digest (default 4 MiB, the REST front's default). A
// larger body is refused with 413 before it is verified. New refuses
// n < 1.
func WithMaxBodyBytes(n int64) Option {
	return func(o *options) { o.maxBodyBytes = n }
}

// WithHTTPErrorHandler sets how HTTPMiddleware answers a refused request:
// err is a status error, codes.Unauthenticated "invalid request signature"
// or codes.InvalidArgument "request body too large". The default writes
// 401 (or 413) with a google.rpc.Status JSON body, the format of
// grpc-gateway's default error handler; the gateway passes the REST front's
// handler so that every REST error looks the same. A nil h keeps the
// default.
func WithHTTPErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(o *options) {
		if h != nil {
			o.errorHandler = h
		}
	}
}

// WithLogger sets the logger that receives the precise reason of every
// refusal at slog.LevelDebug (never sent to the client). The default
// discards everything. A nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClock sets the time source of the created/expires checks and of the
// in-memory nonce cache, for tests. The default is time.Now. A nil clock
// keeps the default.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}
