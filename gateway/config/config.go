package config

import (
	"log/slog"
	"time"

	"github.com/portcullis/portcullis/gateway/tlsconfig"
)

// Defaults and limits applied by Parse and Validate.
const (
	DefaultShutdownTimeout = 15 * time.Second
	DefaultConnectTimeout  = 5 * time.Second
	DefaultTimeout         = 30 * time.Second
	DefaultMaxMessageBytes = 4 << 20  // 4 MiB, grpc-go's default receive limit
	MaxMessageBytes        = 64 << 20 // 64 MiB, the largest max_*_bytes accepted
)

// Config is the whole configuration file. Build it with Load or Parse; a
// Config assembled in Go must set every field (there are no implicit
// defaults outside Parse) and pass Validate.
type Config struct {
	// Listeners are the gateway's network listeners. listeners.grpc is
	// required; listeners.http and listeners.admin are optional.
	Listeners Listeners `yaml:"listeners"`
	// Routes map fully qualified proto services to backends. A call to a
	// service without a route fails with Unimplemented and is not forwarded.
	Routes []Route `yaml:"routes"`
	// Descriptors name the compiled descriptor sets and policy files that
	// describe the routed services.
	Descriptors []Descriptor `yaml:"descriptors"`
	// ShutdownTimeout (shutdown_timeout) bounds a graceful shutdown: after it,
	// remaining calls are cancelled. Default 15s; must be > 0.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// Log configures the gateway's own logs (not the audit log).
	Log Log `yaml:"log"`
	// Runtime (runtime) tunes the Go runtime of the gateway process: the
	// garbage collector's target and heap floor, and a soft memory limit.
	Runtime Runtime `yaml:"runtime"`
	// Identity (identity) configures authentication. Without it every
	// protected method is refused with Unauthenticated.
	Identity *Identity `yaml:"identity"`
	// Bundle (bundle) is the policy bundle file: roles, subject bindings and
	// API key hashes, validated against the compiled permission catalog.
	Bundle string `yaml:"bundle"`
	// BundleDir (bundle_dir) is a directory of bundle versions; the
	// lexically last *.yaml is live. Exclusive with bundle and bundle_url.
	BundleDir string `yaml:"bundle_dir"`
	// BundleURL (bundle_url) is an https URL polled with ETag/If-None-Match.
	BundleURL string `yaml:"bundle_url"`
	// BundleClient (bundle_client) is how bundle_url is fetched: the CAs to
	// trust and a client certificate for a server behind mTLS.
	BundleClient *HTTPSClient `yaml:"bundle_client"`
	// BundlePollInterval (bundle_poll_interval) is how often the bundle
	// source is polled besides file watching. Default 10s (30s for a URL).
	BundlePollInterval time.Duration `yaml:"bundle_poll_interval"`
	// BundleTrustedKeys (bundle_trusted_keys) are Ed25519 public key files
	// (PEM): when set, only bundles signed by one of them (FILE.sig, from
	// `portcullis policy sign`) are accepted.
	BundleTrustedKeys []string `yaml:"bundle_trusted_keys"`
	// BundleHistory (bundle_history) is how many good versions are kept
	// for rollback. Default 10.
	BundleHistory int64 `yaml:"bundle_history"`
	// Grants (grants) give permissions to service identities directly; the
	// only way to hold an internal permission.
	Grants []Grant `yaml:"grants"`
	// Assertion (assertion) makes the gateway sign a short-lived identity
	// assertion onto every forwarded call (metadata x-portcullis-assertion),
	// which backends verify with interceptors/backend against the keys the
	// admin listener publishes at /.well-known/portcullis-jwks.json.
	// Without it no assertion is sent.
	Assertion *Assertion `yaml:"assertion"`
	// TrustedProxies (trusted_proxies) are the CIDRs of proxies in front of
	// the gateway whose forwarding header (forwarded_header) is believed,
	// read right to left. The client address they give is the one every
	// stage sees: API-key cidrs, context.client_ip in conditions,
	// client-IP rate limits and the audit record. Default none: the client
	// address is always the TCP peer (for REST, the HTTP client).
	TrustedProxies []string `yaml:"trusted_proxies"`
	// ForwardedHeader (forwarded_header) is the header trusted proxies set:
	// x-forwarded-for (default) or forwarded (RFC 7239). Only that one is
	// read, so a client cannot pick its address by sending the other.
	ForwardedHeader string `yaml:"forwarded_header"`
	// Sensitivity (sensitivity) maps data sensitivity classes to what
	// every protected method of the class demands (mTLS, a bound token,
	// credential kinds, a persisted audit record), configured once for
	// the deployment.
	Sensitivity *Sensitivity `yaml:"sensitivity"`
	// RateLimits (rate_limits) chooses where rate-limit counters live.
	// Default: in memory, per replica.
	RateLimits *RateLimits `yaml:"rate_limits"`
	// Audit (audit) configures the audit log. Without it no audit records
	// are written.
	Audit *Audit `yaml:"audit"`
	// Signatures (signatures) tunes the verification of signed requests
	// (methods with require_signature, API keys with require_signature).
	// Verification is always on; this block only changes its window and
	// where used nonces are remembered.
	Signatures *Signatures `yaml:"signatures"`
	// Secrets (secrets) configures how secret references (env:NAME,
	// file:PATH, vault:MOUNT/PATH#FIELD) are resolved. Every
	// secret-bearing setting holds a reference; a literal secret is an
	// error.
	Secrets *Secrets `yaml:"secrets"`
	// Tracing (tracing) decides whether the gateway starts a W3C trace for
	// calls that come without one. A client's own trace context always
	// passes unchanged.
	Tracing *Tracing `yaml:"tracing"`

	src *source // positions of the keys, for error messages; nil if built in Go
}

