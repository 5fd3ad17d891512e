package audit

import (
	"encoding/json"
	"time"
)

// SchemaVersion is the version of the audit record schema, written as the
// "v" field of every record. Readers must reject versions they do not know.
// Adding an optional field does not change it; renaming, removing or
// changing the meaning of a field does.
const SchemaVersion = 1

// Record types, the "type" field.
const (
	// TypeCall is the record of one finished call, allowed or denied.
	TypeCall = "call"
	// TypeIntent is written, and made durable, before a call of a method
	// whose audit is required runs (see UnaryServerInterceptor).
	TypeIntent = "intent"
	// TypeGap says that records were lost: Dropped counts them and Reason
	// says why (GapQueueFull or GapSinkError).
	TypeGap = "gap"
	// TypeSeal is the last record of a closed file segment.
	TypeSeal = "seal"
)

// Gap reasons, the "reason" field of a TypeGap record.
const (
	// GapQueueFull: the queue was full under the Drop policy.
	GapQueueFull = "queue_full"
	// GapSinkError: a sink failed for longer than its retry buffer holds.
	GapSinkError = "sink_error"
)

// Redacted replaces the value of a sensitive request field.
const Redacted = "[REDACTED]"

// Event is one audit record (schema version 1; the JSON Schema is
// schema/audit-record.v1.json). The Logger encodes it as canonical JSON:
// compact, object keys in byte order, integers as JSON numbers, strings as
// valid UTF-8 (invalid bytes and NUL become U+FFFD).
//
// In a "call" record these keys are always present: v, type, time,
// request_id, trace_id, transport, method, client_ip, status, duration_us,
// request_bytes, response_bytes, request_messages, response_messages, seq,
// prev_hash, hash. The objects http, principal, credential, tls, decision
// and rate_limit, and the keys resource, authn_failure and request, appear
// only when they have a value. json.Marshal of an Event omits empty values
// everywhere; the Logger's encoding is the reference.
//
// An Event is filled by one goroutine and handed to the Logger, which owns
// it from then on. Slices may share memory with the policy.Record they came
// from: neither may be modified afterwards.
type Event struct {
	// Version is SchemaVersion.
	Version int `json:"v"`
	// Type is TypeCall, TypeIntent, TypeGap or TypeSeal.
	Type string `json:"type"`
	// Time is when the call started (for gap and seal records: when they
	// were written), encoded in RFC 3339 with nanoseconds, in UTC.
	Time time.Time `json:"time"`
	// RequestID is the call's "x-request-id"; TraceID the W3C trace id.
	RequestID string `json:"request_id,omitempty"`
	TraceID   string `json:"trace_id,omitempty"`
	// Transport is "grpc" or "http" (the REST front).
	Transport string `json:"transport,omitempty"`
	// Method is the full gRPC method name, "/pkg.Service/Method".
	Method string `json:"method,omitempty"`
	// HTTP is the REST request, for Transport "http".
	HTTP HTTP `json:"http,omitzero"`
	// Principal is who called, when authentication identified anyone.
	Principal Principal `json:"principal,omitzero"`
	// Credential is how the principal authenticated.
	Credential Credential `json:"credential,omitzero"`
	// ClientIP is the client's address without port.
	ClientIP string `json:"client_ip,omitempty"`
	// TLS describes the client connection, when it used TLS.
	TLS TLS `json:"tls,omitzero"`
	// Decision is the authorization decision, when one was made.
	Decision Decision `json:"decision,omitzero"`
	// Resource is the value of the method's resource field, if read.
	Resource string `json:"resource,omitempty"`
	// AuthnFailure says why authentication refused the call.
	AuthnFailure string `json:"authn_failure,omitempty"`
	// RateLimit is the rate-limit stage's outcome.
	RateLimit RateLimit `json:"rate_limit,omitzero"`
	// Status is the call's final gRPC status.
	Status Status `json:"status,omitzero"`
	// DurationMicros is the call's duration in microseconds.
	DurationMicros int64 `json:"duration_us,omitempty"`
	// RequestBytes and ResponseBytes sum the sizes of the messages
	// received from and sent to the client (protobuf encoding, after
	// decompression); RequestMessages and ResponseMessages count them.
	RequestBytes     int64 `json:"request_bytes,omitempty"`
	ResponseBytes    int64 `json:"response_bytes,omitempty"`
	RequestMessages  int64 `json:"request_messages,omitempty"`
	ResponseMessages int64 `json:"response_messages,omitempty"`
	// Request holds the first request message's fields, for methods with
	// audit level "request": the fields the method selects (all when it
	// selects none), named as protojson names them, with every sensitive
	// field's value replaced by Redacted. It is a JSON object, or the
	// string "[TRUNCATED]" when the rendering exceeded the size limit.
	Request json.RawMessage `json:"request,omitempty"`

	// Dropped (gap records) is how many records were lost, and Reason why.
	Dropped uint64 `json:"dropped,omitempty"`
	Reason  string `json:"reason,omitempty"`
	// Count (seal records) is the number of records in the segment before
	// the seal, and LastHash the hash of the last one. Recovered is true
	// when the segment was sealed after a crash, on the next start.
	Count     uint64 `json:"count,omitempty"`
	LastHash  string `json:"last_hash,omitempty"`
	Recovered bool   `json:"recovered,omitempty"`

	// Seq numbers the records of a chain (a file segment, or a PostgreSQL
	// chain) from 1. Hash is lower-case hex SHA-256 over the 32 bytes of
	// PrevHash followed by the record's canonical JSON without the "hash"
	// key; PrevHash is the previous record's Hash (the previous segment's
	// seal for the first record of a segment; 64 zeros at the very start).
	// Sinks set them; they are read back by Verify.
	Seq      uint64 `json:"seq,omitempty"`
	PrevHash string `json:"prev_hash,omitempty"`
	Hash     string `json:"hash,omitempty"`

	waiter   *waiter // set by Logger.Write
	reqCanon bool    // Request was rendered by this package (canonical)
}

