package httpsig

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

// ErrMissingComponent is wrapped when a covered component is absent from
// the message (a field that is not present, @status of a request).
var ErrMissingComponent = errors.New("httpsig: covered component not in message")

// Resolver returns the value of one covered component of a message: a
// derived component ("@method") or a lower-case field name. It returns an
// error wrapping ErrMissingComponent when the message has no such
// component.
type Resolver func(name string) (string, error)

// Base returns the signature base of RFC 9421 §2.5 for in over the message
// that resolve describes: one line `"<component>": <value>` per covered
// component, in the order of in.Components, each followed by LF, then the
// line `"@signature-params": <in.Params()>` without a trailing LF.
func Base(in *Input, resolve Resolver) ([]byte, error) {
	params, err := in.Params()
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	for _, c := range in.Components {
		v, err := resolve(c)
		if err != nil {
			return nil, fmt.Errorf("httpsig: component %q: %w", c, err)
		}
		if strings.ContainsAny(v, "\r\n") {
			return nil, fmt.Errorf("httpsig: component %q: value contains a line break", c)
		}
		_ = quote(&b, c) // checked by Params
		b.WriteString(": ")
		b.WriteString(v)
		b.WriteByte('\n')
	}
	b.WriteString(`"@signature-params": `)
	b.WriteString(params)
	return []byte(b.String()), nil
}

// FieldValue combines the lines of one field as RFC 9421 §2.1 does: each
// value trimmed of surrounding spaces and tabs, obsolete line folding
// replaced by a space, joined with ", ". It reports false for no lines.
func FieldValue(lines []string) (string, bool) {
	if len(lines) == 0 {
		return "", false
	}
	parts := make([]string, len(lines))
	for i, l := range lines {
		l = strings.Trim(l, " \t")
		if strings.ContainsAny(l, "\r\n") {
			l = strings.Join(strings.FieldsFunc(l, func(r rune) bool { return r == '\r' || r == '\n' }), " ")
		}
		parts[i] = l
	}
	return strings.Join(parts, ", "), true
}

// Authority normalises an authority for @authority: lower case, without a
// default port (":80" or ":443", whatever the scheme).
func Authority(host string) string {
	host = strings.ToLower(host)
	if h, ok := strings.CutSuffix(host, ":443"); ok {
		return h
	}
	if h, ok := strings.CutSuffix(host, ":80"); ok {
		return h
	}
	return host
}

// RequestResolver resolves the components of an HTTP request, on the client
// (before it is sent) or on the server (as received): @method, @authority
// (r.Host, else r.URL.Host), @path (escaped, "/" when empty), @query ("?"
// and the raw query) and header fields. Host, which net/http keeps out of
// r.Header, is not a coverable field; use @authority.
func RequestResolver(r *http.Request) Resolver {
	return func(name string) (string, error) {
		switch name {
		case "@method":
			if r.Method == "" {
				return http.MethodGet, nil
			}
			return r.Method, nil
		case "@authority":
			host := r.Host
			if host == "" && r.URL != nil {
				host = r.URL.Host
			}
			if host == "" {
				return "", ErrMissingComponent
			}
			return Authority(host), nil
		case "@path":
			if r.URL == nil {
				return "", ErrMissingComponent
			}
			if p := r.URL.EscapedPath(); p != "" {
				return p, nil
			}
			return "/", nil
		case "@query":
			if r.URL == nil {
				return "?", nil
			}
			return "?" + r.URL.RawQuery, nil
		}
		return headerValue(r.Header, name)
	}
}

// ResponseResolver resolves @status and the header fields of an HTTP
// response.
func ResponseResolver(resp *http.Response) Resolver {
	return func(name string) (string, error) {
		if name == "@status" {
			return strconv.Itoa(resp.StatusCode), nil
		}
		return headerValue(resp.Header, name)
	}
}

func headerValue(h http.Header, name string) (string, error) {
	if strings.HasPrefix(name, "@") {
		return "", fmt.Errorf("%w: derived component %s does not apply", ErrMissingComponent, name)
	}
	v, ok := FieldValue(h.Values(name))
	if !ok {
		return "", ErrMissingComponent
	}
	return v, nil
}
