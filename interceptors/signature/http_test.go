package signature_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/client/sign"
	"github.com/portcullis/portcullis/interceptors/signature"
	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

const (
	target   = "https://bank.example/v1/accounts/a1:transfer?dry_run=true"
	body     = `{"to":"a2","amount":"10"}`
	refusal  = `{"code":16,"message":"invalid request signature","details":[]}`
	tooLarge = `{"code":3,"message":"request body too large","details":[]}`
)

// signedPOST is a POST signed by key id with the clock c, tampered with by
// mutate after signing.
func signedPOST(t *testing.T, id string, c *clock, mutate func(*http.Request), opts ...sign.Option) *http.Request {
	t.Helper()
	req := clientRequest(t, http.MethodPost, target, body)
	if err := newSigner(t, id, c, opts...).Sign(req); err != nil {
		t.Fatalf("Sign() = %v, want nil", err)
	}
	if mutate != nil {
		mutate(req)
	}
	return received(t, req)
}

var allComponents = []string{"@method", "@authority", "@path", "@query", "content-type", "content-digest"}

func TestHTTPMiddlewareAccepts(t *testing.T) {
	for _, id := range []string{"ed", "ec", "mac"} {
		t.Run(id, func(t *testing.T) {
			c := newClock()
			o := serve(t, newVerifier(t, c), signedPOST(t, id, c, nil))
			if o.code != http.StatusOK || !o.called || o.reqBody != body {
				t.Fatalf("HTTPMiddleware(signed by %s) = %d %q, handler read %q, want 200 and the body", id, o.code, o.body, o.reqBody)
			}
			if v := o.verified; v == nil || v.KeyID != id || !v.Created.Equal(start) || len(v.Nonce) < 8 || len(v.Components) != len(allComponents) {
				t.Errorf("FromContext() = %+v, want keyid %s, created %v, a nonce and 6 components", v, id, start)
			}
		})
	}
}

func TestHTTPMiddlewareRefusesReplay(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c)
	creq := clientRequest(t, http.MethodPost, target, body)
	if err := newSigner(t, "ed", c).Sign(creq); err != nil {
		t.Fatal(err)
	}
	req := received(t, creq)
	creq.Body, _ = creq.GetBody()
	replay := received(t, creq)
	if o := serve(t, v, req); o.code != http.StatusOK {
		t.Fatalf("HTTPMiddleware(first) = %d %q, want 200", o.code, o.body)
	}
	c.Advance(4 * time.Minute) // still inside the window
	if o := serve(t, v, replay); o.code != http.StatusUnauthorized || o.called {
		t.Errorf("HTTPMiddleware(replay) = %d (handler called: %v), want 401", o.code, o.called)
	}
}

func TestHTTPMiddlewareWindowEdges(t *testing.T) {
	for _, d := range []time.Duration{-5 * time.Minute, 0, 5 * time.Minute} {
		c := newClock()
		req := signedPOST(t, "mac", c, nil)
		c.Advance(d)
		if o := serve(t, newVerifier(t, c), req); o.code != http.StatusOK {
			t.Errorf("HTTPMiddleware(created %v from now) = %d, want 200", -d, o.code)
		}
	}
}

func TestHTTPMiddlewareNotRequired(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c, signature.WithRequiredHTTP(func(r *http.Request) bool { return r.Method != http.MethodGet }))
	get := received(t, clientRequest(t, http.MethodGet, "https://bank.example/v1/accounts", ""))
	if o := serve(t, v, get); o.code != http.StatusOK || o.verified != nil {
		t.Errorf("HTTPMiddleware(unsigned GET, not required) = %d, %+v, want 200 without a signature", o.code, o.verified)
	}
	post := received(t, clientRequest(t, http.MethodPost, target, body))
	if o := serve(t, v, post); o.code != http.StatusUnauthorized {
		t.Errorf("HTTPMiddleware(unsigned POST, required) = %d, want 401", o.code)
	}
}

func TestHTTPMiddlewareBodyLimit(t *testing.T) {
	c := newClock()
	v := newVerifier(t, c, signature.WithMaxBodyBytes(8))
	if o := serve(t, v, signedPOST(t, "ed", c, nil)); o.code != http.StatusRequestEntityTooLarge || o.body != tooLarge || o.called {
		t.Errorf("HTTPMiddleware(body over the limit) = %d %q, want 413 %q", o.code, o.body, tooLarge)
	}
}

func TestHTTPMiddlewareSHA512AndExtraHeaders(t *testing.T) {
	c := newClock()
	req := signedPOST(t, "ed", c, nil, sign.WithDigestAlgorithm(httpsig.DigestSHA512), sign.WithHeaders("x-api-key"), sign.WithTag("app"))
	if o := serve(t, newVerifier(t, c), req); o.code != http.StatusOK || o.verified.Tag != "app" {
		t.Errorf("HTTPMiddleware(sha-512) = %d %+v, want 200 with tag app", o.code, o.verified)
	}
	keyed := clientRequest(t, http.MethodPost, target, body)
	keyed.Header.Set("X-Api-Key", "pcs_a")
	if err := newSigner(t, "ed", c, sign.WithHeaders("x-api-key")).Sign(keyed); err != nil {
		t.Fatal(err)
	}
	keyed.Header.Set("X-Api-Key", "pcs_b")
	if o := serve(t, newVerifier(t, c), received(t, keyed)); o.code != http.StatusUnauthorized {
		t.Errorf("HTTPMiddleware(covered x-api-key swapped) = %d, want 401", o.code)
	}
}

func TestNewRefusesBadOptions(t *testing.T) {
	for name, opts := range map[string][]signature.Option{
		"window":     {signature.WithWindow(0)},
		"body":       {signature.WithMaxBodyBytes(0)},
		"nonces":     {signature.WithMemoryNonceCacheSize(0)},
		"component":  {signature.WithRequiredComponents("@target-uri")},
		"status":     {signature.WithRequiredComponents("@status")},
		"field case": {signature.WithRequiredComponents("Content-Type")},
	} {
		if v, err := signature.New(keySource(t), opts...); err == nil {
			t.Errorf("New(%s) = %v, nil, want an error", name, v)
		}
	}
	if v, err := signature.New(nil); err == nil {
		t.Errorf("New(nil) = %v, nil, want an error", v)
	}
}

func newBody(s string) *readCloser { return &readCloser{strings.NewReader(s)} }

type readCloser struct{ *strings.Reader }

func (readCloser) Close() error { return nil }
