package config

import (
	"net/netip"
	"strings"
	"time"

	"github.com/portcullis/portcullis/gateway/secrets"
)

// RateLimits configures the rate-limit stage. Limits themselves come from
// the method policies; this block chooses where counters live.
type RateLimits struct {
	// Store (store) is memory (default; per replica) or redis (shared by
	// every replica using the same Redis).
	Store string `yaml:"store"`
	// Redis (redis) is the Redis connection when store is redis.
	Redis *Redis `yaml:"redis"`
	// Mode (mode) is exact (one Redis round trip per call, default) or
	// lease (each replica takes lease_size tokens at a time).
	Mode string `yaml:"mode"`
	// LeaseSize (lease_size) is the number of tokens a lease holds. Default 10.
	LeaseSize int64 `yaml:"lease_size"`
	// OnRedisDown (on_redis_down) is local (fall back to a per-replica limit,
	// default) or fail_closed (refuse limited methods while Redis is down).
	OnRedisDown string `yaml:"on_redis_down"`
	// TrustedProxies (trusted_proxies) moved to the top level, since the
	// client address they give is now the one every stage sees; setting it
	// here is an error that says so.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Shadow (shadow: true) counts and records every limit but refuses no
	// call, whatever the method policies say: for trying limits out on
	// live traffic (and for benchmarks). Default false.
	Shadow bool `yaml:"shadow"`
}

// Redis is a Redis connection.
type Redis struct {
	// Address (address) is host:port.
	Address string `yaml:"address"`
	// DB (db) is the database number. Default 0.
	DB int64 `yaml:"db"`
	// Prefix (prefix) namespaces every key. Default "portcullis:rl:".
	Prefix string `yaml:"prefix"`
	// Timeout (timeout) bounds one Redis call. Default 50ms.
	Timeout time.Duration `yaml:"timeout"`
	// Username (username) is the Redis ACL user. Default: none (the
	// default user); needs password.
	Username string `yaml:"username"`
	// Password (password) is a secret reference (env:NAME, file:PATH or
	// vault:PATH#FIELD), never the password itself. Each new connection
	// authenticates with its current value. Default: no AUTH.
	Password string `yaml:"password"`
}

// Audit configures the audit log. Without it the gateway writes no audit
// records.
type Audit struct {
	// QueueSize (queue_size) bounds the records waiting to be written.
	// Default 65536.
	QueueSize int64 `yaml:"queue_size"`
	// OnFull (on_full) is block (backpressure, default) or drop (counted,
	// with a gap record in the log).
	OnFull string `yaml:"on_full"`
	// BatchWait (batch_wait) is how long the writer collects records
	// before it writes a batch that is not full (1024 records). Longer
	// waits mean fewer writes per record. A crash of the process loses the
	// records queued and not yet written (up to about this long's worth,
	// plus the queue and a failing sink's retry buffer). The intent record
	// of a method that fails closed (RESTRICTED, audit required) is never
	// held back; its outcome record is. Keep queue_size above the record
	// rate times this wait, or the queue fills while the writer waits.
	// Default 10ms; 0s writes whatever is queued at once.
	BatchWait time.Duration `yaml:"batch_wait"`
	// File (file) writes JSON lines with hash chains.
	File *AuditFile `yaml:"file"`
	// Postgres (postgres) writes to a PostgreSQL table.
	Postgres *AuditPostgres `yaml:"postgres"`
}

// AuditFile is the JSON-lines sink.
type AuditFile struct {
	// Dir (dir) holds the segments (audit-<time>-<n>.jsonl); each is sealed
	// with a final hash when it is rotated. Created if missing.
	Dir string `yaml:"dir"`
	// MaxBytes (max_bytes) rotates the segment. Default 100 MiB.
	MaxBytes int64 `yaml:"max_bytes"`
	// FsyncInterval (fsync_interval) bounds how much a crash can lose.
	// Default 100ms; 0s syncs every batch.
	FsyncInterval time.Duration `yaml:"fsync_interval"`
}

// AuditPostgres is the PostgreSQL sink.
type AuditPostgres struct {
	// DSN (dsn) is a libpq connection string or URL, without a password:
	// one in the DSN is an error (use password).
	DSN string `yaml:"dsn"`
	// Password (password) is a secret reference (env:NAME, file:PATH or
	// vault:PATH#FIELD), used on each (re)connect. Default: none (the
	// server's other authentication, or a .pgpass file).
	Password string `yaml:"password"`
	// Table (table) name. Default portcullis_audit.
	Table string `yaml:"table"`
}

