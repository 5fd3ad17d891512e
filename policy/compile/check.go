package compile

import (
	"fmt"
	"regexp"
	"strings"

	portcullisv1 "github.com/portcullis/portcullis/gen/portcullis/v1"
	"github.com/portcullis/portcullis/policy/expr"
)

var (
	permissionName = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)
	scopeName      = regexp.MustCompile(`^[\x21\x23-\x5B\x5D-\x7E]+$`) // RFC 6749 scope-token
)

// Bounds on limits. They catch typos (a burst of a million) rather than
// express policy.
const (
	maxBurstFactor  = 100
	maxRequestBytes = 64 << 20
)

// checker collects the problems of one method.
type checker struct {
	m    *Method
	errs *Errors
}

func (c *checker) fail(kind error, fix, format string, args ...any) {
	*c.errs = append(*c.errs, &Error{
		File:    c.m.Desc.ParentFile().Path(),
		Service: string(c.m.Desc.Parent().FullName()),
		Method:  string(c.m.Desc.Name()),
		Kind:    kind,
		Problem: fmt.Sprintf(format, args...),
		Fix:     fix,
	})
}

// Check validates the effective policy of m against the catalog visible to
// its file and appends every problem to errs.
func Check(m *Method, catalog Catalog, errs *Errors) {
	c := &checker{m: m, errs: errs}
	p := m.Policy
	if p == nil || (p.Require == nil && p.Public == nil) {
		c.fail(ErrNoPolicy, "add option (portcullis.v1.method) = { require: {...} } or { public: { reason: \"...\" } } to the method, or a default (portcullis.v1.service) to the service",
			"the method has no access rule, neither its own nor a service default")
		return
	}
	c.checkAccess(p, catalog)
	c.checkCredentials(p)
	c.checkRateLimit(p)
	c.checkAudit(p)
	c.checkFields(p)
	c.checkLimits(p)
	c.checkCondition(p)
}

func (c *checker) checkAccess(p *portcullisv1.MethodPolicy, catalog Catalog) {
	if p.Public != nil {
		if p.Require != nil {
			c.fail(ErrPublicProtected, "remove either public or require",
				"the method is public and also requires %v", p.Require.GetPermissions())
		}
		if strings.TrimSpace(p.Public.GetReason()) == "" {
			c.fail(ErrPublicProtected, "say why the method is public: public: { reason: \"...\" }",
				"public method without a reason")
		}
		if len(p.Credentials) > 0 || p.RequireMtls || p.RequireBoundToken || p.RequireSignature {
			c.fail(ErrPublicProtected, "remove credentials, require_mtls, require_bound_token and require_signature, or make the method require permissions",
				"a public method cannot demand credentials")
		}
		if p.Sensitivity == portcullisv1.Sensitivity_SENSITIVITY_RESTRICTED {
			c.fail(ErrPublicProtected, "lower the sensitivity or require permissions",
				"a public method cannot be SENSITIVITY_RESTRICTED")
		}
		if p.Stream.GetMaxConcurrentPerPrincipal() > 0 {
			c.fail(ErrPublicProtected, "remove stream.max_concurrent_per_principal", "a public method has no principal to count streams per")
		}
		return
	}
	req := p.Require
	seen := map[string]bool{}
	for _, name := range req.Permissions {
		if seen[name] {
			c.fail(ErrUnknownPermission, "list each permission once", "permission %q listed twice", name)
			continue
		}
		seen[name] = true
		if _, ok := catalog[name]; !ok {
			c.fail(ErrUnknownPermission, "declare it in an (portcullis.v1.catalog) of this file or of a file it imports, or fix the spelling",
				"permission %q is not declared in any catalog visible to %s", name, c.m.Desc.ParentFile().Path())
		}
	}
	if req.Match == portcullisv1.Match_MATCH_ANY && len(req.Permissions) < 2 {
		c.fail(ErrLimit, "list two or more permissions with MATCH_ANY, or drop match",
			"match MATCH_ANY needs at least two permissions, got %d", len(req.Permissions))
	}
	for _, s := range req.Scopes {
		if !scopeName.MatchString(s) {
			c.fail(ErrLimit, "use an RFC 6749 scope token (printable ASCII, no spaces or quotes)", "invalid scope %q", s)
		}
	}
}

func (c *checker) checkCredentials(p *portcullisv1.MethodPolicy) {
	kinds := map[portcullisv1.CredentialKind]bool{}
	for _, k := range p.Credentials {
		if k == portcullisv1.CredentialKind_CREDENTIAL_KIND_UNSPECIFIED {
			c.fail(ErrLimit, "name a credential kind: CREDENTIAL_KIND_JWT, _API_KEY or _MTLS", "credentials lists CREDENTIAL_KIND_UNSPECIFIED")
			continue
		}
		if kinds[k] {
			c.fail(ErrLimit, "list each credential kind once", "credential kind %s listed twice", k)
		}
		kinds[k] = true
	}
	if p.RequireBoundToken && len(kinds) > 0 && !kinds[portcullisv1.CredentialKind_CREDENTIAL_KIND_JWT] {
		c.fail(ErrLimit, "allow CREDENTIAL_KIND_JWT or drop require_bound_token",
			"require_bound_token needs a token, but credentials excludes CREDENTIAL_KIND_JWT")
	}
}

