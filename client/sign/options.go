package sign

import (
	"crypto/rand"
	"encoding/base64"
	"time"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// Option configures a Signer.
type Option func(*options)

type options struct {
	label     string
	tag       string
	digest    string
	expires   time.Duration
	headers   []string
	authority string
	now       func() time.Time
	nonce     func() (string, error)
}

func evaluateOptions(opts []Option) options {
	o := options{label: "sig1", digest: httpsig.DigestSHA256, now: time.Now, nonce: randomNonce}
	for _, opt := range opts {
		opt(&o)
	}
	return o
}

// randomNonce returns 128 random bits, base64url: 22 characters.
func randomNonce() (string, error) {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// WithLabel sets the signature's label (default "sig1").
func WithLabel(label string) Option { return func(o *options) { o.label = label } }

// WithTag sets the tag parameter (default none).
func WithTag(tag string) Option { return func(o *options) { o.tag = tag } }

// WithDigestAlgorithm sets the content digest algorithm, httpsig.DigestSHA256
// (the default) or httpsig.DigestSHA512.
func WithDigestAlgorithm(alg string) Option { return func(o *options) { o.digest = alg } }

// WithExpires adds an expires parameter d after created (default none: the
// verifier's window alone bounds the signature's life).
func WithExpires(d time.Duration) Option { return func(o *options) { o.expires = d } }

// WithHeaders adds header fields (REST) or metadata keys (gRPC) to the
// covered components when the request carries them, e.g. "x-api-key" to
// bind the signature to the credential presented with it. Names are
// lower-cased field names.
func WithHeaders(names ...string) Option {
	return func(o *options) { o.headers = append(o.headers, names...) }
}

// WithAuthority sets the :authority the gRPC interceptors sign, for
// connections that override grpc-go's default (grpc.WithAuthority, a TLS
// ServerName). The default is derived from the connection's target. It has
// no effect on REST requests, whose authority is their Host.
func WithAuthority(authority string) Option { return func(o *options) { o.authority = authority } }

// WithClock sets the source of the created time, for tests. The default is
// time.Now.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// WithNonceFunc sets the source of nonces, for tests and examples. The
// default returns 128 random bits in base64url. Nonces must be unique per
// key within the verifier's window, 8 to 128 printable characters.
func WithNonceFunc(f func() (string, error)) Option {
	return func(o *options) {
		if f != nil {
			o.nonce = f
		}
	}
}
