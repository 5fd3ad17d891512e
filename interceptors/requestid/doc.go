// Package requestid gives every gRPC call a request id and a W3C Trace
// Context, and makes both visible to the handler, to every later interceptor
// and to the next hop.
//
// # Request id
//
// The metadata key "x-request-id" is accepted from the client only when it
// has exactly one value of 1 to 128 characters from [A-Za-z0-9._-].
// Otherwise (missing, repeated, too long, other characters) the interceptor
// generates one: 16 random bytes, as 32 lower-case hex digits. Generated
// ids (request, trace and span ids) come from the Go runtime's ChaCha8
// generator (math/rand/v2), seeded by the operating system: unique in
// practice (128 bits), at a fifth of crypto/rand's cost. They identify
// calls; they are not secrets (a client may send its own x-request-id),
// and nothing in Portcullis relies on their being unpredictable (the
// identity assertion's jti and other nonces come from crypto/rand). The id
// is sent back to the client as the response header "x-request-id", also
// when the call fails.
//
// # Trace context
//
// The metadata key "traceparent" (W3C Trace Context, version 00 only) is
// validated strictly: "00-" + 32 + "-" + 16 + "-" + 2 lower-case hex digits,
// with neither the trace id nor the parent id all zero, and exactly one
// value. A valid one continues the trace: the trace id and flags are kept,
// the incoming parent id becomes Info.ParentSpanID, and a new random span id
// is created as the parent id for the next hop. "tracestate" is passed
// through unchanged (several values joined by ",") when traceparent is valid
// and it is at most 512 printable ASCII characters; otherwise it is dropped.
// An invalid or missing traceparent starts a new trace and drops tracestate.
//
// # Where the values go
//
// The handler's context carries an Info (see FromContext), and its incoming
// metadata has "x-request-id", "traceparent" and "tracestate" replaced by
// the values above, so that a transparent proxy that forwards the incoming
// metadata forwards the gateway's values, and later interceptors (audit,
// for one) can read them without importing this package.
//
// Only the full method name and metadata are used, so the stream
// interceptor runs on the gateway's transparent proxy path. The interceptors
// never fail a call.
package requestid
