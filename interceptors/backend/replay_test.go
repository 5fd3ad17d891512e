package backend_test

import (
	"testing"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/interceptors/backend/backendtest"
)

// TestReplay checks replay protection: a jti is accepted once, the memory
// is bounded and fails closed when full, and expired ids are forgotten.
func TestReplay(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	clk := newClock()
	v := newVerifier(t, staticConfig(gw), backend.WithReplayProtection(2), backend.WithClock(clk.Now))
	a, b := gw.Assertion(method, "alice"), gw.Assertion(method, "alice") // 30s
	c := gw.Sign(gw.Claims(method, "alice", time.Minute))
	steps := []struct {
		name    string
		tok     string
		advance time.Duration
		want    codes.Code
	}{
		{"a first use", a, 0, codes.OK},
		{"a replayed", a, 0, codes.Unauthenticated},
		{"b first use", b, 0, codes.OK},
		{"c with memory full", c, 0, codes.Unauthenticated},
		{"b replayed", b, 0, codes.Unauthenticated},
		// Past exp + leeway, a and b are forgotten (they are refused as
		// expired anyway), which makes room for c.
		{"c after a and b expired", c, 37 * time.Second, codes.OK},
		{"c replayed", c, 0, codes.Unauthenticated},
		{"a after expiry", a, 0, codes.Unauthenticated},
	}
	for _, s := range steps {
		clk.Advance(s.advance)
		if got := verifyCode(t, v, s.tok); got != s.want {
			t.Errorf("intercept(%s) = %v, want %v", s.name, got, s.want)
		}
	}
}

// TestReplayOff accepts a repeated assertion without replay protection.
func TestReplayOff(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	v := newVerifier(t, staticConfig(gw))
	tok := gw.Assertion(method, "alice")
	for i := range 3 {
		if got := verifyCode(t, v, tok); got != codes.OK {
			t.Errorf("intercept(use %d) = %v, want OK", i+1, got)
		}
	}
}
