package config

import (
	"errors"
	"net/url"
	"path/filepath"
	"strings"
	"time"

	"github.com/portcullis/portcullis/gateway/secrets"
)

// Secrets configures how the gateway resolves secret references: every
// secret-bearing setting (rate_limits.redis.password,
// audit.postgres.password, assertion.key) holds "env:NAME", "file:PATH"
// or "vault:MOUNT/PATH#FIELD", never the secret itself (see
// gateway/secrets). Without a secrets block, env: and file: references
// work with the defaults and vault: references are refused.
type Secrets struct {
	// Vault (vault) enables vault: references.
	Vault *Vault `yaml:"vault"`
	// FileRefreshInterval (file_refresh_interval) is how often file:
	// secrets are re-read, so that a rotated file takes effect without a
	// restart. Default 30s; 0s reads each file once.
	FileRefreshInterval time.Duration `yaml:"file_refresh_interval"`
}

// Vault is how vault: references reach HashiCorp Vault (KV version 2):
// with a token, or with AppRole (role_id and secret_id).
type Vault struct {
	// Address (address) of Vault, https:// (http:// only on a loopback
	// host). Default $VAULT_ADDR.
	Address string `yaml:"address"`
	// Namespace (namespace), Vault Enterprise. Default $VAULT_NAMESPACE.
	Namespace string `yaml:"namespace"`
	// CAFile (ca_file) is the PEM bundle Vault's certificate must chain
	// to. Default $VAULT_CACERT, else the system roots.
	CAFile string `yaml:"ca_file"`
	// Token (token) is an env: or file: reference to a Vault token (a
	// file: reference suits a Vault Agent sink). Default env:VAULT_TOKEN
	// unless role_id is set.
	Token string `yaml:"token"`
	// RoleID (role_id) and SecretID (secret_id) log in with AppRole
	// instead of a token; both or neither. role_id may be the plain role
	// id or an env:/file: reference; secret_id must be a reference.
	RoleID   string `yaml:"role_id"`
	SecretID string `yaml:"secret_id"`
	// AppRoleMount (approle_mount) is the AppRole auth mount. Default approle.
	AppRoleMount string `yaml:"approle_mount"`
	// Mounts (mounts) are KV v2 mount paths with a slash in them, such as
	// kv/team-a. By default the first segment of a reference's path is
	// the mount.
	Mounts []string `yaml:"mounts"`
	// RefreshInterval (refresh_interval) re-reads secrets that have no
	// lease (KV v2 secrets have none). Default 5m.
	RefreshInterval time.Duration `yaml:"refresh_interval"`
	// Timeout (timeout) bounds each request to Vault. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}

func (s *Secrets) setDefaults() { s.FileRefreshInterval = 30 * time.Second }

func (v *Vault) setDefaults() {
	v.AppRoleMount, v.RefreshInterval, v.Timeout = "approle", 5*time.Minute, 10*time.Second
}

// Settings converts the block for secrets.New. A nil block gives the
// resolver's defaults (file refresh every 30s, no Vault).
func (s *Secrets) Settings() secrets.Config {
	if s == nil {
		return secrets.Config{}
	}
	c := secrets.Config{FileRefreshInterval: s.FileRefreshInterval}
	if c.FileRefreshInterval == 0 {
		c.FileRefreshInterval = -1 // 0s in the file: read once
	}
	if v := s.Vault; v != nil {
		c.Vault = &secrets.VaultConfig{
			Address: v.Address, Namespace: v.Namespace, CACert: v.CAFile,
			Token: v.Token, RoleID: v.RoleID, SecretID: v.SecretID, AppRoleMount: v.AppRoleMount,
			Mounts: v.Mounts, RefreshInterval: v.RefreshInterval, Timeout: v.Timeout,
		}
	}
	return c
}

// SecretRef is one secret-bearing setting of a Config.
type SecretRef struct {
	// Key is the setting's key path, such as "rate_limits.redis.password".
	Key string
	// Ref is its reference, such as "env:REDIS_PASSWORD". It names the
	// secret and reveals nothing of it.
	Ref string
}

// SecretRefs returns the secret references the gateway resolves at
// start-up, in a fixed order: rate_limits.redis.password,
// audit.postgres.password and assertion.key, each when set. (The Vault
// credentials of the secrets block are resolved by the resolver itself.)
func (c *Config) SecretRefs() []SecretRef {
	var out []SecretRef
	for _, f := range c.secretFields() {
		if *f.ref != "" && !f.login {
			out = append(out, SecretRef{Key: f.key, Ref: *f.ref})
		}
	}
	return out
}

// secretField is a setting that must hold a reference. login marks the
// Vault credentials, which the resolver reads itself (env: or file: only);
// plain marks one that may also hold a plain, non-secret value (role_id).
type secretField struct {
	key          string
	ref          *string
	login, plain bool
}

// secretFields lists every secret-bearing setting present in c. It is the
// one list that literal checks, path resolution and SecretRefs share: a
// new secret-bearing setting goes here.
func (c *Config) secretFields() []secretField {
	var fs []secretField
	if rl := c.RateLimits; rl != nil && rl.Redis != nil {
		fs = append(fs, secretField{key: "rate_limits.redis.password", ref: &rl.Redis.Password})
	}
	if a := c.Audit; a != nil && a.Postgres != nil {
		fs = append(fs, secretField{key: "audit.postgres.password", ref: &a.Postgres.Password})
	}
	if a := c.Assertion; a != nil {
		fs = append(fs, secretField{key: "assertion.key", ref: &a.Key})
	}
	if id := c.Identity; id != nil && id.JWKSClient != nil {
		fs = append(fs, secretField{key: KeyJWKSClientKey, ref: &id.JWKSClient.Key})
	}
	if b := c.BundleClient; b != nil {
		fs = append(fs, secretField{key: KeyBundleClientKey, ref: &b.Key})
	}
	if s := c.Secrets; s != nil && s.Vault != nil {
		fs = append(fs,
			secretField{key: "secrets.vault.token", ref: &s.Vault.Token, login: true},
			secretField{key: "secrets.vault.role_id", ref: &s.Vault.RoleID, login: true, plain: true},
			secretField{key: "secrets.vault.secret_id", ref: &s.Vault.SecretID, login: true})
	}
	return fs
}

// resolveSecretPaths makes the relative paths of file: references and of
// secrets.vault.ca_file relative to dir, like every other path.
func (c *Config) resolveSecretPaths(dir string) {
	for _, f := range c.secretFields() {
		if p, ok := strings.CutPrefix(*f.ref, "file:"); ok && p != "" && !filepath.IsAbs(p) {
			*f.ref = "file:" + filepath.Join(dir, p)
		}
	}
	if s := c.Secrets; s != nil && s.Vault != nil && s.Vault.CAFile != "" && !filepath.IsAbs(s.Vault.CAFile) {
		s.Vault.CAFile = filepath.Join(dir, s.Vault.CAFile)
	}
}

// secrets checks the secrets block and that every secret-bearing setting
// holds a reference, not the secret.
func (v *validator) secrets(c *Config) {
	hasVault := c.Secrets != nil && c.Secrets.Vault != nil
	for _, f := range c.secretFields() {
		if f.plain && !hasScheme(*f.ref) {
			continue // a plain value, not a secret
		}
		if !v.reference(f.key, *f.ref) {
			continue
		}
		vaultRef := strings.HasPrefix(*f.ref, "vault:")
		switch {
		case vaultRef && f.login:
			v.add(f.key, "must be an env: or file: reference (Vault credentials cannot come from Vault)")
		case vaultRef && !hasVault:
			v.add(f.key, "a vault: reference needs a secrets.vault block")
		}
	}
	s := c.Secrets
	if s == nil {
		return
	}
	if s.FileRefreshInterval < 0 {
		v.add("secrets.file_refresh_interval", "must not be negative")
	}
	vc := s.Vault
	if vc == nil {
		return
	}
	approle := vc.RoleID != "" || vc.SecretID != ""
	switch {
	case vc.RoleID != "" && vc.SecretID == "":
		v.add("secrets.vault.secret_id", "required when role_id is set")
	case vc.RoleID == "" && vc.SecretID != "":
		v.add("secrets.vault.role_id", "required when secret_id is set")
	case approle && vc.Token != "":
		v.add("secrets.vault.token", "set either token or role_id and secret_id, not both")
	}
	if vc.Address != "" {
		u, err := url.Parse(vc.Address)
		switch {
		case err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
			v.add("secrets.vault.address", "invalid URL %q: want https://host:port", vc.Address)
		case u.Scheme == "http" && !loopback(u.Hostname()):
			v.add("secrets.vault.address", "must be an https:// URL (http:// only on a loopback host), not %q", vc.Address)
		}
	}
	v.file("secrets.vault.ca_file", vc.CAFile, false)
	v.positive("secrets.vault.refresh_interval", vc.RefreshInterval)
	v.positive("secrets.vault.timeout", vc.Timeout)
	if vc.AppRoleMount == "" {
		v.add("secrets.vault.approle_mount", "must not be empty")
	}
}

func hasScheme(s string) bool {
	return strings.HasPrefix(s, "env:") || strings.HasPrefix(s, "file:") || strings.HasPrefix(s, "vault:")
}

// reference reports a literal secret or a malformed reference at key, and
// returns whether ref is a well-formed reference ("" is not one). The
// value itself is never quoted.
func (v *validator) reference(key, ref string) bool {
	if ref == "" {
		return false
	}
	err := secrets.CheckLiteral(key, ref)
	switch {
	case errors.Is(err, secrets.ErrLiteral):
		v.add(key, "%w", secrets.ErrLiteral)
	case err != nil:
		v.add(key, "%s", strings.TrimPrefix(err.Error(), key+": "))
	}
	return err == nil
}

// dsnHasPassword reports whether a libpq connection string, URL
// ("postgres://user:pw@host/db", "...?password=pw") or key=value
// ("host=h password=pw"), carries a password.
func dsnHasPassword(dsn string) bool {
	if rest, ok := cutScheme(dsn); ok {
		authority, query := rest, ""
		if i := strings.IndexAny(rest, "/?#"); i >= 0 {
			authority = rest[:i]
		}
		if i := strings.IndexByte(rest, '?'); i >= 0 {
			query, _, _ = strings.Cut(rest[i+1:], "#")
		}
		if at := strings.LastIndexByte(authority, '@'); at >= 0 {
			if _, pw, ok := strings.Cut(authority[:at], ":"); ok && pw != "" {
				return true
			}
		}
		q, err := url.ParseQuery(query)
		return err != nil && strings.Contains(query, "password") || q.Get("password") != ""
	}
	for _, kv := range keyValues(dsn) {
		if kv[0] == "password" && kv[1] != "" {
			return true
		}
	}
	return false
}

func cutScheme(dsn string) (string, bool) {
	for _, s := range []string{"postgres://", "postgresql://"} {
		if rest, ok := strings.CutPrefix(dsn, s); ok {
			return rest, true
		}
	}
	return "", false
}

// keyValues splits a libpq key=value string: spaces around = are allowed,
// values may be single-quoted, and a backslash escapes the next character.
func keyValues(s string) [][2]string {
	var out [][2]string
	const space = " \t\n\r\v\f"
	for {
		s = strings.TrimLeft(s, space)
		eq := strings.IndexByte(s, '=')
		if s == "" || eq < 0 {
			return out
		}
		key := strings.TrimRight(s[:eq], space)
		s = strings.TrimLeft(s[eq+1:], space)
		var val strings.Builder
		quoted := strings.HasPrefix(s, "'")
		if quoted {
			s = s[1:]
		}
		i := 0
		for ; i < len(s); i++ {
			ch := s[i]
			if ch == '\\' && i+1 < len(s) {
				i++
				val.WriteByte(s[i])
				continue
			}
			if quoted && ch == '\'' || !quoted && strings.IndexByte(space, ch) >= 0 {
				i++
				break
			}
			val.WriteByte(ch)
		}
		s = s[min(i, len(s)):]
		out = append(out, [2]string{key, val.String()})
	}
}
