package gateway

import (
	"context"
	"fmt"
	"sync"
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

// identity is the live policy state: the bundle and the engine compiled
// from it, swapped together.
type identity struct {
	bundle atomic.Pointer[policy.Bundle]
	engine atomic.Pointer[authz.Engine]
	shadow atomic.Pointer[authz.Engine]
	comp   *authz.Compiler

	mu       sync.Mutex
	versions []kept // newest last, at most maxVersions
	lastErr  error
	errAt    time.Time
	disagree atomic.Int64
}

// kept is one good bundle version with its compiled engine.
type kept struct {
	bundle *policy.Bundle
	engine *authz.Engine
}

// maxVersions is how many good versions are kept for rollback.
const maxVersions = 10

// Engine implements authz.Source.
func (id *identity) Engine() *authz.Engine { return id.engine.Load() }

// APIKey implements authn.KeySource from the live bundle.
func (id *identity) APIKey(keyID string) (*policy.APIKey, bool) {
	return id.bundle.Load().APIKey(keyID)
}

// LoadBundle loads, validates and compiles a bundle file and makes it live.
// A bundle that fails any check is not used and the previous one stays.
func (g *Gateway) LoadBundle(path string) error {
	b, err := bundle.Load(path, g.registry)
	if err != nil {
		g.id.failed(err)
		return err
	}
	return g.activate(b)
}

func (id *identity) failed(err error) {
	id.mu.Lock()
	defer id.mu.Unlock()
	id.lastErr, id.errAt = err, time.Now()
}

func (g *Gateway) policyStatus() *adminv1.GetStatusResponse {
	id := g.id
	b := id.bundle.Load()
	st := &adminv1.GetStatusResponse{ActiveVersion: b.Version, Source: b.Source, LoadedUnix: b.LoadedAt.Unix(),
		ShadowDisagreements: id.disagree.Load()}
	if s := id.shadow.Load(); s != nil {
		st.ShadowVersion = s.Version()
	}
	id.mu.Lock()
	defer id.mu.Unlock()
	if id.lastErr != nil {
		st.LastError, st.LastErrorUnix = id.lastErr.Error(), id.errAt.Unix()
	}
	return st
}

func (g *Gateway) policyVersions() []*adminv1.Version {
	g.id.mu.Lock()
	defer g.id.mu.Unlock()
	list := make([]*policy.Bundle, len(g.id.versions))
	for i, k := range g.id.versions {
		list[i] = k.bundle
	}
	return versionsOf(list, g.id.bundle.Load().Version)
}

func (g *Gateway) findVersion(version string) (kept, bool) {
	g.id.mu.Lock()
	defer g.id.mu.Unlock()
	for i := len(g.id.versions) - 1; i >= 0; i-- {
		if g.id.versions[i].bundle.Version == version {
			return g.id.versions[i], true
		}
	}
	return kept{}, false
}

func (g *Gateway) activateVersion(version string) error {
	k, ok := g.findVersion(version)
	if !ok {
		return status.Error(codes.NotFound, "unknown bundle version")
	}
	g.id.bundle.Store(k.bundle)
	g.id.engine.Store(k.engine)
	g.log.Info("policy bundle activated", "version", version)
	return nil
}

// rollback activates the newest kept version older than the live one.
func (g *Gateway) rollback() error {
	live := g.id.engine.Load()
	g.id.mu.Lock()
	var target *kept
	for i := len(g.id.versions) - 1; i >= 0; i-- {
		if g.id.versions[i].engine == live {
			if i > 0 {
				target = &g.id.versions[i-1]
			}
			break
		}
	}
	g.id.mu.Unlock()
	if target == nil {
		return status.Error(codes.FailedPrecondition, "no older version to roll back to")
	}
	g.id.bundle.Store(target.bundle)
	g.id.engine.Store(target.engine)
	g.log.Warn("policy bundle rolled back", "version", target.bundle.Version)
	return nil
}

func (g *Gateway) setShadow(version string) error {
	k, ok := g.findVersion(version)
	if !ok {
		return status.Error(codes.NotFound, "unknown bundle version")
	}
	g.id.disagree.Store(0)
	g.id.shadow.Store(k.engine)
	return nil
}

func (g *Gateway) clearShadow() { g.id.shadow.Store(nil) }

func (g *Gateway) activate(b *policy.Bundle) error {
	for i, gr := range g.cfg.Grants {
		for _, p := range gr.Permissions {
			if _, ok := g.registry.Permission(p); !ok {
				return fmt.Errorf("gateway: grants[%d]: unknown permission %q", i, p)
			}
		}
		b.Grants = append(b.Grants, policy.Grant{Subject: gr.Subject, Permissions: gr.Permissions})
	}
	e, err := authz.NewEngine(g.registry, b, authz.WithCompiler(g.id.comp), authz.WithMessageResolver(g.messageDescriptor))
	if err != nil {
		g.id.failed(err)
		return fmt.Errorf("gateway: bundle %s: %w", b.Source, err)
	}
	g.id.mu.Lock()
	g.id.versions = append(g.id.versions, kept{bundle: b, engine: e})
	if len(g.id.versions) > maxVersions {
		g.id.versions = g.id.versions[len(g.id.versions)-maxVersions:]
	}
	g.id.lastErr = nil
	g.id.mu.Unlock()
	g.id.bundle.Store(b)
	g.id.engine.Store(e)
	g.log.Info("policy bundle active", "version", b.Version, "source", b.Source, "roles", len(b.Roles), "api_keys", len(b.APIKeys))
	return nil
}

// Explain authorizes a call without making it, for `portcullis policy
// explain` and the admin API.
func (g *Gateway) Explain(m *policy.Method, in *authz.Input) *policy.Decision {
	return g.id.engine.Load().Explain(m, in)
}

// identityStages builds the authentication and authorization stages from
// the identity config, or returns nil (deny-by-default gate) without one.
func (g *Gateway) identityStages() ([]Stage, error) {
	g.id = &identity{comp: authz.NewCompiler()}
	b := &policy.Bundle{Version: "empty", Source: "none"}
	if g.cfg.Bundle != "" {
		var err error
		if b, err = bundle.Load(g.cfg.Bundle, g.registry); err != nil {
			return nil, err
		}
	}
	if err := g.activate(b); err != nil {
		return nil, err
	}
	idc := g.cfg.Identity
	if idc == nil {
		return nil, nil
	}
	an, err := authn.New(authnConfig(idc), g.id,
		authn.WithMethodFunc(resolve.FromContext),
		authn.WithTrustInternalMetadata(true), // stripInternal guarantees it
		authn.WithLogger(g.log))
	if err != nil {
		return nil, fmt.Errorf("gateway: identity: %w", err)
	}
	g.authn = an
	azOpts := []authz.Option{
		authz.WithMethodFunc(resolve.FromContext),
		authz.WithPrincipalFunc(authn.FromContext),
		authz.WithRequestFunc(requestFromContext),
		authz.WithTrustInternalMetadata(true),
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
		{Name: "record", Unary: recordUnary, Stream: recordStream},
		{Name: "authn", Unary: an.UnaryServerInterceptor(), Stream: an.StreamServerInterceptor()},
		{Name: "decode", Unary: passUnary, Stream: g.decodeStream},
		{Name: "authz", Unary: authz.UnaryServerInterceptor(g.id, azOpts...), Stream: authz.StreamServerInterceptor(g.id, azOpts...)},
	}, nil
}

func authnConfig(c *config.Identity) authn.Config {
	out := authn.Config{JWT: c.JWT, APIKeys: c.APIKeys, MTLS: c.MTLS, MaxTokenBytes: int(c.MaxTokenBytes),
		MTLSServicePrefixes: c.MTLSServicePrefixes}
	if c.AllowUnboundRestricted {
		f := false
		out.RestrictedRequiresBoundToken = &f
	}
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
// later stages fill in (and the audit stage will write).
func recordUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	if policy.RecordFrom(ctx) != nil {
		return h(ctx, req) // ExplainCall brought its own
	}
	return h(policy.NewRecordContext(ctx, &policy.Record{}), req)
}

func recordStream(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, h grpc.StreamHandler) error {
	return h(srv, withContext(ss, policy.NewRecordContext(ss.Context(), &policy.Record{})))
}

func passUnary(ctx context.Context, req any, _ *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
	return h(ctx, req)
}
