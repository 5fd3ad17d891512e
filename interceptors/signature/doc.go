// Package signature verifies signed client requests: HTTP Message
// Signatures (RFC 9421) on the REST front, and an equivalent metadata
// profile on gRPC, with a time window and a nonce cache against replay.
// Package client/sign produces both.
//
// A Verifier is built once by New from a KeySource (keyid → key) and
// gives a unary and a stream server interceptor and an HTTP middleware.
// WithRequired and WithRequiredHTTP decide which calls must be signed (the
// gateway derives them from the method policy or the API key); the
// default is every call. A call that is not required to be signed passes
// through untouched.
//
// # Every signature
//
//   - exactly one signature (one label in the input field, the same one in
//     the signature field);
//   - parameters created, keyid and nonce (8 to 128 characters); alg, if
//     present, must name the key's algorithm; expires, if present, must be
//     after created and not passed; tag is free;
//   - created no further than the window (WithWindow, default 5 minutes)
//     from now, in either direction;
//   - algorithms ed25519, ecdsa-p256-sha256 (r‖s) and hmac-sha256 (secrets
//     of at least 32 bytes);
//   - the signature base is rebuilt from the received message in the
//     order of the covered components as received (httpsig.Base), so a
//     reordered component list does not verify;
//   - after the signature and the content digest verify, the nonce is
//     recorded, scoped to the keyid, until the signature could no longer
//     be accepted (created + window, or expires if sooner); a nonce seen
//     again in that time is a replay. The cache is in memory (bounded,
//     never evicting early) or in Redis (RedisNonceCache, shared by
//     replicas); a cache that cannot answer refuses the call.
//
// # REST profile
//
// RFC 9421 over the Signature-Input and Signature fields (see
// HTTPMiddleware). Covered components: @method, @authority and @path
// always (WithRequiredComponents), @query when the URL has a query,
// content-type when present, content-digest (RFC 9530, sha-256 or sha-512,
// checked against the body) unless Content-Length is 0; other header
// fields may be covered too. httpsig documents the exact subset and
// normalisation; the RFC's Appendix B vectors verify.
//
// # gRPC profile
//
// The same signature, carried in metadata:
//
//	x-signature-input: sig1=("@path" "@authority" "x-content-digest");created=1700000000;keyid="k1";nonce="Gk2…";alg="ed25519"
//	x-signature:       sig1=:<base64 signature>:
//	x-content-digest:  sha-256=:<base64 SHA-256 of the first request message>:
//
// Components: "@path" is the full method ("/bank.v1.BankService/Transfer",
// the HTTP/2 :path of every gRPC call), "@authority" the :authority
// pseudo-header (lower-cased, without ":80" or ":443"), "x-content-digest"
// the RFC 9530 digest (sha-256 or sha-512) of the first request message's
// bytes as sent: the bytes between the gRPC length prefixes, after
// decompression. All three must be covered; other text metadata keys may
// be (binary "-bin" keys and the REST-only components may not). The
// timestamp and nonce are the created and nonce parameters, covered by the
// "@signature-params" line. Each of the three keys appears at most once.
//
// The signature base is built exactly as RFC 9421 §2.5 builds it, e.g.
//
//	"@path": /bank.v1.BankService/Transfer
//	"@authority": bank.example
//	"x-content-digest": sha-256=:…:
//	"@signature-params": ("@path" "@authority" "x-content-digest");created=1700000000;keyid="k1";nonce="Gk2…";alg="ed25519"
//
// A REST signature cannot be replayed on gRPC, nor the reverse: the REST
// profile demands @method, which the gRPC profile refuses, and reads other
// field names.
//
// The digest is checked against the raw bytes of the first message when
// WithFirstMessageBytes provides them (the gateway's proxy path), else
// against the message's deterministic protobuf encoding
// (proto.MarshalOptions{Deterministic: true}), which client/sign also
// sends; clients in other languages should sign the bytes they send and
// talk to the gateway's proxy path. A streaming call's digest covers its
// first client message; a stream that sends none signs the empty message.
//
// # Outcomes
//
// A refused call ends with codes.Unauthenticated and the fixed message
// "invalid request signature" (401 on REST), whatever the reason; the
// reason goes to policy.RecordFrom(ctx).AuthnFailure, prefixed
// "signature: ", when the context carries a Record, and to the debug log
// (WithLogger). A call let through carries the verified signature
// (FromContext), whose KeyID the gateway can match against the caller's
// credential.
package signature
