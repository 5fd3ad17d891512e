package ratelimit_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/ratelimit"
	"github.com/portcullis/portcullis/policy"
)

func rateMD(limit, remaining, reset string) metadata.MD {
	return metadata.MD{"ratelimit-limit": {limit}, "ratelimit-remaining": {remaining}, "ratelimit-reset": {reset}}
}

func equalMD(a, b metadata.MD) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		w := b[k]
		if len(v) != len(w) {
			return false
		}
		for i := range v {
			if v[i] != w[i] {
				return false
			}
		}
	}
	return true
}

// retryDelay returns the RetryInfo delay of a status error.
func retryDelay(err error) (time.Duration, bool) {
	for _, d := range status.Convert(err).Details() {
		if ri, ok := d.(*errdetails.RetryInfo); ok {
			return ri.GetRetryDelay().AsDuration(), true
		}
	}
	return 0, false
}

// TestRefusal checks the wire form of allowed and refused calls: codes,
// message, RetryInfo, the retry-after trailer and the ratelimit-* headers.
func TestRefusal(t *testing.T) {
	// 2 per minute with a burst of 1: capacity 2, 30s per cell.
	rl := &policy.RateLimit{Rate: 2, Period: time.Minute, Burst: 1}
	for _, ic := range interceptors {
		t.Run(ic.name, func(t *testing.T) {
			clk := newClock()
			s := ratelimit.NewMemory(ratelimit.WithClock(clk.Now))
			opts := baseOptions(limited(rl))
			ctx := withPrincipal(testContext(t), user("alice"))
			for i, want := range []struct {
				advance time.Duration
				code    codes.Code
				header  metadata.MD
				retry   string
			}{
				{code: codes.OK, header: rateMD("2", "1", "30")},
				{code: codes.OK, header: rateMD("2", "0", "60")},
				{code: codes.ResourceExhausted, header: rateMD("2", "0", "60"), retry: "30"},
				{advance: 10500 * time.Millisecond, code: codes.ResourceExhausted, header: rateMD("2", "0", "50"), retry: "20"},
				{advance: 20 * time.Second, code: codes.OK, header: rateMD("2", "0", "60")},
			} {
				clk.Advance(want.advance)
				o := ic.call(ctx, s, opts, nil)
				if status.Code(o.err) != want.code {
					t.Fatalf("call %d: %s() = %v, want %v", i, ic.name, o.err, want.code)
				}
				if o.called != (want.code == codes.OK) {
					t.Errorf("call %d: handler called = %v, want %v", i, o.called, want.code == codes.OK)
				}
				if !equalMD(o.header, want.header) {
					t.Errorf("call %d: header = %v, want %v", i, o.header, want.header)
				}
				if want.code == codes.OK {
					if len(o.trailer) != 0 {
						t.Errorf("call %d: trailer = %v, want none", i, o.trailer)
					}
					continue
				}
				if msg := status.Convert(o.err).Message(); msg != "rate limit exceeded" {
					t.Errorf("call %d: message = %q, want %q", i, msg, "rate limit exceeded")
				}
				wantTrailer := metadata.MD{"retry-after": {want.retry}}
				if !equalMD(o.trailer, wantTrailer) {
					t.Errorf("call %d: trailer = %v, want %v", i, o.trailer, wantTrailer)
				}
				d, ok := retryDelay(o.err)
				if wantD, _ := time.ParseDuration(want.retry + "s"); !ok || (d+time.Second-1)/time.Second != wantD/time.Second {
					t.Errorf("call %d: RetryInfo delay = %v, %v, want about %v", i, d, ok, wantD)
				}
			}
		})
	}
}

