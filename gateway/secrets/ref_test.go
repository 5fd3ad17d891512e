package secrets_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/secrets"
)

func TestIsReference(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want bool
	}{
		{"env:REDIS_PASSWORD", true},
		{"env:_X1", true},
		{"env:", false},
		{"env:1X", false},
		{"env:A-B", false},
		{"file:/run/secrets/redis", true},
		{"file:relative/path", true},
		{"file:", false},
		{"vault:secret/portcullis/redis#password", true},
		{"vault:/secret/portcullis/redis#password", true},
		{"vault:secret/portcullis/redis", false},
		{"vault:secret#password", false},
		{"vault:secret/x#", false},
		{"vault:secret//x#f", false},
		{"hunter2", false},
		{"", false},
		{"ENV:X", false},
	} {
		if got := secrets.IsReference(tt.in); got != tt.want {
			t.Errorf("IsReference(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestCheckLiteral(t *testing.T) {
	const hint = "a literal secret is not allowed; use env:NAME, file:PATH or vault:PATH#FIELD"
	for _, tt := range []struct {
		value   string
		want    string // "" for nil
		literal bool
	}{
		{"", "", false},
		{"env:REDIS_PASSWORD", "", false},
		{"file:/run/secrets/redis", "", false},
		{"vault:secret/portcullis/redis#password", "", false},
		{"hunter2-s3cr3t", "redis.password: " + hint, true},
		{"vault:secret/hunter2-s3cr3t", "redis.password: vault: reference: missing #FIELD", false},
		{"env:hunter2-s3cr3t", "redis.password: env: reference: NAME must be", false},
	} {
		err := secrets.CheckLiteral("redis.password", tt.value)
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckLiteral(%q) = %v, want nil", tt.value, err)
			}
			continue
		}
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("CheckLiteral(%q) = %v, want an error starting %q", tt.value, err, tt.want)
			continue
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("CheckLiteral(%q) = %q, quotes the value", tt.value, err)
		}
		if got := errors.Is(err, secrets.ErrLiteral); got != tt.literal {
			t.Errorf("errors.Is(CheckLiteral(%q), ErrLiteral) = %v, want %v", tt.value, got, tt.literal)
		}
	}
}
