package gateway

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/gateway/bundle"
	"github.com/portcullis/portcullis/gateway/config"
	adminv1 "github.com/portcullis/portcullis/gen/portcullis/admin/v1"
	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authz"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// live is the policy in force: a bundle and the engine compiled from it,
// published together with one atomic store so a call never sees the API
// keys of one version with the roles of another.
type live struct {
	bundle *policy.Bundle
	engine *authz.Engine
}

// identity is the live policy state behind the authentication and
// authorization stages.
type identity struct {
	cur      atomic.Pointer[live]
	shadow   atomic.Pointer[authz.Engine]
	comp     *authz.Compiler
	mgr      *bundle.Manager // nil without a bundle source
	disagree atomic.Int64
}

// Engine implements authz.Source.
func (id *identity) Engine() *authz.Engine { return id.cur.Load().engine }

// APIKey implements authn.KeySource from the live bundle.
func (id *identity) APIKey(keyID string) (*policy.APIKey, bool) {
	return id.cur.Load().bundle.APIKey(keyID)
}

// compile turns a validated bundle into an engine, adding the operator's
// grants from the configuration. It runs off the request path.
func (g *Gateway) compile(b *policy.Bundle) (any, error) {
	for i, gr := range g.cfg.Grants {
		for _, p := range gr.Permissions {
			if _, ok := g.registry.Permission(p); !ok {
				return nil, fmt.Errorf("gateway: grants[%d]: unknown permission %q", i, p)
			}
		}
		b.Grants = append(b.Grants, policy.Grant{Subject: gr.Subject, Permissions: gr.Permissions})
	}
	return authz.NewEngine(g.registry, b, authz.WithCompiler(g.id.comp), authz.WithMessageResolver(g.messageDescriptor))
}

func (g *Gateway) publish(b *policy.Bundle, c any) {
	g.id.cur.Store(&live{bundle: b, engine: c.(*authz.Engine)}) // the Manager logs the activation
}

// bundleSource builds the configured source, or nil for none.
func (g *Gateway) bundleSource() (bundle.Source, error) {
	c := g.cfg
	var opts []bundle.SourceOption
	if c.BundlePollInterval > 0 {
		opts = append(opts, bundle.WithPollInterval(c.BundlePollInterval))
	}
	switch {
	case c.Bundle != "":
		return bundle.File(c.Bundle, opts...), nil
	case c.BundleDir != "":
		return bundle.Dir(c.BundleDir, opts...), nil
	case c.BundleURL != "":
		client, err := g.httpsClient(c.BundleClient, config.KeyBundleClientKey)
		if err != nil {
			return nil, fmt.Errorf("gateway: bundle_client: %w", err)
		}
		return bundle.HTTPS(c.BundleURL, client, opts...)
	}
	return nil, nil
}

// startBundles loads the first bundle (failing start-up when it is bad)
// and starts watching the source. Without a source the empty bundle is
// live: no roles, so every protected method is denied.
func (g *Gateway) startBundles(ctx context.Context) error {
	g.id = &identity{comp: authz.NewCompiler()}
	src, err := g.bundleSource()
	if err != nil {
		return fmt.Errorf("gateway: bundle source: %w", err)
	}
	if src == nil {
		empty := &policy.Bundle{Version: "none", Source: "none", LoadedAt: time.Now()}
		c, err := g.compile(empty)
		if err != nil {
			return err
		}
		g.publish(empty, c)
		return nil
	}
	var keys []ed25519.PublicKey
	for i, path := range g.cfg.BundleTrustedKeys {
		k, err := bundle.ReadPublicKey(path)
		if err != nil {
			return fmt.Errorf("gateway: bundle_trusted_keys[%d]: %w", i, err)
		}
		keys = append(keys, k)
	}
	opts := []bundle.Option{bundle.WithLogger(g.log), bundle.WithEventFunc(func(e bundle.Event) {
		result := "ok"
		if e.Err != nil {
			result = "error"
		}
		g.bundleEvents.WithLabelValues(e.Stage, result).Inc()
	})}
	if len(keys) > 0 {
		opts = append(opts, bundle.WithTrustedKeys(keys...))
	}
	if g.cfg.BundleHistory > 0 {
		opts = append(opts, bundle.WithHistory(int(g.cfg.BundleHistory)))
	}
	mgr, err := bundle.NewManager(src, g.registry, g.compile, g.publish, opts...)
	if err != nil {
		return fmt.Errorf("gateway: bundle: %w", err)
	}
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("gateway: bundle: %w", err)
	}
	g.id.mgr = mgr
	return nil
}

