package bundlecli

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

func bankRegistry(t *testing.T) *policy.Registry {
	t.Helper()
	reg, err := policy.NewRegistry(bankv1.File_examples_bank_v1_bank_proto_policy)
	if err != nil {
		t.Fatal(err)
	}
	return reg
}

// pinClock fixes the audit window and key expiry checks.
func pinClock(t *testing.T) {
	t.Helper()
	at := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	now = func() time.Time { return at }
	t.Cleanup(func() { now = time.Now })
}

// golden compares got with testdata/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\ngot:\n%s\nwant:\n%s", path, got, want)
	}
}

func td(name string) string { return filepath.Join("testdata", name) }

func TestGolden(t *testing.T) {
	pinClock(t)
	reg := bankRegistry(t)
	tests := []struct {
		name   string
		run    func([]string, *bytes.Buffer, *bytes.Buffer, *policy.Registry) int
		args   []string
		code   int
		golden string
	}{
		{"test", runTest, []string{td("new.yaml"), td("tests.yaml")}, 1, "test.golden"},
		{"test verbose", runTest, []string{"-v", td("new.yaml"), td("tests.yaml")}, 1, "test-v.golden"},
		{"test passing", runTest, []string{td("new.yaml"), td("tests-pass.yaml")}, 0, "test-pass.golden"},
		{"diff", runDiff, []string{td("old.yaml"), td("new.yaml")}, 0, "diff.golden"},
		{"diff reversed", runDiff, []string{td("new.yaml"), td("old.yaml")}, 0, "diff-reversed.golden"},
		{"diff same", runDiff, []string{td("old.yaml"), td("old.yaml")}, 0, "diff-same.golden"},
		{"diff json", runDiff, []string{td("old.yaml"), td("new.yaml"), "--json"}, 0, "diff.json.golden"},
		{"diff audit", runDiff, []string{td("old.yaml"), td("new.yaml"), "--audit", td("audit.jsonl"), td("audit-2.jsonl"), "--since", "720h"}, 0, "diff-audit.golden"},
		{"diff audit json", runDiff, []string{"--json", "--audit", td("audit.jsonl"), td("old.yaml"), td("new.yaml")}, 0, "diff-audit.json.golden"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := tt.run(tt.args, &stdout, &stderr, reg); code != tt.code {
				t.Errorf("Run(%v) = %d, want %d; stderr:\n%s", tt.args, code, tt.code, stderr.String())
			}
			if stderr.Len() > 0 {
				t.Errorf("Run(%v) wrote to stderr: %s", tt.args, stderr.String())
			}
			golden(t, tt.golden, stdout.Bytes())
		})
	}
}

func runTest(args []string, o, e *bytes.Buffer, reg *policy.Registry) int {
	return RunTest(args, o, e, static(reg))
}
func runDiff(args []string, o, e *bytes.Buffer, reg *policy.Registry) int {
	return RunDiff(args, o, e, static(reg))
}

// static loads reg whatever the path.
func static(reg *policy.Registry) PolicyLoader {
	return func(string) (*policy.Registry, error) { return reg, nil }
}

