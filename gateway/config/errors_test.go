package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/devcerts"
)

// doc joins lines into a YAML document, so that line numbers in the tests
// are the argument positions (first line is 1).
func doc(lines ...string) string { return strings.Join(lines, "\n") + "\n" }

// grpcLoopback is lines 1-4 of most documents below.
var grpcLoopback = []string{
	"listeners:",
	"  grpc:",
	"    address: 127.0.0.1:8443",
	"    plaintext: true",
}

func with(lines ...string) string {
	return doc(append(append([]string(nil), grpcLoopback...), lines...)...)
}

var minimal = with(
	"routes:",                       // 5
	"  - service: bank.v1.Accounts", // 6
	"    backend: 127.0.0.1:9000",   // 7
	"    plaintext: true",           // 8
)

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name string
		yaml string
		want string
	}{
		// Unknown keys.
		{"unknown top-level key", with("listner: {}"), `config: gateway.yaml:5: listner: unknown field (did you mean "listeners"?)`},
		{"unknown top-level key without suggestion", with("frobnicate: 1"), `config: gateway.yaml:5: frobnicate: unknown field`},
		{"unknown nested key", doc("listeners:", "  grpc:", "    plaintext: true", "    adress: 127.0.0.1:8443"), `config: gateway.yaml:4: listeners.grpc.adress: unknown field (did you mean "address"?)`},
		{"unknown key in list", minimal + "    retries: 3\n", `config: gateway.yaml:9: routes[0].retries: unknown field`},
		{"unknown listener", with("  grpcs:", "    address: 127.0.0.1:1"), `config: gateway.yaml:5: listeners.grpcs: unknown field (did you mean "grpc"?)`},
		{"merge key", with("routes:", "  - <<: {service: a.B}"), `config: gateway.yaml:6: routes[0]: merge keys (<<) are not supported`},

		// Durations.
		{"bad duration", doc("listeners:", "  grpc:", "    plaintext: true", "    address: 127.0.0.1:8443", "routes:", "  - service: bank.v1.Accounts", "    connect_timeout: 5 sec", "    backend: 127.0.0.1:9000", "    plaintext: true"),
			`config: gateway.yaml:7: routes[0].connect_timeout: invalid duration "5 sec"`},
		{"duration without unit", minimal + "    timeout: 30\n", `config: gateway.yaml:9: routes[0].timeout: invalid duration "30": missing unit, such as "5s"`},
		{"duration as list", with("shutdown_timeout: [1s]"), `config: gateway.yaml:5: shutdown_timeout: want a duration, got a list`},
		{"zero timeout", minimal + "    timeout: 0s\n", `config: gateway.yaml:9: routes[0].timeout: must be > 0, got 0s`},
		{"negative connect timeout", minimal + "    connect_timeout: -1s\n", `config: gateway.yaml:9: routes[0].connect_timeout: must be > 0, got -1s`},
		{"negative shutdown timeout", with("shutdown_timeout: -5s"), `config: gateway.yaml:5: shutdown_timeout: must be > 0, got -5s`},

		// Enums.
		{"bad log level", with("log:", "  level: verbose"), `config: gateway.yaml:6: log.level: invalid value "verbose": want debug, info, warn or error`},
		{"bad log format", with("log:", "  level: debug", "  format: xml"), `config: gateway.yaml:7: log.format: invalid value "xml": want json or text`},

		// A key that is a block scalar holding a newline stays on one line.
		{"key with a newline", "    0: |\n\n    :", "config: gateway.yaml:1: 0: unknown field\nconfig: gateway.yaml:3: \"\\n\": unknown field"},

		// Tracing.
		{"sampled without start_traces", with("tracing:", "  sampled: true"), `config: gateway.yaml:6: tracing.sampled: applies only to the traces the gateway starts: set tracing.start_traces: true as well`},
		{"tracing typo", with("tracing:", "  start_trace: true"), `config: gateway.yaml:6: tracing.start_trace: unknown field (did you mean "start_traces"?)`},

		// Go runtime.
		{"gc off without a memory limit", with("runtime:", "  gc_percent: -1"), `config: gateway.yaml:6: runtime.gc_percent: -1 (collector off) needs runtime.memory_limit_bytes (or GOMEMLIMIT), or the heap grows without bound`},
		{"gc percent too low", with("runtime:", "  gc_percent: 10"), `config: gateway.yaml:6: runtime.gc_percent: must be 0 (default), -1 (off, with a memory limit) or 25..10000, got 10`},
		{"gc percent too high", with("runtime:", "  gc_percent: 20000"), `config: gateway.yaml:6: runtime.gc_percent: must be 0 (default), -1 (off, with a memory limit) or 25..10000, got 20000`},
		{"memory limit too small", with("runtime:", "  memory_limit_bytes: 1048576"), `config: gateway.yaml:6: runtime.memory_limit_bytes: must be 0 (none) or at least 16 MiB (16777216), got 1048576`},
		{"min heap too small", with("runtime:", "  gc_min_heap_bytes: 4096"), `config: gateway.yaml:6: runtime.gc_min_heap_bytes: must be 0 (default), -1 (none) or 4 MiB..16 GiB (4194304..17179869184), got 4096`},
		{"min heap over half the memory limit", with("runtime:", "  memory_limit_bytes: 67108864", "  gc_min_heap_bytes: 33554433"), `config: gateway.yaml:7: runtime.gc_min_heap_bytes: must be at most half of runtime.memory_limit_bytes (67108864), got 33554433`},

		// Missing required keys.
		{"empty document", "", `config: gateway.yaml:1: listeners.grpc: required`},
		{"comments only", "# nothing yet\n", `config: gateway.yaml:1: listeners.grpc: required`},
		{"missing grpc listener", doc("listeners:", "  http:", "    address: 127.0.0.1:8080", "    plaintext: true"), `config: gateway.yaml:1: listeners.grpc: required`},
		{"null grpc listener", doc("listeners:", "  grpc:"), `config: gateway.yaml:2: listeners.grpc: required`},
		{"missing address", doc("listeners:", "  grpc:", "    plaintext: true"), `config: gateway.yaml:2: listeners.grpc.address: required`},
		{"missing backend", with("routes:", "  - service: bank.v1.Accounts", "    plaintext: true"), `config: gateway.yaml:6: routes[0].backend: required`},
		{"missing service", with("routes:", "  - backend: 127.0.0.1:9000", "    plaintext: true"), `config: gateway.yaml:6: routes[0].service: required`},
		{"missing descriptor file", with("descriptors:", "  - policy: policy.yaml"), "config: gateway.yaml:6: descriptors[0].file: required\n" +
			"config: gateway.yaml:6: descriptors[0].policy: stat policy.yaml: no such file or directory"},

		// Routes.
		{"duplicate route", minimal + doc("  - service: bank.v1.Accounts", "    backend: 127.0.0.1:9001", "    plaintext: true"),
			`config: gateway.yaml:9: routes[1].service: duplicate service "bank.v1.Accounts" (also in routes[0])`},
		{"bad service name", with("routes:", "  - service: bank..Accounts", "    backend: 127.0.0.1:9000", "    plaintext: true"),
			`config: gateway.yaml:6: routes[0].service: invalid service name "bank..Accounts": want a fully qualified proto name such as "bank.v1.Accounts"`},
		{"method instead of service", with("routes:", "  - service: bank.v1.Accounts/Get", "    backend: 127.0.0.1:9000", "    plaintext: true"),
			`config: gateway.yaml:6: routes[0].service: invalid service name "bank.v1.Accounts/Get": want a fully qualified proto name such as "bank.v1.Accounts"`},
		{"backend without port", with("routes:", "  - service: a.B", "    backend: 127.0.0.1", "    plaintext: true"), `config: gateway.yaml:7: routes[0].backend: invalid address "127.0.0.1": want host:port`},
		{"backend without host", with("routes:", "  - service: a.B", "    backend: :9000", "    plaintext: true"), `config: gateway.yaml:7: routes[0].backend: invalid address ":9000": want host:port with a host and a non-zero port`},

		// Plaintext and transport.
		{"plaintext on all interfaces", doc("listeners:", "  grpc:", "    address: 0.0.0.0:8443", "    plaintext: true"),
			`config: gateway.yaml:4: listeners.grpc.plaintext: only allowed on a loopback address (127.0.0.0/8, ::1 or localhost), not "0.0.0.0"`},
		{"plaintext without host", doc("listeners:", "  grpc:", "    address: :8443", "    plaintext: true"),
			`config: gateway.yaml:4: listeners.grpc.plaintext: only allowed on a loopback address (127.0.0.0/8, ::1 or localhost), not ""`},
		{"plaintext to remote backend", with("routes:", "  - service: a.B", "    backend: 10.0.0.5:9000", "    plaintext: true"),
			`config: gateway.yaml:8: routes[0].plaintext: only allowed on a loopback address (127.0.0.0/8, ::1 or localhost), not "10.0.0.5"`},
		{"neither tls nor plaintext", doc("listeners:", "  grpc:", "    address: 127.0.0.1:8443"), `config: gateway.yaml:2: listeners.grpc: set tls, or plaintext: true on a loopback address`},
		{"plaintext false", doc("listeners:", "  grpc:", "    address: 127.0.0.1:8443", "    plaintext: false"), `config: gateway.yaml:2: listeners.grpc: set tls, or plaintext: true on a loopback address`},
		{"route without transport", with("routes:", "  - service: a.B", "    backend: 127.0.0.1:9000"), `config: gateway.yaml:6: routes[0]: set tls, or plaintext: true on a loopback address`},
		{"tls and plaintext", with("routes:", "  - service: a.B", "    backend: 127.0.0.1:9000", "    plaintext: true", "    tls: {}"), `config: gateway.yaml:8: routes[0].plaintext: not allowed together with tls`},
		{"named port", doc("listeners:", "  grpc:", "    address: 127.0.0.1:https", "    plaintext: true"), `config: gateway.yaml:3: listeners.grpc.address: invalid port "https" in "127.0.0.1:https": want a number`},
		{"same address twice", with("  admin:", "    address: 127.0.0.1:8443", "    plaintext: true"), `config: gateway.yaml:6: listeners.admin.address: "127.0.0.1:8443" is already used by listeners.grpc`},

		// Limits.
		{"negative limit", minimal + "    max_request_bytes: -1\n", `config: gateway.yaml:9: routes[0].max_request_bytes: -1 out of range: want 1 to 67108864 (64 MiB)`},
		{"zero limit", minimal + "    max_response_bytes: 0\n", `config: gateway.yaml:9: routes[0].max_response_bytes: 0 out of range: want 1 to 67108864 (64 MiB)`},
		{"oversize limit", minimal + "    max_response_bytes: 67108865\n", `config: gateway.yaml:9: routes[0].max_response_bytes: 67108865 out of range: want 1 to 67108864 (64 MiB)`},
		{"overflowing limit", minimal + "    max_request_bytes: 99999999999999999999\n", `config: gateway.yaml:9: routes[0].max_request_bytes: integer 99999999999999999999 out of range`},

		// Wrong types.
		{"string for bool", doc("listeners:", "  grpc:", "    address: 127.0.0.1:8443", "    plaintext: yes"), `config: gateway.yaml:4: listeners.grpc.plaintext: want a boolean, got string "yes"`},
		{"mapping for list", with("routes:", "  service: a.B"), `config: gateway.yaml:6: routes: want a list, got a mapping`},
		{"list for mapping", "listeners: [grpc]\n", `config: gateway.yaml:1: listeners: want a mapping, got a list`},
		{"scalar document", "hello\n", `config: gateway.yaml:1: want a mapping, got string "hello"`},
		{"unit in limit", minimal + "    max_request_bytes: 4MiB\n", `config: gateway.yaml:9: routes[0].max_request_bytes: want an integer, got string "4MiB"`},
		{"fraction in limit", minimal + "    max_request_bytes: 1.5\n", `config: gateway.yaml:9: routes[0].max_request_bytes: want an integer, got number 1.5`},
		{"bool for string", doc("listeners:", "  grpc:", "    address: true", "    plaintext: true"), `config: gateway.yaml:3: listeners.grpc.address: want a string, got boolean true`},

		// YAML itself.
		{"syntax error", "listeners: [\n", `config: gateway.yaml:1: syntax error: sequence end token ']' not found`},
		{"duplicate key", doc("listeners:", "  grpc:", "    address: 127.0.0.1:1", "    address: 127.0.0.1:2"), `config: gateway.yaml:4: syntax error: mapping key "address" already defined at [3:5]`},
		{"two documents", minimal + "---\nlog: {}\n", `config: gateway.yaml: only one YAML document is allowed`},
		{"tag", doc("listeners:", "  grpc:", "    address: !!str 127.0.0.1:1", "    plaintext: true"), `config: gateway.yaml:3: listeners.grpc.address: YAML tags (!!str) are not supported`},
		{"unknown alias", with("routes:", "  - *route"), `config: gateway.yaml:6: routes[0]: unknown alias "route"`},

		// Several problems at once, in document order.
		{"several", with("log:", "  level: loud", "  format: xml", "shutdown_timeout: 0s"),
			"config: gateway.yaml:6: log.level: invalid value \"loud\": want debug, info, warn or error\n" +
				"config: gateway.yaml:7: log.format: invalid value \"xml\": want json or text\n" +
				"config: gateway.yaml:8: shutdown_timeout: must be > 0, got 0s"},
		{"several unknown", with("a: 1", "b: 2"), "config: gateway.yaml:5: a: unknown field\nconfig: gateway.yaml:6: b: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := config.Parse("gateway.yaml", []byte(tt.yaml))
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, nil, want error %q", tt.yaml, cfg, tt.want)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.yaml, got, tt.want)
			}
			var ce *config.Error
			if !errors.As(err, &ce) || ce.File != "gateway.yaml" {
				t.Errorf("Parse(%q) = %v, want a *config.Error for gateway.yaml", tt.yaml, err)
			}
		})
	}
}