func (c *checker) checkRateLimit(p *portcullisv1.MethodPolicy) {
	rl := p.RateLimit
	if rl == nil {
		return
	}
	rate, _ := RateOf(rl)
	switch {
	case rl.Rate == nil:
		c.fail(ErrLimit, "set one of per_second, per_minute or per_hour", "rate_limit has no rate")
		return
	case rate == 0:
		c.fail(ErrLimit, "use a positive rate, or remove rate_limit", "rate_limit rate must be positive")
		return
	}
	if uint64(rl.Burst) > uint64(rate)*maxBurstFactor {
		c.fail(ErrLimit, fmt.Sprintf("keep burst at most %d times the rate", maxBurstFactor),
			"rate_limit burst %d is more than %d times the rate %d", rl.Burst, maxBurstFactor, rate)
	}
	key := rl.Key
	if key == portcullisv1.RateLimitKey_RATE_LIMIT_KEY_REQUEST_FIELD {
		if rl.KeyField == "" {
			c.fail(ErrFieldPath, "set key_field to a request field path", "rate_limit key RATE_LIMIT_KEY_REQUEST_FIELD needs key_field")
		} else if err := resolveScalarPath(c.m.Desc.Input(), rl.KeyField); err != nil {
			c.fail(ErrFieldPath, "point key_field at a singular string or integer field of "+string(c.m.Desc.Input().FullName()),
				"rate_limit key_field %v", err)
		}
	} else if rl.KeyField != "" {
		c.fail(ErrFieldPath, "remove key_field or use key: RATE_LIMIT_KEY_REQUEST_FIELD",
			"rate_limit key_field %q is set but key is %s", rl.KeyField, key)
	}
	if p.Public != nil {
		switch key {
		case portcullisv1.RateLimitKey_RATE_LIMIT_KEY_CLIENT_IP, portcullisv1.RateLimitKey_RATE_LIMIT_KEY_REQUEST_FIELD:
		default:
			c.fail(ErrLimit, "key the limit by RATE_LIMIT_KEY_CLIENT_IP or RATE_LIMIT_KEY_REQUEST_FIELD",
				"a public method has no principal, credential or tenant to rate-limit by (key %s)", key)
		}
	}
}

// RateOf returns the rate and its period in seconds.
func RateOf(rl *portcullisv1.RateLimit) (rate uint32, seconds int) {
	switch r := rl.Rate.(type) {
	case *portcullisv1.RateLimit_PerSecond:
		return r.PerSecond, 1
	case *portcullisv1.RateLimit_PerMinute:
		return r.PerMinute, 60
	case *portcullisv1.RateLimit_PerHour:
		return r.PerHour, 3600
	}
	return 0, 0
}

func (c *checker) checkAudit(p *portcullisv1.MethodPolicy) {
	a := p.Audit
	if a == nil {
		return
	}
	if len(a.Fields) > 0 && a.Level != portcullisv1.AuditLevel_AUDIT_LEVEL_REQUEST {
		c.fail(ErrLimit, "set level: AUDIT_LEVEL_REQUEST or remove fields", "audit fields are only recorded at AUDIT_LEVEL_REQUEST, level is %s", a.Level)
	}
	seen := map[string]bool{}
	for _, f := range a.Fields {
		if seen[f] {
			c.fail(ErrFieldPath, "list each field once", "audit field %q listed twice", f)
		}
		seen[f] = true
		if _, err := resolvePath(c.m.Desc.Input(), f); err != nil {
			c.fail(ErrFieldPath, "name a field of "+string(c.m.Desc.Input().FullName()), "audit field %v", err)
		}
	}
}

func (c *checker) checkFields(p *portcullisv1.MethodPolicy) {
	if p.Resource == "" {
		return
	}
	if err := resolveScalarPath(c.m.Desc.Input(), p.Resource); err != nil {
		c.fail(ErrFieldPath, "point resource at a singular string or integer field of "+string(c.m.Desc.Input().FullName()),
			"resource %v", err)
	}
}

func (c *checker) checkLimits(p *portcullisv1.MethodPolicy) {
	if p.MaxRequestBytes < 0 || p.MaxRequestBytes > maxRequestBytes {
		c.fail(ErrLimit, fmt.Sprintf("use 0 (route default) or 1..%d", maxRequestBytes),
			"max_request_bytes %d out of range", p.MaxRequestBytes)
	}
	d := c.m.Desc
	if p.Stream != nil && !d.IsStreamingClient() && !d.IsStreamingServer() {
		c.fail(ErrLimit, "remove stream from a unary method", "stream limits set on a unary method")
	}
	if s := p.Stream; s != nil && !d.IsStreamingClient() && (s.MaxMessages > 0 || s.MessagesPerSecond > 0) {
		c.fail(ErrLimit, "remove max_messages and messages_per_second: the client sends one message",
			"request message limits set on a method whose client does not stream")
	}
	if s := p.Stream; s != nil && s.MaxMessages > 0 && s.MessagesPerSecond > s.MaxMessages {
		c.fail(ErrLimit, "make messages_per_second at most max_messages",
			"stream messages_per_second %d exceeds max_messages %d", s.MessagesPerSecond, s.MaxMessages)
	}
}

func (c *checker) checkCondition(p *portcullisv1.MethodPolicy) {
	if p.Condition == "" {
		return
	}
	env, err := expr.NewEnv(c.m.Desc.Input())
	if err != nil {
		c.fail(ErrCondition, "report this as a Portcullis bug", "%v", err)
		return
	}
	if _, err := expr.Check(env, p.Condition); err != nil {
		c.fail(ErrCondition, "fix the CEL expression; it may read principal, request ("+string(c.m.Desc.Input().FullName())+") and context, and must be a bool",
			"%s", strings.ReplaceAll(err.Error(), "\n", " "))
	}
}
