package config

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/portcullis/portcullis/gateway/devcerts"
)

// TestDocumentedExample keeps docs/configuration.md true: its two example
// blocks (the first is testdata/gateway.yaml, see TestReferenceExample)
// parse and validate together, in a workspace holding the files they name.
func TestDocumentedExample(t *testing.T) {
	doc, err := os.ReadFile("../../docs/configuration.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## Example.*?```yaml\n(.*?)```.*?```yaml\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/configuration.md has no two yaml blocks under ## Example")
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
	text := append(append([]byte{}, m[1]...), m[2]...)
	if _, err := Parse(filepath.Join(dir, "gateway.yaml"), text); err != nil {
		t.Errorf("the documented example does not parse:\n%v", err)
	}
}
