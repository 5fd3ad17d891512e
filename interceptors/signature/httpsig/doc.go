// Package httpsig is the message model of HTTP Message Signatures (RFC
// 9421) shared by the verifier (package signature) and the client helper
// (package client/sign): a strict parser and serializer for the Structured
// Field Values (RFC 8941) that Signature-Input, Signature and
// Content-Digest use, the signature base of RFC 9421 §2.5, the three
// algorithms Portcullis accepts, and content digests (RFC 9530).
//
// It depends on the standard library only and has no state: every function
// is safe for concurrent use.
//
// # What is accepted
//
// The parser implements the subset of RFC 8941 the two fields use, and
// refuses everything else instead of guessing:
//
//   - Signature-Input is a dictionary whose members are inner lists of
//     strings (component identifiers) without parameters, followed by the
//     signature parameters created and expires (non-negative integers) and
//     nonce, keyid, alg and tag (strings). Any other parameter, a parameter
//     of another type, a boolean parameter, a token, a component with
//     parameters (";sf", ";req", ";name=…"), an upper-case or duplicated
//     component, and a duplicated label or parameter are errors.
//   - Signature and Content-Digest are dictionaries of byte sequences
//     (canonical, padded base64) without parameters; duplicated keys are
//     errors.
//
// Component identifiers are the derived components @method, @authority,
// @path and @query of a request and @status of a response, or a
// lower-case field name. @target-uri, @scheme, @request-target,
// @query-param and the component parameters of RFC 9421 §2.1 are not
// supported.
//
// # Normalisation
//
// @authority is the request's Host (or URL host on the client), lower-cased,
// with a ":80" or ":443" suffix removed whatever the scheme, so that the
// client and a gateway behind a TLS-terminating load balancer agree. @path
// is the URL's escaped path as sent ("/" when empty), never decoded. @query
// is "?" followed by the raw query, "?" alone when there is none. A field's
// value is the trimmed values of every field line joined with ", ".
// The "@signature-params" line is the canonical serialization of the parsed
// parameters, in the order they were received.
package httpsig
