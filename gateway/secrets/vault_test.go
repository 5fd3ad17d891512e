package secrets_test

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/secrets"
	"github.com/portcullis/portcullis/gateway/secrets/vaulttest"
)

// These tests run against fakeVault, a local server speaking Vault's KV v2,
// AppRole and token API: no Vault binary could be installed here.

const redisRef = "vault:secret/portcullis/redis#password"

func TestVaultToken(t *testing.T) {
	f := vaulttest.New(t)
	f.Tokens["root-token"] = time.Time{}
	f.Put("secret/portcullis/redis", map[string]any{"password": "p4ss", "port": 6379})
	f.Mounts["kv/team-a"] = true
	f.Put("kv/team-a/db", map[string]any{"password": "db-pass"})
	t.Setenv("TEST_VAULT_TOKEN", "root-token")
	tokenFile := writeFile(t, "token", "root-token\n", 0o600)

	for _, token := range []string{"env:TEST_VAULT_TOKEN", "file:" + tokenFile} {
		t.Run(token, func(t *testing.T) {
			r := newResolver(t, secrets.Config{Vault: &secrets.VaultConfig{
				Address: f.URL, Token: token, Mounts: []string{"kv/team-a"},
			}})
			for _, tt := range []struct {
				ref, want, err string
			}{
				{redisRef, "p4ss", ""},
				{"vault:kv/team-a/db#password", "db-pass", ""},
				{"vault:secret/portcullis/redis#port", "", `field "port" is not a string`},
				{"vault:secret/portcullis/redis#user", "", `no field "user"`},
				{"vault:secret/portcullis/missing#password", "", "secret not found"},
			} {
				s, err := r.Resolve(testContext(t), tt.ref)
				switch {
				case tt.err == "" && (err != nil || s.Value() != tt.want):
					t.Errorf("Resolve(%q) = %q, %v, want %q, nil", tt.ref, s.Value(), err, tt.want)
				case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err) || !strings.Contains(err.Error(), tt.ref)):
					t.Errorf("Resolve(%q) = %v, want an error naming the ref and containing %q", tt.ref, err, tt.err)
				case err != nil && strings.Contains(err.Error(), "p4ss"):
					t.Errorf("Resolve(%q) = %q, shows a secret", tt.ref, err)
				}
			}
		})
	}
	t.Run("bad token", func(t *testing.T) {
		t.Setenv("TEST_VAULT_TOKEN", "wrong-token")
		r := newResolver(t, secrets.Config{Vault: &secrets.VaultConfig{Address: f.URL, Token: "env:TEST_VAULT_TOKEN"}})
		_, err := r.Resolve(testContext(t), redisRef)
		if err == nil || !strings.Contains(err.Error(), "permission denied") || strings.Contains(err.Error(), "wrong-token") {
			t.Errorf("Resolve(bad token) = %v, want a permission denied error without the token", err)
		}
	})
}

// TestVaultAppRole logs in with AppRole, renews the token before its TTL
// ends, logs in again when renewal stops working or the token nears its
// max TTL, and recovers from a revoked token on the next read.
func TestVaultAppRole(t *testing.T) {
	f := vaulttest.New(t)
	f.RoleID, f.SecretID, f.TokenTTL = "portcullis-role", "s3cr3t-id", 1
	f.Put("secret/portcullis/redis", map[string]any{"password": "p4ss"})
	t.Setenv("TEST_SECRET_ID", "s3cr3t-id")
	r := newResolver(t, secrets.Config{Vault: &secrets.VaultConfig{
		Address: f.URL, RoleID: "portcullis-role", SecretID: "env:TEST_SECRET_ID",
		RefreshInterval: 50 * time.Millisecond,
	}})
	s, err := r.Resolve(testContext(t), redisRef)
	if err != nil || s.Value() != "p4ss" {
		t.Fatalf("Resolve() = %q, %v, want p4ss, nil", s.Value(), err)
	}
	if got := f.Logins.Load(); got != 1 {
		t.Errorf("logins after Resolve = %d, want 1", got)
	}
	// The 1s token is renewed at ~0.67s, so reads keep working past 1s.
	eventually(t, "a renewal", func() bool { return f.Renewals.Load() >= 1 })
	f.Put("secret/portcullis/redis", map[string]any{"password": "p4ss-2"})
	eventually(t, "Value() = p4ss-2 after renewal", func() bool { return s.Value() == "p4ss-2" })
	if got := f.Logins.Load(); got != 1 {
		t.Errorf("logins while renewals work = %d, want 1", got)
	}

	// Renewal refused: the next cycle logs in again.
	f.Mu.Lock()
	f.RenewFail = true
	f.Mu.Unlock()
	eventually(t, "a second login", func() bool { return f.Logins.Load() >= 2 })
	f.Mu.Lock()
	f.RenewFail = false
	f.Mu.Unlock()

	// Revoked token: a read gets 403, logs in once more and succeeds.
	f.RevokeAll()
	f.Put("secret/portcullis/redis", map[string]any{"password": "p4ss-3"})
	eventually(t, "Value() = p4ss-3 after revocation", func() bool { return s.Value() == "p4ss-3" })
}

