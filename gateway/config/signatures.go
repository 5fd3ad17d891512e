package config

import "time"

// Signatures tunes the verification of signed client requests. The keys
// come from the policy bundle (signing_keys); which calls must be signed
// from the method policies (require_signature) and the API keys.
type Signatures struct {
	// Window (window) is how far a signature's created time may be from
	// the gateway's clock, in either direction, and how long a nonce is
	// remembered. Default 5m; at most 1h.
	Window time.Duration `yaml:"window"`
	// NonceStore (nonce_store) is memory (default; per replica, so a
	// request could be replayed once against each other replica) or redis
	// (shared by every replica; uses the rate_limits.redis connection,
	// which rate_limits.store: redis must configure).
	NonceStore string `yaml:"nonce_store"`
	// MemoryNonces (memory_nonces) bounds the in-memory nonce cache.
	// When it is full of unexpired nonces, signed calls are refused until
	// some expire (a nonce is never forgotten early). Default 1048576.
	MemoryNonces int64 `yaml:"memory_nonces"`
}

func (s *Signatures) setDefaults() { *s = DefaultSignatures() }

// DefaultSignatures is the signatures block in force when the
// configuration has none: a 5m window, in-memory nonces, 1048576 of them.
func DefaultSignatures() Signatures {
	return Signatures{Window: 5 * time.Minute, NonceStore: NonceStoreMemory, MemoryNonces: 1 << 20}
}

// Nonce stores.
const (
	NonceStoreMemory = "memory"
	NonceStoreRedis  = "redis"
)

func (v *validator) signatures(c *Config) {
	s := c.Signatures
	if s == nil {
		return
	}
	v.positive("signatures.window", s.Window)
	if s.Window > time.Hour {
		v.add("signatures.window", "at most 1h (a long window keeps replayable signatures alive), got %v", s.Window)
	}
	v.oneOf("signatures.nonce_store", s.NonceStore, NonceStoreMemory, NonceStoreRedis)
	if s.NonceStore == NonceStoreRedis && (c.RateLimits == nil || c.RateLimits.Store != "redis") {
		v.add("signatures.nonce_store", "redis shares the rate_limits.redis connection: set rate_limits.store: redis and rate_limits.redis")
	}
	if s.MemoryNonces < 1 {
		v.add("signatures.memory_nonces", "must be at least 1, got %d", s.MemoryNonces)
	}
}