func TestRunTestInvalid(t *testing.T) {
	reg := bankRegistry(t)
	const get = "/examples.bank.v1.BankService/GetAccount"
	tests := []struct{ name, src, want string }{
		{"unknown key", "cases:\n  - name: a\n    principle: {id: x}\n", `tests.yaml: [3:5] unknown field "principle"`},
		{"unknown principal key", "cases:\n  - name: a\n    principal: {id: x, role: [a]}\n", `unknown field "role"`},
		{"no cases", "cases: []\n", "tests.yaml: no cases"},
		{"unknown method", "cases:\n  - name: a\n    principal: {id: x}\n    method: /nope.Svc/M\n    expect: allow\n", `tests.yaml:4: cases[0].method: unknown method "/nope.Svc/M"`},
		{"bad expect", "cases:\n  - name: a\n    principal: {id: x}\n    method: " + get + "\n    expect: yes\n", `tests.yaml:5: cases[0].expect: expect must be allow or deny, got "yes"`},
		{"both principal and claims", "cases:\n  - name: a\n    principal: {id: x}\n    claims: {sub: x}\n    method: " + get + "\n    expect: allow\n", "tests.yaml:2: cases[0]: give principal or claims, not both"},
		{"no caller", "cases:\n  - name: a\n    method: " + get + "\n    expect: allow\n", "cases[0]: principal or claims is required"},
		{"bad credential", "cases:\n  - name: a\n    principal: {id: x, credential: password}\n    method: " + get + "\n    expect: allow\n", `cases[0].principal.credential: credential must be jwt, api_key or mtls, got "password"`},
		{"claims without sub", "cases:\n  - name: a\n    claims: {roles: [x]}\n    method: " + get + "\n    expect: allow\n", "cases[0].claims.sub: claim sub is required"},
		{"bad request field", "cases:\n  - name: a\n    principal: {id: x}\n    method: " + get + "\n    request: {account_name: accounts/a}\n    expect: allow\n", `tests.yaml:5: cases[0].request: request is not a valid examples.bank.v1.GetAccountRequest`},
		{"duplicate name", "cases:\n  - {name: a, principal: {id: x}, method: " + get + ", expect: allow}\n  - {name: a, principal: {id: x}, method: " + get + ", expect: allow}\n", `cases[1].name: case name "a" used twice`},
		{"bad time", "cases:\n  - name: a\n    principal: {id: x}\n    method: " + get + "\n    context: {time: noon}\n    expect: allow\n", `cases[0].context.time: invalid time "noon"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "tests.yaml")
			if err := os.WriteFile(path, []byte(tt.src), 0o644); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := RunTest([]string{td("new.yaml"), path}, &stdout, &stderr, static(reg))
			msg := strings.ReplaceAll(stderr.String(), path, "tests.yaml")
			if code != 1 || !strings.Contains(msg, tt.want) {
				t.Errorf("RunTest(%s) = %d, stderr %q, want 1 and %q", tt.name, code, msg, tt.want)
			}
		})
	}
}

func TestUsage(t *testing.T) {
	reg := bankRegistry(t)
	tests := []struct {
		name string
		run  func([]string, *bytes.Buffer, *bytes.Buffer, *policy.Registry) int
		args []string
		code int
		want string
	}{
		{"test no args", runTest, nil, 2, "usage: portcullis policy test"},
		{"test bad flag", runTest, []string{"--nope"}, 2, "flag provided but not defined"},
		{"test bad bundle", runTest, []string{td("tests.yaml"), td("tests.yaml")}, 1, `unknown field "cases"`},
		{"diff one bundle", runDiff, []string{td("old.yaml")}, 2, "usage: portcullis policy diff"},
		{"diff extra args", runDiff, []string{td("old.yaml"), td("new.yaml"), td("new.yaml")}, 2, "usage"},
		{"diff bad since", runDiff, []string{td("old.yaml"), td("new.yaml"), "--since", "-1h"}, 2, "usage"},
		{"diff missing bundle", runDiff, []string{td("old.yaml"), td("nope.yaml")}, 1, "no such file"},
		{"diff missing audit", runDiff, []string{td("old.yaml"), td("new.yaml"), "--audit", td("nope.jsonl")}, 1, "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			if code := tt.run(tt.args, &stdout, &stderr, reg); code != tt.code || !strings.Contains(stderr.String(), tt.want) {
				t.Errorf("Run(%v) = %d, stderr %q, want %d and %q", tt.args, code, stderr.String(), tt.code, tt.want)
			}
		})
	}
}

// TestRunTestContext: a case's context reaches conditions, its method as
// context.method and its request_rate as context.request_rate.
func TestRunTestContext(t *testing.T) {
	dir := t.TempDir()
	bundle := filepath.Join(dir, "bundle.yaml")
	tests := filepath.Join(dir, "tests.yaml")
	const get = "/examples.bank.v1.BankService/GetAccount"
	writeTestFile(t, bundle, `version: "1"
roles:
  reader:
    permissions: [bank.accounts.read, bank.accounts.list]
    condition: "context.request_rate < 10.0 && context.method == '`+get+`' && context.client_ip == '10.0.0.1'"
bindings:
  - {roles: [reader], users: [ann]}
`)
	writeTestFile(t, tests, `cases:
  - {name: calm, principal: {id: ann}, method: `+get+`, context: {client_ip: 10.0.0.1, request_rate: 5}, expect: allow}
  - {name: busy, principal: {id: ann}, method: `+get+`, context: {client_ip: 10.0.0.1, request_rate: 20}, expect: deny}
  - {name: other address, principal: {id: ann}, method: `+get+`, context: {client_ip: 10.0.0.2}, expect: deny}
  - {name: other method, principal: {id: ann}, method: /examples.bank.v1.BankService/ListAccounts, context: {client_ip: 10.0.0.1}, expect: deny}
`)
	var stdout, stderr bytes.Buffer
	if code := RunTest([]string{bundle, tests}, &stdout, &stderr, static(bankRegistry(t))); code != 0 {
		t.Errorf("RunTest() = %d, want 0; stdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	writeTestFile(t, tests, "cases:\n  - {name: a, principal: {id: ann}, method: "+get+", context: {request_rate: -1}, expect: deny}\n")
	stdout.Reset()
	stderr.Reset()
	if code := RunTest([]string{bundle, tests}, &stdout, &stderr, static(bankRegistry(t))); code != 1 || !strings.Contains(stderr.String(), "context.request_rate: want a finite rate ≥ 0, got -1") {
		t.Errorf("RunTest(negative rate) = %d, stderr %q, want 1 and a negative rate error", code, stderr.String())
	}
}

func writeTestFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
