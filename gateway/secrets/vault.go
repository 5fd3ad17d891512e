package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	vault "github.com/hashicorp/vault/api"
)

// vaultSource reads KV v2 secrets and keeps the client's token alive.
type vaultSource struct {
	cfg    VaultConfig
	client *vault.Client
	http   *http.Client
	log    *slog.Logger
	base   context.Context // the Resolver's lifetime
	wg     *sync.WaitGroup

	mu       sync.Mutex // serializes logins; guards authed and renewing
	authed   bool
	renewing bool
}

// split returns the KV v2 mount and the path within it.
func (v *vaultSource) split(p string) (mount, path string) {
	for _, m := range v.cfg.Mounts {
		if rest, ok := strings.CutPrefix(p, m+"/"); ok && rest != "" {
			return m, rest
		}
	}
	mount, path, _ = strings.Cut(p, "/")
	return mount, path
}

// read returns the string value of field of the latest version of the KV
// v2 secret at path, and its lease (0: none). A 403 leads to one fresh
// login and one retry, for a token that expired or was revoked.
func (v *vaultSource) read(ctx context.Context, path, field string) (string, time.Duration, error) {
	if err := v.ensureAuth(ctx, false); err != nil {
		return "", 0, err
	}
	mount, p := v.split(path)
	s, err := v.client.KVv2(mount).Get(ctx, p)
	var re *vault.ResponseError
	if errors.As(err, &re) && re.StatusCode == http.StatusForbidden {
		if err := v.ensureAuth(ctx, true); err != nil {
			return "", 0, err
		}
		s, err = v.client.KVv2(mount).Get(ctx, p)
	}
	if err != nil {
		return "", 0, err
	}
	if s.Data == nil {
		return "", 0, errors.New("the latest version is deleted")
	}
	raw, ok := s.Data[field]
	if !ok {
		return "", 0, fmt.Errorf("no field %q", field)
	}
	val, ok := raw.(string)
	if !ok {
		return "", 0, fmt.Errorf("field %q is not a string", field)
	}
	var lease time.Duration
	if s.Raw != nil {
		lease = time.Duration(s.Raw.LeaseDuration) * time.Second
	}
	return val, lease, nil
}

// ensureAuth logs in unless already authenticated (or force is set), and
// starts keeping the token alive after the first login.
func (v *vaultSource) ensureAuth(ctx context.Context, force bool) error {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.authed && !force {
		return nil
	}
	ttl, renewable, err := v.login(ctx)
	if err != nil {
		v.authed = false
		return err
	}
	v.authed = true
	if !v.renewing {
		v.renewing = true
		v.wg.Go(func() { v.keepAlive(ttl, renewable) })
	}
	return nil
}

// login authenticates with AppRole or checks the configured token, and
// returns the token's TTL (0: it does not expire) and renewability.
func (v *vaultSource) login(ctx context.Context) (time.Duration, bool, error) {
	if v.cfg.RoleID != "" {
		roleID, err := localValue(v.cfg.RoleID)
		if err != nil {
			return 0, false, fmt.Errorf("vault: role_id: %w", err)
		}
		secretID, err := localValue(v.cfg.SecretID)
		if err != nil {
			return 0, false, fmt.Errorf("vault: secret_id: %w", err)
		}
		v.client.ClearToken()
		s, err := v.client.Logical().WriteWithContext(ctx, "auth/"+strings.Trim(v.cfg.AppRoleMount, "/")+"/login",
			map[string]any{"role_id": roleID, "secret_id": secretID})
		if err != nil {
			return 0, false, fmt.Errorf("vault: approle login: %w", err)
		}
		if s == nil || s.Auth == nil || s.Auth.ClientToken == "" {
			return 0, false, errors.New("vault: approle login: no token in the response")
		}
		v.client.SetToken(s.Auth.ClientToken)
		return time.Duration(s.Auth.LeaseDuration) * time.Second, s.Auth.Renewable, nil
	}
	tok, err := localValue(v.cfg.Token)
	if err != nil {
		return 0, false, fmt.Errorf("vault: token: %w", err)
	}
	if tok == "" {
		return 0, false, fmt.Errorf("vault: token: %s is empty", v.cfg.Token)
	}
	v.client.SetToken(tok)
	s, err := v.client.Auth().Token().LookupSelfWithContext(ctx)
	if err != nil {
		return 0, false, fmt.Errorf("vault: token lookup-self: %w", err)
	}
	ttl, _ := s.TokenTTL()
	renewable, _ := s.TokenIsRenewable()
	return ttl, renewable, nil
}

// keepAlive renews the token at two thirds of its TTL and logs in again
// when renewal fails or the token nears its maximum TTL, until the
// Resolver closes. A token without TTL needs nothing.
func (v *vaultSource) keepAlive(ttl time.Duration, renewable bool) {
	loginTTL, retry := ttl, time.Second
	wait := ttl * 2 / 3
	for ttl > 0 {
		if !sleep(v.base, wait) {
			return
		}
		ctx, cancel := context.WithTimeout(v.base, v.cfg.Timeout)
		renewed := false
		if renewable {
			s, err := v.client.Auth().Token().RenewSelfWithContext(ctx, int(loginTTL/time.Second))
			if err == nil && s != nil && s.Auth != nil {
				// A grant much shorter than asked for means the token
				// nears its max TTL: log in again instead.
				next := time.Duration(s.Auth.LeaseDuration) * time.Second
				if renewed = next >= loginTTL/3 && next > 0; renewed {
					ttl, wait = next, next*2/3
				}
			}
		}
		if !renewed {
			v.mu.Lock()
			t, r, err := v.login(ctx)
			v.authed = err == nil
			v.mu.Unlock()
			if err != nil {
				v.log.Warn("secrets: vault login failed; retrying", "error", err, "retry_in", retry)
				wait, retry = retry, min(retry*2, time.Minute)
			} else {
				ttl, loginTTL, renewable, wait, retry = t, t, r, t*2/3, time.Second
			}
		}
		cancel()
	}
}

// sleep waits d or until ctx ends, and reports whether d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
