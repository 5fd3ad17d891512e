package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/gateway/devcerts"
	"github.com/portcullis/portcullis/gateway/secrets"
)

// literal is what the tests write where a reference belongs; no error may
// ever quote it.
const literal = "hunter2-Sup3rSecret"

// TestSecretLiteralRefused: a secret written out in any secret-bearing
// setting is an error naming the file, line and key, saying how to
// reference it, and not quoting the secret.
func TestSecretLiteralRefused(t *testing.T) {
	for _, tt := range []struct{ name, src, key string }{
		{"redis", "rate_limits:\n  redis:\n    address: 127.0.0.1:6379\n    password: " + literal + "\n", "g.yaml:8: rate_limits.redis.password"},
		{"postgres", "audit:\n  postgres:\n    dsn: postgres://pc@db/audit\n    password: " + literal + "\n", "g.yaml:8: audit.postgres.password"},
		{"assertion", "assertion:\n  key: " + literal + "\n", "g.yaml:6: assertion.key"},
		{"vault token", "secrets:\n  vault:\n    address: https://vault:8200\n    token: " + literal + "\n", "g.yaml:8: secrets.vault.token"},
		{"vault secret_id", "secrets:\n  vault:\n    role_id: portcullis\n    secret_id: " + literal + "\n", "g.yaml:8: secrets.vault.secret_id"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("g.yaml", []byte(minimal+tt.src))
			want := "config: " + tt.key + ": a literal secret is not allowed; use env:NAME, file:PATH or vault:PATH#FIELD"
			if err == nil || !strings.Contains(err.Error(), want) || !errors.Is(err, secrets.ErrLiteral) {
				t.Fatalf("Parse() = %v, want an error containing %q wrapping secrets.ErrLiteral", err, want)
			}
			if strings.Contains(err.Error(), literal) {
				t.Errorf("Parse() = %q, quotes the secret", err)
			}
		})
	}
}

