package policy

import "time"

// SupportPackageIsVersion1 is referenced by generated code to assert at
// compile time that it is compatible with this package. A generated file
// built against an incompatible runtime fails to compile instead of
// misbehaving.
const SupportPackageIsVersion1 = true

// Match says how a list of required permissions is combined.
type Match uint8

const (
	// MatchAll requires every permission (the default).
	MatchAll Match = iota
	// MatchAny requires at least one permission.
	MatchAny
)

// String returns "all" or "any".
func (m Match) String() string {
	if m == MatchAny {
		return "any"
	}
	return "all"
}

// Credentials is a set of credential kinds, as a bit mask.
type Credentials uint8

const (
	// CredentialJWT is a bearer JWT.
	CredentialJWT Credentials = 1 << iota
	// CredentialAPIKey is a Portcullis API key.
	CredentialAPIKey
	// CredentialMTLS is a verified client certificate used as the identity.
	CredentialMTLS

	// AnyCredential allows every kind enabled on the listener.
	AnyCredential = CredentialJWT | CredentialAPIKey | CredentialMTLS
)

// Has reports whether every kind in k is in c.
func (c Credentials) Has(k Credentials) bool { return c&k == k }

// credentialNames are the kinds' names, in String's order.
var credentialNames = []struct {
	bit  Credentials
	name string
}{{CredentialJWT, "jwt"}, {CredentialAPIKey, "api_key"}, {CredentialMTLS, "mtls"}}

// ParseCredential returns the kind named "jwt", "api_key" or "mtls", and
// whether name is one of them.
func ParseCredential(name string) (Credentials, bool) {
	for _, k := range credentialNames {
		if k.name == name {
			return k.bit, true
		}
	}
	return 0, false
}

// String lists the kinds, e.g. "jwt|api_key".
func (c Credentials) String() string {
	var s string
	for _, k := range credentialNames {
		if c&k.bit != 0 {
			if s != "" {
				s += "|"
			}
			s += k.name
		}
	}
	if s == "" {
		return "none"
	}
	return s
}

// Sensitivity classifies the data a method handles.
type Sensitivity uint8

const (
	// SensitivityInternal is ordinary business data (the default).
	SensitivityInternal Sensitivity = iota
	// SensitivityPublic is data anyone may see.
	SensitivityPublic
	// SensitivityConfidential is personal or financial data.
	SensitivityConfidential
	// SensitivityRestricted is data whose misuse causes serious harm.
	SensitivityRestricted
)

// String returns the lower-case class name.
func (s Sensitivity) String() string {
	switch s {
	case SensitivityPublic:
		return "public"
	case SensitivityConfidential:
		return "confidential"
	case SensitivityRestricted:
		return "restricted"
	default:
		return "internal"
	}
}

// RateLimitKey chooses what a rate limit counts per.
type RateLimitKey uint8

const (
	// KeyPrincipal counts per principal id (the default).
	KeyPrincipal RateLimitKey = iota
	// KeyCredential counts per credential id.
	KeyCredential
	// KeyClientIP counts per client address.
	KeyClientIP
	// KeyTenant counts per tenant.
	KeyTenant
	// KeyRequestField counts per value of a request field.
	KeyRequestField
)

// String returns the lower-case key name.
func (k RateLimitKey) String() string {
	switch k {
	case KeyCredential:
		return "credential"
	case KeyClientIP:
		return "client_ip"
	case KeyTenant:
		return "tenant"
	case KeyRequestField:
		return "request_field"
	default:
		return "principal"
	}
}

// RateLimit is a GCRA limit: Rate calls per Period with bursts of Burst.
type RateLimit struct {
	Rate   uint32
	Period time.Duration
	Burst  uint32
	Key    RateLimitKey
	// Field is the request field path when Key is KeyRequestField.
	Field string
	// Shadow counts but does not enforce.
	Shadow bool
}

// Interval is the steady-state time between two allowed calls.
func (r *RateLimit) Interval() time.Duration {
	if r == nil || r.Rate == 0 {
		return 0
	}
	return r.Period / time.Duration(r.Rate)
}

