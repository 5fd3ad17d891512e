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
// value. This hop records no span of its own, so it follows the
// specification's alternative processing for such a hop: a valid
// traceparent is passed on unchanged (Info.TraceID and Info.ParentSpanID
// are its parts), and the backend's span stays the child of the client's.
// Replacing its parent id with a span id that no collector ever receives
// would cut the trace in two. "tracestate" is passed on with it (several
// values joined by ",") when it is at most 512 printable ASCII characters;
// otherwise it is dropped. An invalid traceparent is dropped, and so is
// tracestate without a valid traceparent. A call without a valid one
// carries no trace context, unless WithStartTraces is given: then a new
// trace starts at this hop.
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
