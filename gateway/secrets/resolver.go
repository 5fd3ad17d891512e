package secrets

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"
)

// Config configures a Resolver.
type Config struct {
	// Vault enables vault: references; nil refuses them.
	Vault *VaultConfig
	// FileRefreshInterval is how often a file: secret is re-read, so that
	// a rotated file (a Kubernetes secret volume, a Vault Agent template)
	// takes effect without a restart. Default 30s; negative disables.
	FileRefreshInterval time.Duration
}

const defaultFileRefresh = 30 * time.Second

// Option configures a Resolver.
type Option func(*options)

type options struct{ logger *slog.Logger }

// WithLogger sets the logger that receives, at slog.LevelWarn, failed
// refreshes (the reference and the error, never a value). The default
// discards everything; a nil logger keeps it.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// Resolver resolves secret references and keeps file: and vault: secrets
// fresh in the background. It is safe for concurrent use; Close stops its
// goroutines.
type Resolver struct {
	cfg   Config
	log   *slog.Logger
	vault *vaultSource // nil without Config.Vault

	base      context.Context
	cancel    context.CancelFunc
	wg        sync.WaitGroup
	closeOnce sync.Once

	mu       sync.Mutex
	resolved map[string]Secret // by reference: one value and refresher each
}

// New validates cfg and returns a Resolver. It does not contact Vault; the
// first vault: reference logs in.
func New(cfg Config, opts ...Option) (*Resolver, error) {
	o := &options{logger: slog.New(slog.DiscardHandler)}
	for _, opt := range opts {
		opt(o)
	}
	if cfg.FileRefreshInterval == 0 {
		cfg.FileRefreshInterval = defaultFileRefresh
	}
	base, cancel := context.WithCancel(context.Background())
	r := &Resolver{cfg: cfg, log: o.logger, base: base, cancel: cancel, resolved: map[string]Secret{}}
	if cfg.Vault != nil {
		vc := *cfg.Vault
		if err := vc.validate(); err != nil {
			cancel()
			return nil, fmt.Errorf("secrets: config: vault: %w", err)
		}
		v, err := newVaultSource(vc, o.logger, base, &r.wg)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("secrets: config: vault: %w", err)
		}
		r.vault = v
	}
	return r, nil
}

// Close stops every refresh and token renewal and waits for them. Secrets
// keep their last value. It is safe to call more than once; it returns nil.
func (r *Resolver) Close() error {
	r.closeOnce.Do(func() {
		r.cancel()
		r.wg.Wait()
		if r.vault != nil {
			r.vault.http.CloseIdleConnections()
		}
	})
	return nil
}

// Resolve reads the secret that ref names:
//   - "env:NAME": the environment variable NAME, which must be set and
//     not empty; read once.
//   - "file:PATH": the file's content without one trailing newline, read
//     with the checks of ReadFile (refused when group or others may access
//     it: chmod 600 PATH); re-read every Config.FileRefreshInterval.
//   - "vault:MOUNT/PATH#FIELD": the string FIELD of the latest version of
//     the KV v2 secret PATH (see VaultConfig.Mounts), read with the
//     configured token or AppRole login; re-read before its lease ends, or
//     every VaultConfig.RefreshInterval.
//
// A literal is refused (see CheckLiteral). Resolving the same reference
// twice returns the same Secret. A failed refresh keeps the last value and
// logs a warning. Errors name ref, never a value.
func (r *Resolver) Resolve(ctx context.Context, ref string) (Secret, error) {
	p, scheme, err := parseRef(ref)
	switch {
	case !scheme:
		return Secret{}, fmt.Errorf("secrets: %w", ErrLiteral)
	case err != nil:
		return Secret{}, fmt.Errorf("secrets: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock() // serializes first resolutions; they happen at start-up
	if s, ok := r.resolved[ref]; ok {
		return s, nil
	}
	if r.base.Err() != nil {
		return Secret{}, errors.New("secrets: resolver closed")
	}
	var s Secret
	switch p.scheme {
	case schemeEnv, schemeFile:
		v, err := localValue(ref)
		if err != nil {
			return Secret{}, err
		}
		s = Secret{newState(ref, v)}
		if p.scheme == schemeFile && r.cfg.FileRefreshInterval > 0 {
			r.wg.Go(func() { r.refreshFile(s.st, p.name) })
		}
	case schemeVault:
		if r.vault == nil {
			return Secret{}, fmt.Errorf("secrets: %s: vault is not configured", ref)
		}
		ctx, cancel := context.WithTimeout(ctx, r.vault.cfg.Timeout)
		defer cancel()
		v, lease, err := r.vault.read(ctx, p.name, p.field)
		if err != nil {
			return Secret{}, fmt.Errorf("secrets: %s: %w", ref, err)
		}
		s = Secret{newState(ref, v)}
		r.wg.Go(func() { r.refreshVault(s.st, p, lease) })
	}
	r.resolved[ref] = s
	return s, nil
}

// localValue resolves an env: or file: reference, or returns a string
// with no scheme as it is (for VaultConfig.RoleID).
func localValue(ref string) (string, error) {
	p, scheme, err := parseRef(ref)
	switch {
	case !scheme:
		return ref, nil
	case err != nil:
		return "", fmt.Errorf("secrets: %w", err)
	case p.scheme == schemeEnv:
		v, ok := os.LookupEnv(p.name)
		if !ok || v == "" {
			return "", fmt.Errorf("secrets: %s: environment variable %s is not set", ref, p.name)
		}
		return v, nil
	case p.scheme == schemeFile:
		return fileValue(p.name)
	}
	return "", fmt.Errorf("secrets: %s: only env: and file: references here", ref)
}

func (r *Resolver) refreshFile(st *state, path string) {
	for sleep(r.base, r.cfg.FileRefreshInterval) {
		v, err := fileValue(path)
		if err != nil {
			r.log.Warn("secrets: refresh failed; keeping the last value", "ref", st.ref, "error", err)
			continue
		}
		st.set(v)
	}
}

// refreshVault re-reads a vault secret at two thirds of its lease, or
// every RefreshInterval without one; after a failure, sooner (at most
// every 30s) until it succeeds.
func (r *Resolver) refreshVault(st *state, p ref, lease time.Duration) {
	failing := false
	for {
		wait := r.vault.cfg.RefreshInterval
		if lease > 0 {
			wait = lease * 2 / 3
		}
		if failing {
			wait = min(wait, 30*time.Second)
		}
		if !sleep(r.base, wait) {
			return
		}
		ctx, cancel := context.WithTimeout(r.base, r.vault.cfg.Timeout)
		v, l, err := r.vault.read(ctx, p.name, p.field)
		cancel()
		if failing = err != nil; failing {
			if r.base.Err() == nil {
				r.log.Warn("secrets: refresh failed; keeping the last value", "ref", st.ref, "error", err)
			}
			continue
		}
		lease = l
		st.set(v)
	}
}
