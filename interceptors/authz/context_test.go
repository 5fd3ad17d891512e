package authz

import (
	"context"
	"fmt"
	"math"
	"net"
	"net/netip"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/peer"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/policy"
)

// rateBundle is bankBundle with audrey's auditor role limited by a
// condition on the context.
func rateBundle(cond string) *policy.Bundle {
	b := bankBundle()
	b.Roles["auditor"] = &policy.Role{Name: "auditor", Permissions: []string{"bank.audit.read", "bank.accounts.read"}, Condition: cond}
	return b
}

// authorizer returns a unary authorize function for GetAccount called by
// p from addr, with the interceptor options opts.
func authorizer(t *testing.T, b *policy.Bundle, p *policy.Principal, addr string, opts ...Option) func() error {
	t.Helper()
	reg := bankRegistry(t)
	e, err := NewEngine(reg, b)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := reg.Lookup("/examples.bank.v1.BankService/GetAccount")
	ic := UnaryServerInterceptor(Static(e), append([]Option{
		WithMethodFunc(func(context.Context) (*policy.Method, bool) { return m, true }),
		WithPrincipalFunc(func(context.Context) (*policy.Principal, bool) { return p, p != nil }),
	}, opts...)...)
	ctx := peer.NewContext(context.Background(), &peer.Peer{Addr: net.TCPAddrFromAddrPort(netip.MustParseAddrPort(addr))})
	return func() error {
		_, err := ic(ctx, nil, &grpc.UnaryServerInfo{FullMethod: m.FullMethod}, func(context.Context, any) (any, error) { return nil, nil })
		return err
	}
}

var audrey = &policy.Principal{ID: "audrey", Kind: policy.KindUser, Credential: policy.CredentialJWT}

// TestContextFacts: conditions see the call's method and client address.
func TestContextFacts(t *testing.T) {
	for _, tc := range []struct {
		name, cond string
		opts       []Option
		allowed    bool
	}{
		{"method", "context.method == '/examples.bank.v1.BankService/GetAccount'", nil, true},
		{"other method", "context.method == '/examples.bank.v1.BankService/ListAccounts'", nil, false},
		{"client ip", "context.client_ip == '192.0.2.7'", nil, true},
		{"client ip from the resolver", "context.client_ip == '198.51.100.1'",
			[]Option{WithClientAddrFunc(func(context.Context) netip.Addr { return netip.MustParseAddr("198.51.100.1") })}, true},
		{"transport", "context.transport == 'grpc'", nil, true},
		{"time", "context.time == timestamp('2026-12-01T12:00:00Z')",
			[]Option{WithClock(func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) })}, true},
		{"time not before", "context.time < timestamp('2026-12-01T12:00:00Z')",
			[]Option{WithClock(func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) })}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := authorizer(t, rateBundle(tc.cond), audrey, "192.0.2.7:4000", tc.opts...)()
			if (err == nil) != tc.allowed {
				t.Errorf("%s: err = %v, want allowed %v", tc.cond, err, tc.allowed)
			}
		})
	}
}

// TestRequestRate: a condition on context.request_rate sees the caller's
// recent calls per second, this one included, falling again once the
// caller slows down; other callers count apart.
func TestRequestRate(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	clock := WithClock(func() time.Time { return now })
	meter := NewRateMeter(time.Second, 0) // each call adds 1/s
	b := rateBundle("context.request_rate <= 3.0")
	call := authorizer(t, b, audrey, "192.0.2.7:4000", clock, WithRateMeter(meter))
	for i := range 3 {
		if err := call(); err != nil {
			t.Fatalf("call %d: %v, want allowed (rate %d/s)", i+1, err, i+1)
		}
	}
	if err := call(); status.Code(err) != codes.PermissionDenied {
		t.Fatalf("call 4 within the same instant: %v, want PermissionDenied (rate 4/s)", err)
	}
	other := &policy.Principal{ID: "audrey-2", Kind: policy.KindUser, Credential: policy.CredentialJWT}
	b.Bindings = append(b.Bindings, policy.Binding{Roles: []string{"auditor"}, Users: []string{"audrey-2"}})
	if err := authorizer(t, b, other, "192.0.2.7:4000", clock, WithRateMeter(meter))(); err != nil {
		t.Errorf("another principal: %v, want allowed (its own rate)", err)
	}
	now = now.Add(5 * time.Second) // 4·e^-5 ≈ 0.03
	if err := call(); err != nil {
		t.Errorf("after 5 quiet windows: %v, want allowed", err)
	}
	if meter.Len() != 2 {
		t.Errorf("meter tracks %d callers, want 2", meter.Len())
	}
}

