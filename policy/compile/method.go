package compile

import (
	"fmt"
	"sort"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	portcullisv1 "github.com/portcullis/portcullis/gen/portcullis/v1"
	"github.com/portcullis/portcullis/policy"
)

// FullMethod returns "/pkg.Service/Method".
func FullMethod(md protoreflect.MethodDescriptor) string {
	return fmt.Sprintf("/%s/%s", md.Parent().FullName(), md.Name())
}

// ToMethod converts a checked Method into the runtime policy. Call it only
// when Check reported no problem for m.
func ToMethod(m *Method) policy.Method {
	p, d := m.Policy, m.Desc
	out := policy.Method{
		FullMethod:        FullMethod(d),
		RequestType:       string(d.Input().FullName()),
		ResponseType:      string(d.Output().FullName()),
		ClientStreaming:   d.IsStreamingClient(),
		ServerStreaming:   d.IsStreamingServer(),
		Credentials:       credentials(p.Credentials),
		RequireMTLS:       p.RequireMtls || p.RequireBoundToken,
		RequireBoundToken: p.RequireBoundToken,
		RequireSignature:  p.RequireSignature,
		Sensitivity:       sensitivity(p.Sensitivity),
		Resource:          p.Resource,
		Condition:         p.Condition,
		MaxRequestBytes:   p.MaxRequestBytes,
		SensitiveFields:   SensitivePaths(d.Input()),
	}
	if p.Public != nil {
		out.Public, out.PublicReason = true, p.Public.GetReason()
	}
	if r := p.Require; r != nil {
		out.Permissions = append([]string(nil), r.Permissions...)
		out.Scopes = append([]string(nil), r.Scopes...)
		if r.Match == portcullisv1.Match_MATCH_ANY {
			out.Match = policy.MatchAny
		}
	}
	if rl := p.RateLimit; rl != nil {
		rate, secs := RateOf(rl)
		out.RateLimit = &policy.RateLimit{Rate: rate, Period: time.Duration(secs) * time.Second, Burst: rl.Burst,
			Key: rateKey(rl.Key), Field: rl.KeyField, Shadow: rl.Shadow}
	}
	if a := p.Audit; a != nil {
		if a.Level == portcullisv1.AuditLevel_AUDIT_LEVEL_REQUEST {
			out.Audit.Level = policy.AuditRequest
		}
		out.Audit.Fields = append([]string(nil), a.Fields...)
		out.Audit.Required = a.Required
	}
	if out.Sensitivity == policy.SensitivityRestricted {
		out.Audit.Required = true
	}
	if s := p.Stream; s != nil {
		out.Stream = policy.StreamLimits{MaxMessages: s.MaxMessages, MaxDuration: time.Duration(s.MaxDurationSeconds) * time.Second,
			MessagesPerSecond: s.MessagesPerSecond, MaxConcurrentPerPrincipal: s.MaxConcurrentPerPrincipal}
	}
	return out
}

func credentials(kinds []portcullisv1.CredentialKind) policy.Credentials {
	if len(kinds) == 0 {
		return policy.AnyCredential
	}
	var c policy.Credentials
	for _, k := range kinds {
		switch k {
		case portcullisv1.CredentialKind_CREDENTIAL_KIND_JWT:
			c |= policy.CredentialJWT
		case portcullisv1.CredentialKind_CREDENTIAL_KIND_API_KEY:
			c |= policy.CredentialAPIKey
		case portcullisv1.CredentialKind_CREDENTIAL_KIND_MTLS:
			c |= policy.CredentialMTLS
		}
	}
	return c
}

func sensitivity(s portcullisv1.Sensitivity) policy.Sensitivity {
	switch s {
	case portcullisv1.Sensitivity_SENSITIVITY_PUBLIC:
		return policy.SensitivityPublic
	case portcullisv1.Sensitivity_SENSITIVITY_CONFIDENTIAL:
		return policy.SensitivityConfidential
	case portcullisv1.Sensitivity_SENSITIVITY_RESTRICTED:
		return policy.SensitivityRestricted
	}
	return policy.SensitivityInternal
}

func rateKey(k portcullisv1.RateLimitKey) policy.RateLimitKey {
	switch k {
	case portcullisv1.RateLimitKey_RATE_LIMIT_KEY_CREDENTIAL:
		return policy.KeyCredential
	case portcullisv1.RateLimitKey_RATE_LIMIT_KEY_CLIENT_IP:
		return policy.KeyClientIP
	case portcullisv1.RateLimitKey_RATE_LIMIT_KEY_TENANT:
		return policy.KeyTenant
	case portcullisv1.RateLimitKey_RATE_LIMIT_KEY_REQUEST_FIELD:
		return policy.KeyRequestField
	}
	return policy.KeyPrincipal
}

// FileTable checks every service of fd with the given per-service and
// per-method options and returns the runtime table. svcOpt and methodOpt
// return the options for a service or method (from proto annotations, or
// from a YAML policy for descriptor-set services); memo caches visible
// catalogs across files. Only services for which include reports true are
// checked (nil: all). Problems are appended to errs.
func FileTable(fd protoreflect.FileDescriptor, catalog Catalog, include func(service string) bool,
	svcOpt func(protoreflect.ServiceDescriptor) *portcullisv1.MethodPolicy,
	methodOpt func(protoreflect.MethodDescriptor) *portcullisv1.MethodPolicy,
	extraPermissions []policy.Permission, errs *Errors) *policy.Table {
	t := &policy.Table{File: fd.Path()}
	t.Permissions = append(t.Permissions, extraPermissions...)
	svcs := fd.Services()
	for i := 0; i < svcs.Len(); i++ {
		s := svcs.Get(i)
		if include != nil && !include(string(s.FullName())) {
			continue
		}
		t.Services = append(t.Services, policy.Service{Name: string(s.FullName())})
		def := svcOpt(s)
		ms := s.Methods()
		for j := 0; j < ms.Len(); j++ {
			m := &Method{Desc: ms.Get(j), Policy: Merge(def, methodOpt(ms.Get(j)))}
			before := len(*errs)
			Check(m, catalog, errs)
			if len(*errs) == before {
				t.Methods = append(t.Methods, ToMethod(m))
			}
		}
	}
	sort.Slice(t.Services, func(i, j int) bool { return t.Services[i].Name < t.Services[j].Name })
	sort.Slice(t.Methods, func(i, j int) bool { return t.Methods[i].FullMethod < t.Methods[j].FullMethod })
	return t
}
