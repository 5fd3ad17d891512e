package e2e

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// lines joins YAML lines; line numbers in the cases are argument positions.
func lines(l ...string) string { return strings.Join(l, "\n") + "\n" }

// serve runs `portcullis serve` with args in dir and returns its exit code
// and output.
func serve(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	return runPortcullis(t, dir, append([]string{"serve"}, args...)...)
}

// runPortcullis runs the portcullis binary with args in dir and returns
// its exit code and output.
func runPortcullis(t *testing.T, dir string, args ...string) (int, string, string) {
	t.Helper()
	cmd := exec.CommandContext(timeout(t, 10*time.Second), binPath("portcullis"), args...)
	cmd.Dir = dir
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stdout.String(), stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stdout.String(), stderr.String()
	}
	t.Fatalf("portcullis %v = %v", args, err)
	return -1, "", ""
}

func TestConfigErrors(t *testing.T) {
	grpcLoopback := []string{"listeners:", "  grpc:", "    address: 127.0.0.1:0", "    plaintext: true"} // lines 1-4
	with := func(l ...string) string { return lines(append(append([]string(nil), grpcLoopback...), l...)...) }
	tests := []struct {
		name string
		yaml string
		want string // the whole of stderr
	}{
		{"unknown key", with("listner: {}"),
			`config: bad.yaml:5: listner: unknown field (did you mean "listeners"?)`},
		{"unknown nested key", lines("listeners:", "  grpc:", "    plaintext: true", "    adress: 127.0.0.1:0"), //nolint:misspell // the typo is under test
			`config: bad.yaml:4: listeners.grpc.adress: unknown field (did you mean "address"?)`},
		{"bad duration", with("shutdown_timeout: 5 sec"),
			`config: bad.yaml:5: shutdown_timeout: invalid duration "5 sec"`},
		{"duration without unit", with("routes:", "  - service: examples.bank.v1.BankService", "    backend: 127.0.0.1:9000", "    plaintext: true", "    timeout: 30"),
			`config: bad.yaml:9: routes[0].timeout: invalid duration "30": missing unit, such as "5s"`},
		{"plaintext listener on all interfaces", lines("listeners:", "  grpc:", "    address: 0.0.0.0:8443", "    plaintext: true"),
			`config: bad.yaml:4: listeners.grpc.plaintext: only allowed on a loopback address (127.0.0.0/8, ::1 or localhost), not "0.0.0.0"`},
		{"plaintext to a remote backend", with("routes:", "  - service: examples.bank.v1.BankService", "    backend: 10.0.0.5:9000", "    plaintext: true"),
			`config: bad.yaml:8: routes[0].plaintext: only allowed on a loopback address (127.0.0.0/8, ::1 or localhost), not "10.0.0.5"`},
		{"missing certificate", lines("listeners:", "  grpc:", "    address: 127.0.0.1:0", "    tls:", "      cert_file: nope.pem", "      key_file: "+certPath("server-key.pem")),
			`config: bad.yaml:5: listeners.grpc.tls.cert_file: stat nope.pem: no such file or directory`},
		{"several problems in document order", with("log:", "  level: loud", "shutdown_timeout: 0s"),
			"config: bad.yaml:6: log.level: invalid value \"loud\": want debug, info, warn or error\n" +
				"config: bad.yaml:7: shutdown_timeout: must be > 0, got 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "bad.yaml"), []byte(tt.yaml), 0o644); err != nil {
				t.Fatal(err)
			}
			code, stdout, stderr := serve(t, dir, "--config", "bad.yaml")
			if code != 1 || stderr != tt.want+"\n" || stdout != "" {
				t.Errorf("portcullis serve --config bad.yaml (%s) = exit %d, stderr %q, stdout %q, want exit 1, stderr %q", tt.name, code, stderr, stdout, tt.want+"\n")
			}
		})
	}
}

func TestServeUsageErrors(t *testing.T) {
	dir := t.TempDir()
	unrouted := lines("listeners:", "  grpc:", "    address: 127.0.0.1:0", "    plaintext: true",
		"routes:", "  - service: acme.v1.Nope", "    backend: 127.0.0.1:9000", "    plaintext: true")
	if err := os.WriteFile(filepath.Join(dir, "unrouted.yaml"), []byte(unrouted), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		want     string // prefix of stderr
	}{
		{"no --config", nil, 2, "portcullis serve: --config FILE is required\n"},
		{"missing file", []string{"--config", "nope.yaml"}, 1, "config: open nope.yaml: no such file or directory\n"},
		{"service without a policy", []string{"--config", "unrouted.yaml"}, 1, `gateway: routes[0].service: "acme.v1.Nope" has no compiled policy table`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, _, stderr := serve(t, dir, tt.args...)
			if code != tt.wantCode || !strings.HasPrefix(stderr, tt.want) {
				t.Errorf("portcullis serve %v = exit %d, stderr %q, want exit %d, stderr starting %q", tt.args, code, stderr, tt.wantCode, tt.want)
			}
		})
	}
}

func TestDescriptorPolicyErrors(t *testing.T) {
	gw := lines("listeners:", "  grpc:", "    address: 127.0.0.1:0", "    plaintext: true",
		"routes:", "  - service: grpc.testing.TestService", "    backend: 127.0.0.1:9000", "    plaintext: true",
		"descriptors:", "  - {file: "+env.interopSet+", policy: policy.yaml}")
	tests := []struct {
		name   string
		policy string
		want   []string // substrings of stderr
	}{
		{"unknown key", lines("services:", "  grpc.testing.TestService:", `    defualt: {public: {reason: "x"}}`), //nolint:misspell // the typo is under test
			[]string{"gateway: descriptors[0]: ", "policy.yaml: [3:5] unknown field \"defualt\""}}, //nolint:misspell // the typo is under test
		{"service not in the set", lines("services:", "  grpc.testing.TestServic:", `    default: {public: {reason: "x"}}`),
			[]string{"policy.yaml: service grpc.testing.TestServic: no policy: service is not defined in"}},
		{"method without policy", lines("services:", "  grpc.testing.TestService:", "    methods:", `      UnaryCall: {public: {reason: "x"}}`),
			[]string{"method EmptyCall: no policy", "method FullDuplexCall: no policy"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for name, data := range map[string]string{"gateway.yaml": gw, "policy.yaml": tt.policy} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			code, _, stderr := serve(t, dir, "--config", "gateway.yaml")
			if code != 1 {
				t.Errorf("portcullis serve (%s) = exit %d, want 1; stderr:\n%s", tt.name, code, stderr)
			}
			for _, w := range tt.want {
				if !strings.Contains(stderr, w) {
					t.Errorf("portcullis serve (%s) stderr = %q, want it to contain %q", tt.name, stderr, w)
				}
			}
		})
	}
}
