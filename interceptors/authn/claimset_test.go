package authn

import (
	"bytes"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// claimSeeds are payloads for TestClaimSet and FuzzClaimSet: the usual
// claims, and the corners where a hand-split object could part ways with
// encoding/json (escapes, invalid UTF-8, numbers at the edge of float64,
// nesting, whitespace, duplicates, values that are not objects).
var claimSeeds = []string{
	`{"aud":"bank","exp":1796000000,"iat":1795996400,"iss":"https://bench.test","jti":"q1w2","nbf":1795996400,"roles":["teller"],"scope":"a b","sub":"alice"}`,
	`{}`, ` { } `, "\t{\n\"a\"\r:\n1 }\n",
	`{"s\u0075b":"al\"ice\\","\u00e9":"caf\u00e9","e":"\ud800"}`,
	"{\"k\xff\":\"v\xfe\",\"x\":\"\xc3\xa9\"}",
	`{"n":-0,"m":1e308,"o":1E-400,"p":0.5e+3,"q":123456789012345678901234567890}`,
	`{"big":1e309}`, `{"nested":{"deep":[1,2,{"x":-1e999}]}}`,
	`{"a":[],"b":[ "x" , "y" ],"c":["x",1],"d":{"x5t#S256":"abc"},"e":null,"f":true,"g":false}`,
	`{"a":1,"a":2}`, `{"a":1,"\u0061":2}`,
	`null`, `[]`, `"x"`, `1`, `{"a":}`, `{"a" 1}`, `{"a":1,}`, `{"a":1}{}`, `{"a":"\x01"}`,
	`{"aud":["a","b\n"],"roles":"one","scp":["s1","s2"]}`,
}

// checkClaimSet compares parseClaims with json.Unmarshal into a map: both
// accept the same payloads (save a duplicated name, which only parseClaims
// refuses), and every claim reads back as encoding/json decodes it, through
// each accessor.
func checkClaimSet(t *testing.T, b []byte) {
	var want map[string]any
	stdErr := json.Unmarshal(b, &want)
	cs, why := parseClaims(b)
	if stdErr != nil || want == nil {
		if why == "" {
			t.Fatalf("parseClaims(%q) accepted %v, but json.Unmarshal = %v, %v", b, cs, want, stdErr)
		}
		return
	}
	if why != "" {
		if strings.Contains(why, "appears twice") && hasDuplicateName(t, b) {
			return
		}
		t.Fatalf("parseClaims(%q) = %q, want accepted as json.Unmarshal does: %v", b, why, want)
	}
	if cs.len() != len(want) {
		t.Fatalf("parseClaims(%q) has %d claims, json.Unmarshal %d", b, cs.len(), len(want))
	}
	for name, w := range want {
		if _, ok := cs.get(name); !ok {
			t.Fatalf("parseClaims(%q) lacks %q", b, name)
		}
		if got := cs.value(name); !reflect.DeepEqual(got, w) {
			t.Fatalf("parseClaims(%q).value(%q) = %#v, want %#v", b, name, got, w)
		}
		if cs.has(name) != (w != nil) {
			t.Fatalf("parseClaims(%q).has(%q) = %v, want %v", b, name, cs.has(name), w != nil)
		}
		ws, isStr := w.(string)
		if s, present, ok := cs.str(name); !present || ok != isStr || s != ws {
			t.Fatalf("parseClaims(%q).str(%q) = %q, %v, %v, want %q, true, %v", b, name, s, present, ok, ws, isStr)
		}
		wf, isNum := w.(float64)
		if f, present, ok := cs.number(name); !present || ok != isNum || f != wf {
			t.Fatalf("parseClaims(%q).number(%q) = %v, %v, %v, want %v, true, %v", b, name, f, present, ok, wf, isNum)
		}
		wl, wok := referenceStringList(w)
		if l, ok := cs.strings(name); ok != wok || !reflect.DeepEqual(l, wl) {
			t.Fatalf("parseClaims(%q).strings(%q) = %q, %v, want %q, %v", b, name, l, ok, wl, wok)
		}
	}
}

// referenceStringList is what a string-or-array-of-strings claim means,
// written over encoding/json's value.
func referenceStringList(v any) ([]string, bool) {
	switch v := v.(type) {
	case nil:
		return nil, true
	case string:
		return []string{v}, true
	case []any:
		out := []string{}
		for _, e := range v {
			s, ok := e.(string)
			if !ok {
				return nil, false
			}
			out = append(out, s)
		}
		return out, true
	}
	return nil, false
}

// hasDuplicateName reports, by encoding/json's own tokenizer, whether the
// top-level object of b names a member twice.
func hasDuplicateName(t *testing.T, b []byte) bool {
	d := json.NewDecoder(bytes.NewReader(b))
	seen := map[string]bool{}
	depth := 0
	expectName := false
	for {
		tok, err := d.Token()
		if err != nil {
			return false
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			depth++
			expectName = depth == 1
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			expectName = depth == 1
			continue
		}
		if depth == 1 && expectName {
			name := tok.(string)
			if seen[name] {
				return true
			}
			seen[name] = true
			expectName = false
		} else if depth == 1 {
			expectName = true
		}
	}
}

// manyClaims returns an object of n claims c0..c(n-1), the last named
// like the one at dup when dup >= 0.
func manyClaims(n, dup int) string {
	var b strings.Builder
	b.WriteString("{")
	for i := range n {
		if i > 0 {
			b.WriteString(",")
		}
		name := i
		if i == n-1 && dup >= 0 {
			name = dup
		}
		fmt.Fprintf(&b, `"c%d":"v%d"`, name, i)
	}
	b.WriteString("}")
	return b.String()
}

func TestClaimSet(t *testing.T) {
	for _, s := range claimSeeds {
		checkClaimSet(t, []byte(s))
	}
	// Past indexAt, names are found through the index.
	for _, n := range []int{indexAt, indexAt + 1, indexAt + 2, 3 * indexAt} {
		checkClaimSet(t, []byte(manyClaims(n, -1)))
		for _, dup := range []int{0, indexAt - 2, n - 2} {
			if _, why := parseClaims([]byte(manyClaims(n, dup))); !strings.Contains(why, "appears twice") {
				t.Errorf("parseClaims(%d claims, the last a copy of c%d) = %q, want a duplicate refused", n, dup, why)
			}
		}
	}
	for _, tc := range []struct{ in, why string }{
		{`{"a":1,"a":2}`, `claim "a" appears twice`},
		{`{"a":1,"\u0061":2}`, `claim "a" appears twice`},
		{`{"big":1e309}`, "out of range"},
		{`{"nested":{"deep":[1,2,{"x":-1e999}]}}`, "out of range"},
		{`null`, "not a JSON object"},
		{`{"a":1,}`, "not a JSON object"},
	} {
		if _, why := parseClaims([]byte(tc.in)); !strings.Contains(why, tc.why) {
			t.Errorf("parseClaims(%s) = %q, want %q", tc.in, why, tc.why)
		}
	}
}

// FuzzClaimSet checks parseClaims against encoding/json on arbitrary
// payloads (see checkClaimSet).
func FuzzClaimSet(f *testing.F) {
	for _, s := range claimSeeds {
		f.Add([]byte(s))
	}
	f.Add([]byte(manyClaims(indexAt+3, -1)))
	f.Add([]byte(manyClaims(indexAt+3, 2)))
	f.Fuzz(func(t *testing.T, b []byte) { checkClaimSet(t, b) })
}

func BenchmarkClaims(b *testing.B) {
	payload := []byte(claimSeeds[0])
	b.Run("claimSet", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			cs, why := parseClaims(payload)
			if why != "" {
				b.Fatal(why)
			}
			for _, c := range cs.list {
				cs.str(c.name)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var m map[string]any
			if err := json.Unmarshal(payload, &m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
