// Package gateway assembles the Portcullis gateway: listeners and TLS, the
// gRPC server with its interceptor chain, the transparent proxy to the
// backends, the REST front (which runs the same gRPC chain in process),
// server reflection, health, metrics and graceful shutdown.
//
// Chain order, outermost first, for both transports:
//
//	recovery → strip internal keys → request id/trace → metrics →
//	method resolution (unknown: Unimplemented) → audit → authentication →
//	decode → authorization → rate limit → size limits → director
//
// The audit stage runs before authentication so that refused calls are
// recorded too (docs/architecture.md).
//
// Until an identity stage is configured the authentication slot is a
// deny-by-default gate: public methods pass, every protected method is
// refused with Unauthenticated. No method is ever forwarded unchecked.
package gateway
