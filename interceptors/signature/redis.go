package signature

import (
	"context"
	"encoding/hex"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOption configures NewRedisNonceCache.
type RedisOption func(*redisOptions)

type redisOptions struct {
	prefix  string
	timeout time.Duration
}

// WithRedisPrefix sets the namespace of the nonce keys: a nonce's key is
// prefix + the hex of its 32-byte cache key. Default
// "portcullis:sig:nonce:". Replicas that must refuse each other's replays
// use the same Redis and prefix.
func WithRedisPrefix(prefix string) RedisOption {
	return func(o *redisOptions) { o.prefix = prefix }
}

// WithRedisTimeout bounds each Add (default 500ms). The client must honour
// context deadlines (redis.Options.ContextTimeoutEnabled) for the bound to
// hold. A timed-out Add refuses the call. A d that is not positive keeps
// the default.
func WithRedisTimeout(d time.Duration) RedisOption {
	return func(o *redisOptions) {
		if d > 0 {
			o.timeout = d
		}
	}
}

// RedisNonceCache is a NonceCache in Redis, shared by every gateway
// replica that uses the same Redis and prefix: a nonce used on one replica
// is refused on all of them. Each Add is one "SET key 1 NX" with the ttl as
// expiry, atomic in Redis, so two replicas racing with the same nonce
// cannot both win. Keys expire on their own. When Redis is unreachable, Add fails and signed
// calls are refused (fail closed) rather than accepted without replay
// protection.
//
// The client may be a *redis.Client, *redis.Ring or *redis.ClusterClient.
// It is safe for concurrent use.
type RedisNonceCache struct {
	client redis.UniversalClient
	o      redisOptions
}

// NewRedisNonceCache returns a cache in client, which it does not own: the
// caller closes it. It panics if client is nil.
func NewRedisNonceCache(client redis.UniversalClient, opts ...RedisOption) *RedisNonceCache {
	if client == nil {
		panic("signature: nil Redis client")
	}
	o := redisOptions{prefix: "portcullis:sig:nonce:", timeout: 500 * time.Millisecond}
	for _, opt := range opts {
		opt(&o)
	}
	return &RedisNonceCache{client: client, o: o}
}

// Add sets the nonce's key if it is absent, expiring after ttl (at least
// one millisecond), and reports whether it was absent.
func (c *RedisNonceCache) Add(ctx context.Context, key [32]byte, ttl time.Duration) (bool, error) {
	if ttl < time.Millisecond {
		ttl = time.Millisecond
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.timeout)
	defer cancel()
	ok, err := c.client.SetNX(ctx, c.o.prefix+hex.EncodeToString(key[:]), 1, ttl).Result()
	if errors.Is(err, redis.Nil) {
		return false, nil
	}
	return ok, err
}
