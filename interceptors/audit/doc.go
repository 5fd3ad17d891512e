// Package audit records every gRPC call (and every REST call, which the
// gateway turns into one) in a tamper-evident audit log: who called, with
// which credential (never the secret), what method and route, the
// authorization decision and why, the bundle version, the final status,
// latency, sizes, and for methods with audit level "request" the selected
// request fields with sensitive ones redacted. The record schema is Event
// (version SchemaVersion; JSON Schema in schema/audit-record.v1.json).
//
// # Interceptors
//
// UnaryServerInterceptor and StreamServerInterceptor write one "call"
// record per call, after it ends, with its final status. They go after
// method resolution and before authentication, so that calls refused by
// authentication, authorization or rate limiting are recorded too: they
// put a *policy.Record in the context (policy.NewRecordContext) that those
// stages fill in. Inputs come through options, never from other
// interceptor packages: the method policy (WithMethodFunc), the request
// and trace ids (WithRequestIDFunc; default: the "x-request-id" and
// "traceparent" metadata), and, with WithTrustInternalMetadata, the REST
// front's internal metadata keys. TLS facts of gRPC calls come from the
// peer's credentials.TLSInfo. Methods without a policy (health,
// reflection) are recorded without a decision, unless WithSkip excludes
// them.
//
// On the proxy path the interceptor sees raw frames only. Request fields
// reach it through SetRequest, which the stage that decodes the first
// request calls; unary requests and streams of typed messages are read
// directly.
//
// # Fail closed
//
// A method whose sensitivity is RESTRICTED or whose audit is required
// runs only once the Logger has durably stored an "intent" record for it
// (request id, method, client and TLS facts; written before
// authentication, so it has no principal yet). If the Logger is unhealthy
// (a sink failing, the queue full, closed) or the intent is not stored and
// synced by every sink within WithRequiredTimeout, the call ends with
// codes.Unavailable "audit unavailable" and never reaches the next stage.
// Its "call" record is still attempted. Because the intent is durable
// before any effect, the log can never lack evidence of a required call
// that ran, even if the process dies before the "call" record is written.
//
// # Logger and sinks
//
// The request path only enqueues: Logger.Log sends a pooled *Event on a
// bounded channel without allocating. One writer goroutine encodes
// records (canonical JSON), batches them and hands every batch to every
// Sink; each sink hash-chains its records (Chain): seq, prev_hash and
// hash = SHA-256(prev_hash bytes ‖ canonical JSON without "hash"). When
// the queue is full, Block (default) waits and Drop drops and counts,
// followed by a "gap" record with the count. A failing sink gets its
// missed batches again when it recovers; beyond WithMaxPending they are
// dropped and a gap record takes their place. Metrics: the Logger is a
// prometheus.Collector.
//
// FileSink writes JSON lines to size-rotated, sealed segments, fsyncs per
// WithSyncInterval and recovers after a crash; Verify and RunVerify check
// a log and report the first broken link. Package audit/postgres is the
// PostgreSQL sink; package audit/review builds access reviews from the
// log.
package audit
