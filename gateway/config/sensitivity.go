package config

import "github.com/portcullis/portcullis/policy"

// Sensitivity (sensitivity) says what every protected method of a
// sensitivity class demands on top of its own policy. A class without an
// entry demands nothing more, except restricted, which always demands
// {require_mtls: true, require_bound_token: true, audit_required: true}
// (identity.allow_unbound_restricted drops the first two); an entry for
// restricted adds to that.
type Sensitivity struct {
	Public       *ClassRequirement `yaml:"public"`
	Internal     *ClassRequirement `yaml:"internal"` // also methods that name no class
	Confidential *ClassRequirement `yaml:"confidential"`
	Restricted   *ClassRequirement `yaml:"restricted"`
}

// ClassRequirement is one class's requirement. It can only tighten a
// method's policy.
type ClassRequirement struct {
	// RequireMTLS (require_mtls) demands a verified client certificate.
	RequireMTLS bool `yaml:"require_mtls"`
	// RequireBoundToken (require_bound_token) demands a certificate-bound
	// JWT over mTLS (RFC 8705); it implies require_mtls.
	RequireBoundToken bool `yaml:"require_bound_token"`
	// Credentials (credentials) are the only kinds allowed: jwt, api_key,
	// mtls (intersected with each method's own). Default: no narrowing.
	Credentials []string `yaml:"credentials"`
	// AuditRequired (audit_required) fails a call closed (Unavailable)
	// when its audit record cannot be persisted.
	AuditRequired bool `yaml:"audit_required"`
}

// Class is one class's entry: Req is nil when the class has none.
type Class struct {
	Sensitivity policy.Sensitivity // its String() is the key's name
	Req         *ClassRequirement
}

// Classes returns the four classes in a fixed order (none for a nil s).
func (s *Sensitivity) Classes() []Class {
	if s == nil {
		return nil
	}
	return []Class{{policy.SensitivityPublic, s.Public}, {policy.SensitivityInternal, s.Internal},
		{policy.SensitivityConfidential, s.Confidential}, {policy.SensitivityRestricted, s.Restricted}}
}

func (v *validator) sensitivity(c *Config) {
	for _, cl := range c.Sensitivity.Classes() {
		if cl.Req == nil {
			continue
		}
		path := "sensitivity." + cl.Sensitivity.String()
		if cl.Req.AuditRequired && (c.Audit == nil || c.Audit.File == nil && c.Audit.Postgres == nil) {
			v.add(path+".audit_required", "needs an audit sink (audit.file or audit.postgres) to fail closed on")
		}
		seen := map[string]bool{}
		for i, k := range cl.Req.Credentials {
			switch _, ok := policy.ParseCredential(k); {
			case !ok:
				v.add(index(path+".credentials", i), "invalid value %q: want jwt, api_key or mtls", k)
			case seen[k]:
				v.add(index(path+".credentials", i), "%q listed twice", k)
			}
			seen[k] = true
		}
		if cl.Req.RequireBoundToken && len(cl.Req.Credentials) > 0 && !seen["jwt"] {
			v.add(path+".require_bound_token", "a bound token is a JWT: add jwt to credentials")
		}
	}
}
