package gateway

import (
	"fmt"

	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/descriptors"
	"github.com/portcullis/portcullis/policy"
)

// EffectivePolicy returns the policy a gateway built from cfg enforces:
// the compiled-in tables (policy.Tables()), the routed services of cfg's
// descriptor sets, and every protected method tightened by its
// sensitivity class's requirement. A nil cfg is a configuration without
// descriptor sets or a sensitivity block; the restricted class's default
// (mTLS, a bound token, a persisted audit record) still applies. The
// policy tools (test, diff, show) evaluate this, so that what they report
// is what the gateway decides.
func EffectivePolicy(cfg *config.Config) (*policy.Registry, error) {
	if cfg == nil {
		cfg = &config.Config{}
	}
	reg, _, err := effectivePolicy(cfg, policy.Tables())
	return reg, err
}

// effectivePolicy is EffectivePolicy over given tables; it also returns
// the descriptor sets' files, which reflection serves.
func effectivePolicy(cfg *config.Config, tables []*policy.Table) (*policy.Registry, []*protoregistry.Files, error) {
	reg, err := policy.NewRegistry(tables...)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: %w", err)
	}
	reg, files, err := loadDescriptors(cfg, reg, tables)
	if err != nil {
		return nil, nil, err
	}
	if reg, err = applySensitivity(cfg, reg); err != nil {
		return nil, nil, err
	}
	return reg, files, nil
}

// loadDescriptors adds the services of the configured descriptor sets to
// reg, built from tables. Only routed services are loaded.
func loadDescriptors(cfg *config.Config, reg *policy.Registry, tables []*policy.Table) (*policy.Registry, []*protoregistry.Files, error) {
	if len(cfg.Descriptors) == 0 {
		return reg, nil, nil
	}
	routed := map[string]bool{}
	for _, r := range cfg.Routes {
		routed[r.Service] = true
	}
	tables = append([]*policy.Table(nil), tables...)
	var files []*protoregistry.Files
	for i, d := range cfg.Descriptors {
		set, err := descriptors.Load(d.File, d.Policy, reg.Permissions(), func(s string) bool {
			return routed[s] && len(reg.Service(s)) == 0
		})
		if err != nil {
			return nil, nil, fmt.Errorf("gateway: descriptors[%d]: %w", i, err)
		}
		tables = append(tables, set.Tables...)
		files = append(files, set.Files)
	}
	out, err := policy.NewRegistry(tables...)
	if err != nil {
		return nil, nil, fmt.Errorf("gateway: descriptors: %w", err)
	}
	return out, files, nil
}

// applySensitivity tightens every protected method of reg by its sensitivity
// class's requirement (config sensitivity; restricted defaults to mTLS, a
// bound token and a persisted audit record), once, so that every stage
// and explain see the effective policy.
func applySensitivity(cfg *config.Config, reg *policy.Registry) (*policy.Registry, error) {
	reqs := map[policy.Sensitivity]policy.ClassRequirement{policy.SensitivityRestricted: policy.DefaultRestricted}
	if id := cfg.Identity; id != nil && id.AllowUnboundRestricted {
		reqs[policy.SensitivityRestricted] = policy.ClassRequirement{AuditRequired: true}
	}
	for _, cl := range cfg.Sensitivity.Classes() {
		if cl.Req == nil {
			continue
		}
		q := policy.ClassRequirement{RequireMTLS: cl.Req.RequireMTLS, RequireBoundToken: cl.Req.RequireBoundToken, AuditRequired: cl.Req.AuditRequired}
		for _, k := range cl.Req.Credentials {
			kind, ok := policy.ParseCredential(k)
			if !ok { // config.Validate refuses it; a Config built in Go may not have been validated
				return nil, fmt.Errorf("gateway: sensitivity.%s.credentials: unknown kind %q", cl.Sensitivity, k)
			}
			q.Credentials |= kind
		}
		// On top of the default (restricted), never instead of it: only
		// allow_unbound_restricted drops restricted's mTLS and bound token.
		reqs[cl.Sensitivity] = reqs[cl.Sensitivity].And(q)
	}
	out, err := reg.WithClassRequirements(reqs)
	if err != nil {
		return nil, fmt.Errorf("gateway: sensitivity: %w (restricted methods demand a bound token unless identity.allow_unbound_restricted is set)", err)
	}
	return out, nil
}
