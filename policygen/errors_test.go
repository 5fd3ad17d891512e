package policygen_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/policygen"
)

// header is prepended to every negative case: a catalog with two
// permissions and messages to point field paths at.
const header = `syntax = "proto3";
package test.v1;
import "portcullis/v1/annotations.proto";
option (portcullis.v1.catalog) = { permissions: [
  {name: "test.items.read", description: "Read items."},
  {name: "test.items.write", description: "Write items."}
]};
message Inner { string id = 1; bytes blob = 2; repeated string tags = 3; }
message Req { string name = 1; int64 amount = 2; Inner inner = 3; repeated Inner many = 4; bool flag = 5; double ratio = 6; }
message Resp {}
`

// TestErrors has one case per failure mode; each asserts the exact message.
func TestErrors(t *testing.T) {
	const where = "test/v1/test.proto: service test.v1.Svc, method M: "
	tests := []struct {
		name string
		body string
		kind error
		want string
	}{
		{"no policy", `service Svc { rpc M(Req) returns (Resp); }`, policygen.ErrNoPolicy,
			where + `no policy: the method has no access rule, neither its own nor a service default (fix: add option (portcullis.v1.method) = { require: {...} } or { public: { reason: "..." } } to the method, or a default (portcullis.v1.service) to the service)`},
		{"service default without access", `service Svc { option (portcullis.v1.service) = { sensitivity: SENSITIVITY_PUBLIC }; rpc M(Req) returns (Resp); }`, policygen.ErrNoPolicy,
			where + `no policy: the method has no access rule, neither its own nor a service default (fix: add option (portcullis.v1.method) = { require: {...} } or { public: { reason: "..." } } to the method, or a default (portcullis.v1.service) to the service)`},
		{"unknown permission", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: { permissions: ["test.items.raed"] } }; } }`, policygen.ErrUnknownPermission,
			where + `unknown permission: permission "test.items.raed" is not declared in any catalog visible to test/v1/test.proto (fix: declare it in an (portcullis.v1.catalog) of this file or of a file it imports, or fix the spelling)`},
		{"duplicate permission in requirement", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: { permissions: ["test.items.read", "test.items.read"] } }; } }`, policygen.ErrUnknownPermission,
			where + `unknown permission: permission "test.items.read" listed twice (fix: list each permission once)`},
		{"public and protected", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { public: { reason: "x" } require: { permissions: ["test.items.read"] } }; } }`, policygen.ErrPublicProtected,
			where + `public method with requirements: the method is public and also requires [test.items.read] (fix: remove either public or require)`},
		{"public without reason", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { public: {} }; } }`, policygen.ErrPublicProtected,
			where + `public method with requirements: public method without a reason (fix: say why the method is public: public: { reason: "..." })`},
		{"public with credentials", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { public: { reason: "x" } require_mtls: true }; } }`, policygen.ErrPublicProtected,
			where + `public method with requirements: a public method cannot demand credentials (fix: remove credentials, require_mtls, require_bound_token and require_signature, or make the method require permissions)`},
		{"public requiring a signature", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { public: { reason: "x" } require_signature: true }; } }`, policygen.ErrPublicProtected,
			where + `public method with requirements: a public method cannot demand credentials (fix: remove credentials, require_mtls, require_bound_token and require_signature, or make the method require permissions)`},
		{"public restricted", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { public: { reason: "x" } sensitivity: SENSITIVITY_RESTRICTED }; } }`, policygen.ErrPublicProtected,
			where + `public method with requirements: a public method cannot be SENSITIVITY_RESTRICTED (fix: lower the sensitivity or require permissions)`},
		{"resource missing", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} resource: "nmae" }; } }`, policygen.ErrFieldPath,
			where + `bad field path: resource "nmae": test.v1.Req has no field "nmae" (fix: point resource at a singular string or integer field of test.v1.Req)`},
		{"resource nested missing", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} resource: "inner.nope" }; } }`, policygen.ErrFieldPath,
			where + `bad field path: resource "inner.nope": test.v1.Inner has no field "nope" (fix: point resource at a singular string or integer field of test.v1.Req)`},
		{"resource is a message", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} resource: "inner" }; } }`, policygen.ErrFieldPath,
			where + `bad field path: resource "inner" has type message, want a string or integer field (fix: point resource at a singular string or integer field of test.v1.Req)`},
		{"resource is bytes", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} resource: "inner.blob" }; } }`, policygen.ErrFieldPath,
			where + `bad field path: resource "inner.blob" has type bytes, want a string or integer field (fix: point resource at a singular string or integer field of test.v1.Req)`},
		{"resource is repeated", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} resource: "inner.tags" }; } }`, policygen.ErrFieldPath,
			where + `bad field path: resource "inner.tags" is repeated, want a singular string or integer field (fix: point resource at a singular string or integer field of test.v1.Req)`},
		{"resource through repeated", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} resource: "many.id" }; } }`, policygen.ErrFieldPath,
			where + `bad field path: resource "many.id": many is repeated (fix: point resource at a singular string or integer field of test.v1.Req)`},
		{"resource through scalar", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} resource: "name.x" }; } }`, policygen.ErrFieldPath,
			where + `bad field path: resource "name.x": name is not a message (fix: point resource at a singular string or integer field of test.v1.Req)`},
		{"rate-limit field missing", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} rate_limit: { per_second: 1 key: RATE_LIMIT_KEY_REQUEST_FIELD key_field: "ratio" } }; } }`, policygen.ErrFieldPath,
			where + `bad field path: rate_limit key_field "ratio" has type double, want a string or integer field (fix: point key_field at a singular string or integer field of test.v1.Req)`},
		{"rate-limit field without key", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} rate_limit: { per_second: 1 key: RATE_LIMIT_KEY_REQUEST_FIELD } }; } }`, policygen.ErrFieldPath,
			where + `bad field path: rate_limit key RATE_LIMIT_KEY_REQUEST_FIELD needs key_field (fix: set key_field to a request field path)`},
		{"rate-limit key_field with other key", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} rate_limit: { per_second: 1 key_field: "name" } }; } }`, policygen.ErrFieldPath,
			where + `bad field path: rate_limit key_field "name" is set but key is RATE_LIMIT_KEY_UNSPECIFIED (fix: remove key_field or use key: RATE_LIMIT_KEY_REQUEST_FIELD)`},
		{"audit field missing", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} audit: { level: AUDIT_LEVEL_REQUEST fields: ["nope"] } }; } }`, policygen.ErrFieldPath,
			where + `bad field path: audit field "nope": test.v1.Req has no field "nope" (fix: name a field of test.v1.Req)`},
		{"condition does not parse", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} condition: "request.amount <" }; } }`, policygen.ErrCondition,
			""},
		{"condition unknown request field", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} condition: "request.amout > 5" }; } }`, policygen.ErrCondition,
			""},
		{"condition unknown principal field", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} condition: "principal.rolez.size() > 0" }; } }`, policygen.ErrCondition,
			""},
		{"condition unknown variable", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} condition: "user.id == 'x'" }; } }`, policygen.ErrCondition,
			""},
		{"condition not bool", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} condition: "request.amount + 1" }; } }`, policygen.ErrCondition,
			where + `bad condition: expr: condition has type int, want bool (fix: fix the CEL expression; it may read principal, request (test.v1.Req) and context, and must be a bool)`},
		{"zero rate", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} rate_limit: { per_minute: 0 } }; } }`, policygen.ErrLimit,
			where + `bad limit: rate_limit rate must be positive (fix: use a positive rate, or remove rate_limit)`},
		{"no rate", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} rate_limit: { burst: 3 } }; } }`, policygen.ErrLimit,
			where + `bad limit: rate_limit has no rate (fix: set one of per_second, per_minute or per_hour)`},
		{"huge burst", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} rate_limit: { per_second: 1 burst: 101 } }; } }`, policygen.ErrLimit,
			where + `bad limit: rate_limit burst 101 is more than 100 times the rate 1 (fix: keep burst at most 100 times the rate)`},
		{"public per principal", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { public: { reason: "x" } rate_limit: { per_second: 1 } }; } }`, policygen.ErrLimit,
			where + `bad limit: a public method has no principal, credential or tenant to rate-limit by (key RATE_LIMIT_KEY_UNSPECIFIED) (fix: key the limit by RATE_LIMIT_KEY_CLIENT_IP or RATE_LIMIT_KEY_REQUEST_FIELD)`},
		{"negative size", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} max_request_bytes: -1 }; } }`, policygen.ErrLimit,
			where + `bad limit: max_request_bytes -1 out of range (fix: use 0 (route default) or 1..67108864)`},
		{"stream on unary", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} stream: { max_duration_seconds: 5 } }; } }`, policygen.ErrLimit,
			where + `bad limit: stream limits set on a unary method (fix: remove stream from a unary method)`},
		{"message limits on server stream", `service Svc { rpc M(Req) returns (stream Resp) { option (portcullis.v1.method) = { require: {} stream: { max_messages: 5 } }; } }`, policygen.ErrLimit,
			where + `bad limit: request message limits set on a method whose client does not stream (fix: remove max_messages and messages_per_second: the client sends one message)`},
		{"contradictory stream limits", `service Svc { rpc M(stream Req) returns (Resp) { option (portcullis.v1.method) = { require: {} stream: { max_messages: 5 messages_per_second: 10 } }; } }`, policygen.ErrLimit,
			where + `bad limit: stream messages_per_second 10 exceeds max_messages 5 (fix: make messages_per_second at most max_messages)`},
		{"bound token without jwt", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} require_bound_token: true credentials: [CREDENTIAL_KIND_API_KEY] }; } }`, policygen.ErrLimit,
			where + `bad limit: require_bound_token needs a token, but credentials excludes CREDENTIAL_KIND_JWT (fix: allow CREDENTIAL_KIND_JWT or drop require_bound_token)`},
		{"unspecified credential", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} credentials: [CREDENTIAL_KIND_UNSPECIFIED] }; } }`, policygen.ErrLimit,
			where + `bad limit: credentials lists CREDENTIAL_KIND_UNSPECIFIED (fix: name a credential kind: CREDENTIAL_KIND_JWT, _API_KEY or _MTLS)`},
		{"match any with one", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: { permissions: ["test.items.read"] match: MATCH_ANY } }; } }`, policygen.ErrLimit,
			where + `bad limit: match MATCH_ANY needs at least two permissions, got 1 (fix: list two or more permissions with MATCH_ANY, or drop match)`},
		{"bad scope", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: { scopes: ["a b"] } }; } }`, policygen.ErrLimit,
			where + `bad limit: invalid scope "a b" (fix: use an RFC 6749 scope token (printable ASCII, no spaces or quotes))`},
		{"audit fields at metadata level", `service Svc { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: {} audit: { fields: ["name"] } }; } }`, policygen.ErrLimit,
			where + `bad limit: audit fields are only recorded at AUDIT_LEVEL_REQUEST, level is AUDIT_LEVEL_UNSPECIFIED (fix: set level: AUDIT_LEVEL_REQUEST or remove fields)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := generateSource(t, header+tt.body)
			if err == nil {
				t.Fatalf("Generate(%s) = nil, want %v", tt.name, tt.kind)
			}
			if !errors.Is(err, tt.kind) {
				t.Errorf("Generate(%s) = %v, want kind %v", tt.name, err, tt.kind)
			}
			var es policygen.Errors
			if !errors.As(err, &es) || len(es) != 1 {
				t.Fatalf("Generate(%s) = %v, want exactly one problem", tt.name, err)
			}
			got := es[0].Error()
			if tt.want == "" { // CEL's own message: check the frame only
				prefix := where + "bad condition: expr: "
				if !strings.HasPrefix(got, prefix) || !strings.Contains(got, "(fix: fix the CEL expression") {
					t.Errorf("Generate(%s) = %q, want prefix %q and the fix", tt.name, got, prefix)
				}
				return
			}
			if got != tt.want {
				t.Errorf("Generate(%s) =\n  %s\nwant\n  %s", tt.name, got, tt.want)
			}
		})
	}
}

