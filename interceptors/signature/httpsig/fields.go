package httpsig

import (
	"encoding/base64"
	"fmt"
	"strings"
)

// quote serializes s as an sf-string; s must be printable ASCII.
func quote(b *strings.Builder, s string) error {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e {
			return fmt.Errorf("httpsig: %q is not printable ASCII", s)
		}
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return nil
}

// parseByteDictionary parses a dictionary whose every value is a byte
// sequence (Signature, Content-Digest).
func parseByteDictionary(s string) (map[string][]byte, error) {
	ms, err := parseDictionary(s)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(ms))
	for _, m := range ms {
		if m.isLst || m.item.kind != 'b' {
			return nil, fmt.Errorf("%w: member %q is not a byte sequence", ErrSyntax, m.key)
		}
		out[m.key] = m.item.bytes
	}
	return out, nil
}

// ParseSignatures parses a Signature field value into its labels' raw
// signatures.
func ParseSignatures(field string) (map[string][]byte, error) {
	return parseByteDictionary(field)
}

// FormatBytes serializes one dictionary member "key=:base64:", the form of
// Signature and Content-Digest members. key must be a valid RFC 8941 key.
func FormatBytes(key string, b []byte) (string, error) {
	p := &parser{s: key}
	if k, err := p.key(); err != nil || k != key {
		return "", fmt.Errorf("httpsig: %q is not a valid dictionary key", key)
	}
	return key + "=:" + base64.StdEncoding.EncodeToString(b) + ":", nil
}