func TestSecretReferenceErrors(t *testing.T) {
	for _, tt := range []struct{ name, src, want string }{
		{"bad env name", "rate_limits: {redis: {address: 127.0.0.1:6379, password: 'env:1X'}}\n",
			"g.yaml:5: rate_limits.redis.password: env: reference: NAME must be letters"},
		{"vault without field", "assertion: {key: 'vault:secret/gw/key'}\n" + vaultBlock,
			"assertion.key: vault: reference: missing #FIELD"},
		{"vault without a vault block", "assertion: {key: 'vault:secret/gw/assertion#pem'}\n",
			"g.yaml:5: assertion.key: a vault: reference needs a secrets.vault block"},
		{"vault credentials from vault", "secrets: {vault: {token: 'vault:secret/gw/t#token'}}\n",
			"secrets.vault.token: must be an env: or file: reference"},
		{"role_id without secret_id", "secrets: {vault: {role_id: portcullis}}\n",
			"secrets.vault.secret_id: required when role_id is set"},
		{"token and approle", "secrets: {vault: {token: 'env:T', role_id: r, secret_id: 'env:S'}}\n",
			"secrets.vault.token: set either token or role_id and secret_id, not both"},
		{"plain http vault", "secrets: {vault: {address: 'http://vault.internal:8200'}}\n",
			"secrets.vault.address: must be an https:// URL"},
		{"bad vault url", "secrets: {vault: {address: 'vault:8200'}}\n", "secrets.vault.address: invalid URL"},
		{"missing ca", "secrets: {vault: {ca_file: none.pem}}\n", "secrets.vault.ca_file:"},
		{"negative refresh", "secrets: {file_refresh_interval: -1s}\n", "secrets.file_refresh_interval: must not be negative"},
		{"username without password", "rate_limits: {redis: {address: 127.0.0.1:6379, username: portcullis}}\n",
			"rate_limits.redis.password: required when username is set"},
		{"unknown key", "secrets: {valt: {}}\n", `secrets.valt: unknown field (did you mean "vault"?)`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("g.yaml", []byte(minimal+tt.src))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

const vaultBlock = "secrets:\n  vault: {address: 'https://vault.internal:8200', token: 'file:/run/vault/token'}\n"

// TestSecretsBlock: the secrets block maps onto secrets.Config, relative
// file: references resolve against the config's directory, and
// SecretRefs lists what the gateway resolves.
func TestSecretsBlock(t *testing.T) {
	dir := t.TempDir()
	name := filepath.Join(dir, "g.yaml")
	if err := os.WriteFile(filepath.Join(dir, "vault-ca.pem"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := Parse(name, []byte(minimal+`rate_limits:
  store: redis
  redis: {address: 127.0.0.1:6379, username: portcullis, password: "env:REDIS_PASSWORD"}
audit:
  postgres: {dsn: "postgres://portcullis@db.internal/audit", password: "file:secrets/pg-password"}
assertion:
  key: "vault:secret/portcullis/assertion#pem"
secrets:
  file_refresh_interval: 1m
  vault:
    address: https://vault.internal:8200
    namespace: team-a
    ca_file: vault-ca.pem
    role_id: portcullis-gateway
    secret_id: file:/run/secrets/vault-secret-id
    mounts: [kv/team-a]
`))
	if err != nil {
		t.Fatalf("Parse() = %v, want nil", err)
	}
	got := cfg.Secrets.Settings()
	want := secrets.Config{FileRefreshInterval: time.Minute, Vault: &secrets.VaultConfig{
		Address: "https://vault.internal:8200", Namespace: "team-a", CACert: filepath.Join(dir, "vault-ca.pem"),
		RoleID: "portcullis-gateway", SecretID: "file:/run/secrets/vault-secret-id", AppRoleMount: "approle",
		Mounts: []string{"kv/team-a"}, RefreshInterval: 5 * time.Minute, Timeout: 10 * time.Second,
	}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Settings() = %+v / %+v, want %+v / %+v", got, got.Vault, want, want.Vault)
	}
	wantRefs := []SecretRef{
		{"rate_limits.redis.password", "env:REDIS_PASSWORD"},
		{"audit.postgres.password", "file:" + filepath.Join(dir, "secrets/pg-password")},
		{"assertion.key", "vault:secret/portcullis/assertion#pem"},
	}
	if refs := cfg.SecretRefs(); !reflect.DeepEqual(refs, wantRefs) {
		t.Errorf("SecretRefs() = %v, want %v", refs, wantRefs)
	}
	if cfg.RateLimits.Redis.Username != "portcullis" {
		t.Errorf("Redis.Username = %q, want portcullis", cfg.RateLimits.Redis.Username)
	}

	// Without a block: the resolver's defaults; 0s reads files once.
	if got := (*Secrets)(nil).Settings(); !reflect.DeepEqual(got, secrets.Config{}) {
		t.Errorf("nil.Settings() = %+v, want the zero Config", got)
	}
	cfg, err = Parse("g.yaml", []byte(minimal+"secrets: {file_refresh_interval: 0s}\n"))
	if err != nil {
		t.Fatalf("Parse() = %v, want nil", err)
	}
	if got := cfg.Secrets.Settings().FileRefreshInterval; got >= 0 {
		t.Errorf("Settings().FileRefreshInterval = %v for 0s, want negative (no refresh)", got)
	}
}

// TestPostgresDSNPassword: a password inside audit.postgres.dsn, in URL or
// key=value form, is refused with the key's line and a hint, without
// quoting the DSN.
func TestPostgresDSNPassword(t *testing.T) {
	for _, tt := range []struct {
		dsn  string
		want bool
	}{
		{"postgres://portcullis:" + literal + "@db.internal:5432/audit", true},
		{"postgresql://portcullis:" + literal + "@db1:5432,db2:5432/audit?sslmode=verify-full", true},
		{"postgres://db.internal/audit?user=pc&password=" + literal, true},
		{"host=db.internal user=pc password=" + literal + " dbname=audit", true},
		{"host=db.internal password = '" + literal + " with spaces' dbname=audit", true},
		{"password=" + literal, true},
		{"postgres://portcullis@db.internal:5432/audit?sslmode=verify-full", false},
		{"postgres://portcullis:@db.internal/audit", false},
		{"postgres://db.internal/audit?passfile=/run/pgpass", false},
		{"host=db.internal user=pc dbname=audit application_name='password=x'", false},
		{"host=db.internal user=pc passfile=/run/pgpass", false},
	} {
		if got := dsnHasPassword(tt.dsn); got != tt.want {
			t.Errorf("dsnHasPassword(%q) = %v, want %v", tt.dsn, got, tt.want)
		}
	}
	src := minimal + "audit:\n  postgres:\n    dsn: 'postgres://pc:" + literal + "@db/audit'\n"
	_, err := Parse("g.yaml", []byte(src))
	want := "config: g.yaml:7: audit.postgres.dsn: a password in the DSN is not allowed; remove it and set audit.postgres.password to env:NAME, file:PATH or vault:PATH#FIELD"
	if err == nil || err.Error() != want {
		t.Errorf("Parse(DSN with a password) = %v, want %q", err, want)
	}
}

// TestAssertionKeyFile: a key file that group or others can read is
// refused with its line and the chmod to run; key and key_file exclude
// each other.
func TestAssertionKeyFile(t *testing.T) {
	pem, err := assertion.GenerateKey(assertion.EdDSA)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	loose, tight := filepath.Join(dir, "loose.pem"), filepath.Join(dir, "tight.pem")
	for _, f := range []struct {
		path string
		mode os.FileMode
	}{{loose, 0o644}, {tight, 0o600}} {
		if err := os.WriteFile(f.path, pem, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(f.path, f.mode); err != nil {
			t.Fatal(err)
		}
	}
	_, err = Parse("g.yaml", []byte(minimal+"assertion:\n  key_file: "+loose+"\n"))
	want := "config: g.yaml:6: assertion.key_file: file " + loose + ": mode 0644 lets group or others access it; run: chmod 600 " + loose
	if err == nil || err.Error() != want {
		t.Errorf("Parse(0644 key_file) = %v, want %q", err, want)
	}
	if _, err := Parse("g.yaml", []byte(minimal+"assertion:\n  key_file: "+tight+"\n")); err != nil {
		t.Errorf("Parse(0600 key_file) = %v, want nil", err)
	}
	_, err = Parse("g.yaml", []byte(minimal+"assertion:\n  key_file: "+tight+"\n  key: env:ASSERTION_KEY\n"))
	if err == nil || !strings.Contains(err.Error(), "assertion.key: set only one of key and key_file") {
		t.Errorf("Parse(key and key_file) = %v, want an error saying only one", err)
	}
}

// TestTLSKeyFileMode: listener and route TLS private keys are refused when
// group or others can read them, with the line and the chmod to run.
func TestTLSKeyFileMode(t *testing.T) {
	dir := t.TempDir()
	files, err := devcerts.Generate(dir)
	if err != nil {
		t.Fatal(err)
	}
	key := files.Server.Key
	text := "listeners:\n  grpc:\n    address: 127.0.0.1:8443\n    tls: {cert_file: " + files.Server.Cert + ", key_file: " + key + "}\n" +
		"routes:\n  - service: a.v1.S\n    backend: 10.0.0.1:443\n    tls: {ca_file: " + files.CA.Cert + ", cert_file: " + files.Server.Cert + ", key_file: " + key + "}\n"
	if _, err := Parse("g.yaml", []byte(text)); err != nil {
		t.Fatalf("Parse(0600 keys) = %v, want nil", err)
	}
	if err := os.Chmod(key, 0o640); err != nil {
		t.Fatal(err)
	}
	_, err = Parse("g.yaml", []byte(text))
	for _, want := range []string{
		"g.yaml:4: listeners.grpc.tls.key_file: file " + key + ": mode 0640 lets group or others access it; run: chmod 600 " + key,
		"g.yaml:8: routes[0].tls.key_file: file " + key + ": mode 0640",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Parse(0640 keys) = %v, want an error containing %q", err, want)
		}
	}
}

// TestHTTPSClientKeys: the client certificate keys of jwks_client and
// bundle_client are references, checked like every secret.
func TestHTTPSClientKeys(t *testing.T) {
	dir := t.TempDir()
	cert := filepath.Join(dir, "c.pem")
	if err := os.WriteFile(cert, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, text, want string }{
		{"literal bundle key", "bundle_client: {cert_file: " + cert + ", key: \"-----BEGIN PRIVATE KEY-----\"}\n",
			"g.yaml:5: bundle_client.key: a literal secret is not allowed; use env:NAME, file:PATH or vault:PATH#FIELD"},
		{"key without certificate", "bundle_client: {key: env:K}\n", "bundle_client.cert_file: required when key is set"},
		{"certificate without key", "bundle_client: {cert_file: " + cert + "}\n", "bundle_client.key: required when cert_file is set"},
		{"missing CA", "bundle_client: {ca_file: " + filepath.Join(dir, "nope.pem") + "}\n", "bundle_client.ca_file:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("g.yaml", []byte(minimal+tt.text))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Parse() = %v, want an error containing %q", err, tt.want)
			}
		})
	}
	cfg, err := Parse("g.yaml", []byte(minimal+"bundle_client: {cert_file: "+cert+", key: env:BUNDLE_KEY}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if refs := cfg.SecretRefs(); len(refs) != 1 || refs[0] != (SecretRef{Key: KeyBundleClientKey, Ref: "env:BUNDLE_KEY"}) {
		t.Errorf("SecretRefs() = %v, want bundle_client.key", refs)
	}
}
