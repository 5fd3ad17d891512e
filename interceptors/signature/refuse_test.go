package signature_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/client/sign"
	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
	"github.com/portcullis/portcullis/policy"
)

// resign replaces the request's signature with one over in, made with the
// key of in.KeyID: for signatures the client helper would never make.
func resign(t *testing.T, req *http.Request, in *httpsig.Input) {
	t.Helper()
	base, err := httpsig.Base(in, httpsig.RequestResolver(req))
	if err != nil {
		t.Fatalf("Base(%+v) = %v", in, err)
	}
	alg, _ := httpsig.AlgorithmOf(privateKey(t, in.KeyID))
	sig, err := httpsig.Sign(alg, privateKey(t, in.KeyID), base)
	if err != nil {
		t.Fatalf("Sign() = %v", err)
	}
	f, _ := in.Format()
	s, _ := httpsig.FormatBytes(in.Label, sig)
	req.Header.Set("Signature-Input", f)
	req.Header.Set("Signature", s)
}

func params(components ...string) *httpsig.Input {
	return &httpsig.Input{Label: "sig1", Components: components, Created: start.Unix(), Nonce: "nonce-0123456789", KeyID: "ed"}
}

func TestHTTPMiddlewareRefuses(t *testing.T) {
	tests := []struct {
		name    string
		req     func(t *testing.T, c *clock) *http.Request
		advance time.Duration // verifier clock offset
		why     string        // expected Record.AuthnFailure fragment
	}{
		{name: "unsigned", why: "no signature", req: func(t *testing.T, c *clock) *http.Request {
			return received(t, clientRequest(t, http.MethodPost, target, body))
		}},
		{name: "stale", advance: 5*time.Minute + time.Second, why: "ago, more than the window", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, nil)
		}},
		{name: "future-dated", advance: -5*time.Minute - time.Second, why: "in the future", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, nil)
		}},
		{name: "expired", advance: 2 * time.Minute, why: "expired", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, nil, sign.WithExpires(time.Minute))
		}},
		{name: "tampered body", why: "content digest does not match", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) {
				r.Body = newBody(`{"to":"a3","amount":"10"}`) // same length
			})
		}},
		{name: "tampered body and digest", why: "signature does not verify", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) {
				b := `{"to":"a3","amount":"99"}`
				r.Body, r.ContentLength = newBody(b), int64(len(b))
				d, _ := httpsig.ContentDigest("sha-256", []byte(b))
				r.Header.Set("Content-Digest", d)
			})
		}},
		{name: "tampered path", why: "signature does not verify", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) { r.URL.Path = "/v1/accounts/a9:transfer" })
		}},
		{name: "tampered method", why: "signature does not verify", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) { r.Method = http.MethodPut })
		}},
		{name: "tampered query", why: "signature does not verify", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) { r.URL.RawQuery = "dry_run=false" })
		}},
		{name: "other authority", why: "signature does not verify", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) { r.Host = "other.example" })
		}},
		{name: "content-type added", why: "content-type is not covered", req: func(t *testing.T, c *clock) *http.Request {
			req := clientRequest(t, http.MethodGet, "https://bank.example/v1/accounts", "")
			if err := newSigner(t, "ed", c).Sign(req); err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Content-Type", "text/plain")
			return received(t, req)
		}},
		{name: "reordered components", why: "signature does not verify", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) {
				in := r.Header.Get("Signature-Input")
				r.Header.Set("Signature-Input", strings.Replace(in, `"@method" "@authority"`, `"@authority" "@method"`, 1))
			})
		}},
		{name: "missing @path", why: "@path is not covered", req: func(t *testing.T, c *clock) *http.Request {
			r := signedPOST(t, "ed", c, nil)
			resign(t, r, params("@method", "@authority", "@query", "content-type", "content-digest"))
			return r
		}},
		{name: "missing content-digest", why: "content-digest is not covered", req: func(t *testing.T, c *clock) *http.Request {
			r := signedPOST(t, "ed", c, nil)
			resign(t, r, params("@method", "@authority", "@path", "@query", "content-type"))
			return r
		}},
		{name: "missing @query", why: "@query is not covered", req: func(t *testing.T, c *clock) *http.Request {
			r := signedPOST(t, "ed", c, nil)
			resign(t, r, params("@method", "@authority", "@path", "content-type", "content-digest"))
			return r
		}},
		{name: "no nonce", why: "no nonce", req: func(t *testing.T, c *clock) *http.Request {
			r := signedPOST(t, "ed", c, nil)
			in := params(allComponents...)
			in.Nonce = ""
			resign(t, r, in)
			return r
		}},
		{name: "short nonce", why: "nonce of 3 bytes", req: func(t *testing.T, c *clock) *http.Request {
			r := signedPOST(t, "ed", c, nil)
			in := params(allComponents...)
			in.Nonce = "abc"
			resign(t, r, in)
			return r
		}},
		{name: "no created", why: "no created", req: func(t *testing.T, c *clock) *http.Request {
			r := signedPOST(t, "ed", c, nil)
			in := params(allComponents...)
			in.Created = 0
			resign(t, r, in)
			return r
		}},
		{name: "alg of another key", why: `alg "hmac-sha256" does not match`, req: func(t *testing.T, c *clock) *http.Request {
			r := signedPOST(t, "ed", c, nil)
			in := params(allComponents...)
			in.Alg = "hmac-sha256"
			resign(t, r, in)
			return r
		}},
		{name: "unknown keyid", why: `unknown keyid "nobody"`, req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) {
				r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `keyid="ed"`, `keyid="nobody"`, 1))
			})
		}},
		{name: "signed by another key", why: "signature does not verify", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) {
				other := clientRequest(t, http.MethodPost, target, body)
				_ = newSigner(t, "ec", c).Sign(other)
				r.Header.Set("Signature", other.Header.Get("Signature"))
			})
		}},
		{name: "two signatures", why: "exactly one signature", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) {
				r.Header.Add("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), "sig1=", "sig2=", 1))
				r.Header.Add("Signature", strings.Replace(r.Header.Get("Signature"), "sig1=", "sig2=", 1))
			})
		}},
		{name: "label mismatch", why: `no signature labelled "sig1"`, req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) {
				r.Header.Set("Signature", strings.Replace(r.Header.Get("Signature"), "sig1=", "sig2=", 1))
			})
		}},
		{name: "malformed input", why: "signature input: httpsig: malformed", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) { r.Header.Set("Signature-Input", "sig1=(@method)") })
		}},
		{name: "component parameters", why: "component parameters are not supported", req: func(t *testing.T, c *clock) *http.Request {
			return signedPOST(t, "ed", c, func(r *http.Request) {
				r.Header.Set("Signature-Input", strings.Replace(r.Header.Get("Signature-Input"), `"@path"`, `"@path";req`, 1))
			})
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := newClock()
			req := tc.req(t, c)
			c.Advance(tc.advance)
			rec := &policy.Record{}
			o := serve(t, newVerifier(t, c), req.WithContext(policy.NewRecordContext(context.Background(), rec)))
			if o.code != http.StatusUnauthorized || o.called || o.body != refusal {
				t.Errorf("HTTPMiddleware(%s) = %d %q (handler called: %v), want 401 %q", tc.name, o.code, o.body, o.called, refusal)
			}
			if !strings.HasPrefix(rec.AuthnFailure, "signature: ") || !strings.Contains(rec.AuthnFailure, tc.why) {
				t.Errorf("Record.AuthnFailure = %q, want %q", rec.AuthnFailure, "signature: …"+tc.why+"…")
			}
		})
	}
}
