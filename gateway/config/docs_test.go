package config

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/portcullis/portcullis/gateway/devcerts"
)

// TestDocumentedExample keeps docs/configuration.md true: its "every key"
// example parses and validates (in a workspace holding the files it names).
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Example.*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/configuration.md has no yaml block under ## Example")
	}
	dir := t.TempDir()
	files, err := devcerts.Generate(filepath.Join(dir, "certs"))
	if err != nil {
		t.Fatal(err)
	}
	write := func(name string, data []byte) {
		t.Helper()
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"api.binpb", "policy.yaml", "bundle.yaml", "keys/bundle-signing.pub", "secrets/audit-db-password"} {
		write(f, []byte("x"))
	}
	for name, src := range map[string]string{"certs/gateway-client.pem": files.Server.Cert, "certs/gateway-client-key.pem": files.Server.Key} {
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		write(name, data)
	}
	if _, err := Parse(filepath.Join(dir, "gateway.yaml"), m[1]); err != nil {
		t.Errorf("the documented example does not parse:\n%v", err)
	}
}