// Listeners holds the three listeners. A nil Listener is not started.
type Listeners struct {
	// GRPC (grpc) serves gRPC over HTTP/2; required.
	GRPC *Listener `yaml:"grpc"`
	// HTTP (http) serves the REST front (grpc-gateway) and the OpenAPI
	// document over HTTP/1.1 and HTTP/2; optional.
	HTTP *Listener `yaml:"http"`
	// Admin (admin) serves /metrics, /healthz and /readyz; optional.
	Admin *Listener `yaml:"admin"`
}

// Listener is one network listener: exactly one of TLS or Plaintext.
type Listener struct {
	// Address (address) is host:port to listen on, such as "0.0.0.0:8443",
	// "[::1]:8443" or ":8443" (all interfaces). Required; the port is numeric.
	Address string `yaml:"address"`
	// TLS (tls) serves TLS 1.2+ with the given certificate, optionally
	// verifying client certificates (mTLS).
	TLS *ServerTLS `yaml:"tls"`
	// Plaintext (plaintext: true) serves without TLS. Only allowed when the
	// address host is a loopback IP (127.0.0.0/8, ::1) or "localhost".
	Plaintext bool `yaml:"plaintext"`
}

// ServerTLS is the TLS block of a listener; see tlsconfig.Server. The files
// are reloaded when they change.
type ServerTLS struct {
	// CertFile (cert_file) is the PEM certificate chain, leaf first. Required.
	CertFile string `yaml:"cert_file"`
	// KeyFile (key_file) is the PEM private key. Required.
	KeyFile string `yaml:"key_file"`
	// ClientCAFile (client_ca_file) is the PEM bundle client certificates
	// must chain to. Required when client_auth is optional or require, not
	// allowed when it is none.
	ClientCAFile string `yaml:"client_ca_file"`
	// ClientAuth (client_auth) is none (default), optional (a client
	// certificate is verified if sent) or require (one must be sent).
	ClientAuth string `yaml:"client_auth"`
	// MinVersion (min_version) is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
}