func TestVaultAppRoleMaxTTL(t *testing.T) {
	f := vaulttest.New(t)
	f.RoleID, f.SecretID, f.TokenTTL, f.MaxTTL = "portcullis-role", "s3cr3t-id", 1, 1
	f.Put("secret/portcullis/redis", map[string]any{"password": "p4ss"})
	t.Setenv("TEST_SECRET_ID", "s3cr3t-id")
	r := newResolver(t, secrets.Config{Vault: &secrets.VaultConfig{
		Address: f.URL, RoleID: "portcullis-role", SecretID: "env:TEST_SECRET_ID",
	}})
	if _, err := r.Resolve(testContext(t), redisRef); err != nil {
		t.Fatalf("Resolve() = %v, want nil", err)
	}
	// Renewal grants 0s (max TTL reached): the resolver logs in again.
	eventually(t, "a login after the max TTL", func() bool { return f.Logins.Load() >= 2 })
}

func TestVaultAppRoleBadSecretID(t *testing.T) {
	f := vaulttest.New(t)
	f.RoleID, f.SecretID, f.TokenTTL = "portcullis-role", "s3cr3t-id", 60
	t.Setenv("TEST_SECRET_ID", "wrong-s3cr3t-id")
	r := newResolver(t, secrets.Config{Vault: &secrets.VaultConfig{Address: f.URL, RoleID: "portcullis-role", SecretID: "env:TEST_SECRET_ID"}})
	_, err := r.Resolve(testContext(t), redisRef)
	if err == nil || !strings.Contains(err.Error(), "approle login") || strings.Contains(err.Error(), "wrong-s3cr3t-id") {
		t.Errorf("Resolve(bad secret id) = %v, want an approle login error without the secret id", err)
	}
}

// TestVaultLease re-reads a leased secret at two thirds of its lease and
// tells watchers of the change.
func TestVaultLease(t *testing.T) {
	f := vaulttest.New(t)
	f.Tokens["root-token"] = time.Time{}
	f.Lease = 1
	f.Put("secret/portcullis/redis", map[string]any{"password": "v1"})
	t.Setenv("TEST_VAULT_TOKEN", "root-token")
	r := newResolver(t, secrets.Config{Vault: &secrets.VaultConfig{Address: f.URL, Token: "env:TEST_VAULT_TOKEN", RefreshInterval: time.Hour}})
	s, err := r.Resolve(testContext(t), redisRef)
	if err != nil {
		t.Fatalf("Resolve() = %v, want nil", err)
	}
	var seen atomic.Value
	s.Watch(testContext(t), func(s secrets.Secret) { seen.Store(s.Value()) })
	f.Put("secret/portcullis/redis", map[string]any{"password": "v2"})
	start := time.Now()
	eventually(t, "watcher saw v2", func() bool { v, _ := seen.Load().(string); return v == "v2" })
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("refresh of a 1s lease took %v, want about 0.67s", d)
	}
}

func TestVaultConfigErrors(t *testing.T) {
	for _, tt := range []struct {
		name string
		cfg  secrets.VaultConfig
		want string
	}{
		{"role without secret", secrets.VaultConfig{RoleID: "r"}, "both or neither"},
		{"token and approle", secrets.VaultConfig{Token: "env:T", RoleID: "r", SecretID: "env:S"}, "one auth method"},
		{"literal token", secrets.VaultConfig{Token: "hvs.literal"}, "token: must be an env: or file: reference"},
		{"literal secret id", secrets.VaultConfig{RoleID: "r", SecretID: "literal"}, "secret_id: must be"},
		{"vault token ref", secrets.VaultConfig{Token: "vault:secret/x#t"}, "token: must be"},
		{"negative refresh", secrets.VaultConfig{RefreshInterval: -1}, "must not be negative"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, err := secrets.New(secrets.Config{Vault: &tt.cfg})
			if err == nil {
				_ = r.Close()
				t.Fatalf("New(%s) = nil error, want one containing %q", tt.name, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "hvs.literal") {
				t.Errorf("New(%s) = %q, want an error containing %q", tt.name, err, tt.want)
			}
		})
	}
}
