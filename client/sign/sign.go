package sign

import (
	"bytes"
	"crypto"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// Signer signs requests with one key. It is immutable and safe for
// concurrent use; each signature gets its own nonce.
type Signer struct {
	keyID string
	key   any // crypto.Signer or []byte
	alg   httpsig.Algorithm
	o     options
}

// NewHTTPSigner returns a Signer for keyID (the keyid the verifier's
// KeySource knows the key by) with key: a crypto.Signer whose public key
// is ed25519 or P-256 ECDSA (ed25519.PrivateKey, *ecdsa.PrivateKey, a KMS
// signer), or a []byte HMAC secret of at least 32 bytes, which is copied.
// The same Signer signs REST requests (Sign) and gRPC calls (the client
// interceptors).
func NewHTTPSigner(keyID string, key any, opts ...Option) (*Signer, error) {
	switch k := key.(type) {
	case crypto.Signer:
	case []byte:
		key = slices.Clone(k)
	default:
		return nil, fmt.Errorf("sign: key of type %T, want a crypto.Signer or an HMAC []byte", key)
	}
	alg, err := httpsig.AlgorithmOf(key)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	o := evaluateOptions(opts)
	if _, err := httpsig.ContentDigest(o.digest, nil); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	if o.expires < 0 {
		return nil, fmt.Errorf("sign: WithExpires(%v): must not be negative", o.expires)
	}
	probe := &httpsig.Input{Label: o.label, Components: o.headers, KeyID: keyID, Tag: o.tag}
	if keyID == "" {
		return nil, errors.New("sign: empty keyID")
	}
	if _, err := probe.Format(); err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	for _, h := range o.headers {
		if h == "" || h[0] == '@' {
			return nil, fmt.Errorf("sign: WithHeaders(%q): not a field name", h)
		}
	}
	return &Signer{keyID: keyID, key: key, alg: alg, o: o}, nil
}

// Algorithm returns the signature algorithm of the Signer's key.
func (s *Signer) Algorithm() httpsig.Algorithm { return s.alg }

// Sign signs req in place, right before it is sent: it reads the body (if
// any) and replaces it with an identical one (setting GetBody and
// ContentLength), and sets Content-Digest, Signature-Input and Signature,
// replacing any earlier values. Headers and URL must not change after
// Sign. The request's Host (else its URL's host) is the signed authority.
func (s *Signer) Sign(req *http.Request) error {
	var body []byte
	if req.Body != nil && req.Body != http.NoBody {
		b, err := io.ReadAll(req.Body)
		_ = req.Body.Close()
		if err != nil {
			return fmt.Errorf("sign: read body: %w", err)
		}
		body = b
		req.ContentLength = int64(len(b))
		req.Body = io.NopCloser(bytes.NewReader(b))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
	}
	digest, err := httpsig.ContentDigest(s.o.digest, body)
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}
	if req.Header == nil {
		req.Header = http.Header{}
	}
	req.Header.Set("Content-Digest", digest)
	components := []string{"@method", "@authority", "@path"}
	if req.URL != nil && req.URL.RawQuery != "" {
		components = append(components, "@query")
	}
	if len(req.Header.Values("Content-Type")) > 0 {
		components = append(components, "content-type")
	}
	components = append(components, "content-digest")
	for _, h := range s.o.headers {
		if len(req.Header.Values(h)) > 0 && !slices.Contains(components, h) {
			components = append(components, h)
		}
	}
	input, sig, err := s.sign(components, httpsig.RequestResolver(req))
	if err != nil {
		return err
	}
	req.Header.Set("Signature-Input", input)
	req.Header.Set("Signature", sig)
	return nil
}

// sign returns the Signature-Input and Signature members for the
// components of a message.
func (s *Signer) sign(components []string, resolve httpsig.Resolver) (string, string, error) {
	nonce, err := s.o.nonce()
	if err != nil {
		return "", "", fmt.Errorf("sign: nonce: %w", err)
	}
	now := s.o.now()
	in := &httpsig.Input{
		Label: s.o.label, Components: components, Created: now.Unix(),
		Nonce: nonce, KeyID: s.keyID, Alg: string(s.alg), Tag: s.o.tag,
	}
	if s.o.expires > 0 {
		in.Expires = max(now.Add(s.o.expires).Unix(), in.Created+1)
	}
	base, err := httpsig.Base(in, resolve)
	if err != nil {
		return "", "", fmt.Errorf("sign: %w", err)
	}
	raw, err := httpsig.Sign(s.alg, s.key, base)
	if err != nil {
		return "", "", fmt.Errorf("sign: %w", err)
	}
	input, err := in.Format()
	if err != nil {
		return "", "", fmt.Errorf("sign: %w", err)
	}
	sig, err := httpsig.FormatBytes(s.o.label, raw)
	return input, sig, err
}
