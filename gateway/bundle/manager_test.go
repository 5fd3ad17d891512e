package bundle

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/policy"
)

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestManagerStartAndClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	src := newMemSource(bankYAML("v1"), nil)
	m, l := newTestManager(t, src)
	if err := m.Start(testContext(t)); err != nil {
		t.Fatalf("Start() = %v, want nil", err)
	}
	if got := l.version(); got != "v1" {
		t.Errorf("activated version = %q, want v1", got)
	}
	if b, c := m.Current(); b == nil || b.Version != "v1" || c == nil {
		t.Errorf("Current() = %v, %v, want v1 and its engine", b, c)
	}
	st := m.Status()
	if st.Active.Version != "v1" || !st.Active.Active || st.Source != "mem" || st.LastError != nil || st.Pinned || st.Activations != 1 ||
		!strings.HasPrefix(st.Active.Digest, "sha256:") || st.ActiveSince.IsZero() || st.LastCheck.IsZero() {
		t.Errorf("Status() = %+v, want v1 active from mem, no error", st)
	}
	src.set(bankYAML("v2"), nil)
	eventually(t, "v2 to become active through Watch", func() bool { return l.version() == "v2" })
	if err := m.Start(testContext(t)); err == nil {
		t.Errorf("Start(again) = nil, want an error")
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close() = %v, want nil", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close(again) = %v, want nil", err)
	}
}

func TestManagerStartInvalid(t *testing.T) {
	defer goleak.VerifyNone(t)
	m, l := newTestManager(t, newMemSource([]byte("version: v1\nrolez: {}\n"), nil))
	err := m.Start(testContext(t))
	if err == nil || !strings.Contains(err.Error(), `unknown field "rolez"`) {
		t.Errorf("Start(invalid) = %v, want the parse error", err)
	}
	if b, _ := m.Current(); b != nil || l.version() != "" {
		t.Errorf("Current() = %v, want nothing active after a failed start", b)
	}
}

func TestManagerKeepsLastGood(t *testing.T) {
	var logs syncBuffer
	var mu sync.Mutex
	var events []Event
	src := newMemSource(bankYAML("v1"), nil)
	m, l := newTestManager(t, src, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
		WithEventFunc(func(e Event) { mu.Lock(); events = append(events, e); mu.Unlock() }))
	ctx := testContext(t)
	if err := m.Start(ctx); err != nil {
		t.Fatalf("Start() = %v, want nil", err)
	}
	tests := []struct {
		name  string
		data  []byte
		fetch error
		stage string
		want  string
	}{
		{"yaml syntax", []byte("version: [\n"), nil, StageParse, "mem.yaml"},
		{"unknown key", []byte("version: v9\nrolez: {}\n"), nil, StageParse, `unknown field "rolez"`},
		{"unknown permission", bankYAML("v9", "bank.nope"), nil, StageParse, `mem.yaml:4: roles.teller.permissions[0]: unknown permission "bank.nope"`},
		{"bad condition", []byte("version: v9\nroles:\n  r:\n    permissions: [bank.quotes.read]\n    condition: principal.rolez == 1\n"), nil, StageCompile, "role r: condition"},
		{"version reused", bankYAML("v1", "bank.accounts.list"), nil, StageVersion, `version "v1" is already loaded with other content`},
		{"fetch error", nil, errors.New("disk on fire"), StageFetch, "disk on fire"},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.fetch != nil {
				src.fail(tt.fetch)
			} else {
				src.set(tt.data, nil)
			}
			err := m.Reload(ctx)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("Reload(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
			if got := l.version(); got != "v1" {
				t.Errorf("active version = %q, want v1 (a bad bundle never replaces a good one)", got)
			}
			st := m.Status()
			if st.Active.Version != "v1" || st.LastError == nil || st.LastError.Error() != err.Error() || st.LastErrorAt.IsZero() || st.Rejections == 0 {
				t.Errorf("Status() = %+v, want v1 active and LastError %v", st, err)
			}
			mu.Lock()
			last := events[len(events)-1]
			mu.Unlock()
			if last.Stage != tt.stage || last.Err == nil {
				t.Errorf("last Event = %+v, want stage %s with an error", last, tt.stage)
			}
			if !strings.Contains(logs.String(), "policy bundle rejected") {
				t.Errorf("log = %q, want a rejection", logs.String())
			}
			if i == 0 { // the same bad content again is no new attempt, and the same error
				if again := m.Reload(ctx); again == nil || again.Error() != err.Error() {
					t.Errorf("Reload(unchanged) = %v, want %v", again, err)
				}
			}
		})
	}
	src.set(bankYAML("v2"), nil)
	if err := m.Reload(ctx); err != nil {
		t.Fatalf("Reload(v2) = %v, want nil", err)
	}
	if st := m.Status(); st.Active.Version != "v2" || st.LastError != nil {
		t.Errorf("Status() = %+v, want v2 active and no error", st)
	}
}

