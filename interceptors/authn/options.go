package authn

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/portcullis/portcullis/interceptors/clientip"
	"github.com/portcullis/portcullis/policy"
)

// Option configures an Authenticator.
type Option func(*options)

type options struct {
	method        func(context.Context) (*policy.Method, bool)
	trustInternal bool
	clientAddr    func(context.Context) netip.Addr
	logger        *slog.Logger
	cacheSize     int
	httpClient    *http.Client
	now           func() time.Time
	customClock   bool
}

const defaultCacheSize = 10_000

// protectedDefault is the policy assumed for every call when no
// WithMethodFunc is given: any enabled credential, nothing more.
var protectedDefault = &policy.Method{Credentials: policy.AnyCredential}

func evaluateOptions(opts []Option) *options {
	o := &options{
		method:    func(context.Context) (*policy.Method, bool) { return protectedDefault, true },
		logger:    slog.New(slog.DiscardHandler),
		cacheSize: defaultCacheSize,
		now:       time.Now,
	}
	for _, opt := range opts {
		opt(o)
	}
	if o.clientAddr == nil {
		o.clientAddr = clientip.New(clientip.WithTrustInternalMetadata(o.trustInternal)).Addr
	}
	return o
}

// WithMethodFunc sets how the interceptors find the called method's policy,
// usually resolve.FromContext (the resolve interceptor runs earlier in the
// chain). A call for which f reports false (gateway-own services such as
// health and reflection) passes through untouched: no credentials are read
// and no principal is stored. The default treats every call as protected,
// accepting any enabled credential, so that the interceptors fail closed in
// a server without method resolution. f is called concurrently; a nil f
// keeps the default.
func WithMethodFunc(f func(ctx context.Context) (*policy.Method, bool)) Option {
	return func(o *options) {
		if f != nil {
			o.method = f
		}
	}
}

// WithTrustInternalMetadata makes the interceptors trust the internal
// metadata keys that the gateway's REST front sets on its in-memory calls:
// policy.KeyClientAddr for the client address (with policy.KeyTransport
// "http"; see clientip.WithTrustInternalMetadata) and policy.KeyClientCertSHA256,
// KeyClientSPIFFE and KeyClientSubject for the client's verified
// certificate. Set it only where every internal key is stripped from client
// input before this interceptor runs, as the gateway does. The default,
// false, ignores those keys entirely, so a client cannot claim a
// certificate or an address by sending them.
func WithTrustInternalMetadata(trust bool) Option {
	return func(o *options) { o.trustInternal = trust }
}

// WithClientAddrFunc sets how the client address that API-key allow-lists
// (cidrs) are checked against is found. The gateway passes the
// clientip.Resolver every stage shares, so that behind a trusted proxy the
// check sees the client, not the proxy. The default is the TCP peer, or
// with WithTrustInternalMetadata the REST front's client address. A nil f
// keeps the default.
func WithClientAddrFunc(f func(context.Context) netip.Addr) Option {
	return func(o *options) {
		if f != nil {
			o.clientAddr = f
		}
	}
}

// WithLogger sets the logger that receives, at slog.LevelDebug, the precise
// reason of every refusal (never sent to the client), and at
// slog.LevelWarn, key set load problems. The default discards everything.
// A nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithCacheSize bounds the verified-token cache to about n entries (default
// 10000); when it is full, an entry is evicted, expired ones first. 0
// disables the cache, so that every call verifies its token's signature.
// New refuses a negative n.
func WithCacheSize(n int) Option {
	return func(o *options) { o.cacheSize = n }
}

// WithHTTPClient sets the client that fetches JWKS URLs, e.g. one with a
// custom root CA pool or proxy. The default is a client of its own that
// follows only https redirects. Each fetch is bounded by the issuer's
// FetchTimeout either way. A nil client keeps the default.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.httpClient = c
		}
	}
}

// WithClock sets the time source for every validity check (token exp, nbf
// and iat, API key expiry, cache expiry, JWKS refresh bound), for tests.
// The default is time.Now. A nil clock keeps the default.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now, o.customClock = now, true
		}
	}
}