// TestCatalogErrors covers malformed catalogs.
func TestCatalogErrors(t *testing.T) {
	tests := []struct {
		name, src, want string
	}{
		{"bad name", `syntax = "proto3"; package test.v1; import "portcullis/v1/annotations.proto";
option (portcullis.v1.catalog) = { permissions: [{name: "Items.Read", description: "x"}] };`,
			`test/v1/test.proto: bad catalog: permission name "Items.Read" is not of the form service.resource.verb (fix: use dot-separated lower-case words, e.g. bank.accounts.read)`},
		{"twice", `syntax = "proto3"; package test.v1; import "portcullis/v1/annotations.proto";
option (portcullis.v1.catalog) = { permissions: [{name: "a.b", description: "x"}, {name: "a.b", description: "y"}] };`,
			`test/v1/test.proto: bad catalog: permission "a.b" declared twice (fix: declare each permission once)`},
		{"no description", `syntax = "proto3"; package test.v1; import "portcullis/v1/annotations.proto";
option (portcullis.v1.catalog) = { permissions: [{name: "a.b"}] };`,
			`test/v1/test.proto: bad catalog: permission "a.b" has no description (fix: add a description saying what the permission allows)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := generateSource(t, tt.src)
			if !errors.Is(err, policygen.ErrCatalog) {
				t.Fatalf("Generate(%s) = %v, want ErrCatalog", tt.name, err)
			}
			var es policygen.Errors
			errors.As(err, &es)
			if len(es) != 1 || es[0].Error() != tt.want {
				t.Errorf("Generate(%s) = %v, want %s", tt.name, err, tt.want)
			}
		})
	}
}

// TestAllProblemsReported checks that every problem of a run is reported,
// not only the first, and that nothing is generated.
func TestAllProblemsReported(t *testing.T) {
	out, err := generateSource(t, header+`service Svc {
  rpc A(Req) returns (Resp);
  rpc B(Req) returns (Resp) { option (portcullis.v1.method) = { require: { permissions: ["nope.nope"] } }; }
}`)
	var es policygen.Errors
	if !errors.As(err, &es) || len(es) != 2 {
		t.Fatalf("Generate() = %v, want two problems", err)
	}
	if out != nil {
		t.Errorf("Generate() wrote %d files, want none", len(out))
	}
	if !strings.Contains(err.Error(), "method A: no policy") || !strings.Contains(err.Error(), "method B: unknown permission") {
		t.Errorf("Generate() = %v, want both methods named", err)
	}
}

// TestCatalogVisibility: a permission from an imported file is visible, one
// from an unrelated file is not.
func TestCatalogVisibility(t *testing.T) {
	files := map[string]string{
		"other/v1/other.proto": `syntax = "proto3"; package other.v1; import "portcullis/v1/annotations.proto";
option (portcullis.v1.catalog) = { permissions: [{name: "other.things.read", description: "x"}] };`,
		"test/v1/a.proto": `syntax = "proto3"; package test.v1; import "portcullis/v1/annotations.proto"; import "other/v1/other.proto";
message Req {} message Resp {}
service A { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: { permissions: ["other.things.read"] } }; } }`,
		"test/v2/b.proto": `syntax = "proto3"; package test.v2; import "portcullis/v1/annotations.proto";
message Req {} message Resp {}
service B { rpc M(Req) returns (Resp) { option (portcullis.v1.method) = { require: { permissions: ["other.things.read"] } }; } }`,
	}
	compiled := compile(t, files, []string{optionsDir}, "test/v1/a.proto", "test/v2/b.proto", "other/v1/other.proto")
	_, err := run(t, request(compiled, "", "test/v1/a.proto", "test/v2/b.proto", "other/v1/other.proto"), policygen.Params{})
	var es policygen.Errors
	if !errors.As(err, &es) || len(es) != 1 || !strings.HasPrefix(es[0].Error(), "test/v2/b.proto: service test.v2.B, method M: unknown permission") {
		t.Fatalf("Generate() = %v, want only test/v2/b.proto rejected", err)
	}
}
