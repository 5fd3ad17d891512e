package secrets_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/secrets"
)

// TestRedaction checks every way a Secret could be turned into text.
func TestRedaction(t *testing.T) {
	const value = "hunter2-s3cr3t"
	t.Setenv("TEST_SECRET", value)
	r := newResolver(t, secrets.Config{})
	s, err := r.Resolve(testContext(t), "env:TEST_SECRET")
	if err != nil {
		t.Fatalf("Resolve() = %v, want nil", err)
	}
	if got := s.Value(); got != value {
		t.Fatalf("Value() = %q, want the value", got)
	}
	type config struct {
		Password secrets.Secret
		inner    secrets.Secret
		Ptr      *secrets.Secret
	}
	c := config{Password: s, inner: s, Ptr: &s}
	var outs []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10.3s", "%T"} {
		outs = append(outs, fmt.Sprintf(verb, s), fmt.Sprintf(verb, c), fmt.Sprintf(verb, &c))
	}
	outs = append(outs, s.String(), s.GoString(), fmt.Sprint(s), fmt.Sprintln(s, c))
	j, err := json.Marshal(c)
	if err != nil {
		t.Fatalf("json.Marshal() = %v", err)
	}
	outs = append(outs, string(j))
	txt, _ := s.MarshalText()
	outs = append(outs, string(txt))
	var buf bytes.Buffer
	for _, h := range []slog.Handler{slog.NewTextHandler(&buf, nil), slog.NewJSONHandler(&buf, nil)} {
		slog.New(h).Info("resolved", "secret", s, "config", c, "ptr", &s)
	}
	outs = append(outs, buf.String())
	for _, out := range outs {
		if strings.Contains(out, value) || strings.Contains(out, fmt.Sprintf("%x", value)) {
			t.Errorf("output %q shows the secret", out)
		}
	}
	if string(j) != `{"Password":"[secret]","Ptr":"[secret]"}` {
		t.Errorf("json.Marshal(config) = %s, want both secrets as \"[secret]\"", j)
	}
	if got := fmt.Sprintf("%v|%s|%#v", s, s, s); got != "[secret]|[secret]|[secret]" {
		t.Errorf("Sprintf(%%v|%%s|%%#v) = %q, want [secret] three times", got)
	}
	if got := s.Ref(); got != "env:TEST_SECRET" {
		t.Errorf("Ref() = %q, want %q", got, "env:TEST_SECRET")
	}
	var zero secrets.Secret
	if zero.Value() != "" || zero.String() != "[secret]" || zero.Ref() != "" {
		t.Errorf("zero Secret = %q/%q/%q, want \"\"/[secret]/\"\"", zero.Value(), zero.String(), zero.Ref())
	}
}

func TestEnv(t *testing.T) {
	t.Setenv("TEST_SET", "v1")
	t.Setenv("TEST_EMPTY", "")
	r := newResolver(t, secrets.Config{})
	for _, tt := range []struct {
		ref, want, err string
	}{
		{"env:TEST_SET", "v1", ""},
		{"env:TEST_EMPTY", "", "environment variable TEST_EMPTY is not set"},
		{"env:TEST_UNSET_XYZ", "", "environment variable TEST_UNSET_XYZ is not set"},
		{"v1", "", "a literal secret is not allowed"},
		{"vault:secret/x#y", "", "vault is not configured"},
	} {
		s, err := r.Resolve(testContext(t), tt.ref)
		switch {
		case tt.err == "" && (err != nil || s.Value() != tt.want):
			t.Errorf("Resolve(%q) = %q, %v, want %q, nil", tt.ref, s.Value(), err, tt.want)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Resolve(%q) = %v, want an error containing %q", tt.ref, err, tt.err)
		}
	}
}