func TestParseValid(t *testing.T) {
	tests := []struct {
		name string
		yaml string
	}{
		{"minimal", minimal},
		{"ipv6 loopback", doc("listeners:", "  grpc:", "    address: '[::1]:8443'", "    plaintext: true")},
		{"localhost", doc("listeners:", "  grpc:", "    address: localhost:0", "    plaintext: true")},
		{"127/8", doc("listeners:", "  grpc:", "    address: 127.1.2.3:8443", "    plaintext: true")},
		{"flow style", `{listeners: {grpc: {address: "127.0.0.1:1", plaintext: true}}, routes: [{service: a.B, backend: "localhost:2", plaintext: true}]}`},
		{"null values keep defaults", minimal + "    timeout:\nlog:\n"},
		{"anchor reused", with(
			"x-backend: &local",
			"  backend: 127.0.0.1:9000",
			"  plaintext: true",
			"routes:",
			"  - &route {service: a.B, backend: '127.0.0.1:9000', plaintext: true}",
			"  - {service: a.C, backend: '127.0.0.1:9001', plaintext: true, timeout: 1s}",
		)},
		{"limits at the edges", minimal + "    max_request_bytes: 1\n    max_response_bytes: 67108864\n"},
		{"empty routes", with("routes: []")},
		{"tracing", with("tracing: {start_traces: true, sampled: true}")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := config.Parse("gateway.yaml", []byte(tt.yaml)); err != nil {
				t.Errorf("Parse(%q) = %v, want nil", tt.yaml, err)
			}
		})
	}
}

