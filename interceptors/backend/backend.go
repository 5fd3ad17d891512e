package backend

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"
)

// errRefused is the only error the interceptors return. Every refusal,
// whatever its reason, reads the same, so that nothing leaks to a caller
// that tried to go around the gateway.
var errRefused = status.Error(codes.Unauthenticated, "call did not come through the gateway")

// Verifier checks the gateway's assertion on every call of a backend. It
// is built by New, is immutable afterwards apart from its key set and
// replay memory (both safe for concurrent use), and must be closed with
// Close to stop its key refresher.
type Verifier struct {
	cfg       Config
	o         *options
	algs      []jose.SignatureAlgorithm
	exempt    exemption
	keys      *keySource
	replay    *replayCache // nil without WithReplayProtection
	ownClient *http.Client // closed by Close; nil with WithHTTPClient

	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once
}

// New validates cfg and loads the gateway's keys. Static keys and a JWKS
// file must load and hold at least one usable key. A JWKS URL is fetched
// once, bounded by cfg.FetchTimeout; if that fails, New still succeeds and
// the keys are retried in the background and on the first calls, so that a
// backend may start before the gateway (calls are refused until the keys
// load). New starts one goroutine for a URL or file; Close stops it.
func New(cfg Config, opts ...Option) (*Verifier, error) {
	o := evaluateOptions(opts)
	if o.replayMax < 0 {
		return nil, fmt.Errorf("backend: WithReplayProtection(%d): must not be negative", o.replayMax)
	}
	ex, err := newExemption(o.exempt)
	if err != nil {
		return nil, err
	}
	cfg, err = cfg.validate()
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.Background())
	v := &Verifier{cfg: cfg, o: o, exempt: ex, cancel: cancel}
	for _, a := range cfg.Algorithms {
		v.algs = append(v.algs, jose.SignatureAlgorithm(a))
	}
	if o.replayMax > 0 {
		v.replay = newReplayCache(o.replayMax)
	}
	client := o.httpClient
	if client == nil {
		v.ownClient = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), CheckRedirect: redirectPolicy}
		client = v.ownClient
	}
	v.keys = &keySource{cfg: &v.cfg, client: client, log: o.logger, now: o.now, base: base}
	switch {
	case cfg.JWKS != nil:
		if err := v.keys.load(cfg.JWKS); err != nil {
			_ = v.Close()
			return nil, fmt.Errorf("backend: config: jwks: %w", err)
		}
		return v, nil
	case cfg.JWKSFile != "":
		if err := v.keys.reload(base); err != nil {
			_ = v.Close()
			return nil, err
		}
	default:
		if err := v.keys.reload(base); err != nil {
			o.logger.Warn("backend: JWKS not loaded yet; calls are refused until it is", "error", err)
		}
	}
	v.wg.Go(func() { v.keys.run(base) })
	return v, nil
}

// Close stops the key refresher and waits for it. The interceptors keep
// working with the last loaded keys. It is safe to call more than once and
// concurrently; it always returns nil.
func (v *Verifier) Close() error {
	v.closeOnce.Do(func() {
		v.cancel()
		v.wg.Wait()
		if v.ownClient != nil {
			v.ownClient.CloseIdleConnections()
		}
	})
	return nil
}

// UnaryServerInterceptor returns a unary server interceptor that verifies
// the assertion in metadata MetadataKey of every call (except exempt
// methods) and stores it in the handler's context (FromContext). A call
// without exactly one valid assertion for this method gets
// codes.Unauthenticated with the fixed message "call did not come through
// the gateway", and the handler is not called. It is safe for concurrent
// use.
func (v *Verifier) UnaryServerInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		if v.exempt.has(info.FullMethod) {
			return handler(ctx, req)
		}
		a, err := v.check(ctx, info.FullMethod)
		if err != nil {
			return nil, err
		}
		return handler(&assertionCtx{Context: ctx, a: a}, req)
	}
}

// StreamServerInterceptor returns a stream server interceptor that does
// what UnaryServerInterceptor does, before the handler runs and before any
// message is read. It is safe for concurrent use.
func (v *Verifier) StreamServerInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		if v.exempt.has(info.FullMethod) {
			return handler(srv, ss)
		}
		ctx := ss.Context()
		a, err := v.check(ctx, info.FullMethod)
		if err != nil {
			return err
		}
		s := &stream{ServerStream: ss}
		s.ctx = assertionCtx{Context: ctx, a: a}
		return handler(srv, s)
	}
}

// check reads and verifies the call's one assertion, or returns errRefused.
func (v *Verifier) check(ctx context.Context, fullMethod string) (*Assertion, error) {
	vals := metadata.ValueFromIncomingContext(ctx, MetadataKey)
	var err error
	var a *Assertion
	switch len(vals) {
	case 0:
		err = errors.New("no assertion")
	case 1:
		a, err = v.Verify(ctx, fullMethod, vals[0])
	default:
		err = fmt.Errorf("%d assertions", len(vals))
	}
	if err != nil {
		v.refused(ctx, fullMethod, err)
		return nil, errRefused
	}
	return a, nil
}

