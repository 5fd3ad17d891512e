package policy

import (
	"fmt"
	"strings"
	"testing"
)

func TestSplitMethod(t *testing.T) {
	tests := []struct{ in, svc, m string }{
		{"/pkg.Svc/Method", "pkg.Svc", "Method"},
		{"/a.b.C/D", "a.b.C", "D"},
		{"pkg.Svc/Method", "", ""},
		{"/pkg.Svc/", "", ""},
		{"//Method", "", ""},
		{"/", "", ""},
		{"", "", ""},
	}
	for _, tt := range tests {
		svc, m := SplitMethod(tt.in)
		if svc != tt.svc || m != tt.m {
			t.Errorf("SplitMethod(%q) = %q, %q, want %q, %q", tt.in, svc, m, tt.svc, tt.m)
		}
	}
}

func TestNewRegistryErrors(t *testing.T) {
	perm := []Permission{{Name: "a.b", File: "x.proto"}}
	tests := []struct {
		name   string
		tables []*Table
		want   string
	}{
		{"duplicate method", []*Table{
			{File: "x.proto", Permissions: perm, Methods: []Method{{FullMethod: "/p.S/M"}}},
			{File: "y.proto", Methods: []Method{{FullMethod: "/p.S/M"}}},
		}, "policy: method /p.S/M defined twice (second in y.proto)"},
		{"duplicate permission", []*Table{
			{File: "x.proto", Permissions: perm},
			{File: "y.proto", Permissions: []Permission{{Name: "a.b", File: "y.proto"}}},
		}, `policy: permission "a.b" declared in x.proto and y.proto`},
		{"undeclared permission", []*Table{
			{File: "x.proto", Methods: []Method{{FullMethod: "/p.S/M", Permissions: []string{"c.d"}}}},
		}, `policy: method /p.S/M requires undeclared permission "c.d"`},
		{"malformed", []*Table{{File: "x.proto", Methods: []Method{{FullMethod: "p.S.M"}}}},
			`policy: x.proto: malformed method name "p.S.M"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRegistry(tt.tables...)
			if err == nil || err.Error() != tt.want {
				t.Errorf("NewRegistry() = %v, want %s", err, tt.want)
			}
		})
	}
}

func TestRegistryLookupAllocs(t *testing.T) {
	r, names := syntheticRegistry(t, 1000)
	key := strings.Clone(names[500]) // not the same backing array as the map key
	allocs := testing.AllocsPerRun(100, func() {
		if _, ok := r.Lookup(key); !ok {
			t.Fatal("missing")
		}
	})
	if allocs != 0 {
		t.Errorf("Lookup allocs = %v, want 0", allocs)
	}
}

func syntheticRegistry(tb testing.TB, n int) (*Registry, []string) {
	tb.Helper()
	t := &Table{File: "synthetic.proto", Permissions: []Permission{{Name: "x.y.read"}}}
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("/synthetic.v1.Service%d/Method%d", i/20, i)
		t.Methods = append(t.Methods, Method{FullMethod: names[i], Permissions: []string{"x.y.read"}})
	}
	r, err := NewRegistry(t)
	if err != nil {
		tb.Fatal(err)
	}
	return r, names
}

// BenchmarkLookup resolves method names at 10, 1k and 100k methods; a plain
// map lookup with the same keys in the same run is the baseline.
func BenchmarkLookup(b *testing.B) {
	for _, n := range []int{10, 1000, 100000} {
		r, names := syntheticRegistry(b, n)
		// Look up copies so the benchmark does not hit pointer-equal keys.
		keys := make([]string, 1024)
		for i := range keys {
			keys[i] = strings.Clone(names[(i*7919)%n])
		}
		plain := make(map[string]*Method, n)
		for _, name := range names {
			m, _ := r.Lookup(name)
			plain[name] = m
		}
		b.Run(fmt.Sprintf("registry/methods=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var found int
			for i := 0; b.Loop(); i++ {
				if _, ok := r.Lookup(keys[i&1023]); ok {
					found++
				}
			}
			if found == 0 {
				b.Fatal("nothing found")
			}
		})
		b.Run(fmt.Sprintf("map-baseline/methods=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			var found int
			for i := 0; b.Loop(); i++ {
				if _, ok := plain[keys[i&1023]]; ok {
					found++
				}
			}
			if found == 0 {
				b.Fatal("nothing found")
			}
		})
	}
}
