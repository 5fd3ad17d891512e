// Package authn authenticates gRPC calls: it turns the credentials of a
// call into a *policy.Principal for the authorization, rate limit and audit
// stages after it.
//
// An Authenticator is built once per listener by New from a Config (every
// issuer, algorithm and claim mapping is validated there, and key sets are
// loaded) and gives a unary and a stream server interceptor. Both work from
// the full method name, the incoming metadata, the peer and its TLS state
// only, so the stream interceptor runs on the gateway's transparent proxy
// path, where no message is decoded.
//
// # Credentials
//
// A call presents at most one of:
//
//   - a JWT bearer token, metadata "authorization: Bearer <jwt>" (the REST
//     front forwards the HTTP Authorization header under the same key). The
//     issuer is chosen by the token's unverified iss claim; the token is
//     then verified with that issuer's pinned algorithms and that issuer's
//     JWK Set only (a kid from another issuer's set fails), and its exp,
//     nbf, iat, lifetime, aud and required claims are checked. "none" and
//     HMAC algorithms are never accepted. The claims must be one JSON
//     object with each claim name once (RFC 7519 section 4); a claim is
//     decoded only when the issuer's configuration reads it, with
//     encoding/json's meaning (FuzzClaimSet holds the two to the same
//     result).
//   - an API key, metadata "x-api-key: pcs_<id>_<secret>", looked up by id
//     in a KeySource on every call and compared by hash in constant time;
//     disabled and expired keys, and keys used from outside their CIDRs,
//     are refused.
//   - a verified client certificate (mTLS) on its own, which authenticates
//     only where the method allows policy.CredentialMTLS. The principal id
//     is the certificate's SPIFFE ID, else its subject common name.
//
// Presenting a bearer token and an API key together, or either more than
// once, is refused as ambiguous. A verified client certificate always sets
// Principal.MTLS, CertSHA256 and SPIFFEID, whatever the credential, and a
// token whose cnf claim carries an x5t#S256 thumbprint (RFC 8705) is
// accepted only on a connection whose verified certificate has that
// thumbprint (Principal.Bound), so a stolen token is useless without the
// client's private key. Only certificates that the TLS layer verified
// count; for REST calls, the certificate facts and client address come
// from internal metadata keys that are trusted only with
// WithTrustInternalMetadata.
//
// # Method requirements
//
// The method's compiled policy (WithMethodFunc, normally
// resolve.FromContext) decides what is acceptable: the credential kind must
// be in policy.Method.Credentials (a zero set allows none), RequireMTLS
// demands a verified certificate, RequireBoundToken a certificate-bound
// token, and, unless Config.RestrictedRequiresBoundToken is false, a method
// of policy.SensitivityRestricted demands both. A listener's Config.JWT,
// APIKeys and MTLS switches disable a kind of credential entirely.
//
// # Outcomes
//
// A call that is let through carries its principal in the context
// (FromContext) and, when an outer stage put a *policy.Record in the
// context, in Record.Principal. A refused call ends with
// codes.Unauthenticated and the fixed message "missing or invalid
// credentials", the same for every reason; the precise reason goes to
// Record.AuthnFailure and to the debug log (WithLogger), never to the
// client.
//
// Public methods (policy.Method.Public) need no credentials. A valid
// credential presented to a public method still sets the principal; a
// missing or invalid one lets the call proceed as the anonymous principal
// (ID and Kind policy.KindAnonymous), with the reason logged at debug
// level, and no AuthnFailure recorded since nothing was refused. Calls for
// which WithMethodFunc reports no policy (the gateway's own health and
// reflection services) pass through untouched, without a principal.
//
// # Keys and caching
//
// A JWKS file is re-read every few seconds and a JWKS URL on an interval
// and when a token names an unknown kid (at most once per
// MinRefreshInterval, bounded in time and size); a changed key set is
// swapped in atomically, and a document that fails to load leaves the last
// good set in place. Verified tokens are cached by the token string (a hit
// is a map probe, no allocation), bounded in size, until the token's exp
// and only while the issuer's key set is the one that verified it: a key
// removed from the set stops working at the next reload, cached or not.
// Certificate binding and method requirements are checked on every call.
package authn
