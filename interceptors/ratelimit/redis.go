package ratelimit

import (
	"context"
	"crypto/sha1" // how Redis names scripts (EVALSHA), not a security measure
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// RedisOption configures NewRedis.
type RedisOption func(*redisOptions)

type redisOptions struct {
	prefix string
}

// WithPrefix sets the namespace of the Redis keys: the key of a limit is
// prefix + the interceptor's key. Default "portcullis:rl:". Use one prefix
// per deployment that shares a Redis.
func WithPrefix(prefix string) RedisOption { return func(o *redisOptions) { o.prefix = prefix } }

// gcraScript is gcra in Lua, run atomically by Redis. Times are µs of the
// Redis server's clock (TIME), so replicas with skewed clocks agree. A
// key's value is its TAT and it expires when the TAT passes, when it would
// carry no state anyway. µs keep every value below 2^53, exact in Lua's
// doubles.
//
// KEYS[1] key; ARGV interval (µs), burst, want, min.
// Reply: {granted, remaining, retry (µs), reset (µs)}.
const gcraScript = `
-- Redis 3.2 to 4 replicate scripts verbatim unless told otherwise, which
-- forbids writing after TIME; from Redis 5 this is the default (a no-op).
if redis.replicate_commands then redis.replicate_commands() end
local t = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local want = tonumber(ARGV[3])
local min = tonumber(ARGV[4])
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000000 + tonumber(clock[2])
local tat = tonumber(redis.call('GET', KEYS[1])) or now
if tat < now then tat = now end
local capacity = (burst + 1) * t
local free = math.floor((now + capacity - tat) / t)
if free < min then
  return {0, math.max(free, 0), tat + min * t - capacity - now, tat - now}
end
local g = math.min(want, free)
local new = tat + g * t
redis.call('SET', KEYS[1], string.format('%d', new), 'PX', math.max(math.ceil((new - now) / 1000), 1))
return {g, free - g, 0, new - now}
`

var gcraSHA = func() string {
	h := sha1.Sum([]byte(gcraScript))
	return hex.EncodeToString(h[:])
}()

// Redis is a GCRA Store in Redis, shared by every gateway replica that
// uses the same Redis and prefix. Each Take is one atomic Lua script run
// (EVALSHA; EVAL once more if the server answers NOSCRIPT, after a restart
// or SCRIPT FLUSH), so it costs exactly one round trip. Keys are prefix +
// key and expire when they carry no state (PEXPIRE = time until the TAT).
// Time is the Redis server's, so the replicas' clocks do not matter.
//
// Take honours ctx only if the client does: create the client with
// ContextTimeoutEnabled (or read and write timeouts no longer than the
// time you are willing to wait), and wrap the store in a Fallback, which
// bounds every call. The client may be a *redis.Client, *redis.Ring or
// *redis.ClusterClient (one key per script, so any slot). It is safe for
// concurrent use.
type Redis struct {
	client redis.UniversalClient
	prefix string
}

// NewRedis returns a Redis store using client, which it does not own: the
// caller closes it. It panics if client is nil.
func NewRedis(client redis.UniversalClient, opts ...RedisOption) *Redis {
	if client == nil {
		panic("ratelimit: nil Redis client")
	}
	o := redisOptions{prefix: "portcullis:rl:"}
	for _, opt := range opts {
		opt(&o)
	}
	return &Redis{client: client, prefix: o.prefix}
}

// Prefix returns the key namespace.
func (r *Redis) Prefix() string { return r.prefix }

// Take takes n cells of l for key if they are free now. It returns
// ErrInvalidLimit for an invalid l or n, and the client's error (wrapped)
// when Redis cannot be reached or answers with an error. It is safe for
// concurrent use.
func (r *Redis) Take(ctx context.Context, key string, l Limit, n int) (Result, error) {
	if err := check(l, n); err != nil {
		return Result{}, err
	}
	c, err := r.take(ctx, key, l, int64(n), int64(n))
	if err != nil {
		return Result{}, err
	}
	return c.result(l, time.Microsecond), nil
}

// take runs the script for between min and want cells.
func (r *Redis) take(ctx context.Context, key string, l Limit, want, min int64) (cells, error) {
	keys := []string{r.prefix + key}
	t := max(int64(l.Interval()/time.Microsecond), 1)
	args := []any{t, int64(l.Burst), want, min}
	v, err := r.client.EvalSha(ctx, gcraSHA, keys, args...).Int64Slice()
	if err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") {
		v, err = r.client.Eval(ctx, gcraScript, keys, args...).Int64Slice()
	}
	if err != nil {
		return cells{}, fmt.Errorf("ratelimit: redis: %w", err)
	}
	if len(v) != 4 {
		return cells{}, fmt.Errorf("ratelimit: redis: script returned %d values, want 4", len(v))
	}
	return cells{granted: v[0], remaining: v[1], retry: v[2], reset: v[3]}, nil
}
