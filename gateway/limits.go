package gateway

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/ratelimit"
	"github.com/portcullis/portcullis/interceptors/resolve"
	"github.com/portcullis/portcullis/policy"
)

// rateLimitStage builds the rate-limit stage: limits come from the method
// policies (with the live bundle's tightening overrides); counters live in
// memory per replica, or in Redis shared by every replica.
func (g *Gateway) rateLimitStage() (Stage, error) {
	rc := g.cfg.RateLimits
	var store ratelimit.Store
	local := ratelimit.NewMemory()
	store = local
	g.rlMetrics = ratelimit.NewMetrics()
	if rc != nil && rc.Store == "redis" {
		ro := &redis.Options{Addr: rc.Redis.Address, DB: int(rc.Redis.DB), ContextTimeoutEnabled: true,
			DialTimeout: rc.Redis.Timeout * 4, ReadTimeout: rc.Redis.Timeout, WriteTimeout: rc.Redis.Timeout}
		pw := g.secrets.get(keyRedisPassword)
		if pw.Ref() != "" {
			user := rc.Redis.Username
			// Called for each new connection: a refreshed password is used
			// from the next connection on; open ones stay authenticated.
			ro.CredentialsProvider = func() (string, string) { return user, pw.Value() }
		}
		g.redis = redis.NewClient(ro)
		if pw.Ref() != "" {
			if err := g.checkRedisAuth(rc.Redis.Address, pw.Ref(), rc.Redis.Timeout); err != nil {
				_ = g.redis.Close()
				g.redis = nil
				return Stage{}, err
			}
		}
		r := ratelimit.NewRedis(g.redis, ratelimit.WithPrefix(rc.Redis.Prefix))
		var primary ratelimit.Store = r
		if rc.Mode == "lease" {
			primary = ratelimit.NewLeasing(r, ratelimit.WithLeaseSize(int(rc.LeaseSize)))
		}
		mode := ratelimit.FallbackLocal
		if rc.OnRedisDown == "fail_closed" {
			mode = ratelimit.FailClosed
		}
		store = ratelimit.NewFallback(primary, local, mode,
			ratelimit.WithTimeout(rc.Redis.Timeout),
			ratelimit.WithFallbackMetrics(g.rlMetrics),
			ratelimit.WithOnDegraded(func(degraded bool, err error) {
				if degraded {
					g.log.Warn("rate limits: Redis unreachable; using the fallback", "mode", mode.String(), "err", err)
				} else {
					g.log.Info("rate limits: Redis is back")
				}
			}))
	}
	shadow := rc != nil && rc.Shadow
	opts := []ratelimit.Option{
		ratelimit.WithMethodFunc(resolve.FromContext),
		ratelimit.WithPrincipalFunc(authn.FromContext),
		ratelimit.WithRequestFunc(requestFromContext),
		ratelimit.WithClientAddrFunc(g.clientIP.Addr),
		ratelimit.WithMetrics(g.rlMetrics),
		ratelimit.WithDecisionFunc(func(ctx context.Context, d ratelimit.Decision) {
			if rec := policy.RecordFrom(ctx); rec != nil && d.Result.Degraded {
				rec.RateLimitDegraded = true
			}
		}),
		ratelimit.WithLimitFunc(func(_ context.Context, m *policy.Method) *policy.RateLimit {
			rl := g.id.Engine().Effective(m).RateLimit
			if rl != nil && shadow && !rl.Shadow {
				cp := *rl
				cp.Shadow = true
				return &cp
			}
			return rl
		}),
	}
	if err := g.prom.Register(g.rlMetrics); err != nil {
		return Stage{}, fmt.Errorf("gateway: rate-limit metrics: %w", err)
	}
	return Stage{Name: "ratelimit", Unary: ratelimit.UnaryServerInterceptor(store, opts...),
		Stream: ratelimit.StreamServerInterceptor(store, opts...)}, nil
}

// checkRedisAuth pings Redis once with the configured credentials (ref
// names the password): Redis refusing them (WRONGPASS, NOAUTH) is a
// configuration error that fails New, while Redis being unreachable is not
// (on_redis_down decides what calls get meanwhile) and is only logged.
func (g *Gateway) checkRedisAuth(addr, ref string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), max(time.Second, timeout*5))
	defer cancel()
	err := g.redis.Ping(ctx).Err()
	switch {
	case err == nil:
		return nil
	case redis.IsAuthError(err):
		// Redis's message names the user at most, never the password.
		return fmt.Errorf("gateway: %s (%s): Redis at %s refused the credentials: %w", keyRedisPassword, ref, addr, err)
	}
	g.log.Warn("rate limits: Redis check at start-up failed; credentials not verified", "addr", addr, "err", err)
	return nil
}
