package config

import (
	"strings"
	"testing"
	"time"
)

const minimal = "listeners:\n  grpc:\n    address: 127.0.0.1:8443\n    plaintext: true\n"

func TestLimitsAndAudit(t *testing.T) {
	cfg, err := Parse("g.yaml", []byte(minimal+`rate_limits:
  store: redis
  redis: {address: 127.0.0.1:6379}
trusted_proxies: [10.0.0.0/8, "fd00::/8"]
forwarded_header: forwarded
audit:
  on_full: drop
  file: {dir: audit}
`))
	if err != nil {
		t.Fatalf("Parse() = %v, want nil", err)
	}
	rl, a := cfg.RateLimits, cfg.Audit
	if len(cfg.TrustedProxies) != 2 || cfg.ForwardedHeader != "forwarded" {
		t.Errorf("TrustedProxies, ForwardedHeader = %q, %q, want both set", cfg.TrustedProxies, cfg.ForwardedHeader)
	}
	if rl.Mode != "exact" || rl.OnRedisDown != "local" || rl.LeaseSize != 10 || rl.Redis.Timeout != 50*time.Millisecond || rl.Redis.Prefix != "portcullis:rl:" {
		t.Errorf("RateLimits = %+v, want defaults filled", rl)
	}
	if a.BatchWait != 10*time.Millisecond {
		t.Errorf("Audit.BatchWait = %v, want the 10ms default", a.BatchWait)
	}
	if a.QueueSize != 65536 || a.OnFull != "drop" || a.File.MaxBytes != 100<<20 || !strings.HasSuffix(a.File.Dir, "audit") {
		t.Errorf("Audit = %+v / %+v, want defaults and a resolved path", a, a.File)
	}
	for _, tt := range []struct{ name, src, want string }{
		{"bad store", "rate_limits: {store: memcached}\n", `g.yaml:5: rate_limits.store: invalid value "memcached"`},
		{"redis without address", "rate_limits: {store: redis}\n", "rate_limits.redis.address: required when store is redis"},
		{"bad cidr", "trusted_proxies: [10.0.0.0/8, 10.0.0.0/40]\n", `g.yaml:5: trusted_proxies[1]: invalid CIDR "10.0.0.0/40"`},
		{"bad forwarded header", "forwarded_header: x-real-ip\n", `g.yaml:5: forwarded_header: invalid value "x-real-ip"`},
		{"trusted proxies in the old place", "rate_limits: {trusted_proxies: [10.0.0.0/8]}\n", `rate_limits.trusted_proxies: moved to the top-level trusted_proxies`},
		{"no sink", "audit: {on_full: block}\n", "audit: configure at least one sink"},
		{"bad policy", "audit: {on_full: panic, file: {dir: a}}\n", `audit.on_full: invalid value "panic"`},
		{"negative batch wait", "audit: {batch_wait: -1ms, file: {dir: a}}\n", "audit.batch_wait: must be between 0s and 1s"},
		{"batch wait too long", "audit: {batch_wait: 2s, file: {dir: a}}\n", "audit.batch_wait: must be between 0s and 1s"},
		{"batch wait not a duration", "audit: {batch_wait: soon, file: {dir: a}}\n", "g.yaml:5"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("g.yaml", []byte(minimal+tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// An explicit 0s batch wait is kept, not replaced by the default: the
// writer then takes whatever is queued at once.
func TestAuditBatchWaitZero(t *testing.T) {
	cfg, err := Parse("g.yaml", []byte(minimal+"audit: {batch_wait: 0s, file: {dir: a}}\n"))
	if err != nil {
		t.Fatalf("Parse() = %v, want nil", err)
	}
	if cfg.Audit.BatchWait != 0 {
		t.Errorf("BatchWait = %v, want 0", cfg.Audit.BatchWait)
	}
}

func TestSensitivityErrors(t *testing.T) {
	cfg, err := Parse("g.yaml", []byte(minimal+"sensitivity:\n  confidential: {require_mtls: true, credentials: [jwt, mtls]}\n  restricted: {require_mtls: true, require_bound_token: true}\n"))
	if err != nil {
		t.Fatalf("Parse() = %v, want nil", err)
	}
	if c := cfg.Sensitivity.Confidential; c == nil || !c.RequireMTLS || len(c.Credentials) != 2 || cfg.Sensitivity.Internal != nil {
		t.Errorf("Sensitivity = %+v, want confidential set and internal nil", cfg.Sensitivity)
	}
	for _, tt := range []struct{ name, src, want string }{
		{"bad kind", "sensitivity:\n  internal: {credentials: [jwt, password]}\n", `g.yaml:6: sensitivity.internal.credentials[1]: invalid value "password": want jwt, api_key or mtls`},
		{"twice", "sensitivity:\n  internal: {credentials: [jwt, jwt]}\n", `sensitivity.internal.credentials[1]: "jwt" listed twice`},
		{"bound without jwt", "sensitivity:\n  confidential: {require_bound_token: true, credentials: [mtls]}\n", "sensitivity.confidential.require_bound_token: a bound token is a JWT: add jwt to credentials"},
		{"unknown class", "sensitivity:\n  secret: {require_mtls: true}\n", "g.yaml:6: sensitivity.secret: unknown field"},
		{"audit required without a sink", "sensitivity:\n  confidential: {audit_required: true}\n",
			"g.yaml:6: sensitivity.confidential.audit_required: needs an audit sink (audit.file or audit.postgres) to fail closed on"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("g.yaml", []byte(minimal+tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