// TestParseTLSErrors runs in a directory with dev certificates, so that
// relative paths resolve and only the intended problem is reported.
func TestParseTLSErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := devcerts.Generate(filepath.Join(dir, "certs")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	listener := func(lines ...string) string {
		return doc(append([]string{
			"listeners:",
			"  grpc:",
			"    address: 0.0.0.0:8443",
			"    tls:",
		}, lines...)...)
	}
	route := func(lines ...string) string {
		return with(append([]string{
			"routes:",
			"  - service: a.B",
			"    backend: 127.0.0.1:9000",
			"    tls:",
		}, lines...)...)
	}
	cert := []string{"      cert_file: certs/server.pem", "      key_file: certs/server-key.pem"}
	tests := []struct {
		name string
		yaml string
		want string // empty: valid
	}{
		{"server tls", listener(cert...), ""},
		{"mtls", listener(append(cert, "      client_ca_file: certs/ca.pem", "      client_auth: require")...), ""},
		{"unquoted 1.3", listener(append(cert, "      min_version: 1.3")...), ""},
		{"bad client_auth", listener(append(cert, "      client_auth: maybe")...), `config: gateway.yaml:7: listeners.grpc.tls.client_auth: invalid value "maybe": want none, optional or require`},
		{"client_auth without CA", listener(append(cert, "      client_auth: optional")...), `config: gateway.yaml:4: listeners.grpc.tls.client_ca_file: required when client_auth is optional`},
		{"CA without client_auth", listener(append(cert, "      client_ca_file: certs/ca.pem")...), `config: gateway.yaml:4: listeners.grpc.tls.client_auth: must be optional or require when client_ca_file is set`},
		{"tls 1.1", listener(append(cert, "      min_version: 1.1")...), `config: gateway.yaml:7: listeners.grpc.tls.min_version: invalid value "1.1": want "1.2" or "1.3"`},
		{"tls 1.20", listener(append(cert, "      min_version: 1.20")...), `config: gateway.yaml:7: listeners.grpc.tls.min_version: invalid value "1.20": want "1.2" or "1.3"`},
		{"missing key_file", listener(cert[0]), `config: gateway.yaml:4: listeners.grpc.tls.key_file: required`},
		{"missing cert", listener("      cert_file: certs/nope.pem", cert[1]), `config: gateway.yaml:5: listeners.grpc.tls.cert_file: stat certs/nope.pem: no such file or directory`},
		{"directory as cert", listener("      cert_file: certs", cert[1]), `config: gateway.yaml:5: listeners.grpc.tls.cert_file: certs is not a regular file`},
		{"key mismatch", listener(cert[0], "      key_file: certs/backend-key.pem"), `config: gateway.yaml:4: listeners.grpc.tls: tlsconfig: load certs/server.pem: tls: private key does not match public key`},
		{"route mtls", route("      ca_file: certs/ca.pem", "      cert_file: certs/gateway-client.pem", "      key_file: certs/gateway-client-key.pem"), ""},
		{"route cert without key", route("      cert_file: certs/gateway-client.pem"), `config: gateway.yaml:8: routes[0].tls.key_file: required when cert_file is set`},
		{"route missing CA", route("      ca_file: ca.pem"), `config: gateway.yaml:9: routes[0].tls.ca_file: stat ca.pem: no such file or directory`},
		{"route bad version", route("      min_version: \"1.0\""), `config: gateway.yaml:9: routes[0].tls.min_version: invalid value "1.0": want "1.2" or "1.3"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := config.Parse("gateway.yaml", []byte(tt.yaml))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Parse(%q) = %q, want %q", tt.yaml, got, tt.want)
			}
		})
	}
}

func TestParseServerNameDefault(t *testing.T) {
	dir := t.TempDir()
	if _, err := devcerts.Generate(filepath.Join(dir, "certs")); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	yaml := with("routes:", "  - service: a.B", "    backend: 127.0.0.1:9000", "    tls: {ca_file: certs/ca.pem}")
	cfg, err := config.Parse("gateway.yaml", []byte(yaml))
	if err != nil {
		t.Fatalf("Parse() = %v, want nil", err)
	}
	if got := cfg.Routes[0].TLS.ServerName; got != "127.0.0.1" {
		t.Errorf("Routes[0].TLS.ServerName = %q, want %q", got, "127.0.0.1")
	}
	if _, err := os.Stat(cfg.Routes[0].TLS.CAFile); err != nil {
		t.Errorf("Routes[0].TLS.CAFile = %q: %v", cfg.Routes[0].TLS.CAFile, err)
	}
}
