package gateway

import (
	"context"
	"fmt"
	"sync/atomic"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/gateway/bundle"
	"github.com/portcullis/portcullis/gateway/config"
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
	comp   *authz.Compiler
}

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
		return err
	}
	return g.activate(b)
}

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
		return fmt.Errorf("gateway: bundle %s: %w", b.Source, err)
	}
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
	azOpts := []authz.Option{
		authz.WithMethodFunc(resolve.FromContext),
		authz.WithPrincipalFunc(authn.FromContext),
		authz.WithRequestFunc(requestFromContext),
		authz.WithTrustInternalMetadata(true),
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
