// Package jwks reads and parses the JWK Sets that the interceptors verify
// signatures with: an issuer's keys for authn, the gateway's published
// assertion keys for backend. It holds the fetch (a file or an HTTPS URL,
// bounded in size and time), the parser (which refuses private, symmetric,
// encryption and otherwise unusable keys according to a Policy), and the
// check of whether a key fits a signature algorithm.
//
// It is internal so that interceptor packages can share it without
// importing each other. It keeps no state: caching, reloading and key
// lookup stay with the callers.
package jwks