// Settings converts the block for tlsconfig.NewServer.
func (t *ServerTLS) Settings() tlsconfig.Server {
	return tlsconfig.Server{CertFile: t.CertFile, KeyFile: t.KeyFile, ClientCAFile: t.ClientCAFile, ClientAuth: t.ClientAuth, MinVersion: t.MinVersion}
}

// Route sends every method of one proto service to one backend.
type Route struct {
	// Service (service) is the fully qualified proto service name, such as
	// "bank.v1.Accounts". Required; unique across routes.
	Service string `yaml:"service"`
	// Backend (backend) is the backend's host:port. Required.
	Backend string `yaml:"backend"`
	// TLS (tls) connects to the backend over TLS, optionally presenting a
	// client certificate (mTLS). Exactly one of tls or plaintext.
	TLS *ClientTLS `yaml:"tls"`
	// Plaintext (plaintext: true) connects without TLS. Only allowed when the
	// backend host is a loopback IP (127.0.0.0/8, ::1) or "localhost".
	Plaintext bool `yaml:"plaintext"`
	// ConnectTimeout (connect_timeout) bounds establishing a connection to
	// the backend. Default 5s; must be > 0.
	ConnectTimeout time.Duration `yaml:"connect_timeout"`
	// Timeout (timeout) is the deadline given to a call whose client sent
	// none (a client's own grpc-timeout is kept). Default 30s; must be > 0.
	Timeout time.Duration `yaml:"timeout"`
	// MaxRequestBytes (max_request_bytes) is the largest request message
	// accepted from clients, in bytes. Default 4 MiB (4194304); 1 to 64 MiB.
	MaxRequestBytes int64 `yaml:"max_request_bytes"`
	// MaxResponseBytes (max_response_bytes) is the largest response message
	// accepted from the backend, in bytes. Default 4 MiB; 1 to 64 MiB.
	MaxResponseBytes int64 `yaml:"max_response_bytes"`
	// ForwardCredentials (forward_credentials: true) passes the client's
	// credentials, the "authorization" and "x-api-key" metadata, on to the
	// backend. Default false: the gateway removes them from every call it
	// forwards, so that no backend (nor its logs) holds a bearer token or
	// an API key secret it could replay against the gateway; the backend
	// learns the caller from the identity assertion (assertion:).
	ForwardCredentials bool `yaml:"forward_credentials"`
}

func (r *Route) setDefaults() {
	r.ConnectTimeout = DefaultConnectTimeout
	r.Timeout = DefaultTimeout
	r.MaxRequestBytes = DefaultMaxMessageBytes
	r.MaxResponseBytes = DefaultMaxMessageBytes
}

// ClientTLS is the TLS block of a route; see tlsconfig.Client. The files are
// reloaded when they change.
type ClientTLS struct {
	// CAFile (ca_file) is the PEM bundle the backend certificate must chain
	// to. Default: the system roots.
	CAFile string `yaml:"ca_file"`
	// CertFile (cert_file) and KeyFile (key_file) are the gateway's client
	// certificate and key for mTLS; both or neither.
	CertFile string `yaml:"cert_file"`
	KeyFile  string `yaml:"key_file"`
	// ServerName (server_name) is the name the backend certificate must be
	// valid for, also sent as SNI. Default: the host part of backend.
	ServerName string `yaml:"server_name"`
	// MinVersion (min_version) is "1.2" (default) or "1.3".
	MinVersion string `yaml:"min_version"`
}

// Settings converts the block for tlsconfig.NewClient.
func (t *ClientTLS) Settings() tlsconfig.Client {
	return tlsconfig.Client{CAFile: t.CAFile, CertFile: t.CertFile, KeyFile: t.KeyFile, ServerName: t.ServerName, MinVersion: t.MinVersion}
}

