package policy

import (
	"crypto"
	"net/netip"
	"time"
)

// Principal kinds.
const (
	KindUser      = "user"
	KindService   = "service"
	KindAnonymous = "anonymous"
)

// Principal is an authenticated caller, as the authentication stage
// produced it. It is immutable once built and shared by every later stage.
type Principal struct {
	// ID is the stable identifier: the token subject, the API key's owner,
	// or the certificate's SPIFFE ID (else its subject).
	ID string
	// Kind is KindUser, KindService or KindAnonymous.
	Kind string
	// Credential is how the caller authenticated: exactly one of
	// CredentialJWT, CredentialAPIKey, CredentialMTLS (0 for anonymous).
	Credential Credentials
	// CredentialID identifies the credential without revealing it: the
	// token's jti (else a hash prefix of the token), the API key id, or the
	// certificate's SHA-256 thumbprint.
	CredentialID string
	// Issuer is the token issuer, "api-key", or the certificate issuer.
	Issuer string
	// Roles come from mapped token claims or from the API key entry. The
	// bundle's subject bindings add more at authorization time.
	Roles []string
	// Groups come from the mapped groups claim.
	Groups []string
	// Scopes carried by the credential. HasScopes is true when the
	// credential carried a scope claim at all (even an empty one); only
	// then do scopes narrow the effective permissions.
	Scopes    []string
	HasScopes bool
	// Tenant from the mapped tenant claim, or "".
	Tenant string
	// Claims holds the token's string-valued claims (for conditions).
	Claims map[string]string
	// MTLS is true when the connection presented a verified client
	// certificate; CertSHA256 is its base64url SHA-256 thumbprint and
	// SPIFFEID its SPIFFE URI SAN, if any.
	MTLS       bool
	CertSHA256 string
	SPIFFEID   string
	// Bound is true when the token carried a cnf.x5t#S256 confirmation that
	// matched the connection's client certificate.
	Bound bool
	// ExpiresAt is when the credential stops being valid (zero: never).
	ExpiresAt time.Time
}

// APIKey is one API key entry of a policy bundle. Only a hash of the
// secret is stored.
type APIKey struct {
	// ID is the public part of the key, e.g. "k7f3q2m9x4wb" in
	// "pcs_k7f3q2m9x4wb_<secret>".
	ID string
	// Hash is SHA-256 over "portcullis-api-key:" + ID + ":" + secret; see
	// HashAPIKey.
	Hash [32]byte
	// Principal is the id of the principal the key authenticates.
	Principal string
	// Kind is KindUser or KindService.
	Kind string
	// Roles granted to calls made with this key.
	Roles []string
	// Scopes narrow the key's effective permissions when non-empty.
	Scopes []string
	// Tenant of the key's principal, or "".
	Tenant string
	// ExpiresAt is when the key stops working; zero means never.
	ExpiresAt time.Time
	// CIDRs, when non-empty, are the only client addresses the key is
	// accepted from.
	CIDRs []netip.Prefix
	// Disabled keys are refused (revocation without deleting the entry).
	Disabled bool
	// RequireSignature demands that every call made with the key is signed
	// by a signing key bound to the key's principal, whatever the method's
	// policy says.
	RequireSignature bool
}

// SigningKey is a public key a principal signs requests with (HTTP Message
// Signatures on REST, the equivalent metadata profile on gRPC). Bundles
// hold public keys only; shared HMAC secrets do not belong in a bundle.
type SigningKey struct {
	// ID is the keyid the signatures name.
	ID string
	// Algorithm is "ed25519" or "ecdsa-p256-sha256".
	Algorithm string
	// Public is an ed25519.PublicKey or a P-256 *ecdsa.PublicKey.
	Public crypto.PublicKey
	// Principal is the only principal whose calls the key may sign.
	Principal string
	// ExpiresAt is when the key stops verifying; zero means never.
	ExpiresAt time.Time
	// Disabled keys verify nothing (revocation without deleting the entry).
	Disabled bool
}

// Usable reports whether the key verifies signatures at now.
func (k *SigningKey) Usable(now time.Time) bool {
	return !k.Disabled && (k.ExpiresAt.IsZero() || now.Before(k.ExpiresAt))
}
