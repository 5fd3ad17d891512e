package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// VaultConfig is how a Resolver reaches HashiCorp Vault for vault:
// references, which read the KV version 2 secrets engine.
type VaultConfig struct {
	// Address of Vault, e.g. "https://vault.internal:8200". Default
	// $VAULT_ADDR (and the other standard VAULT_* variables: VAULT_CACERT,
	// VAULT_NAMESPACE, ...), else https://127.0.0.1:8200.
	Address string
	// Namespace (Vault Enterprise). Default $VAULT_NAMESPACE.
	Namespace string
	// CACert is a PEM file of CAs that Vault's certificate chains to.
	// Default $VAULT_CACERT, else the system roots.
	CACert string

	// Token is a reference to a Vault token, "env:NAME" or "file:PATH"
	// (the sink file of a Vault Agent, re-read at each login). Default
	// "env:VAULT_TOKEN" unless AppRole is configured.
	Token string
	// RoleID and SecretID configure AppRole login instead of a token:
	// references ("env:NAME" or "file:PATH"; RoleID may also be the plain
	// role id, which is not a secret). Both or neither.
	RoleID, SecretID string
	// AppRoleMount is the AppRole auth mount. Default "approle".
	AppRoleMount string

	// Mounts are KV v2 mount paths with a slash in them (e.g.
	// "kv/team-a"); a reference vault:kv/team-a/redis#password then reads
	// path "redis" of that mount. By default the first path segment is the
	// mount: vault:secret/portcullis/redis#password reads
	// "portcullis/redis" of mount "secret".
	Mounts []string
	// RefreshInterval is how often a secret is re-read when Vault gives it
	// no lease (KV v2 never does). Default 5m. A leased secret is re-read
	// at two thirds of its lease.
	RefreshInterval time.Duration
	// Timeout bounds each request to Vault. Default 10s.
	Timeout time.Duration
}

const (
	defaultVaultRefresh = 5 * time.Minute
	defaultVaultTimeout = 10 * time.Second
)

func (c *VaultConfig) validate() error {
	approle := c.RoleID != "" || c.SecretID != ""
	switch {
	case approle && (c.RoleID == "" || c.SecretID == ""):
		return errors.New("role_id, secret_id: both or neither")
	case approle && c.Token != "":
		return errors.New("token, role_id: one auth method only")
	case !approle && c.Token == "":
		c.Token = "env:VAULT_TOKEN"
	}
	for name, v := range map[string]string{"token": c.Token, "secret_id": c.SecretID} {
		if v == "" {
			continue
		}
		if r, scheme, err := parseRef(v); !scheme || err != nil || r.scheme == schemeVault {
			return fmt.Errorf("%s: must be an env: or file: reference", name)
		}
	}
	if c.RoleID != "" {
		if r, scheme, err := parseRef(c.RoleID); scheme && (err != nil || r.scheme == schemeVault) {
			return errors.New("role_id: must be a role id or an env: or file: reference")
		}
	}
	if c.AppRoleMount == "" {
		c.AppRoleMount = "approle"
	}
	if c.RefreshInterval < 0 || c.Timeout < 0 {
		return errors.New("refresh_interval, timeout: must not be negative")
	}
	if c.RefreshInterval == 0 {
		c.RefreshInterval = defaultVaultRefresh
	}
	if c.Timeout == 0 {
		c.Timeout = defaultVaultTimeout
	}
	c.Mounts = slices.Clone(c.Mounts)
	for i, m := range c.Mounts {
		c.Mounts[i] = strings.Trim(m, "/")
	}
	// Longest first, so that "kv/team-a" wins over "kv".
	slices.SortFunc(c.Mounts, func(a, b string) int { return len(b) - len(a) })
	return nil
}

func newVaultSource(cfg VaultConfig, log *slog.Logger, base context.Context, wg *sync.WaitGroup) (*vaultSource, error) {
	vc := vault.DefaultConfig() // reads the standard VAULT_* variables
	if vc.Error != nil {
		return nil, vc.Error
	}
	if cfg.Address != "" {
		vc.Address = cfg.Address
	}
	if cfg.CACert != "" {
		if err := vc.ConfigureTLS(&vault.TLSConfig{CACert: cfg.CACert}); err != nil {
			return nil, fmt.Errorf("ca_cert: %w", err)
		}
	}
	vc.Timeout = cfg.Timeout
	client, err := vault.NewClient(vc)
	if err != nil {
		return nil, err
	}
	client.ClearToken() // NewClient picks up $VAULT_TOKEN; only cfg.Token counts
	if cfg.Namespace != "" {
		client.SetNamespace(cfg.Namespace)
	}
	return &vaultSource{cfg: cfg, client: client, http: vc.HttpClient, log: log, base: base, wg: wg}, nil
}