func (e *Event) requestCanonical() bool { return e.reqCanon }

// HTTP is the REST side of a call that came through the REST front.
type HTTP struct {
	// Method is the HTTP method, e.g. "POST".
	Method string `json:"method,omitempty"`
	// Route is the matched route pattern, e.g. "/v1/{name=accounts/*}".
	Route string `json:"route,omitempty"`
}

// Principal identifies the caller.
type Principal struct {
	// ID is the principal id (token subject, API key owner, certificate
	// identity); Kind is "user", "service" or "anonymous".
	ID   string `json:"id,omitempty"`
	Kind string `json:"kind,omitempty"`
	// Roles are every role the principal held for the call: those of the
	// credential and, once authorization ran, of the bundle's bindings.
	Roles []string `json:"roles,omitempty"`
	// Tenant is the principal's tenant, if any.
	Tenant string `json:"tenant,omitempty"`
}

// Credential names the credential of a call without revealing it.
type Credential struct {
	// Kind is "jwt", "api_key" or "mtls".
	Kind string `json:"kind,omitempty"`
	// ID is the token's jti (else a hash prefix of the token), the API key
	// id, or the certificate's SHA-256 thumbprint. Never a secret.
	ID string `json:"id,omitempty"`
}

// TLS describes the client's TLS connection.
type TLS struct {
	// Version is "1.2" or "1.3".
	Version string `json:"version,omitempty"`
	// MTLS is true when the client presented a verified certificate.
	MTLS bool `json:"mtls,omitempty"`
	// SPIFFEID is the certificate's SPIFFE URI SAN, if any.
	SPIFFEID string `json:"spiffe_id,omitempty"`
	// CertSHA256 is the certificate's base64url SHA-256 thumbprint.
	CertSHA256 string `json:"cert_sha256,omitempty"`
}

// Decision is the authorization decision, copied from policy.Decision.
type Decision struct {
	Allowed           bool     `json:"allowed,omitempty"`
	Reason            string   `json:"reason,omitempty"`
	FailedRequirement string   `json:"failed_requirement,omitempty"`
	Required          []string `json:"required,omitempty"`
	Effective         []string `json:"effective,omitempty"`
	MatchedRoles      []string `json:"matched_roles,omitempty"`
	Condition         string   `json:"condition,omitempty"`
	BundleVersion     string   `json:"bundle_version,omitempty"`
	// ShadowVersion and Disagreement are set while a shadow bundle is
	// evaluated beside the live one: the candidate bundle's version, and
	// whether it decided differently.
	ShadowVersion string `json:"shadow_version,omitempty"`
	Disagreement  bool   `json:"disagreement,omitempty"`
}

// RateLimit is the outcome of the rate-limit stage.
type RateLimit struct {
	// Key is the bucket the call was counted in.
	Key string `json:"key,omitempty"`
	// Limited is true when the call was over its limit: refused, or let
	// through because the limit is in shadow mode (the status then says
	// OK).
	Limited bool `json:"limited,omitempty"`
	// Degraded is true when the shared store (Redis) could not answer and
	// the call was decided by the replica's local fallback limit, or
	// refused because of the outage (on_redis_down: fail_closed).
	Degraded bool `json:"degraded,omitempty"`
}

// Status is a gRPC status.
type Status struct {
	// Code is the canonical upper-case name, e.g. "PERMISSION_DENIED".
	Code string `json:"code,omitempty"`
	// Message is the message sent to the client, if any.
	Message string `json:"message,omitempty"`
}

func (h *HTTP) present() bool { return h.Method != "" || h.Route != "" }
func (p *Principal) present() bool {
	return p.ID != "" || p.Kind != "" || len(p.Roles) > 0 || p.Tenant != ""
}
func (c *Credential) present() bool { return c.Kind != "" || c.ID != "" }
func (t *TLS) present() bool {
	return t.Version != "" || t.MTLS || t.SPIFFEID != "" || t.CertSHA256 != ""
}
func (r *RateLimit) present() bool { return r.Key != "" || r.Limited || r.Degraded }

func (d *Decision) present() bool {
	return d.Allowed || d.Reason != "" || d.FailedRequirement != "" || len(d.Required) > 0 ||
		len(d.Effective) > 0 || len(d.MatchedRoles) > 0 || d.Condition != "" || d.BundleVersion != "" ||
		d.ShadowVersion != "" || d.Disagreement
}
