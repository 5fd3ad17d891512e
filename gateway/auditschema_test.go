package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// TestAuditRecordsMatchSchema: every record the gateway writes (calls on
// both transports, allowed, refused and unauthenticated; intents
// of audit-required calls; segment seals) validates against the published
// JSON Schema, docs/audit-record.v1.json.
func TestAuditRecordsMatchSchema(t *testing.T) {
	f, err := os.Open("../docs/audit-record.v1.json")
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("audit-record.v1.json", doc); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile("audit-record.v1.json")
	if err != nil {
		t.Fatalf("the published schema does not compile: %v", err)
	}

	h := newHarnessWith(t, "audit:\n  file: {dir: audit, fsync_interval: 0s}\nsensitivity:\n  confidential: {audit_required: true}\n")
	teller := cred{bearer: h.token("teller-1", roles("teller"))}
	for _, c := range []cred{teller, {bearer: h.token("nobody", nil)}, {}, {apiKey: h.keys.reporting}} {
		_ = getAccount(c.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone))
		_, _, _ = h.rest(timeout(t, callTimeout), c, restCall{method: "GET", path: "/v1/accounts/alice-checking"})
	}
	h.closeClients()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := h.gw.Shutdown(ctx); err != nil { // flushes and seals
		t.Fatal(err)
	}

	files, _ := filepath.Glob(filepath.Join(h.dir, "audit", "*.jsonl"))
	if len(files) == 0 {
		t.Fatal("no audit segment written")
	}
	types := map[string]int{}
	for _, name := range files {
		fh, err := os.Open(name)
		if err != nil {
			t.Fatal(err)
		}
		sc := bufio.NewScanner(fh)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			v, err := jsonschema.UnmarshalJSON(bytes.NewReader(sc.Bytes()))
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			if m, ok := v.(map[string]any); ok {
				typ, _ := m["type"].(string)
				types[typ]++
			}
			if err := schema.Validate(v); err != nil {
				t.Errorf("record does not match the schema: %v\n%s", err, sc.Bytes())
			}
		}
		fh.Close()
	}
	if types["intent"] == 0 || types["seal"] == 0 || types[""]+types["call"] < 8 {
		t.Errorf("record types %v, want 8 calls, intents and a seal", types)
	}
}
