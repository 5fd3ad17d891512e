package signature

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// Header fields of RFC 9421 and RFC 9530 that HTTPMiddleware reads.
const (
	HeaderSignatureInput = "Signature-Input"
	HeaderSignature      = "Signature"
	HeaderContentDigest  = "Content-Digest"
)

// errTooLarge refuses a body over WithMaxBodyBytes; the REST front's error
// handler maps this message to 413.
var errTooLarge = status.Error(codes.InvalidArgument, "request body too large")

// HTTPMiddleware returns a handler that verifies the HTTP Message Signature
// (RFC 9421) of every request for which WithRequiredHTTP reports true
// before calling next, and calls next directly for the others.
//
// A signed request carries exactly one signature, in the Signature-Input
// and Signature fields, with the parameters created, keyid and nonce
// (expires, alg and tag are optional). It must cover the components of
// WithRequiredComponents, plus "@query" when the URL has a query,
// "content-type" when that header is present and "content-digest" unless
// the request declares an empty body (Content-Length: 0). A covered
// Content-Digest (RFC 9530, sha-256 or sha-512) is checked against the
// body, which is read up to WithMaxBodyBytes and handed on to next
// unchanged. The nonce is used up only once everything else holds.
//
// A refused request is answered through WithHTTPErrorHandler: by default
// 401 with the body {"code":16,"message":"invalid request signature"}, the
// same for every reason (the reason goes to the call's policy.Record, if
// the request context carries one, and to the debug log), or 413 for a
// body over the limit. next sees the verified signature through
// FromContext(r.Context()). The handler is safe for concurrent use.
func (v *Verifier) HTTPMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !v.o.requiredHTTP(r) {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		where := r.Method + " " + r.URL.EscapedPath()
		s, why := v.check(ctx, request{
			sigInput: fieldValue(r.Header, HeaderSignatureInput),
			sig:      fieldValue(r.Header, HeaderSignature),
			resolve:  httpsig.RequestResolver(r),
			required: v.requiredHTTP(r),
		})
		if why != "" {
			v.o.errorHandler(w, r, v.refuse(ctx, where, why))
			return
		}
		if slices.Contains(s.Components, "content-digest") {
			body, err := v.readBody(w, r)
			if errors.Is(err, errTooLarge) {
				v.o.errorHandler(w, r, errTooLarge)
				return
			}
			if err == nil {
				err = httpsig.VerifyContentDigest(fieldValue(r.Header, HeaderContentDigest), body)
			}
			if err != nil {
				v.o.errorHandler(w, r, v.refuse(ctx, where, "content digest: "+err.Error()))
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
		}
		if why := v.useNonce(ctx, s); why != "" {
			v.o.errorHandler(w, r, v.refuse(ctx, where, why))
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(ctx, verifiedKey{}, s)))
	})
}

// requiredHTTP lists the components r's signature must cover.
func (v *Verifier) requiredHTTP(r *http.Request) []string {
	req := v.o.components
	add := func(c string) {
		if !slices.Contains(req, c) {
			req = append(slices.Clip(req), c)
		}
	}
	if r.URL.RawQuery != "" {
		add("@query")
	}
	if len(r.Header.Values("Content-Type")) > 0 {
		add("content-type")
	}
	if r.ContentLength != 0 {
		add("content-digest")
	}
	return req
}

// readBody reads the whole body, at most WithMaxBodyBytes.
func (v *Verifier) readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	if r.ContentLength > v.o.maxBodyBytes {
		return nil, errTooLarge
	}
	if r.Body == nil {
		return nil, nil
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, v.o.maxBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return nil, errTooLarge
	}
	return body, err
}

// fieldValue joins a field's lines as RFC 9110 combines them.
func fieldValue(h http.Header, name string) string {
	return strings.Join(h.Values(name), ", ")
}

// writeError is the default HTTP error handler: the status code that
// grpc-gateway maps the code to, and a google.rpc.Status JSON body.
func writeError(w http.ResponseWriter, _ *http.Request, err error) {
	st := status.Convert(err)
	code := http.StatusUnauthorized
	if st.Code() != codes.Unauthenticated {
		code = http.StatusRequestEntityTooLarge
	}
	body, _ := json.Marshal(struct {
		Code    int32    `json:"code"`
		Message string   `json:"message"`
		Details []string `json:"details"`
	}{int32(st.Code()), st.Message(), []string{}})
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(body)
}
