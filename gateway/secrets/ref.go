package secrets

import (
	"errors"
	"fmt"
	"strings"
)

// Reference schemes.
const (
	schemeEnv   = "env:"
	schemeFile  = "file:"
	schemeVault = "vault:"
)

// ErrLiteral is the error CheckLiteral wraps when a config value is a
// secret written out instead of referenced.
var ErrLiteral = errors.New("a literal secret is not allowed; use env:NAME, file:PATH or vault:PATH#FIELD")

// ref is a parsed secret reference.
type ref struct {
	raw    string
	scheme string // schemeEnv, schemeFile or schemeVault
	name   string // env: the variable; file: the path; vault: the KV path
	field  string // vault: the field
}

// parseRef parses s. scheme is false when s has none of the three schemes
// (so it may be a literal); err says what is wrong with a reference that
// has one. Errors never quote s, in case it is a mistyped secret.
func parseRef(s string) (r ref, scheme bool, err error) {
	r.raw = s
	switch {
	case strings.HasPrefix(s, schemeEnv):
		r.scheme, r.name = schemeEnv, s[len(schemeEnv):]
		if !validEnvName(r.name) {
			return r, true, errors.New("env: reference: NAME must be letters, digits and _ (not starting with a digit)")
		}
	case strings.HasPrefix(s, schemeFile):
		r.scheme, r.name = schemeFile, s[len(schemeFile):]
		if r.name == "" || strings.ContainsRune(r.name, 0) {
			return r, true, errors.New("file: reference: PATH is empty or invalid")
		}
	case strings.HasPrefix(s, schemeVault):
		r.scheme = schemeVault
		path, field, ok := strings.Cut(s[len(schemeVault):], "#")
		path = strings.Trim(path, "/")
		switch {
		case !ok || field == "":
			return r, true, errors.New("vault: reference: missing #FIELD (vault:MOUNT/PATH#FIELD)")
		case !strings.Contains(path, "/") || strings.Contains(path, "//"):
			return r, true, errors.New("vault: reference: PATH must be MOUNT/PATH, e.g. vault:secret/portcullis/redis#password")
		}
		r.name, r.field = path, field
	default:
		return r, false, nil
	}
	return r, true, nil
}

func validEnvName(s string) bool {
	if s == "" || (s[0] >= '0' && s[0] <= '9') {
		return false
	}
	for _, c := range []byte(s) {
		ok := c == '_' || c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9'
		if !ok {
			return false
		}
	}
	return true
}

// IsReference reports whether s is a well-formed secret reference:
// "env:NAME", "file:PATH" or "vault:MOUNT/PATH#FIELD".
func IsReference(s string) bool {
	_, scheme, err := parseRef(s)
	return scheme && err == nil
}

// CheckLiteral validates the config value of a secret-bearing key: nil
// for "" (unset) and for a well-formed reference; otherwise an error
// naming key (never quoting value) that wraps ErrLiteral, e.g.
// "redis.password: a literal secret is not allowed; use env:NAME,
// file:PATH or vault:PATH#FIELD", or says what is wrong with a malformed
// reference.
func CheckLiteral(key, value string) error {
	if value == "" {
		return nil
	}
	_, scheme, err := parseRef(value)
	switch {
	case !scheme:
		return fmt.Errorf("%s: %w", key, ErrLiteral)
	case err != nil:
		return fmt.Errorf("%s: %w", key, err)
	}
	return nil
}
