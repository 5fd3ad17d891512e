package backend

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// Option configures a Verifier.
type Option func(*options)

type options struct {
	exempt     []string
	replayMax  int
	logger     *slog.Logger
	httpClient *http.Client
	now        func() time.Time
}

func evaluateOptions(opts []Option) *options {
	o := &options{
		logger: slog.New(slog.DiscardHandler),
		now:    time.Now,
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithExemptMethods lets calls to the given methods through without an
// assertion, untouched: typically the health service, which the
// orchestrator calls directly. Each entry is a full method name
// ("/grpc.health.v1.Health/Check") or a whole service ("/grpc.health.v1.Health/*").
// New refuses any other form. By default no method is exempt. Options
// accumulate.
func WithExemptMethods(methods ...string) Option {
	return func(o *options) { o.exempt = append(o.exempt, methods...) }
}

// WithReplayProtection refuses an assertion whose jti was already
// accepted, remembering up to maxEntries ids in memory until their exp
// (plus leeway). When the memory is full of unexpired ids, calls are
// refused (fail closed) and a warning is logged: size it above the
// backend's peak calls per assertion lifetime. 0, the default, disables
// replay protection; the assertion's short lifetime and its binding to one
// method and audience are then the only limit on replay. Each replica of a
// backend remembers only what it saw. New refuses a negative maxEntries.
func WithReplayProtection(maxEntries int) Option {
	return func(o *options) { o.replayMax = maxEntries }
}

// WithLogger sets the logger that receives, at slog.LevelDebug, the precise
// reason of every refusal (never sent to the client), and at
// slog.LevelWarn, key set load problems and a full replay cache. The
// default discards everything. A nil logger keeps the default.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithHTTPClient sets the client that fetches Config.JWKSURL, e.g. one
// trusting the gateway admin listener's private CA. The default is a
// client of its own that follows only https (or loopback http) redirects.
// Each fetch is bounded by Config.FetchTimeout either way. A nil client
// keeps the default.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.httpClient = c
		}
	}
}

// WithClock sets the time source for exp and iat checks, replay expiry and
// refresh bounds, for tests. The default is time.Now. A nil clock keeps the
// default.
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.now = now
		}
	}
}

// exemption is the compiled WithExemptMethods list.
type exemption struct {
	methods  map[string]bool
	services map[string]bool // "/pkg.Service/" prefixes
}

func newExemption(list []string) (exemption, error) {
	e := exemption{methods: map[string]bool{}, services: map[string]bool{}}
	for _, m := range list {
		if svc, ok := strings.CutSuffix(m, "/*"); ok && ServiceName(svc+"/x") != "" {
			e.services[svc+"/"] = true
			continue
		}
		if ServiceName(m) == "" {
			return e, fmt.Errorf(`backend: WithExemptMethods(%q): not "/package.Service/Method" or "/package.Service/*"`, m)
		}
		e.methods[m] = true
	}
	return e, nil
}

func (e exemption) has(fullMethod string) bool {
	if len(e.methods) == 0 && len(e.services) == 0 {
		return false
	}
	if e.methods[fullMethod] {
		return true
	}
	if i := strings.LastIndexByte(fullMethod, '/'); i > 0 {
		return e.services[fullMethod[:i+1]]
	}
	return false
}