func TestManagerSignatures(t *testing.T) {
	pub, priv, _ := GenerateKey()
	_, otherPriv, _ := GenerateKey()
	v1 := bankYAML("v1")
	src := newMemSource(v1, Sign(v1, priv))
	m, l := newTestManager(t, src, WithTrustedKeys(pub))
	ctx := testContext(t)
	if err := m.Start(ctx); err != nil {
		t.Fatalf("Start(signed) = %v, want nil", err)
	}
	if got := m.Status().Active.KeyID; got != KeyID(pub) {
		t.Errorf("Status().Active.KeyID = %q, want %q", got, KeyID(pub))
	}
	v2 := bankYAML("v2")
	tests := []struct {
		name    string
		data    []byte
		sig     []byte
		want    error
		version string
	}{
		{"unsigned", v2, nil, ErrUnsigned, "v1"},
		{"wrong key", v2, Sign(v2, otherPriv), ErrUntrustedKey, "v1"},
		{"tampered", bankYAML("v2", "bank.accounts.list"), Sign(v2, priv), ErrBadSignature, "v1"},
		{"valid", v2, Sign(v2, priv), nil, "v2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src.set(tt.data, tt.sig)
			err := m.Reload(ctx)
			if tt.want == nil && err != nil || tt.want != nil && !errors.Is(err, tt.want) {
				t.Errorf("Reload(%s) = %v, want %v", tt.name, err, tt.want)
			}
			if got := l.version(); got != tt.version {
				t.Errorf("active version = %q, want %q", got, tt.version)
			}
		})
	}
}

func TestManagerCompilePanic(t *testing.T) {
	reg := bankRegistry(t)
	l := &live{}
	calls := 0
	compile := engineCompile(reg)
	src := newMemSource(bankYAML("v1"), nil)
	m, _ := NewManager(src, reg, func(b *policy.Bundle) (any, error) {
		if calls++; calls > 1 {
			panic("boom")
		}
		return compile(b)
	}, l.activate, WithLogger(slog.New(slog.DiscardHandler)))
	defer m.Close()
	ctx := testContext(t)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	src.set(bankYAML("v2"), nil)
	if err := m.Reload(ctx); err == nil || !strings.Contains(err.Error(), "compile panicked: boom") {
		t.Errorf("Reload(panicking compile) = %v, want the panic as an error", err)
	}
	if l.version() != "v1" {
		t.Errorf("active version = %q, want v1", l.version())
	}
}

func TestNewManagerErrors(t *testing.T) {
	reg := bankRegistry(t)
	compile, act := engineCompile(reg), (&live{}).activate
	src := newMemSource(nil, nil)
	tests := []struct {
		name string
		opts []Option
	}{
		{"history 0", []Option{WithHistory(0)}},
		{"short key", []Option{WithTrustedKeys([]byte("short"))}},
		{"nil logger", []Option{WithLogger(nil)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewManager(src, reg, compile, act, tt.opts...); err == nil {
				t.Errorf("NewManager(%s) = nil error, want an error", tt.name)
			}
		})
	}
	if _, err := NewManager(nil, reg, compile, act); err == nil {
		t.Errorf("NewManager(nil source) = nil error, want an error")
	}
}
