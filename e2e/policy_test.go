package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestPolicyToolsWithConfig runs `portcullis policy test` and `policy
// show` with and without --config: a configuration whose sensitivity block
// makes confidential methods demand mTLS changes their verdicts, as it
// changes the gateway's.
func TestPolicyToolsWithConfig(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, l ...string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(lines(l...)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("gateway.yaml",
		"listeners:", "  grpc: {address: 127.0.0.1:0, plaintext: true}",
		"routes:", "  - {service: examples.bank.v1.BankService, backend: 127.0.0.1:9, plaintext: true}",
		"sensitivity:", "  confidential: {require_mtls: true}")
	write("bundle.yaml",
		`version: "e2e.1"`,
		"roles:", "  teller: {permissions: [bank.accounts.read]}",
		"bindings:", "  - {roles: [teller], users: [teller-1]}")
	// The verdicts the gateway with gateway.yaml gives.
	write("tests.yaml",
		"cases:",
		"  - {name: teller without a certificate, principal: {id: teller-1}, method: /examples.bank.v1.BankService/GetAccount, expect: deny}",
		"  - {name: teller over mTLS, principal: {id: teller-1, mtls: true}, method: /examples.bank.v1.BankService/GetAccount, expect: allow}")

	code, stdout, stderr := runPortcullis(t, dir, "policy", "test", "bundle.yaml", "tests.yaml", "--config", "gateway.yaml")
	if code != 0 || !strings.Contains(stdout, "2 passed, 0 failed") {
		t.Errorf("policy test --config gateway.yaml = exit %d, stdout %q, stderr %q, want 0 and 2 passed", code, stdout, stderr)
	}
	// Without the configuration nothing demands mTLS of GetAccount.
	code, stdout, _ = runPortcullis(t, dir, "policy", "test", "bundle.yaml", "tests.yaml")
	if code != 1 || !strings.Contains(stdout, "--- FAIL: teller without a certificate") || !strings.Contains(stdout, "1 passed, 1 failed") {
		t.Errorf("policy test without --config = exit %d, stdout %q, want 1 and the certificate-less case failed", code, stdout)
	}
	code, stdout, stderr = runPortcullis(t, dir, "policy", "show", "--config", "gateway.yaml", "--method", "/examples.bank.v1.BankService/GetAccount")
	if code != 0 || !strings.Contains(stdout, `"RequireMTLS": true`) {
		t.Errorf("policy show --config gateway.yaml --method GetAccount = exit %d, stdout %q, stderr %q, want RequireMTLS true", code, stdout, stderr)
	}
	// A configuration that does not load is an error naming the problem.
	write("bad.yaml", "listeners:", "  grpc: {address: 127.0.0.1:0, plaintext: true}", "sensitivity:", "  confidential: {require_mtls: maybe}")
	code, _, stderr = runPortcullis(t, dir, "policy", "test", "bundle.yaml", "tests.yaml", "--config", "bad.yaml")
	if code != 1 || !strings.Contains(stderr, "bad.yaml:4") {
		t.Errorf("policy test --config bad.yaml = exit %d, stderr %q, want 1 and the line of the bad value", code, stderr)
	}
}
