package bundle

import (
	"crypto/ed25519"
	"fmt"
	"log/slog"
	"time"
)

// Option configures NewManager.
type Option func(*options)

type options struct {
	trusted  []ed25519.PublicKey
	history  int
	log      *slog.Logger
	event    func(Event)
	debounce time.Duration
	now      func() time.Time
}

// DefaultHistory is how many good versions a Manager keeps for rollback
// unless WithHistory says otherwise.
const DefaultHistory = 10

func managerDefaults(opts []Option) (options, error) {
	o := options{history: DefaultHistory, log: slog.Default(), event: func(Event) {}, debounce: 100 * time.Millisecond, now: time.Now}
	for _, opt := range opts {
		opt(&o)
	}
	if o.history < 1 {
		return o, fmt.Errorf("bundle: history must keep at least 1 version, got %d", o.history)
	}
	for i, k := range o.trusted {
		if len(k) != ed25519.PublicKeySize {
			return o, fmt.Errorf("bundle: trusted key %d: %d bytes, want an Ed25519 public key (%d)", i, len(k), ed25519.PublicKeySize)
		}
	}
	if o.log == nil || o.event == nil || o.now == nil {
		return o, fmt.Errorf("bundle: nil logger, event function or clock")
	}
	return o, nil
}

// WithTrustedKeys makes the Manager accept only bundles signed by one of
// keys: an unsigned bundle, one signed by another key or one whose
// signature does not match is rejected like an invalid bundle. Default:
// none, and signatures are not checked.
func WithTrustedKeys(keys ...ed25519.PublicKey) Option {
	return func(o *options) { o.trusted = append(o.trusted, keys...) }
}

// WithHistory sets how many good versions are kept in memory for
// Activate and Rollback (the active one included). Default 10.
func WithHistory(n int) Option { return func(o *options) { o.history = n } }

// WithLogger sets where activations (Info) and rejected bundles (Error)
// are logged. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithEventFunc sets a function called after every activation and every
// rejected bundle, e.g. to count reloads in a metric by stage and result.
// It is called synchronously from the goroutine that loaded the bundle and
// must not block. Default: none.
func WithEventFunc(f func(Event)) Option { return func(o *options) { o.event = f } }

// WithDebounce sets how long the Manager waits after a change
// notification before fetching, so that a burst of file events (write,
// chmod, rename) costs one load. Default 100ms.
func WithDebounce(d time.Duration) Option { return func(o *options) { o.debounce = d } }

// WithClock sets the time source for LoadedAt and status times. Default
// time.Now.
func WithClock(now func() time.Time) Option { return func(o *options) { o.now = now } }

// Stages of a load, as reported in Event.Stage.
const (
	StageFetch     = "fetch"     // the source could not be read
	StageSignature = "signature" // unsigned, untrusted key or bad signature
	StageParse     = "parse"     // the bundle file is invalid
	StageVersion   = "version"   // the version label is reused for other content
	StageCompile   = "compile"   // the caller's compile function failed
	StageActivate  = "activate"  // a version became active (load, Activate, Rollback)
)

// Event reports one activation or one rejected bundle.
type Event struct {
	// Time is when it happened.
	Time time.Time
	// Stage is one of the Stage… constants: StageActivate with a nil Err
	// for an activation, the stage that failed otherwise.
	Stage string
	// Version is the version activated; "" for a rejected bundle (Err
	// names the file, and the version when it could be read).
	Version string
	// Source names where the bundle came from.
	Source string
	// Err is why the bundle was rejected; nil for an activation.
	Err error
}
