package assertion

import (
	"github.com/portcullis/portcullis/policy"
)

// Assertion is what the gateway asserts about one forwarded call; Sign
// adds the issuer, times and a unique id. The backend reads it back as a
// backend.Assertion.
type Assertion struct {
	// Subject is the principal's id (claim "sub"). Required.
	Subject string
	// Kind is the principal kind, policy.KindUser, KindService or
	// KindAnonymous ("kind"). Required.
	Kind string
	// Roles the principal holds for this call ("roles").
	Roles []string
	// Credential is how the principal authenticated ("credential": "jwt",
	// "api_key" or "mtls"; omitted when 0).
	Credential policy.Credentials
	// Method is the full gRPC method forwarded ("method"). Required.
	Method string
	// RequestID is the call's x-request-id ("request_id").
	RequestID string
	// Audience is the backend service the call goes to ("aud"); "" means
	// the service of Method, e.g. "examples.bank.v1.BankService". Set it
	// when a route gives a backend its own audience.
	Audience string
}

// For returns the assertion for a call of fullMethod from what the chain
// recorded: the principal of r (anonymous when r or its principal is
// nil), and the roles of r's authorization decision when there is one
// (token or key roles plus the bundle's bindings), else the principal's
// own roles. requestID is the call's request id (requestid.FromContext).
func For(r *policy.Record, fullMethod, requestID string) Assertion {
	a := Assertion{
		Subject:   policy.KindAnonymous,
		Kind:      policy.KindAnonymous,
		Method:    fullMethod,
		RequestID: requestID,
	}
	if r == nil || r.Principal == nil {
		return a
	}
	p := r.Principal
	a.Subject, a.Kind, a.Credential, a.Roles = p.ID, p.Kind, p.Credential, p.Roles
	if r.Decision != nil && r.Decision.Roles != nil {
		a.Roles = r.Decision.Roles
	}
	return a
}
