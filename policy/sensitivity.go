package policy

import "fmt"

// ClassRequirement is what a deployment demands of every protected method
// of one sensitivity class, on top of the method's own policy (config
// `sensitivity.<class>`). It can only tighten: requirements are added and
// the allowed credentials narrowed, never widened.
type ClassRequirement struct {
	// RequireMTLS demands a verified client certificate.
	RequireMTLS bool
	// RequireBoundToken demands a certificate-bound token (RFC 8705) over
	// mTLS; it implies RequireMTLS.
	RequireBoundToken bool
	// Credentials, when not zero, are the only credential kinds allowed
	// (intersected with the method's own).
	Credentials Credentials
	// AuditRequired fails calls closed (Unavailable) when their audit
	// record cannot be persisted.
	AuditRequired bool
}

// DefaultRestricted is the requirement of SensitivityRestricted methods
// when a deployment configures none: mTLS with a certificate-bound token,
// and an audit record or no call.
var DefaultRestricted = ClassRequirement{RequireMTLS: true, RequireBoundToken: true, AuditRequired: true}

// And returns the requirement of meeting both q and o: every demand of
// either, and only the credential kinds both allow.
func (q ClassRequirement) And(o ClassRequirement) ClassRequirement {
	out := ClassRequirement{
		RequireMTLS:       q.RequireMTLS || o.RequireMTLS,
		RequireBoundToken: q.RequireBoundToken || o.RequireBoundToken,
		AuditRequired:     q.AuditRequired || o.AuditRequired,
		Credentials:       q.Credentials | o.Credentials,
	}
	if q.Credentials != 0 && o.Credentials != 0 {
		out.Credentials = q.Credentials & o.Credentials
		if out.Credentials == 0 {
			out.Credentials = noCredential // no kind is both: none allowed, not "any"
		}
	}
	return out
}

// noCredential is a credential bit no method has: a requirement that
// allows only it leaves every method none (apply fails).
const noCredential Credentials = 1 << 7

// apply tightens m by q. It reports an error when no credential kind is
// left.
func (q ClassRequirement) apply(m *Method) error {
	m.RequireMTLS = m.RequireMTLS || q.RequireMTLS || q.RequireBoundToken
	m.RequireBoundToken = m.RequireBoundToken || q.RequireBoundToken
	m.Audit.Required = m.Audit.Required || q.AuditRequired
	if q.Credentials != 0 {
		narrowed := m.Credentials & q.Credentials
		if narrowed == 0 {
			return fmt.Errorf("method %s (%s) allows %s credentials and sensitivity.%s allows only %s: none is left",
				m.FullMethod, m.Sensitivity, m.Credentials, m.Sensitivity, q.Credentials)
		}
		m.Credentials = narrowed
	}
	if m.RequireBoundToken && !m.Credentials.Has(CredentialJWT) {
		return fmt.Errorf("method %s (%s) requires a certificate-bound token (a JWT) by its sensitivity class but allows no JWT (credentials %s)",
			m.FullMethod, m.Sensitivity, m.Credentials)
	}
	return nil
}

// WithClassRequirements returns a registry whose protected methods carry
// the requirement of their sensitivity class from reqs (classes without an
// entry are unchanged; public methods need no credentials and are never
// changed). The methods are copies: r and the tables it was built from are
// not modified. It fails, naming the method, when a requirement leaves a
// method no credential kind it could be called with.
func (r *Registry) WithClassRequirements(reqs map[Sensitivity]ClassRequirement) (*Registry, error) {
	out := &Registry{
		methods:     make(map[string]*Method, len(r.methods)),
		permissions: r.permissions,
		services:    make(map[string][]*Method, len(r.services)),
		names:       r.names,
	}
	for svc, ms := range r.services {
		for _, m := range ms { // in the service's order
			if q, ok := reqs[m.Sensitivity]; ok && !m.Public {
				cp := *m
				if err := q.apply(&cp); err != nil {
					return nil, fmt.Errorf("policy: %w", err)
				}
				m = &cp
			}
			out.methods[m.FullMethod] = m
			out.services[svc] = append(out.services[svc], m)
		}
	}
	return out, nil
}
