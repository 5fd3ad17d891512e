// Package sign signs client requests for Portcullis methods that require
// signed requests: REST requests with HTTP Message Signatures (RFC 9421)
// and gRPC calls with the equivalent metadata profile that package
// interceptors/signature verifies (its documentation describes both).
//
// A Signer holds one key and its keyid: an ed25519 or P-256 ECDSA private
// key (any crypto.Signer, so a KMS or HSM key works) or an HMAC secret of
// at least 32 bytes. Signer.Sign signs an *http.Request in place;
// UnaryClientInterceptor and StreamClientInterceptor sign gRPC calls.
// Every signature carries a fresh random nonce and the current time, so a
// signed request can be sent once only, within the verifier's window
// (five minutes by default): sign each request right before sending it,
// and sign again to retry.
//
// REST: Sign adds Content-Digest (sha-256 of the body, which it reads and
// replaces), Signature-Input and Signature, covering @method, @authority,
// @path, @query (when the URL has a query), content-type (when set),
// content-digest and any WithHeaders fields present.
//
// gRPC: the interceptors add x-content-digest (sha-256 of the first
// request message), x-signature-input and x-signature, covering @path (the
// full method), @authority and x-content-digest, plus WithHeaders keys
// present in the outgoing metadata. They force a protobuf codec that
// encodes deterministically, so that the bytes sent are the bytes
// digested. The :authority signed is the one grpc-go derives from the
// target ("passthrough:///bank:443" → "bank:443"); a connection that
// overrides it (grpc.WithAuthority, a TLS ServerName) must pass the same
// value to WithAuthority.
package sign