// AuditLevel is how much of a call the audit record keeps.
type AuditLevel uint8

const (
	// AuditMetadata records who, what, decision and outcome (the default).
	AuditMetadata AuditLevel = iota
	// AuditRequest also records selected request fields, redacted.
	AuditRequest
)

// String returns "metadata" or "request".
func (l AuditLevel) String() string {
	if l == AuditRequest {
		return "request"
	}
	return "metadata"
}

// Audit is the audit setting of a method.
type Audit struct {
	Level AuditLevel
	// Fields are the request field paths to record at AuditRequest; empty
	// means all.
	Fields []string
	// Required fails the call closed when its record cannot be persisted.
	Required bool
}

// StreamLimits bounds a streaming call. Zero values mean unlimited.
type StreamLimits struct {
	MaxMessages               uint32
	MaxDuration               time.Duration
	MessagesPerSecond         uint32
	MaxConcurrentPerPrincipal uint32
}

// Method is the compiled policy of one RPC. Generated tables hold one per
// method; a Method is never modified after it is registered.
type Method struct {
	// FullMethod is the gRPC full method name, "/pkg.Service/Method".
	FullMethod string
	// RequestType and ResponseType are full proto message names.
	RequestType  string
	ResponseType string
	// ClientStreaming and ServerStreaming describe the RPC kind.
	ClientStreaming bool
	ServerStreaming bool

	// Public methods need no credentials; PublicReason says why.
	Public       bool
	PublicReason string

	// Permissions required, combined by Match.
	Permissions []string
	Match       Match
	// Scopes the token must carry (all of them).
	Scopes []string

	// Credentials allowed; AnyCredential when the policy does not restrict.
	Credentials       Credentials
	RequireMTLS       bool
	RequireBoundToken bool
	// RequireSignature demands a request signature by a signing key the
	// bundle binds to the caller.
	RequireSignature bool
	Sensitivity      Sensitivity

	// RateLimit is nil when the method has none.
	RateLimit *RateLimit
	Audit     Audit

	// Resource is the request field path naming the resource, or "".
	Resource string
	// Condition is a CEL expression over principal, request and context,
	// or "".
	Condition string

	// MaxRequestBytes caps one request message; 0 means the route default.
	MaxRequestBytes int64
	Stream          StreamLimits

	// SensitiveFields are the request field paths marked sensitive, which
	// audit redacts ("a.b" for nested fields).
	SensitiveFields []string
}

// NeedsRequest reports whether deciding on the call needs the decoded first
// request message (for the resource, condition or a field rate-limit key).
func (m *Method) NeedsRequest() bool {
	return m.Resource != "" || m.Condition != "" ||
		(m.RateLimit != nil && m.RateLimit.Key == KeyRequestField) ||
		(m.Audit.Level == AuditRequest)
}

// Service returns the service part of FullMethod ("pkg.Service").
func (m *Method) Service() string {
	s, _ := SplitMethod(m.FullMethod)
	return s
}

// SplitMethod splits "/pkg.Service/Method" into "pkg.Service" and "Method".
// It returns two empty strings when name is not of that form.
func SplitMethod(name string) (service, method string) {
	if len(name) < 4 || name[0] != '/' {
		return "", ""
	}
	for i := len(name) - 1; i > 0; i-- {
		if name[i] == '/' {
			if i == 1 || i == len(name)-1 {
				return "", ""
			}
			return name[1:i], name[i+1:]
		}
	}
	return "", ""
}

// MarshalText returns String(), so JSON output names the value.
func (m Match) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// MarshalText returns String(), so JSON output names the kinds.
func (c Credentials) MarshalText() ([]byte, error) { return []byte(c.String()), nil }

// MarshalText returns String(), so JSON output names the class.
func (s Sensitivity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// MarshalText returns String(), so JSON output names the key.
func (k RateLimitKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// MarshalText returns String(), so JSON output names the level.
func (l AuditLevel) MarshalText() ([]byte, error) { return []byte(l.String()), nil }
