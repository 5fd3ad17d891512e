package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/policy"
)

// Metadata keys the interceptors read credentials from.
const (
	// AuthorizationKey carries "Bearer <jwt>". The REST front forwards the
	// HTTP Authorization header under the same key.
	AuthorizationKey = "authorization"
	// APIKeyKey carries a Portcullis API key, "pcs_<id>_<secret>".
	APIKeyKey = "x-api-key"
)

// errRefused is the only error the interceptors return. Every refusal,
// whatever its reason, reads the same, so that nothing leaks to the client.
var errRefused = status.Error(codes.Unauthenticated, "missing or invalid credentials")

// anonymous is the principal of public calls without valid credentials.
var anonymous = &policy.Principal{ID: policy.KindAnonymous, Kind: policy.KindAnonymous}

// Authenticator turns the credentials of a call into a *policy.Principal.
// It is built once per listener by New, is immutable afterwards apart from
// its key sets and token cache (both safe for concurrent use), and must be
// closed with Close to stop its JWKS refreshers.
type Authenticator struct {
	cfg             Config
	o               *options
	keys            KeySource
	issuers         map[string]*issuer
	algs            []jose.SignatureAlgorithm // union of the issuers' pinned algs
	cache           *cache
	restrictedBound bool
	ownClient       *http.Client // closed by Close; nil with WithHTTPClient

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New validates cfg, loads every issuer's key set and returns an
// Authenticator. A JWKS file must load and hold at least one usable key;
// a JWKS URL is fetched once (bounded by its FetchTimeout) and, if that
// fails, retried in the background and on the first tokens, so that an
// identity provider outage at start-up does not stop the gateway (tokens
// of that issuer are refused until its keys load). keys may be nil when
// cfg.APIKeys is false. New starts one goroutine per issuer when cfg.JWT is
// set; Close stops them.
func New(cfg Config, keys KeySource, opts ...Option) (*Authenticator, error) {
	o := evaluateOptions(opts)
	if o.cacheSize < 0 {
		return nil, fmt.Errorf("authn: WithCacheSize(%d): must not be negative", o.cacheSize)
	}
	cfg, err := cfg.validate()
	if err != nil {
		return nil, err
	}
	if cfg.APIKeys && keys == nil {
		return nil, errors.New("authn: config: api_keys is enabled but the KeySource is nil")
	}
	base, cancel := context.WithCancel(context.Background())
	a := &Authenticator{
		cfg:             cfg,
		o:               o,
		keys:            keys,
		issuers:         map[string]*issuer{},
		cache:           newCache(o.cacheSize, o.now, o.customClock),
		restrictedBound: cfg.RestrictedRequiresBoundToken == nil || *cfg.RestrictedRequiresBoundToken,
		cancel:          cancel,
	}
	client := o.httpClient
	if client == nil {
		a.ownClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), CheckRedirect: httpsOnly}
		client = a.ownClient
	}
	if !cfg.JWT {
		return a, nil
	}
	for _, ic := range cfg.Issuers {
		is := &issuer{cfg: ic, cache: a.cache, client: client, log: o.logger, now: o.now, base: base}
		for _, alg := range ic.Algorithms {
			is.algs = append(is.algs, jose.SignatureAlgorithm(alg))
			if !slices.Contains(a.algs, jose.SignatureAlgorithm(alg)) {
				a.algs = append(a.algs, jose.SignatureAlgorithm(alg))
			}
		}
		is.keys.Store(&keySet{byKID: map[string][]*verifyKey{}})
		if ic.JWKSFile != "" {
			if err := is.reload(base); err != nil {
				_ = a.Close()
				return nil, err
			}
			if is.keys.Load().n == 0 {
				_ = a.Close()
				return nil, fmt.Errorf("authn: issuer %q: JWKS %s has no usable key", ic.Issuer, ic.JWKSFile)
			}
		} else {
			is.refresh(base, true)
		}
		a.issuers[ic.Issuer] = is
	}
	for _, is := range a.issuers {
		a.wg.Go(func() { is.run(base) })
	}
	if a.cache != nil && !o.customClock {
		a.wg.Go(func() { a.cache.clock.run(base) })
	}
	return a, nil
}

func httpsOnly(req *http.Request, via []*http.Request) error {
	if req.URL.Scheme != "https" {
		return fmt.Errorf("authn: JWKS redirect to non-https URL %s refused", req.URL.Redacted())
	}
	if len(via) >= 5 {
		return errors.New("authn: JWKS fetch: too many redirects")
	}
	return nil
}

