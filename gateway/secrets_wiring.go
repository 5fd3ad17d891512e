package gateway

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/secrets"
)

// Config keys of the secret-bearing settings the gateway uses.
const (
	keyRedisPassword    = "rate_limits.redis.password"
	keyPostgresPassword = "audit.postgres.password"
	keyAssertionKey     = "assertion.key"
)

// resolveTimeout bounds resolving every reference at start-up (Vault
// logins and reads included).
const resolveTimeout = 30 * time.Second

// secretSet is the gateway's one secrets.Resolver and the secrets it
// resolved at start-up, by config key. The resolver keeps file: and
// vault: secrets fresh until close; users read Value where they use it.
type secretSet struct {
	r      *secrets.Resolver
	byKey  map[string]secrets.Secret
	ctx    context.Context // ends Watch registrations at close
	cancel context.CancelFunc
}

// newSecretSet builds the resolver of cfg.Secrets and resolves every
// reference of cfg, before anything listens. An error names the config key
// and the reference, never a value; on error nothing keeps running.
func newSecretSet(cfg *config.Config, log *slog.Logger) (*secretSet, error) {
	r, err := secrets.New(cfg.Secrets.Settings(), secrets.WithLogger(log))
	if err != nil {
		return nil, fmt.Errorf("gateway: secrets: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &secretSet{r: r, byKey: map[string]secrets.Secret{}, ctx: ctx, cancel: cancel}
	rctx, rcancel := context.WithTimeout(ctx, resolveTimeout)
	defer rcancel()
	for _, ref := range cfg.SecretRefs() {
		sec, err := r.Resolve(rctx, ref.Ref)
		switch {
		case err != nil && !secrets.IsReference(ref.Ref):
			// A Config built in Go and never validated may hold a
			// literal: name the key only.
			s.close()
			return nil, fmt.Errorf("gateway: %s: %w", ref.Key, err)
		case err != nil:
			s.close()
			return nil, fmt.Errorf("gateway: %s (%s): %w", ref.Key, ref.Ref, err)
		}
		s.byKey[ref.Key] = sec
	}
	return s, nil
}

// get returns the secret of a config key, or the zero Secret (Value "")
// when the key is not set.
func (s *secretSet) get(key string) secrets.Secret { return s.byKey[key] }

// bytes returns the current value of a config key as bytes, nil when the
// key is not set.
func (s *secretSet) bytes(key string) []byte {
	sec, ok := s.byKey[key]
	if !ok {
		return nil
	}
	return []byte(sec.Value())
}

// watch calls onChange after every refresh that changed the secret of
// key, until close.
func (s *secretSet) watch(key string, onChange func(secrets.Secret)) {
	if sec, ok := s.byKey[key]; ok {
		sec.Watch(s.ctx, onChange)
	}
}

// close stops every refresh. Secrets keep their last value.
func (s *secretSet) close() {
	s.cancel()
	_ = s.r.Close()
}

// watchAssertionKey reloads the signer's keys when assertion.key is
// refreshed with a new value; a bad new value keeps the old keys.
func (g *Gateway) watchAssertionKey() {
	g.secrets.watch(keyAssertionKey, func(sec secrets.Secret) {
		if err := g.signer.Load([]byte(sec.Value())); err != nil {
			g.log.Error("assertion: refreshed key refused; keeping the previous keys", "ref", sec.Ref(), "err", err)
			return
		}
		g.log.Info("assertion: signing keys reloaded", "ref", sec.Ref(), "kid", g.signer.KeyID())
	})
}
