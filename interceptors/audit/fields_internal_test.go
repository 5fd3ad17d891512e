package audit

import (
	"context"
	"testing"

	"github.com/bufbuild/protocompile"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/dynamicpb"

	"github.com/portcullis/portcullis/policy"
)

const redactionProto = `
syntax = "proto3";
package redact.v1;
import "google/protobuf/timestamp.proto";
import "google/protobuf/struct.proto";

enum Color { COLOR_UNSPECIFIED = 0; COLOR_RED = 1; }

message Inner {
  string id = 1;
  string pin = 2;
  Inner child = 3;
}

message Outer {
  string name = 1;
  string secret = 2;
  Inner inner = 3;
  repeated Inner items = 4;
  map<string, Inner> by_key = 5;
  map<string, string> labels = 6;
  repeated string tokens = 7;
  int64 big = 8;
  double ratio = 9;
  bytes blob = 10;
  Color color = 11;
  google.protobuf.Timestamp at = 12;
  google.protobuf.Struct extra = 13;
  float small = 14;
  map<int32, string> by_num = 15;
  oneof choice { string text = 16; Inner nested = 17; }
}
`

func outerDescriptor(t *testing.T) protoreflect.MessageDescriptor {
	t.Helper()
	c := protocompile.Compiler{Resolver: protocompile.WithStandardImports(&protocompile.SourceResolver{
		Accessor: protocompile.SourceAccessorFromMap(map[string]string{"redact.proto": redactionProto}),
	})}
	files, err := c.Compile(context.Background(), "redact.proto")
	if err != nil {
		t.Fatalf("Compile(redact.proto) = %v, want nil", err)
	}
	return files[0].Messages().ByName("Outer")
}

// TestRenderRequest covers selection and redaction through nested,
// repeated and map fields, and the protojson-like value forms.
func TestRenderRequest(t *testing.T) {
	md := outerDescriptor(t)
	msg := dynamicpb.NewMessage(md)
	const in = `{"name":"n","secret":"s3cr3t","inner":{"id":"i","pin":"1234","child":{"id":"c","pin":"9"}},
		"items":[{"id":"a","pin":"1"},{"id":"b","pin":"2"}],
		"byKey":{"z":{"id":"z","pin":"3"},"a":{"id":"a","pin":"4"}},
		"labels":{"k":"v"},"tokens":["t1","t2"],"big":"9007199254740993","ratio":0.1,"blob":"AAE=",
		"color":"COLOR_RED","at":"2026-12-01T09:30:00Z","extra":{"b":1e21,"a":[true,null,"x"]},"small":1.5,
		"byNum":{"10":"ten","2":"two"},"nested":{"id":"o","pin":"5"}}`
	if err := protojson.Unmarshal([]byte(in), msg); err != nil {
		t.Fatalf("protojson.Unmarshal() = %v, want nil", err)
	}
	sensitive := []string{"secret", "inner.pin", "inner.child.pin", "items.pin", "by_key.pin", "labels", "tokens", "nested.pin"}
	for _, tc := range []struct {
		name      string
		fields    []string
		sensitive []string
		limit     int
		want      string
	}{
		{
			name: "all fields, redacted", sensitive: sensitive,
			want: `{"at":"2026-12-01T09:30:00Z","big":"9007199254740993","blob":"AAE=",` +
				`"byKey":{"a":{"id":"a","pin":"[REDACTED]"},"z":{"id":"z","pin":"[REDACTED]"}},` +
				`"byNum":{"10":"ten","2":"two"},"color":"COLOR_RED","extra":{"a":[true,null,"x"],"b":1000000000000000000000},` +
				`"inner":{"child":{"id":"c","pin":"[REDACTED]"},"id":"i","pin":"[REDACTED]"},` +
				`"items":[{"id":"a","pin":"[REDACTED]"},{"id":"b","pin":"[REDACTED]"}],"labels":"[REDACTED]",` +
				`"name":"n","nested":{"id":"o","pin":"[REDACTED]"},"ratio":0.1,"secret":"[REDACTED]","small":1.5,"tokens":"[REDACTED]"}`,
		},
		{
			name: "selected fields", fields: []string{"name", "inner", "items.id", "byKey"}, sensitive: sensitive,
			want: `{"byKey":{"a":{"id":"a","pin":"[REDACTED]"},"z":{"id":"z","pin":"[REDACTED]"}},` +
				`"inner":{"child":{"id":"c","pin":"[REDACTED]"},"id":"i","pin":"[REDACTED]"},"items":[{"id":"a"},{"id":"b"}],"name":"n"}`,
		},
		{
			name: "selected sensitive field stays redacted", fields: []string{"secret", "inner.pin"}, sensitive: sensitive,
			want: `{"inner":{"pin":"[REDACTED]"},"secret":"[REDACTED]"}`,
		},
		{
			name: "sensitive path into a well-known type redacts it whole", fields: []string{"at", "extra"},
			sensitive: []string{"extra.fields"},
			want:      `{"at":"2026-12-01T09:30:00Z","extra":"[REDACTED]"}`,
		},
		{
			name: "nothing sensitive", fields: []string{"inner"},
			want: `{"inner":{"child":{"id":"c","pin":"9"},"id":"i","pin":"1234"}}`,
		},
		{
			name: "unknown selection", fields: []string{"nope"}, want: `{}`,
		},
		{
			name: "too large", limit: 20, sensitive: sensitive, want: `"[TRUNCATED]"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := &policy.Method{FullMethod: "/redact.v1.S/M", Audit: policy.Audit{Level: policy.AuditRequest, Fields: tc.fields},
				SensitiveFields: tc.sensitive}
			limit := tc.limit
			if limit == 0 {
				limit = DefaultMaxRequestJSON
			}
			got := string(renderRequest(m, msg, limit))
			if got != tc.want {
				t.Errorf("renderRequest(%v, %v) =\n%s\nwant\n%s", tc.fields, tc.sensitive, got, tc.want)
			}
			if c, err := Canonical([]byte(got)); err != nil || string(c) != got {
				t.Errorf("Canonical(%s) = %s, %v, want it unchanged", got, c, err)
			}
		})
	}
}

func TestCompilePaths(t *testing.T) {
	n := compilePaths([]string{"a.b.c", "a", "x.y", "x.z"})
	if !n.kids["a"].leaf || n.kids["a"].kids != nil {
		t.Errorf("compilePaths: a = %+v, want a leaf covering a.b.c", n.kids["a"])
	}
	if x := n.kids["x"]; x.leaf || !x.kids["y"].leaf || !x.kids["z"].leaf {
		t.Errorf("compilePaths: x = %+v, want inner node with leaves y and z", x)
	}
	if compilePaths(nil) != nil {
		t.Errorf("compilePaths(nil) != nil, want nil (all fields)")
	}
}
