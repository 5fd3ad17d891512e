package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/devcerts"
)

// workspace creates a directory holding dev certificates under certs/ and
// empty descriptor and policy files, as testdata/gateway.yaml expects.
func workspace(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, err := devcerts.Generate(filepath.Join(dir, "certs")); err != nil {
		t.Fatalf("devcerts.Generate() = %v, want nil", err)
	}
	for _, f := range []string{"api.binpb", "policy.yaml"} {
		if err := os.WriteFile(filepath.Join(dir, f), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestLoadFull(t *testing.T) {
	dir := workspace(t)
	data, err := os.ReadFile("testdata/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load(%q) = %v, want nil", path, err)
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	want := config.Config{
		Listeners: config.Listeners{
			GRPC: &config.Listener{Address: "0.0.0.0:8443", TLS: &config.ServerTLS{
				CertFile: p("certs/server.pem"), KeyFile: p("certs/server-key.pem"),
				ClientCAFile: p("certs/ca.pem"), ClientAuth: "optional", MinVersion: "1.2",
			}},
			HTTP:  &config.Listener{Address: "0.0.0.0:8080", TLS: &config.ServerTLS{CertFile: p("certs/server.pem"), KeyFile: p("certs/server-key.pem")}},
			Admin: &config.Listener{Address: "127.0.0.1:9090", Plaintext: true},
		},
		Routes: []config.Route{
			{
				Service: "bank.v1.Accounts", Backend: "localhost:9443",
				TLS: &config.ClientTLS{
					CAFile: p("certs/ca.pem"), CertFile: p("certs/gateway-client.pem"), KeyFile: p("certs/gateway-client-key.pem"),
					ServerName: "localhost", MinVersion: "1.3",
				},
				ConnectTimeout: 2 * time.Second, Timeout: 10 * time.Second,
				MaxRequestBytes: 1 << 20, MaxResponseBytes: 8 << 20,
			},
			{
				Service: "bank.v1.Transfers", Backend: "127.0.0.1:9444", Plaintext: true,
				ConnectTimeout: config.DefaultConnectTimeout, Timeout: config.DefaultTimeout,
				MaxRequestBytes: config.DefaultMaxMessageBytes, MaxResponseBytes: config.DefaultMaxMessageBytes,
			},
		},
		Descriptors:     []config.Descriptor{{File: p("api.binpb"), Policy: p("policy.yaml")}},
		ShutdownTimeout: 20 * time.Second,
		Log:             config.Log{Level: "info", Format: "json"},
	}
	check := func(name string, got, want any) {
		t.Helper()
		if !reflect.DeepEqual(got, want) {
			t.Errorf("Load(%q).%s = %+v, want %+v", path, name, got, want)
		}
	}
	check("Listeners.GRPC", cfg.Listeners.GRPC, want.Listeners.GRPC)
	check("Listeners.HTTP", cfg.Listeners.HTTP, want.Listeners.HTTP)
	check("Listeners.Admin", cfg.Listeners.Admin, want.Listeners.Admin)
	check("Routes", cfg.Routes, want.Routes)
	check("Descriptors", cfg.Descriptors, want.Descriptors)
	check("ShutdownTimeout", cfg.ShutdownTimeout, want.ShutdownTimeout)
	check("Log", cfg.Log, want.Log)
	if err := cfg.Validate(); err != nil {
		t.Errorf("Validate() after Load = %v, want nil", err)
	}
}

func TestParseDefaults(t *testing.T) {
	cfg, err := config.Parse("gateway.yaml", []byte(minimal))
	if err != nil {
		t.Fatalf("Parse(minimal) = %v, want nil", err)
	}
	r := cfg.Routes[0]
	got := []any{cfg.ShutdownTimeout, cfg.Log, r.ConnectTimeout, r.Timeout, r.MaxRequestBytes, r.MaxResponseBytes, cfg.Listeners.HTTP}
	want := []any{15 * time.Second, config.Log{Level: "info", Format: "json"}, 5 * time.Second, 30 * time.Second, int64(4 << 20), int64(4 << 20), (*config.Listener)(nil)}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("Parse(minimal) defaults = %v, want %v", got, want)
	}
}

// TestReferenceExample keeps the example in docs/configuration.md identical to the
// tested testdata/gateway.yaml (skipped once the reference has moved).
func TestReferenceExample(t *testing.T) {
	ref, err := os.ReadFile("../../docs/configuration.md")
	if os.IsNotExist(err) {
		t.Fatal("docs/configuration.md is missing")
	}
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```yaml\n(.*?)```").FindSubmatch(ref)
	if m == nil {
		t.Fatal("docs/configuration.md has no ```yaml block")
	}
	example, err := os.ReadFile("testdata/gateway.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if string(m[1]) != string(example) {
		t.Errorf("docs/configuration.md example differs from testdata/gateway.yaml")
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte(strings.Repeat("#", 2<<20)), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path string
		want string
	}{
		{filepath.Join(dir, "missing.yaml"), "config: open " + filepath.Join(dir, "missing.yaml") + ": no such file or directory"},
		{big, "config: " + big + ": larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(filepath.Base(tt.path), func(t *testing.T) {
			_, err := config.Load(tt.path)
			if err == nil || err.Error() != tt.want {
				t.Errorf("Load(%q) = %v, want %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestLoadResolvesRelativePaths(t *testing.T) {
	dir := workspace(t)
	doc := minimal + "descriptors:\n  - file: api.binpb\n"
	path := filepath.Join(dir, "gateway.yaml")
	if err := os.WriteFile(path, []byte(doc), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatalf("Load(%q) = %v, want nil", path, err)
	}
	if got, want := cfg.Descriptors[0].File, filepath.Join(dir, "api.binpb"); got != want {
		t.Errorf("Load(%q).Descriptors[0].File = %q, want %q", path, got, want)
	}
}

func TestValidateBuiltInGo(t *testing.T) {
	cfg := &config.Config{ShutdownTimeout: time.Second, Log: config.Log{Level: "info", Format: "text"}}
	want := "config: listeners.grpc: required"
	if err := cfg.Validate(); err == nil || err.Error() != want {
		t.Errorf("Validate(empty) = %v, want %q", err, want)
	}
}
