package policy

import "context"

// Record collects what the stages of the chain learn about one call, for
// the audit record and for debugging. An outer stage puts a *Record in the
// context before authentication runs; every later stage fills in its part.
// The reasons it holds are never sent to the client.
//
// A Record is written by the goroutine that runs the chain for the call,
// before the handler starts, and read after the call ends; it needs no
// locking under that discipline.
type Record struct {
	// Principal is the authenticated caller, or nil.
	Principal *Principal
	// AuthnFailure is why authentication refused the call ("" if it did
	// not), e.g. "jwt: token is expired".
	AuthnFailure string
	// Decision is the authorization decision, or nil if none was made.
	Decision *Decision
	// RateLimitKey and RateLimited describe the rate-limit stage's outcome.
	RateLimitKey string
	RateLimited  bool
	// RateLimitDegraded is true when the shared limit store (Redis) was
	// unreachable and the decision came from the fallback.
	RateLimitDegraded bool
	// Resource is the value of the method's resource field, if read.
	Resource string
	// Shadow is the shadow candidate's verdict, when a candidate bundle is
	// being evaluated beside the live one.
	Shadow *ShadowResult
	// NoDecisionTrace is set by the Record's creator when nothing will
	// read Decision: authorization then leaves it nil instead of building
	// the trace (roles, effective permissions, reason) on every call.
	NoDecisionTrace bool
	// DryRun is set by the Record's creator when the call is only being
	// explained (policy explain): stages must then not spend or count
	// anything on its behalf (rate-limit tokens, nonces, the caller's
	// request rate).
	DryRun bool
	// Audit is the audit stage's state of the call, which lets code deeper
	// in the chain reach it (audit.SetRequest) without a context layer of
	// its own. It is opaque to every other stage, and never printed.
	Audit any `json:"-"`
}

// ShadowResult is what a shadow candidate bundle would have decided.
type ShadowResult struct {
	Version string
	Allowed bool
	// Disagree is true when the candidate decided differently from the
	// live bundle (the live decision is the one enforced).
	Disagree bool
}

type recordKey struct{}

// NewRecordContext returns ctx carrying r.
func NewRecordContext(ctx context.Context, r *Record) context.Context {
	return context.WithValue(ctx, recordKey{}, r)
}

// RecordFrom returns the call's Record, or nil when no stage created one.
// Stages must accept nil (they run in servers without an audit stage).
func RecordFrom(ctx context.Context) *Record {
	r, _ := ctx.Value(recordKey{}).(*Record)
	return r
}

// Decision is the outcome of authorizing one call, with its trace.
type Decision struct {
	// Allowed is the verdict.
	Allowed bool
	// Reason says why, in words for the audit log and `policy explain`.
	Reason string
	// FailedRequirement names the requirement that failed: "permission",
	// "scope", "condition", "credential", "mtls", "bound_token",
	// "disabled" or "" when allowed.
	FailedRequirement string
	// Required are the method's required permissions.
	Required []string
	// Effective are the principal's effective permissions (sorted).
	Effective []string
	// Roles are every role the principal holds (claims, key, bindings).
	Roles []string
	// MatchedRoles are the roles that granted a required permission.
	MatchedRoles []string
	// Condition is the method's (and the roles') CEL condition result:
	// "" (none), "true", "false" or "error: …".
	Condition string
	// BundleVersion is the version of the policy bundle that decided.
	BundleVersion string
}