// Explain authorizes a call without making it, for `portcullis policy
// explain` and the admin API.
func (g *Gateway) Explain(m *policy.Method, in *authz.Input) *policy.Decision {
	return g.id.Engine().Explain(m, in)
}

// ReloadBundle fetches the bundle source now (normally changes are picked
// up by watching and polling). A bad bundle is rejected and the live one
// stays.
func (g *Gateway) ReloadBundle(ctx context.Context) error {
	if g.id.mgr == nil {
		return status.Error(codes.FailedPrecondition, "no bundle source configured")
	}
	return g.id.mgr.Reload(ctx)
}

// PolicyStatus reports the live bundle, its source, the last load error
// and the shadow state.
func (g *Gateway) PolicyStatus() *adminv1.GetStatusResponse {
	b := g.id.cur.Load().bundle
	st := &adminv1.GetStatusResponse{ActiveVersion: b.Version, Source: b.Source, LoadedUnix: b.LoadedAt.Unix(),
		ShadowDisagreements: g.id.disagree.Load()}
	if s := g.id.shadow.Load(); s != nil {
		st.ShadowVersion = s.Version()
	}
	if g.id.mgr != nil {
		ms := g.id.mgr.Status()
		st.Source = ms.Source
		if ms.LastError != nil {
			st.LastError, st.LastErrorUnix = ms.LastError.Error(), ms.LastErrorAt.Unix()
		}
	}
	return st
}

func (g *Gateway) policyVersions() []*adminv1.Version {
	if g.id.mgr == nil {
		b := g.id.cur.Load().bundle
		return []*adminv1.Version{{Version: b.Version, Author: b.Author, Message: b.Message, LoadedUnix: b.LoadedAt.Unix(), Active: true}}
	}
	vs := g.id.mgr.Versions()
	out := make([]*adminv1.Version, 0, len(vs))
	for i := len(vs) - 1; i >= 0; i-- { // newest first
		v := vs[i]
		out = append(out, &adminv1.Version{Version: v.Version, Author: v.Author, Message: v.Message, LoadedUnix: v.LoadedAt.Unix(), Active: v.Active})
	}
	return out
}

// ActivateVersion makes a kept bundle version live (see the admin API).
func (g *Gateway) ActivateVersion(version string) error {
	if g.id.mgr == nil {
		return status.Error(codes.FailedPrecondition, "no bundle source configured")
	}
	if err := g.id.mgr.Activate(version); err != nil {
		return status.Error(codes.NotFound, "unknown bundle version")
	}
	return nil
}

// Rollback makes the version before the live one live again.
func (g *Gateway) Rollback() error {
	if g.id.mgr == nil {
		return status.Error(codes.FailedPrecondition, "no bundle source configured")
	}
	if err := g.id.mgr.Rollback(); err != nil {
		return status.Error(codes.FailedPrecondition, "no older version to roll back to")
	}
	return nil
}

// SetShadow evaluates a kept version beside the live one on every call.
func (g *Gateway) SetShadow(version string) error {
	if g.id.mgr == nil {
		return status.Error(codes.FailedPrecondition, "no bundle source configured")
	}
	_, c, ok := g.id.mgr.Compiled(version)
	if !ok {
		return status.Error(codes.NotFound, "unknown bundle version")
	}
	g.id.disagree.Store(0)
	g.id.shadow.Store(c.(*authz.Engine))
	g.log.Info("shadow bundle set", "version", version)
	return nil
}

// ClearShadow stops shadow evaluation.
func (g *Gateway) ClearShadow() { g.id.shadow.Store(nil) }

