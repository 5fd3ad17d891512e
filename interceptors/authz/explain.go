package authz

import (
	"fmt"
	"strings"

	"github.com/portcullis/portcullis/policy"
)

// Explain decides like Decide and returns the full trace: the principal's
// roles, effective permissions, which role matched, the condition result
// and which requirement failed. It allocates; use it for audit records and
// `portcullis policy explain`, not instead of Decide.
func (e *Engine) Explain(m *policy.Method, in *Input) *policy.Decision {
	return e.trace(m, in, e.Decide(m, in))
}

// trace builds the Decision for a verdict Decide already returned.
func (e *Engine) trace(m *policy.Method, in *Input, v Verdict) *policy.Decision {
	d := &policy.Decision{Allowed: v.Allowed, FailedRequirement: v.Failed, BundleVersion: e.version,
		Required: append([]string(nil), m.Permissions...)}
	if p := in.Principal; p != nil && p.Kind != policy.KindAnonymous {
		d.Roles, d.Effective = e.rolesAndPermissions(p, true, in)
	}
	if v.MatchedRole != "" {
		d.MatchedRoles = []string{v.MatchedRole}
	}
	if m.Condition != "" {
		switch {
		case v.Failed == FailedCondition:
			d.Condition = "false"
		case v.Allowed:
			d.Condition = "true"
		default:
			d.Condition = "not evaluated"
		}
	}
	d.Reason = reason(m, v)
	return d
}

func reason(m *policy.Method, v Verdict) string {
	switch v.Failed {
	case FailedNone:
		if m.Public {
			return "public method: " + m.PublicReason
		}
		if len(m.Permissions) == 0 {
			return "authenticated caller; the method requires no permission"
		}
		return fmt.Sprintf("%s of [%s] granted (role %s)", m.Match, strings.Join(m.Permissions, " "), v.MatchedRole)
	case FailedUnauthentic:
		return "no authenticated principal"
	case FailedCredential:
		return fmt.Sprintf("credential kind %s is not allowed (method allows %s)", v.Detail, m.Credentials)
	case FailedMTLS:
		return "the method requires mutual TLS"
	case FailedBoundToken:
		return "the method requires a certificate-bound token presented over mTLS with its certificate"
	case FailedScope:
		return fmt.Sprintf("the token lacks required scope %q", v.Detail)
	case FailedPermission:
		return fmt.Sprintf("missing permission %q (%s of [%s] required)", v.Detail, m.Match, strings.Join(m.Permissions, " "))
	case FailedCondition:
		return fmt.Sprintf("condition is false: %s", v.Detail)
	case FailedUnknownPlan:
		return "the method is not in the compiled policy"
	case FailedDisabled:
		return "the method is disabled by a bundle override"
	}
	return v.Failed
}
