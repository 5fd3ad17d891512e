// Package devcerts creates a throw-away public key infrastructure for local
// development, demos and tests: one certificate authority, the certificates
// the gateway and a demo backend serve, the client certificate the gateway
// presents to backends, client certificates for demo personas, and a second,
// untrusted authority with a client certificate for attack tests.
//
// All keys are ECDSA P-256, certificates are short-lived (30 days by
// default) and carry random 128-bit serial numbers. Identities are SPIFFE IDs
// in the trust domain [TrustDomain]. Key files are written with mode 0600 and
// a newly created directory with mode 0700; every file is written to a
// temporary name and renamed into place, so a reader never sees half a file.
//
// Nothing here is meant for production: the authority's key sits next to
// the certificates it signs.
package devcerts
