package bundle

import (
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/policy"
)

func TestManagerRollbackAndActivate(t *testing.T) {
	src := newMemSource(bankYAML("v1"), nil)
	m, l := newTestManager(t, src)
	ctx := testContext(t)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v2", "v3"} {
		src.set(bankYAML(v), nil)
		if err := m.Reload(ctx); err != nil {
			t.Fatalf("Reload(%s) = %v, want nil", v, err)
		}
	}
	steps := []struct {
		name   string
		do     func() error
		ok     bool
		active string
		pinned bool
	}{
		{"rollback", m.Rollback, true, "v2", true},
		{"rollback again", m.Rollback, true, "v1", true},
		{"nothing older", m.Rollback, false, "v1", true},
		{"activate v3", func() error { return m.Activate("v3") }, true, "v3", false},
		{"activate unknown", func() error { return m.Activate("v9") }, false, "v3", false},
		{"activate v1", func() error { return m.Activate("v1") }, true, "v1", true},
		{"unchanged source keeps the choice", func() error { return m.Reload(ctx) }, true, "v1", true},
		{"a new version wins", func() error { src.set(bankYAML("v4"), nil); return m.Reload(ctx) }, true, "v4", false},
	}
	for _, s := range steps {
		t.Run(s.name, func(t *testing.T) {
			if err := s.do(); (err == nil) != s.ok {
				t.Errorf("%s() = %v, want ok=%v", s.name, err, s.ok)
			}
			st := m.Status()
			if l.version() != s.active || st.Active.Version != s.active || st.Pinned != s.pinned {
				t.Errorf("after %s: active %q (status %q, pinned %v), want %q pinned %v", s.name, l.version(), st.Active.Version, st.Pinned, s.active, s.pinned)
			}
		})
	}
	var got []string
	for _, v := range m.Versions() {
		got = append(got, fmt.Sprintf("%s:%v", v.Version, v.Active))
	}
	if want := "[v1:false v2:false v3:false v4:true]"; fmt.Sprint(got) != want {
		t.Errorf("Versions() = %v, want %s", got, want)
	}
}

func TestManagerHistoryBounded(t *testing.T) {
	src := newMemSource(bankYAML("v1"), nil)
	m, _ := newTestManager(t, src, WithHistory(3))
	ctx := testContext(t)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	load := func(v string) {
		t.Helper()
		src.set(bankYAML(v), nil)
		if err := m.Reload(ctx); err != nil {
			t.Fatalf("Reload(%s) = %v, want nil", v, err)
		}
	}
	versions := func() string {
		var out []string
		for _, v := range m.Versions() {
			out = append(out, v.Version)
		}
		return strings.Join(out, " ")
	}
	for _, v := range []string{"v2", "v3", "v4", "v5", "v6"} {
		load(v)
	}
	if got, want := versions(), "v4 v5 v6"; got != want {
		t.Errorf("Versions() = %s, want %s", got, want)
	}
	if err := m.Activate("v1"); err == nil {
		t.Errorf("Activate(v1) = nil, want an error (dropped from history)")
	}
	if err := m.Activate("v4"); err != nil {
		t.Fatal(err)
	}
	load("v7")
	if got, want := versions(), "v5 v6 v7"; got != want {
		t.Errorf("Versions() = %s, want %s", got, want)
	}
}

func TestManagerReusesKnownContent(t *testing.T) {
	reg := bankRegistry(t)
	compiles := 0
	compile := engineCompile(reg)
	l := &live{}
	src := newMemSource(bankYAML("v1"), nil)
	m, err := NewManager(src, reg, func(b *policy.Bundle) (any, error) { compiles++; return compile(b) }, l.activate,
		WithLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	ctx := testContext(t)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"v2", "v1", "v2"} {
		src.set(bankYAML(v), nil)
		if err := m.Reload(ctx); err != nil || l.version() != v {
			t.Fatalf("Reload(%s) = %v, active %q, want nil and %s", v, err, l.version(), v)
		}
	}
	if compiles != 2 {
		t.Errorf("compile calls = %d, want 2 (a version that comes back is not compiled again)", compiles)
	}
}