// TestRequestRateOnlyWhenRead: callers are counted only while a condition
// reads request_rate.
func TestRequestRateOnlyWhenRead(t *testing.T) {
	meter := NewRateMeter(0, 0)
	call := authorizer(t, bankBundle(), audrey, "192.0.2.7:4000", WithRateMeter(meter))
	for range 5 {
		if err := call(); err != nil {
			t.Fatal(err)
		}
	}
	if meter.Len() != 0 {
		t.Errorf("meter tracks %d callers without a request_rate condition, want 0", meter.Len())
	}
	e, err := NewEngine(bankRegistry(t), rateBundle("context.request_rate < 100.0"))
	if err != nil {
		t.Fatal(err)
	}
	if !e.UsesRequestRate() {
		t.Error("UsesRequestRate() = false for a role condition on request_rate")
	}
	e, _ = NewEngine(bankRegistry(t), bankBundle())
	if e.UsesRequestRate() {
		t.Error("UsesRequestRate() = true without a request_rate condition")
	}
}

// TestRateMeterSteady: a steady rate r reads about r once a few windows
// have passed.
func TestRateMeterSteady(t *testing.T) {
	m := NewRateMeter(10*time.Second, 0)
	start := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	var got float64
	for i := range 2000 { // 20/s for 100 s, ten windows
		got = m.Observe("k", start.Add(time.Duration(i)*50*time.Millisecond))
	}
	if math.Abs(got-20) > 1 {
		t.Errorf("rate after 100 s at 20/s = %.2f, want 20 ± 1", got)
	}
	// Peek is what the next call would read, and counts nothing.
	last := start.Add(1999 * 50 * time.Millisecond)
	if p1, p2 := m.Peek("k", last), m.Peek("k", last); math.Abs(p1-(got+0.1)) > 1e-9 || p1 != p2 {
		t.Errorf("Peek = %v then %v, want %v twice", p1, p2, got+0.1)
	}
	if p := m.Peek("unknown", last); p != 0.1 || m.Len() != 1 {
		t.Errorf("Peek(unknown) = %v with %d callers, want 0.1 and 1 (not tracked)", p, m.Len())
	}
	// A clock stepping back counts at the last call's time.
	if r := m.Observe("k", start); r <= got {
		t.Errorf("rate after a clock step back = %.2f, want above %.2f", r, got)
	}
}

// TestRateMeterBounded: memory stays bounded whatever the number of
// callers.
func TestRateMeterBounded(t *testing.T) {
	m := NewRateMeter(time.Second, 1000)
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	for i := range 100_000 {
		m.Observe(fmt.Sprintf("caller-%d", i), now.Add(time.Duration(i)*time.Microsecond))
	}
	if n := m.Len(); n > 1000 || n < 900 {
		t.Errorf("Len() = %d after 100,000 callers, want at most 1000 (and near it)", n)
	}
	small := NewRateMeter(time.Second, 10) // at least one caller a shard
	for i := range 10_000 {
		small.Observe(fmt.Sprintf("caller-%d", i), now)
	}
	if n := small.Len(); n > 64 {
		t.Errorf("Len() = %d with a bound of 10, want at most 64 (one a shard)", n)
	}
}

func TestRateKey(t *testing.T) {
	for _, tc := range []struct {
		p    *policy.Principal
		want string
	}{
		{audrey, "user\x00audrey"},
		{&policy.Principal{ID: "bot", Kind: policy.KindService}, "service\x00bot"},
		{&policy.Principal{ID: "x", Kind: policy.KindAnonymous}, ""},
		{nil, ""},
	} {
		if got := rateKey(tc.p); got != tc.want {
			t.Errorf("rateKey(%+v) = %q, want %q", tc.p, got, tc.want)
		}
	}
}

// TestDryRunShadow: an explained call does not count as a shadow
// disagreement (the candidate's verdict is still recorded).
func TestDryRunShadow(t *testing.T) {
	reg := bankRegistry(t)
	live, err := NewEngine(reg, bankBundle())
	if err != nil {
		t.Fatal(err)
	}
	b := bankBundle()
	b.Version = "candidate"
	b.Bindings = nil // the candidate denies audrey
	cand, err := NewEngine(reg, b)
	if err != nil {
		t.Fatal(err)
	}
	m, _ := reg.Lookup("/examples.bank.v1.BankService/GetAccount")
	disagreements := 0
	ic := UnaryServerInterceptor(Static(live),
		WithMethodFunc(func(context.Context) (*policy.Method, bool) { return m, true }),
		WithPrincipalFunc(func(context.Context) (*policy.Principal, bool) { return audrey, true }),
		WithShadow(func() *Engine { return cand }, func(*policy.Method, Verdict, Verdict) { disagreements++ }))
	for _, dry := range []bool{true, false} {
		rec := &policy.Record{DryRun: dry}
		ctx := policy.NewRecordContext(context.Background(), rec)
		if _, err := ic(ctx, nil, &grpc.UnaryServerInfo{FullMethod: m.FullMethod}, func(context.Context, any) (any, error) { return nil, nil }); err != nil {
			t.Fatal(err)
		}
		if rec.Shadow == nil || !rec.Shadow.Disagree {
			t.Errorf("dry run %v: Shadow = %+v, want a recorded disagreement", dry, rec.Shadow)
		}
	}
	if disagreements != 1 {
		t.Errorf("disagreements counted = %d, want 1 (the live call only)", disagreements)
	}
}
