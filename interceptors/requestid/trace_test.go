package requestid

import (
	"context"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"
)

func TestValidRequestID(t *testing.T) {
	for _, tc := range []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"req-42", true},
		{"A.b_C-9", true},
		{"0123456789abcdef0123456789abcdef", true},
		{strings.Repeat("x", 128), true},
		{"", false},
		{strings.Repeat("x", 129), false},
		{"has space", false},
		{"a/b", false},
		{"a:b", false},
		{"new\nline", false},
		{"caf\u00e9", false},
		{"a=b", false},
	} {
		t.Run(tc.id, func(t *testing.T) {
			if got := validRequestID(tc.id); got != tc.want {
				t.Errorf("validRequestID(%q) = %v, want %v", tc.id, got, tc.want)
			}
		})
	}
}

func TestParseTraceParent(t *testing.T) {
	const (
		trace = "4bf92f3577b34da6a3ce929d0e0e4736"
		span  = "00f067aa0ba902b7"
	)
	for _, tc := range []struct {
		name, tp string
		ok       bool
		flags    string
	}{
		{name: "sampled", tp: "00-" + trace + "-" + span + "-01", ok: true, flags: "01"},
		{name: "not sampled", tp: "00-" + trace + "-" + span + "-00", ok: true, flags: "00"},
		{name: "other flags", tp: "00-" + trace + "-" + span + "-ff", ok: true, flags: "ff"},
		{name: "empty", tp: ""},
		{name: "version 01", tp: "01-" + trace + "-" + span + "-01"},
		{name: "version ff", tp: "ff-" + trace + "-" + span + "-01"},
		{name: "future version longer", tp: "cc-" + trace + "-" + span + "-01-what"},
		{name: "trailing data", tp: "00-" + trace + "-" + span + "-01-"},
		{name: "upper-case trace", tp: "00-" + strings.ToUpper(trace) + "-" + span + "-01"},
		{name: "upper-case flags", tp: "00-" + trace + "-" + span + "-0A"},
		{name: "zero trace", tp: "00-" + strings.Repeat("0", 32) + "-" + span + "-01"},
		{name: "zero span", tp: "00-" + trace + "-" + strings.Repeat("0", 16) + "-01"},
		{name: "short trace", tp: "00-" + trace[1:] + "-" + span + "-01"},
		{name: "wrong separators", tp: "00_" + trace + "_" + span + "_01"},
		{name: "non-hex", tp: "00-" + trace[:31] + "g-" + span + "-01"},
		{name: "shifted dash", tp: "00-" + trace[:31] + "-" + trace[31:] + span[1:] + "-01"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gotTrace, gotSpan, gotFlags, ok := parseTraceParent(tc.tp)
			if ok != tc.ok {
				t.Fatalf("parseTraceParent(%q) ok = %v, want %v", tc.tp, ok, tc.ok)
			}
			if !ok {
				return
			}
			if gotTrace != trace || gotSpan != span || gotFlags != tc.flags {
				t.Errorf("parseTraceParent(%q) = %q, %q, %q, want %q, %q, %q",
					tc.tp, gotTrace, gotSpan, gotFlags, trace, span, tc.flags)
			}
		})
	}
}

func TestTraceState(t *testing.T) {
	long := strings.Repeat("k=v,", 128) + "x=y" // 515 bytes
	for _, tc := range []struct {
		name string
		vals []string
		want string
	}{
		{name: "none"},
		{name: "one", vals: []string{"congo=t61rcWkgMzE"}, want: "congo=t61rcWkgMzE"},
		{name: "joined", vals: []string{"congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7"}, want: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"},
		{name: "exactly 512", vals: []string{long[:512]}, want: long[:512]},
		{name: "too long", vals: []string{long}},
		{name: "control char", vals: []string{"a=b\x01"}},
		{name: "non-ascii", vals: []string{"a=caf\u00e9"}},
		{name: "blank", vals: []string{"  "}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := traceState(tc.vals); got != tc.want {
				t.Errorf("traceState(%q) = %q, want %q", tc.vals, got, tc.want)
			}
		})
	}
}

// TestGeneratedIDsUnique: request ids and new traceparents are unique,
// well formed and never all zero.
func TestGeneratedIDsUnique(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		tp := string(appendNewTraceParent(nil, "01"))
		traceID, spanID, flags, ok := parseTraceParent(tp)
		if !ok || flags != "01" {
			t.Fatalf("appendNewTraceParent = %q, want a valid traceparent with flags 01", tp)
		}
		for _, id := range []string{string(appendRandomHex(nil, 16)), traceID, spanID} {
			if seen[id] {
				t.Fatalf("repeated id %q", id)
			}
			seen[id] = true
			if !lowerHex(id) || allZero(id) {
				t.Fatalf("id %q, want non-zero lower hex", id)
			}
		}
	}
	if got := string(appendRandomHex([]byte("x"), 8)); len(got) != 17 || got[0] != 'x' {
		t.Errorf("appendRandomHex(\"x\", 8) = %q, want x and 16 hex digits", got)
	}
}

// TestValues: the downstream values match the Info, are capped (an append
// cannot write into another), carry tracestate only when there is one, and
// cost no allocation.
func TestValues(t *testing.T) {
	if _, _, _, ok := Values(context.Background()); ok {
		t.Fatal("Values without an Info reported ok")
	}
	const clientTP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
	for _, tc := range []struct {
		name   string
		md     metadata.MD
		opts   []Option
		wantTP bool
	}{
		{"no trace", metadata.MD{}, nil, false},
		{"new trace", metadata.MD{}, []Option{WithStartTraces(false)}, true},
		{"continued with tracestate", metadata.Pairs(TraceParentKey, clientTP, TraceStateKey, "k=v"), nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := evaluateOptions(tc.opts)
			ctx := context.Context(o.resolve(metadata.NewIncomingContext(context.Background(), tc.md)))
			info, _ := FromContext(ctx)
			id, tp, ts, ok := Values(ctx)
			if !ok || len(id) != 1 || id[0] != info.RequestID {
				t.Fatalf("Values = %q %v, want the Info's %q", id, ok, info.RequestID)
			}
			if !tc.wantTP && tp != nil || tc.wantTP && (len(tp) != 1 || tp[0] != info.TraceParent || info.TraceParent == "") {
				t.Fatalf("traceparent = %q, want the Info's %q (sent: %v)", tp, info.TraceParent, tc.wantTP)
			}
			if info.TraceState == "" && ts != nil || info.TraceState != "" && (len(ts) != 1 || ts[0] != info.TraceState) {
				t.Errorf("tracestate = %q, want %q", ts, info.TraceState)
			}
			if cap(id) != 1 || tp != nil && cap(tp) != 1 {
				t.Errorf("capacities %d, %d: an append would write into a neighbour", cap(id), cap(tp))
			}
			if n := testing.AllocsPerRun(100, func() { _, _, _, _ = Values(ctx) }); n != 0 {
				t.Errorf("Values: %v allocations, want 0", n)
			}
			c := ctx.(*infoCtx)
			if c.headerSent.Load() {
				t.Fatal("headerSent before ResponseHeaderValue")
			}
			if hv, ok := ResponseHeaderValue(ctx); !ok || len(hv) != 1 || hv[0] != info.RequestID || cap(hv) != 1 || !c.headerSent.Load() {
				t.Errorf("ResponseHeaderValue = %q, %v (sent recorded: %v), want [%q], true, true", hv, ok, c.headerSent.Load(), info.RequestID)
			}
		})
	}
}