// identityStages builds the authentication and authorization stages from
// the identity config, or returns nil (the deny-by-default gate) without
// one.
func (g *Gateway) identityStages() ([]Stage, error) {
	if err := g.startBundles(context.Background()); err != nil {
		return nil, err
	}
	idc := g.cfg.Identity
	if idc == nil {
		return nil, nil
	}
	anOpts := []authn.Option{
		authn.WithMethodFunc(resolve.FromContext),
		authn.WithTrustInternalMetadata(true), // stripInternal guarantees it
		authn.WithClientAddrFunc(g.clientIP.Addr),
		authn.WithLogger(g.log),
	}
	if idc.JWKSClient != nil {
		client, err := g.httpsClient(idc.JWKSClient, config.KeyJWKSClientKey)
		if err != nil {
			return nil, fmt.Errorf("gateway: identity.jwks_client: %w", err)
		}
		anOpts = append(anOpts, authn.WithHTTPClient(client))
	}
	an, err := authn.New(authnConfig(idc), g.id, anOpts...)
	if err != nil {
		return nil, fmt.Errorf("gateway: identity: %w", err)
	}
	g.authn = an
	azOpts := []authz.Option{
		authz.WithMethodFunc(resolve.FromContext),
		authz.WithPrincipalFunc(authn.FromContext),
		authz.WithRequestFunc(requestFromContext),
		authz.WithTrustInternalMetadata(true),
		authz.WithClientAddrFunc(g.clientIP.Addr),
		authz.WithRateMeter(authz.NewRateMeter(0, 0)), // one for the unary and stream stages
		authz.WithShadow(g.id.shadow.Load, func(m *policy.Method, live, shadow authz.Verdict) {
			g.id.disagree.Add(1)
			dir := "would_deny"
			if shadow.Allowed {
				dir = "would_allow"
			}
			g.shadowDisagree.WithLabelValues(m.FullMethod, dir).Inc()
		}),
	}
	return []Stage{
		{Name: "record", Unary: g.recordUnary, Stream: g.recordStream},
		{Name: "authn", Unary: an.UnaryServerInterceptor(), Stream: an.StreamServerInterceptor()},
		{Name: "decode", Unary: passUnary, Stream: g.decodeStream},
		{Name: "authz", Unary: authz.UnaryServerInterceptor(g.id, azOpts...), Stream: authz.StreamServerInterceptor(g.id, azOpts...)},
	}, nil
}

func authnConfig(c *config.Identity) authn.Config {
	out := authn.Config{JWT: c.JWT, APIKeys: c.APIKeys, MTLS: c.MTLS, MaxTokenBytes: int(c.MaxTokenBytes),
		MTLSServicePrefixes: c.MTLSServicePrefixes}
	// The registry carries the restricted class's requirement
	// (applySensitivity), like every other class's.
	f := false
	out.RestrictedRequiresBoundToken = &f
	for _, is := range c.Issuers {
		out.Issuers = append(out.Issuers, authn.Issuer{
			Issuer: is.Issuer, Audiences: is.Audiences, Algorithms: is.Algorithms,
			JWKSFile: is.JWKSFile, JWKSURL: is.JWKSURL, RefreshInterval: is.RefreshInterval,
			MinRefreshInterval: is.MinRefreshInterval, Leeway: is.Leeway, MaxLifetime: is.MaxLifetime,
			RequiredClaims: is.RequiredClaims, SubjectClaim: is.SubjectClaim, RolesClaim: is.RolesClaim,
			GroupsClaim: is.GroupsClaim, TenantClaim: is.TenantClaim, KindClaim: is.KindClaim, Kind: is.Kind,
		})
	}
	return out
}

// recordUnary and recordStream give every call a policy.Record that the
// later stages fill in, unless ExplainCall or the audit stage brought one
// (both read the decision's trace). Without them only the identity
// assertion reads the record's decision (its roles), so without an
// assertion signer the record skips the trace.
func (g *Gateway) recordUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if policy.RecordFrom(ctx) != nil {
		return h(ctx, req)
	}
	return h(policy.NewRecordContext(ctx, g.newRecord()), req)
}

func (g *Gateway) recordStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	if policy.RecordFrom(ss.Context()) != nil {
		return h(srv, ss)
	}
	return h(srv, withContext(ss, policy.NewRecordContext(ss.Context(), g.newRecord())))
}

func (g *Gateway) newRecord() *policy.Record { return &policy.Record{NoDecisionTrace: g.signer == nil} }

func passUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(ctx, req)
}