func (v *validator) limits(c *Config) {
	if rl := c.RateLimits; rl != nil {
		v.oneOf("rate_limits.store", rl.Store, "memory", "redis")
		v.oneOf("rate_limits.mode", rl.Mode, "exact", "lease")
		v.oneOf("rate_limits.on_redis_down", rl.OnRedisDown, "local", "fail_closed")
		if rl.Store == "redis" && (rl.Redis == nil || rl.Redis.Address == "") {
			v.add("rate_limits.redis.address", "required when store is redis")
		}
		if rl.Redis != nil && rl.Redis.Address != "" {
			v.hostPort("rate_limits.redis.address", rl.Redis.Address, false)
		}
		if rl.Redis != nil && rl.Redis.Username != "" && rl.Redis.Password == "" {
			v.add("rate_limits.redis.password", "required when username is set")
		}
		if rl.LeaseSize < 0 {
			v.add("rate_limits.lease_size", "must not be negative")
		}
		if len(rl.TrustedProxies) > 0 {
			v.add("rate_limits.trusted_proxies", "moved to the top-level trusted_proxies, which sets the client address of every stage (API-key cidrs, conditions, rate limits, audit)")
		}
	}
	for i, p := range c.TrustedProxies {
		if _, err := netip.ParsePrefix(p); err != nil {
			v.add(index("trusted_proxies", i), "invalid CIDR %q", p)
		}
	}
	if c.ForwardedHeader != "" {
		v.oneOf("forwarded_header", c.ForwardedHeader, "x-forwarded-for", "forwarded")
	}
	if a := c.Audit; a != nil {
		v.oneOf("audit.on_full", a.OnFull, "block", "drop")
		if a.File == nil && a.Postgres == nil {
			v.add("audit", "configure at least one sink: file or postgres")
		}
		if a.File != nil && a.File.Dir == "" {
			v.add("audit.file.dir", "required")
		}
		switch {
		case a.Postgres == nil:
		case a.Postgres.DSN == "":
			v.add("audit.postgres.dsn", "required")
		case dsnHasPassword(a.Postgres.DSN): // the DSN itself is never quoted
			v.add("audit.postgres.dsn", "a password in the DSN is not allowed; remove it and set audit.postgres.password to env:NAME, file:PATH or vault:PATH#FIELD")
		}
		if a.QueueSize < 0 {
			v.add("audit.queue_size", "must not be negative")
		}
		if a.BatchWait < 0 || a.BatchWait > time.Second {
			v.add("audit.batch_wait", "must be between 0s and 1s")
		}
	}
}

func (rl *RateLimits) setDefaults() {
	rl.Store, rl.Mode, rl.OnRedisDown, rl.LeaseSize = "memory", "exact", "local", 10
}

func (r *Redis) setDefaults() { r.Prefix, r.Timeout = "portcullis:rl:", 50*time.Millisecond }

func (a *Audit) setDefaults() {
	a.QueueSize, a.OnFull, a.BatchWait = 65536, "block", 10*time.Millisecond
}

func (f *AuditFile) setDefaults() { f.MaxBytes, f.FsyncInterval = 100<<20, 100*time.Millisecond }

func (p *AuditPostgres) setDefaults() { p.Table = "portcullis_audit" }

// Assertion configures the identity assertions attached to forwarded calls.
type Assertion struct {
	// Issuer (issuer) is the gateway's id, the iss backends check.
	// Default "portcullis".
	Issuer string `yaml:"issuer"`
	// KeyFile (key_file) is a PEM private key (Ed25519 or P-256); further
	// PEM blocks are older keys still published. It is refused when group
	// or others may access it (chmod 600). Default: a key generated at
	// start (suits a single gateway only).
	KeyFile string `yaml:"key_file"`
	// Key (key) is a secret reference (env:NAME, file:PATH or
	// vault:PATH#FIELD) to what key_file holds; at most one of key and
	// key_file. A refreshed value replaces the keys without a restart.
	Key string `yaml:"key"`
	// Lifetime (lifetime) of each assertion. Default 30s, at most 5m.
	Lifetime time.Duration `yaml:"lifetime"`
}

func (a *Assertion) setDefaults() { a.Issuer, a.Lifetime = "portcullis", 30*time.Second }

func (v *validator) assertion(c *Config) {
	a := c.Assertion
	if a == nil {
		return
	}
	switch {
	case a.KeyFile != "" && a.Key != "":
		v.add("assertion.key", "set only one of key and key_file")
	case a.KeyFile != "":
		// The checks of a file: secret (owner-only mode, regular file,
		// size), so that a readable key is a config error with a line.
		if _, err := secrets.ReadFile(a.KeyFile); err != nil {
			v.add("assertion.key_file", "%s", strings.TrimPrefix(err.Error(), "secrets: "))
		}
	}
	if a.Lifetime <= 0 || a.Lifetime > 5*time.Minute {
		v.add("assertion.lifetime", "must be between 1s and 5m")
	}
}