// TestShadow checks that a shadow limit never refuses and sets no
// metadata, but counts and records.
func TestShadow(t *testing.T) {
	rl := &policy.RateLimit{Rate: 1, Period: time.Hour, Shadow: true}
	for _, ic := range interceptors {
		t.Run(ic.name, func(t *testing.T) {
			m := ratelimit.NewMetrics()
			s := ratelimit.NewMemory()
			opts := baseOptions(limited(rl), ratelimit.WithMetrics(m))
			for i := range 5 {
				rec := &policy.Record{}
				ctx := policy.NewRecordContext(withPrincipal(testContext(t), user("alice")), rec)
				o := ic.call(ctx, s, opts, nil)
				if o.err != nil || !o.called {
					t.Fatalf("call %d: %s() = %v, called %v, want nil, true", i, ic.name, o.err, o.called)
				}
				if len(o.header) != 0 || len(o.trailer) != 0 {
					t.Errorf("call %d: header %v, trailer %v, want none", i, o.header, o.trailer)
				}
				if want := i > 0; rec.RateLimited != want || rec.RateLimitKey != testMethod+"|principal|alice" {
					t.Errorf("call %d: record = %q, %v, want %q, %v", i, rec.RateLimitKey, rec.RateLimited, testMethod+"|principal|alice", want)
				}
			}
			for result, want := range map[string]float64{"allowed": 1, "shadow_limited": 4, "limited": 0} {
				if got := gauge(t, m, "portcullis_ratelimit_decisions_total", "method", testMethod, "result", result); got != want {
					t.Errorf("decisions_total{result=%s} = %v, want %v", result, got, want)
				}
			}
		})
	}
}

// TestRecordAndMetrics checks the record and the counters of enforced
// limits.
func TestRecordAndMetrics(t *testing.T) {
	rl := &policy.RateLimit{Rate: 1, Period: time.Hour, Key: policy.KeyTenant}
	p := &policy.Principal{ID: "alice", Kind: policy.KindUser, Tenant: "acme"}
	for _, ic := range interceptors {
		t.Run(ic.name, func(t *testing.T) {
			m := ratelimit.NewMetrics()
			s := ratelimit.NewMemory()
			opts := baseOptions(limited(rl), ratelimit.WithMetrics(m))
			for i, want := range []bool{false, true, true} {
				rec := &policy.Record{}
				o := ic.call(policy.NewRecordContext(withPrincipal(testContext(t), p), rec), s, opts, nil)
				if rec.RateLimited != want || rec.RateLimitKey != testMethod+"|tenant|acme" {
					t.Errorf("call %d: record = %q, %v, want %q, %v", i, rec.RateLimitKey, rec.RateLimited, testMethod+"|tenant|acme", want)
				}
				if (status.Code(o.err) == codes.ResourceExhausted) != want {
					t.Errorf("call %d: %s() = %v, want refused %v", i, ic.name, o.err, want)
				}
			}
			if got := gauge(t, m, "portcullis_ratelimit_decisions_total", "result", "limited"); got != 2 {
				t.Errorf("decisions_total{result=limited} = %v, want 2", got)
			}
		})
	}
}

