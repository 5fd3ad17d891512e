// Package assertion is the gateway's identity assertion for forwarded
// calls: a short-lived statement, signed with the gateway's own key, of who
// called which method, which backends verify with interceptors/backend to
// refuse every call that did not come through the gateway.
//
// A Signer, built by New, holds the signing keys (Ed25519 by default, or
// ECDSA P-256), generated at start or loaded from PEM (Config.KeyPEM, for
// a resolved secret reference, or Config.KeyFile). Sign produces a compact
// JWS with header typ "portcullis-assertion+jwt", alg and kid, and the
// claims of backend.Assertion:
//
//	iss         the gateway's id (Config.Issuer)
//	sub, kind   the principal's id and kind
//	roles       the roles it holds for the call
//	credential  "jwt", "api_key" or "mtls"
//	method      the full gRPC method, "/examples.bank.v1.BankService/Transfer"
//	aud         the backend's service, "examples.bank.v1.BankService"
//	request_id  the call's x-request-id
//	iat, exp    issued now, expires Config.Lifetime later (default 30s)
//	jti         16 random bytes, base64url
//
// # Wiring in the gateway
//
// The gateway signs on the backend call only, after the chain has
// authenticated and authorized the call and every "x-portcullis-" key has
// been removed from what is forwarded. In the director's Connect, whose
// error fails the call closed:
//
//	a := assertion.For(policy.RecordFrom(ctx), fullMethod, requestID)
//	ctx, err := signer.Attach(ctx, a) // appends x-portcullis-assertion
//
// or, where the backend call's metadata copy is edited in place (after
// policy.StripInternal), signer.SetMetadata(md, a), which replaces any
// value. The admin listener publishes the public keys:
//
//	adminMux.Handle("GET "+assertion.JWKSPath, signer) // /.well-known/portcullis-jwks.json
//
// # Rotation
//
// Rotate makes a new key current at once and keeps publishing the old
// ones; backends fetch the set again when an assertion names a kid they do
// not know, so there is no window in which calls fail. Retire a previous
// key once its last assertions have expired. With several gateway
// replicas, give them all the same KeyPEM/KeyFile (the kid is the key's
// RFC 7638 thumbprint, identical everywhere) and rotate by deploying a
// file whose first block is the new key and second the old one.
//
// # Cost and caching
//
// Sign is dominated by the signature itself (one Ed25519 signature, tens
// of microseconds on one core, about two thirds of Sign's CPU time), plus
// about 60 small allocations in go-jose and encoding/json (ES256: about
// 130, and its verification on the backend is slower than Ed25519's). Assertions are not
// cached: a cache per (principal, method, audience) would hand out the
// same jti and request id for many calls, which defeats the backends'
// replay protection and breaks request correlation, to save a cost that is
// small beside forwarding the call. BenchmarkSign measures it.
package assertion
