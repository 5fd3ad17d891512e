package audit

import (
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

func fullEvent() *Event {
	return &Event{Version: SchemaVersion, Type: TypeCall, Time: time.Date(2026, 12, 1, 9, 30, 0, 5, time.UTC),
		RequestID: "r\"1\\", TraceID: "t", Transport: "http", Method: "/a.S/M",
		HTTP:       HTTP{Method: "POST", Route: "/v1/{name=a/*}"},
		Principal:  Principal{ID: "alice\x00", Kind: "user", Roles: []string{"a", "b"}, Tenant: "acme"},
		Credential: Credential{Kind: "jwt", ID: "j"}, ClientIP: "2001:db8::1",
		TLS: TLS{Version: "1.3", MTLS: true, SPIFFEID: "spiffe://x", CertSHA256: "c"},
		Decision: Decision{Allowed: true, Reason: "ok\n", FailedRequirement: "f", Required: []string{"p"},
			Effective: []string{"p", "q"}, MatchedRoles: []string{"a"}, Condition: "true", BundleVersion: "v",
			ShadowVersion: "s", Disagreement: true},
		Resource: "accounts/1", AuthnFailure: "x", RateLimit: RateLimit{Key: "k", Limited: true, Degraded: true},
		Status: Status{Code: "OK", Message: "m\u2028"}, DurationMicros: 7, RequestBytes: 1, ResponseBytes: 2,
		RequestMessages: 3, ResponseMessages: 4, Request: json.RawMessage(`{ "b": 1.50, "a": [1e2, "\u0041"] }`)}
}

// TestEncodeCanonical: every record type encodes to canonical JSON that
// decodes into the same Event and hashes as ParseLink expects.
func TestEncodeCanonical(t *testing.T) {
	for _, e := range []*Event{
		fullEvent(),
		{Version: 1, Type: TypeCall, Time: time.Unix(0, 0), Status: Status{Code: "OK"}},
		{Version: 1, Type: TypeIntent, Time: time.Unix(1, 0), RequestID: "r", Method: "/a.S/M", Transport: "grpc",
			HTTP: HTTP{Route: "/x"}, ClientIP: "1.2.3.4", TLS: TLS{Version: "1.2"}},
		{Version: 1, Type: TypeGap, Time: time.Unix(2, 0), Dropped: 3, Reason: GapQueueFull},
		{Version: 1, Type: TypeSeal, Time: time.Unix(3, 0), Count: 9, LastHash: zeroHex, Recovered: true},
	} {
		t.Run(e.Type, func(t *testing.T) {
			var c Chain
			en := &Entry{Event: e}
			en.encode()
			first := c.Append(nil, en)
			second := c.Append(nil, en)
			for i, line := range [][]byte{first, second} {
				canon, err := Canonical(line)
				if err != nil || string(canon) != string(line) {
					t.Fatalf("Canonical(%s) = %s, %v, want it unchanged", line, canon, err)
				}
				l, err := ParseLink(line)
				if err != nil || !l.Valid || !l.Canonical || l.Seq != uint64(i+1) {
					t.Fatalf("ParseLink(%s) = %+v, %v, want valid seq %d", line, l, err, i+1)
				}
			}
			l1, _ := ParseLink(first)
			l2, _ := ParseLink(second)
			if l2.Prev != l1.Hash {
				t.Errorf("second prev_hash = %x, want first hash %x", l2.Prev, l1.Hash)
			}
			// Decoding and encoding again gives the same record.
			var d Event
			if err := json.Unmarshal(first, &d); err != nil {
				t.Fatalf("json.Unmarshal(%s) = %v", first, err)
			}
			var c2 Chain
			en2 := &Entry{Event: &d}
			en2.encode()
			if again := c2.Append(nil, en2); string(again) != string(first) {
				t.Errorf("re-encoded =\n%s\nwant\n%s", again, first)
			}
			// json.Marshal of the Event has the same keys, but for the
			// zero values that the record always carries.
			var fromLog, fromMarshal map[string]any
			_ = json.Unmarshal(first, &fromLog)
			mj, _ := json.Marshal(&d)
			_ = json.Unmarshal(mj, &fromMarshal)
			for k := range fromMarshal {
				if _, ok := fromLog[k]; !ok {
					t.Errorf("json.Marshal has key %q that the log record lacks", k)
				}
			}
		})
	}
}

func TestAppendString(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain", `"plain"`},
		{"q\"b\\", `"q\"b\\"`},
		{"\n\r\t\x01\x1f", `"\n\r\t\u0001\u001f"`},
		{"nul\x00", "\"nul\uFFFD\""},
		{"bad\xff\xfe", "\"bad\uFFFD\uFFFD\""},
		{"<&>\u2028é", "\"<&>\u2028é\""},
	} {
		if got := string(appendString(nil, tc.in)); got != tc.want {
			t.Errorf("appendString(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
}

func TestCanonical(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"b":1,"a":{"d":[1,2],"c":null}}`, `{"a":{"c":null,"d":[1,2]},"b":1}`},
		{`[1.0, 1e2, -0.0, 0.000001, 123456789012345678901234567890]`, `[1,100,0,0.000001,123456789012345678901234567890]`},
		{`"\u00e9\u0000"`, "\"é\uFFFD\""},
	} {
		got, err := Canonical([]byte(tc.in))
		if err != nil || string(got) != tc.want {
			t.Errorf("Canonical(%s) = %s, %v, want %s", tc.in, got, err, tc.want)
		}
	}
	if _, err := Canonical([]byte(`{"a":1} x`)); err == nil {
		t.Errorf("Canonical(trailing data) = nil error, want an error")
	}
}

// TestSchemaKeys: the keys a full record has are those of the Event's
// json tags, which the JSON Schema file lists.
func TestSchemaKeys(t *testing.T) {
	var c Chain
	en := &Entry{Event: fullEvent()}
	en.encode()
	var rec map[string]any
	if err := json.Unmarshal(c.Append(nil, en), &rec); err != nil {
		t.Fatal(err)
	}
	var tags []string
	rt := reflect.TypeFor[Event]()
	for i := range rt.NumField() {
		if tag := rt.Field(i).Tag.Get("json"); tag != "" {
			tags = append(tags, tagName(tag))
		}
	}
	for k := range rec {
		if !slices.Contains(tags, k) {
			t.Errorf("record key %q has no Event field", k)
		}
	}
}

func tagName(tag string) string {
	for i := range len(tag) {
		if tag[i] == ',' {
			return tag[:i]
		}
	}
	return tag
}

const zeroHex = "0000000000000000000000000000000000000000000000000000000000000000"

func TestRecordedMethod(t *testing.T) {
	short := "/a.S/M"
	if got := recordedMethod(short); got != short {
		t.Errorf("recordedMethod(%q) = %q", short, got)
	}
	long := "/a.S/" + strings.Repeat("é", 300) // 2-byte runes: the cut must not split one
	got := recordedMethod(long)
	if !utf8.ValidString(got) || !strings.HasSuffix(got, "…(605 bytes)") || len(got) > maxMethodBytes+20 {
		t.Errorf("recordedMethod(605 bytes) = %q, want at most %d bytes of it, valid UTF-8, and the length", got, maxMethodBytes)
	}
}