// TestStoreError checks fail closed: a failing store refuses with
// Unavailable, except under a shadow limit.
func TestStoreError(t *testing.T) {
	boom := ratelimit.StoreFunc(func(context.Context, string, ratelimit.Limit, int) (ratelimit.Result, error) {
		return ratelimit.Result{}, errors.New("redis: connection refused")
	})
	closed := ratelimit.StoreFunc(func(_ context.Context, _ string, l ratelimit.Limit, _ int) (ratelimit.Result, error) {
		return ratelimit.Result{Limit: l.Capacity(), Degraded: true}, ratelimit.ErrUnavailable
	})
	for _, tc := range []struct {
		name       string
		store      ratelimit.Store
		shadow     bool
		wantCode   codes.Code
		wantErrors float64
	}{
		{"error", boom, false, codes.Unavailable, 1},
		{"error shadow", boom, true, codes.OK, 1},
		{"fail closed fallback", closed, false, codes.Unavailable, 0}, // the Fallback counts its own errors
	} {
		for _, ic := range interceptors {
			t.Run(tc.name+"/"+ic.name, func(t *testing.T) {
				m := ratelimit.NewMetrics()
				var got []ratelimit.Decision
				rl := &policy.RateLimit{Rate: 1, Period: time.Second, Shadow: tc.shadow}
				opts := baseOptions(limited(rl), ratelimit.WithMetrics(m),
					ratelimit.WithDecisionFunc(func(_ context.Context, d ratelimit.Decision) { got = append(got, d) }))
				rec := &policy.Record{}
				o := ic.call(policy.NewRecordContext(testContext(t), rec), tc.store, opts, nil)
				if status.Code(o.err) != tc.wantCode {
					t.Fatalf("%s() = %v, want %v", ic.name, o.err, tc.wantCode)
				}
				if tc.wantCode != codes.OK {
					if msg := status.Convert(o.err).Message(); msg != "rate limit unavailable" {
						t.Errorf("message = %q, want %q", msg, "rate limit unavailable")
					}
					if !rec.RateLimited {
						t.Errorf("record RateLimited = false, want true")
					}
				}
				if n := gauge(t, m, "portcullis_ratelimit_store_errors_total"); n != tc.wantErrors {
					t.Errorf("store_errors_total = %v, want %v", n, tc.wantErrors)
				}
				if len(got) != 1 || got[0].Err == nil || got[0].Method != testMethod || got[0].Shadow != tc.shadow {
					t.Errorf("decisions = %+v, want one with the error", got)
				}
			})
		}
	}
}

// TestPass checks calls the interceptors must not touch.
func TestPass(t *testing.T) {
	never := ratelimit.StoreFunc(func(context.Context, string, ratelimit.Limit, int) (ratelimit.Result, error) {
		return ratelimit.Result{}, errors.New("store called")
	})
	for _, tc := range []struct {
		name string
		opts []ratelimit.Option
	}{
		{"no method func", nil},
		{"no policy", baseOptions(nil)},
		{"no limit", baseOptions(&policy.Method{FullMethod: testMethod})},
		{"zero rate", baseOptions(limited(&policy.RateLimit{Period: time.Second}))},
		{"limit func removes it", baseOptions(limited(&policy.RateLimit{Rate: 1, Period: time.Second}),
			ratelimit.WithLimitFunc(func(context.Context, *policy.Method) *policy.RateLimit { return nil }))},
	} {
		for _, ic := range interceptors {
			t.Run(tc.name+"/"+ic.name, func(t *testing.T) {
				o := ic.call(testContext(t), never, tc.opts, nil)
				if o.err != nil || !o.called || len(o.header) != 0 {
					t.Errorf("%s() = %v, called %v, header %v, want nil, true, none", ic.name, o.err, o.called, o.header)
				}
			})
		}
	}
}

// TestLimitFunc checks that an override replaces the compiled limit.
func TestLimitFunc(t *testing.T) {
	tight := &policy.RateLimit{Rate: 1, Period: time.Hour}
	opts := baseOptions(limited(&policy.RateLimit{Rate: 100, Period: time.Second, Burst: 100}),
		ratelimit.WithLimitFunc(func(context.Context, *policy.Method) *policy.RateLimit { return tight }))
	s := ratelimit.NewMemory()
	ctx := withPrincipal(testContext(t), user("alice"))
	for i, want := range []codes.Code{codes.OK, codes.ResourceExhausted} {
		if o := interceptors[0].call(ctx, s, opts, nil); status.Code(o.err) != want {
			t.Errorf("call %d: UnaryServerInterceptor() = %v, want %v", i, o.err, want)
		}
	}
}

func TestNilStore(t *testing.T) {
	for _, tc := range []struct {
		name string
		f    func()
	}{
		{"UnaryServerInterceptor", func() { ratelimit.UnaryServerInterceptor(nil) }},
		{"StreamServerInterceptor", func() { ratelimit.StreamServerInterceptor(nil) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			defer func() {
				if p := recover(); p != "ratelimit: nil Store" {
					t.Errorf("%s(nil) panic = %v, want %q", tc.name, p, "ratelimit: nil Store")
				}
			}()
			tc.f()
		})
	}
}