// Close stops the JWKS refreshers and waits for them. The interceptors keep
// working with the last loaded keys. It is safe to call more than once and
// concurrently; it always returns nil.
func (a *Authenticator) Close() error {
	a.closeOnce.Do(func() {
		a.cancel()
		a.wg.Wait()
		if a.ownClient != nil {
			a.ownClient.CloseIdleConnections()
		}
	})
	return nil
}

// UnaryServerInterceptor returns a unary server interceptor that
// authenticates every call with a method policy and stores the principal in
// the handler's context (FromContext) and in the call's policy.Record. A
// refused call gets codes.Unauthenticated with the fixed message "missing
// or invalid credentials" and the handler is not called. It is safe for
// concurrent use.
func (a *Authenticator) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		p, err := a.authenticate(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		if p == nil {
			return handler(ctx, req)
		}
		return handler(&principalCtx{Context: ctx, p: p}, req)
	}
}

// StreamServerInterceptor returns a stream server interceptor that does
// what UnaryServerInterceptor does, before the handler runs, from the
// method name, metadata, peer and TLS state only (no message is read), so
// it runs on the gateway's transparent proxy path. It is safe for
// concurrent use.
func (a *Authenticator) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		ctx := ss.Context()
		p, err := a.authenticate(ctx, info.FullMethod)
		if err != nil {
			return err
		}
		if p == nil {
			return handler(srv, ss)
		}
		s := &stream{ServerStream: ss}
		s.ctx = principalCtx{Context: ctx, p: p}
		return handler(srv, s)
	}
}

// authenticate returns the call's principal, nil for a call without a
// method policy (let through untouched), or errRefused.
func (a *Authenticator) authenticate(ctx context.Context, fullMethod string) (*policy.Principal, error) {
	m, ok := a.o.method(ctx)
	if !ok || m == nil {
		return nil, nil
	}
	p, why := a.identify(ctx, m)
	rec := policy.RecordFrom(ctx)
	if why != "" {
		if !m.Public {
			if rec != nil {
				rec.AuthnFailure = why
			}
			a.debug(ctx, "authn: refused", fullMethod, why)
			return nil, errRefused
		}
		a.debug(ctx, "authn: invalid credentials on a public method, continuing anonymously", fullMethod, why)
		p = anonymous
	}
	if rec != nil {
		rec.Principal = p
	}
	return p, nil
}

func (a *Authenticator) debug(ctx context.Context, msg, method, why string) {
	if a.o.logger.Enabled(ctx, slog.LevelDebug) {
		a.o.logger.LogAttrs(ctx, slog.LevelDebug, msg, slog.String("method", method), slog.String("reason", why))
	}
}

// identify finds the one credential of the call, authenticates it and
// checks it against the method's requirements.
func (a *Authenticator) identify(ctx context.Context, m *policy.Method) (*policy.Principal, string) {
	authz := policy.IncomingValue(ctx, AuthorizationKey)
	keys := policy.IncomingValue(ctx, APIKeyKey)
	c := connection(ctx, a.o.trustInternal, a.o.clientAddr)
	var p *policy.Principal
	var why string
	switch {
	case len(authz) > 1:
		return nil, fmt.Sprintf("ambiguous: %d authorization values", len(authz))
	case len(keys) > 1:
		return nil, fmt.Sprintf("ambiguous: %d API keys", len(keys))
	case len(authz) == 1 && len(keys) == 1:
		return nil, "ambiguous: both a bearer token and an API key"
	case len(authz) == 1:
		p, why = a.bearer(ctx, authz[0], &c)
	case len(keys) == 1:
		p, why = a.apiKey(keys[0], &c, a.o.now())
	case c.cert:
		p, why = a.certificate(&c)
	case m.Public:
		return anonymous, ""
	default:
		return nil, "no credentials"
	}
	if why != "" {
		return nil, why
	}
	return p, a.check(p, m)
}

// check applies the method's credential requirements to an authenticated
// principal, on every call (cached tokens included).
func (a *Authenticator) check(p *policy.Principal, m *policy.Method) string {
	switch {
	case !m.Credentials.Has(p.Credential):
		return fmt.Sprintf("method allows %s credentials, not %s", m.Credentials, p.Credential)
	case m.RequireMTLS && !p.MTLS:
		return "method requires a verified client certificate"
	case m.RequireBoundToken && !p.Bound:
		return "method requires a certificate-bound token"
	case a.restrictedBound && m.Sensitivity == policy.SensitivityRestricted && (!p.MTLS || !p.Bound):
		return "restricted method requires mTLS and a certificate-bound token"
	}
	return ""
}
