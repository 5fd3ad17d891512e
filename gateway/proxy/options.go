package proxy

import (
	"context"
	"crypto/tls"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
	"google.golang.org/grpc/metadata"
)

// Option configures Handler.
type Option func(*options)

type options struct {
	outgoing           func(ctx context.Context, md metadata.MD)
	responseHeader     func(ctx context.Context, md metadata.MD)
	singleRequest      func(ctx context.Context, fullMethod string) bool
	incoming           func(ctx context.Context) (metadata.MD, bool)
	defaultTimeout     func(fullMethod string) time.Duration
	callOptions        []grpc.CallOption
	compressionMatches bool
}

func defaultOptions() options {
	return options{compressionMatches: true}
}

// WithCallOptions adds grpc.CallOptions to every backend call, for example
// grpc.MaxCallRecvMsgSize or grpc.PerRPCCredentials. They apply after the
// Handler's own content-subtype and compressor options, so they may override
// those; the codec is always Codec and cannot be replaced. Default: none.
func WithCallOptions(opts ...grpc.CallOption) Option {
	return func(o *options) { o.callOptions = append(o.callOptions, opts...) }
}

// WithCompressionMatching says whether the backend call compresses its
// messages with the compressor the client used (the client's grpc-encoding,
// when that compressor is registered). When false, messages to the backend
// go uncompressed, and so (with grpc-go backends) do the backend's replies;
// the client's leg is unaffected either way. Default: true.
func WithCompressionMatching(enabled bool) Option {
	return func(o *options) { o.compressionMatches = enabled }
}

// PoolOption configures a Pool.
type PoolOption func(*poolOptions)

type poolOptions struct {
	credentials func(Target) (credentials.TransportCredentials, error)
	maxRecv     int // 0: grpc-go's default
	maxSend     int // 0: grpc-go's default
	dialOptions []grpc.DialOption
}

func defaultPoolOptions() poolOptions {
	return poolOptions{credentials: defaultCredentials}
}

// defaultCredentials is TLS 1.2 or later against the system roots, checking
// the certificate for Target.ServerName (or the address's host when empty).
func defaultCredentials(t Target) (credentials.TransportCredentials, error) {
	return credentials.NewTLS(&tls.Config{ServerName: t.ServerName, MinVersion: tls.VersionTLS12}), nil
}

// WithTransportCredentials sets the function that returns the transport
// credentials for a target; it is called once per target, when the target is
// first dialled, and an error fails that Conn call. Use it for mTLS to the
// backends (tls.Config with the gateway's client certificate and the
// backends' CA) or, in tests only, insecure.NewCredentials(). Default: TLS
// 1.2+ verified against the system roots for Target.ServerName, or for the
// host of Target.Address when ServerName is empty.
func WithTransportCredentials(fn func(Target) (credentials.TransportCredentials, error)) PoolOption {
	return func(o *poolOptions) { o.credentials = fn }
}

// WithMaxCallRecvMsgSize sets the largest message, in bytes, a backend
// connection accepts from the backend; a larger one fails the call with
// codes.ResourceExhausted. Default: grpc-go's, 4 MiB.
func WithMaxCallRecvMsgSize(bytes int) PoolOption {
	return func(o *poolOptions) { o.maxRecv = bytes }
}

// WithMaxCallSendMsgSize sets the largest message, in bytes, a backend
// connection sends to the backend; a larger one fails the call with
// codes.ResourceExhausted. Default: grpc-go's, math.MaxInt32.
func WithMaxCallSendMsgSize(bytes int) PoolOption {
	return func(o *poolOptions) { o.maxSend = bytes }
}

// WithDialOptions adds grpc.DialOptions to every backend connection (keepalive,
// window sizes, stats handlers, interceptors). They apply after the Pool's own
// options and so may override them. Default: none.
func WithDialOptions(opts ...grpc.DialOption) PoolOption {
	return func(o *poolOptions) { o.dialOptions = append(o.dialOptions, opts...) }
}

// WithOutgoingMetadata lets the caller edit the backend call's request
// metadata in place, after the hop's own keys are removed: f receives the
// call's context and a fresh map it may change (set ids, delete keys).
// Default: none. f is called concurrently.
func WithOutgoingMetadata(f func(ctx context.Context, md metadata.MD)) Option {
	return func(o *options) { o.outgoing = f }
}

// WithResponseHeader lets f add to (or change) the response header the
// Handler sends the client: f receives the call's context and a fresh
// map, the backend's header as forwarded, which it may change. It is not
// called for a call that ends without a header (trailers-only); headers
// for those are the server's (grpc.SetHeader from an interceptor).
// Default: none. f is called concurrently.
func WithResponseHeader(f func(ctx context.Context, md metadata.MD)) Option {
	return func(o *options) { o.responseHeader = f }
}

// WithDefaultTimeout sets the deadline of backend calls whose client sent
// none: f returns the timeout for a full method name, 0 for none. The
// Handler derives the backend call's context once, with the timeout (a
// Director could add one too, at the cost of a second context and its
// registration with the first). Default: none. f is called concurrently.
func WithDefaultTimeout(f func(fullMethod string) time.Duration) Option {
	return func(o *options) { o.defaultTimeout = f }
}

// WithSingleRequest tells the Handler which calls carry exactly one request
// message (unary and server-streaming methods): f receives the call's
// context and full method name. For those the Handler forwards the first
// message and the half-close itself, without the request goroutine that
// streams of unknown shape need, and never reads a second message (as
// grpc-go's own server does not). f must know the method's shape from the
// service's descriptor; a client-streaming method reported as single would
// reach its backend with only its first message. Default: none (every call
// is pumped as a bidi stream). f is called concurrently.
func WithSingleRequest(f func(ctx context.Context, fullMethod string) bool) Option {
	return func(o *options) { o.singleRequest = f }
}

// WithIncomingMetadata gives the Handler the call's incoming metadata
// without the copy metadata.FromIncomingContext makes: f returns the map a
// stage earlier in the chain stored (the gateway's policy.Incoming). The
// Handler never modifies it; the backend's metadata is a new map sharing
// its value slices. Default: metadata.FromIncomingContext. f is called
// concurrently.
func WithIncomingMetadata(f func(ctx context.Context) (metadata.MD, bool)) Option {
	return func(o *options) { o.incoming = f }
}
