// Package ratelimit enforces the rate limits that method policies declare
// (policy.RateLimit) and the limits of streaming calls
// (policy.StreamLimits), on both transports of the gateway.
//
// # Algorithm
//
// Limits are GCRA (the generic cell rate algorithm): a key's whole state is
// one theoretical arrival time, updated on each call, so nothing refills in
// the background. A limit of Rate per Period with Burst lets a fresh key
// make Burst+1 calls at once and then one every Period/Rate.
//
// # Keys
//
// Each call with a limit counts under "<full method>|<kind>|<value>", e.g.
// "/bank.v1.Bank/Transfer|principal|alice", where kind is what the value
// is: principal (the principal id), credential (Principal.CredentialID),
// client_ip, tenant (Principal.Tenant) or request_field (a dotted scalar
// field of the request, read with protoreflect). A key that needs a
// principal falls back to the principal id (no credential id or tenant) and
// then, for anonymous calls, to the client IP. Values longer than 64 bytes
// or with characters outside [A-Za-z0-9-_.:@/+=] are replaced by "~" and a
// truncated SHA-256, so keys are bounded; the bounded key is the one in
// policy.Record.RateLimitKey.
//
// The client IP is the TCP peer, or for REST calls the internal metadata
// key "x-portcullis-client-addr" (WithTrustInternalMetadata). Only when
// that address is a trusted proxy (WithTrustedProxies) is a forwarding
// header read (X-Forwarded-For by default, or RFC 7239 Forwarded), right
// to left, skipping trusted proxies; from anyone else the headers are
// ignored, so a client cannot choose its address. IPv6 clients count per
// /64 by default (WithIPv6PrefixLen).
//
// # Wire behaviour
//
// Allowed and refused calls get the response headers ratelimit-limit
// (Burst+1), ratelimit-remaining and ratelimit-reset (seconds until full
// capacity, rounded up). A refused call ends with codes.ResourceExhausted,
// the fixed message "rate limit exceeded", a google.rpc.RetryInfo detail
// and the trailer retry-after (seconds, rounded up). The gateway's REST
// front turns these into 429 with Retry-After and RateLimit-* headers. A
// store failure ends the call with codes.Unavailable "rate limit
// unavailable" (fail closed). Shadow limits (RateLimit.Shadow) are counted
// and recorded but never refuse and set no metadata.
//
// policy.Record, when present, gets RateLimitKey and RateLimited (also for
// shadow limits, whose calls then end OK). Metrics counts decisions.
//
// # Stores
//
//   - Memory: in process, sharded, bounded (16 bytes a key), idle keys'
//     slots reused by new ones, no allocation per call. The default for
//     one replica.
//   - Redis: one atomic Lua script per call on the Redis server's clock,
//     keys namespaced and expiring; replicas sharing a Redis share the
//     limit exactly.
//   - Leasing: over Redis, each replica takes cells k at a time (about one
//     round trip per k calls), admitting at most replicas × k calls more
//     than exact mode in a window.
//   - Fallback: a primary (Redis) with a bounded per-call timeout, and a
//     local limit (default) or fail-closed refusal while it is unreachable;
//     Result.Degraded marks such decisions, and it recovers by itself.
//
// The interceptors read only the method name, metadata, peer and
// principal, so the stream interceptor runs on the transparent proxy path.
// Chain them after authentication and authorization, before audit.
package ratelimit