// Descriptor names a compiled descriptor set and the policy for its services.
type Descriptor struct {
	// File (file) is a binary FileDescriptorSet, as written by
	// `buf build -o api.binpb`. Required; must exist.
	File string `yaml:"file"`
	// Policy (policy) is a YAML policy file for the services in File.
	// Optional; must exist if set.
	Policy string `yaml:"policy"`
}

// Log configures the gateway's own logs.
type Log struct {
	// Level (level) is debug, info (default), warn or error.
	Level string `yaml:"level"`
	// Format (format) is json (default) or text.
	Format string `yaml:"format"`
}

// DefaultGCPercent is the garbage collector's target when neither
// runtime.gc_percent nor the GOGC environment variable sets one: Go's own,
// which collects whenever the heap doubles past the live heap. A larger
// target (400 measured about 17% less CPU per request) also lets garbage
// pile up that much more under a flood: the e2e rapid-reset attack grew
// the gateway's RSS by 204 MiB at 400 against 47 MiB at 100 (the suite's
// bound is 200 MiB). The default saves CPU with a bounded heap floor
// instead (DefaultGCMinHeapBytes); a larger target is the opt-in
// (configuration.md).
const DefaultGCPercent = 100

// Runtime tunes the Go runtime of the gateway process. `portcullis serve`
// and `portcullis demo` apply it at start-up (see ApplyRuntime); a gateway
// embedded as a library leaves the process's settings alone.
type Runtime struct {
	// GCPercent (gc_percent) is the garbage collector's target (GOGC): how
	// far, in percent of the live heap, the heap grows before the next
	// collection. 0 (default): the GOGC environment variable when set, else
	// DefaultGCPercent (100, Go's). -1 turns the collector off until
	// memory_limit_bytes (or GOMEMLIMIT) is reached, and requires one.
	// Otherwise 25..10000.
	GCPercent int64 `yaml:"gc_percent"`
	// MemoryLimitBytes (memory_limit_bytes) is the runtime's soft memory
	// limit (GOMEMLIMIT): near it the collector runs as often as it must
	// to stay under, whatever gc_percent says. 0 (default): the GOMEMLIMIT
	// environment variable when set, else 90% of the container's cgroup
	// memory limit when there is one, else none. At least 16 MiB.
	MemoryLimitBytes int64 `yaml:"memory_limit_bytes"`
	// GCMinHeapBytes (gc_min_heap_bytes) is the heap size below which the
	// garbage collector does not start a cycle: after each cycle the
	// gateway raises the collector's target above gc_percent for as long as
	// the live heap is under half of it. A gateway's live heap is a few MiB,
	// so at Go's default target alone it collects many times a second under
	// load; with the floor it collects far less often, using up to this much
	// heap, and a live heap past half of it collects at gc_percent as
	// before. 0 (default): DefaultGCMinHeapBytes, at most a quarter of the
	// soft memory limit when there is one; -1: none. Otherwise 4 MiB..16
	// GiB, at most half of memory_limit_bytes when that is set, and cut to
	// half of a soft limit from GOMEMLIMIT or the container. It has no
	// effect with gc_percent -1.
	GCMinHeapBytes int64 `yaml:"gc_min_heap_bytes"`
}

// DefaultGCMinHeapBytes is the heap floor when runtime.gc_min_heap_bytes is
// 0: with it the gateway's CPU per request measured about a fifth lower
// under the benchmark harness's load (bench/README.md), and the e2e abuse
// suite's floods stay within their memory bound.
const DefaultGCMinHeapBytes = 64 << 20

// SlogLevel returns Level as a slog.Level (info if Level is not valid).
func (l Log) SlogLevel() slog.Level {
	switch l.Level {
	case "debug":
		return slog.LevelDebug
	case "warn":
		return slog.LevelWarn
	case "error":
		return slog.LevelError
	}
	return slog.LevelInfo
}

func (c *Config) setDefaults() {
	c.ShutdownTimeout = DefaultShutdownTimeout
	c.Log = Log{Level: "info", Format: "json"}
}