func (v *Verifier) refused(ctx context.Context, fullMethod string, err error) {
	if !v.o.logger.Enabled(ctx, slog.LevelDebug) {
		return
	}
	attrs := []slog.Attr{slog.String("method", fullMethod), slog.String("reason", err.Error())}
	if p, ok := peer.FromContext(ctx); ok && p.Addr != nil {
		attrs = append(attrs, slog.String("peer", p.Addr.String()))
	}
	v.o.logger.LogAttrs(ctx, slog.LevelDebug, "backend: call refused", attrs...)
}

// Verify checks one assertion (the value of MetadataKey) for a call of
// fullMethod and returns its claims: structure, pinned algorithm, typ,
// key (from the gateway's set only; an unknown kid triggers a bounded
// refresh), signature, iss, aud, method, exp and iat with leeway, maximum
// lifetime and, with WithReplayProtection, first use of its jti. The
// error says why an assertion was refused, for logs only: never send it
// to the caller. The interceptors call Verify; it is exported for servers
// that are not gRPC. It is safe for concurrent use.
func (v *Verifier) Verify(ctx context.Context, fullMethod, token string) (*Assertion, error) {
	if len(token) > v.cfg.MaxAssertionBytes {
		return nil, fmt.Errorf("assertion of %d bytes exceeds the maximum of %d", len(token), v.cfg.MaxAssertionBytes)
	}
	jws, err := jose.ParseSignedCompact(token, v.algs)
	if err != nil {
		return nil, fmt.Errorf("malformed or disallowed alg: %w", err)
	}
	hdr := jws.Signatures[0].Header
	if typ, _ := hdr.ExtraHeaders[jose.HeaderType].(string); typ != TokenType {
		return nil, fmt.Errorf("typ %q is not %q", typ, TokenType)
	}
	for _, h := range []jose.HeaderKey{"crit", "b64", "jku", "x5u"} {
		if _, ok := hdr.ExtraHeaders[h]; ok {
			return nil, fmt.Errorf("%s header not accepted", h)
		}
	}
	// Keys travel only in the published set, never in the token.
	if _, err := hdr.Certificates(x509.VerifyOptions{}); hdr.JSONWebKey != nil || !errors.Is(err, jose.ErrMissingX5cHeader) {
		return nil, errors.New("embedded jwk or x5c not accepted")
	}
	alg := jose.SignatureAlgorithm(hdr.Algorithm)
	k := v.keys.lookup(hdr.KeyID)
	if k == nil && hdr.KeyID != "" {
		v.keys.refresh(ctx, false)
		k = v.keys.lookup(hdr.KeyID)
	}
	switch {
	case k == nil:
		return nil, fmt.Errorf("unknown kid %q", hdr.KeyID)
	case !k.fits(alg):
		return nil, fmt.Errorf("key %q does not fit alg %s", hdr.KeyID, alg)
	}
	payload, err := jws.Verify(k.pub)
	if err != nil {
		return nil, fmt.Errorf("signature verification failed with kid %q", hdr.KeyID)
	}
	a := new(Assertion)
	if err := json.Unmarshal(payload, a); err != nil {
		return nil, fmt.Errorf("claims: %w", err)
	}
	now := v.o.now()
	if err := v.claims(a, fullMethod, now); err != nil {
		return nil, err
	}
	if v.replay != nil {
		until := time.Unix(a.ExpiresAt, 0).Add(v.cfg.Leeway).UnixNano()
		switch v.replay.first(a.ID, until, now.UnixNano()) {
		case replaySeen:
			return nil, fmt.Errorf("replayed jti %q", a.ID)
		case replayFull:
			v.o.logger.Warn("backend: replay cache full; refusing calls until ids expire", "max", v.o.replayMax)
			return nil, errors.New("replay cache full")
		}
	}
	return a, nil
}

// claims checks the verified claims against the call and the clock.
func (v *Verifier) claims(a *Assertion, fullMethod string, now time.Time) error {
	c := &v.cfg
	switch {
	case a.Issuer != c.Issuer:
		return fmt.Errorf("iss %q is not %q", a.Issuer, c.Issuer)
	case a.Method != fullMethod:
		return fmt.Errorf("method %q is not the called %q", a.Method, fullMethod)
	case len(c.Audiences) == 0 && a.Audience != ServiceName(fullMethod):
		return fmt.Errorf("aud %q is not the called service %q", a.Audience, ServiceName(fullMethod))
	case len(c.Audiences) > 0 && !slices.Contains(c.Audiences, a.Audience):
		return fmt.Errorf("aud %q not accepted", a.Audience)
	case a.Subject == "":
		return errors.New("no sub")
	case a.ID == "":
		return errors.New("no jti")
	case a.IssuedAt == 0 || a.ExpiresAt == 0:
		return errors.New("no iat or exp")
	}
	iat, exp := time.Unix(a.IssuedAt, 0), time.Unix(a.ExpiresAt, 0)
	switch {
	case now.After(exp.Add(c.Leeway)):
		return fmt.Errorf("expired at %s", exp.UTC().Format(time.RFC3339))
	case iat.After(now.Add(c.Leeway)):
		return fmt.Errorf("issued in the future, at %s", iat.UTC().Format(time.RFC3339))
	case !exp.After(iat):
		return errors.New("exp is not after iat")
	case exp.Sub(iat) > c.MaxLifetime:
		return fmt.Errorf("lifetime %v exceeds the maximum %v", exp.Sub(iat), c.MaxLifetime)
	}
	return nil
}
