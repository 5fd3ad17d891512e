package httpsig

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Signature parameter names (RFC 9421 §2.3).
const (
	ParamCreated = "created"
	ParamExpires = "expires"
	ParamNonce   = "nonce"
	ParamKeyID   = "keyid"
	ParamAlg     = "alg"
	ParamTag     = "tag"
)

// canonicalOrder is the parameter order Format uses for an Input built by
// hand (Order empty).
var canonicalOrder = []string{ParamCreated, ParamExpires, ParamNonce, ParamKeyID, ParamAlg, ParamTag}

// Input is one signature's entry of a Signature-Input field: the label, the
// covered components in order, and the signature parameters.
//
// A parsed Input records in Order which parameters were present, in the
// order they were received, and Format reproduces exactly that. An Input
// built by hand leaves Order empty; Format then writes every non-zero
// parameter in the order created, expires, nonce, keyid, alg, tag.
type Input struct {
	// Label is the dictionary key, e.g. "sig1".
	Label string
	// Components are the covered component identifiers, e.g. "@method",
	// "content-digest".
	Components []string
	// Created and Expires are Unix times in seconds.
	Created, Expires int64
	// Nonce, KeyID, Alg and Tag are the string parameters.
	Nonce, KeyID, Alg, Tag string
	// Order lists the parameters present, in received order.
	Order []string
}

// Has reports whether the parameter name is present: in Order for a parsed
// Input, by a non-zero value for one built by hand.
func (in *Input) Has(name string) bool {
	if len(in.Order) > 0 {
		return slices.Contains(in.Order, name)
	}
	switch name {
	case ParamCreated:
		return in.Created != 0
	case ParamExpires:
		return in.Expires != 0
	case ParamNonce:
		return in.Nonce != ""
	case ParamKeyID:
		return in.KeyID != ""
	case ParamAlg:
		return in.Alg != ""
	case ParamTag:
		return in.Tag != ""
	}
	return false
}

// ParseSignatureInput parses a Signature-Input field value (all field lines
// joined with ", "). It returns the entries in received order, or an error
// wrapping ErrSyntax for anything outside the subset the package accepts
// (see the package documentation).
func ParseSignatureInput(field string) ([]*Input, error) {
	ms, err := parseDictionary(field)
	if err != nil {
		return nil, err
	}
	out := make([]*Input, 0, len(ms))
	for _, m := range ms {
		if !m.isLst {
			return nil, fmt.Errorf("%w: %q is not an inner list", ErrSyntax, m.key)
		}
		in := &Input{Label: m.key, Components: m.list.items}
		for i, c := range m.list.items {
			if err := checkComponent(c); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrSyntax, m.key, err)
			}
			if slices.Contains(m.list.items[:i], c) {
				return nil, fmt.Errorf("%w: %q: component %q appears twice", ErrSyntax, m.key, c)
			}
		}
		for _, p := range m.list.params {
			if err := in.set(p); err != nil {
				return nil, fmt.Errorf("%w: %q: %v", ErrSyntax, m.key, err)
			}
			in.Order = append(in.Order, p.key)
		}
		out = append(out, in)
	}
	return out, nil
}

func (in *Input) set(p param) error {
	switch p.key {
	case ParamCreated, ParamExpires:
		if p.val.kind != 'i' || p.val.num < 0 {
			return fmt.Errorf("parameter %s must be a non-negative integer", p.key)
		}
		if p.key == ParamCreated {
			in.Created = p.val.num
		} else {
			in.Expires = p.val.num
		}
		return nil
	case ParamNonce, ParamKeyID, ParamAlg, ParamTag:
		if p.val.kind != 's' {
			return fmt.Errorf("parameter %s must be a string", p.key)
		}
		*in.stringParam(p.key) = p.val.str
		return nil
	}
	return fmt.Errorf("unknown parameter %q", p.key)
}

func (in *Input) stringParam(name string) *string {
	switch name {
	case ParamNonce:
		return &in.Nonce
	case ParamKeyID:
		return &in.KeyID
	case ParamAlg:
		return &in.Alg
	default:
		return &in.Tag
	}
}

// checkComponent accepts the supported derived components and lower-case
// field names (RFC 9110 tokens).
func checkComponent(c string) error {
	switch c {
	case "@method", "@authority", "@path", "@query", "@status":
		return nil
	case "@signature-params":
		return fmt.Errorf("@signature-params cannot be covered")
	}
	if c == "" || c[0] == '@' {
		return fmt.Errorf("unsupported derived component %q", c)
	}
	for i := 0; i < len(c); i++ {
		if !isFieldNameByte(c[i]) {
			return fmt.Errorf("component %q is not a lower-case field name", c)
		}
	}
	return nil
}

func isFieldNameByte(c byte) bool {
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// Params returns the serialized inner list with its parameters: the value
// of the "@signature-params" line of the signature base, and of the
// Signature-Input member. It fails on components or strings that cannot be
// serialized.
func (in *Input) Params() (string, error) {
	var b strings.Builder
	b.WriteByte('(')
	for i, c := range in.Components {
		if err := checkComponent(c); err != nil {
			return "", fmt.Errorf("httpsig: %w", err)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		if err := quote(&b, c); err != nil {
			return "", err
		}
	}
	b.WriteByte(')')
	order := in.Order
	if len(order) == 0 {
		order = canonicalOrder
	}
	for _, name := range order {
		if !in.Has(name) {
			continue
		}
		b.WriteByte(';')
		b.WriteString(name)
		b.WriteByte('=')
		switch name {
		case ParamCreated:
			b.WriteString(strconv.FormatInt(in.Created, 10))
		case ParamExpires:
			b.WriteString(strconv.FormatInt(in.Expires, 10))
		case ParamNonce, ParamKeyID, ParamAlg, ParamTag:
			if err := quote(&b, *in.stringParam(name)); err != nil {
				return "", err
			}
		default:
			return "", fmt.Errorf("httpsig: unknown parameter %q", name)
		}
	}
	return b.String(), nil
}

// Format returns the Signature-Input member "label=(…);params".
func (in *Input) Format() (string, error) {
	p, err := in.Params()
	if err != nil {
		return "", err
	}
	if _, err := FormatBytes(in.Label, nil); err != nil {
		return "", err
	}
	return in.Label + "=" + p, nil
}
