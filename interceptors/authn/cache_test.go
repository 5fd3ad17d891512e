package authn_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/peer"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
	"github.com/portcullis/portcullis/policy"
)

// TestCachedTokenRechecks checks what a cache hit still checks: expiry,
// the certificate binding against the current connection, and the method
// requirements.
func TestCachedTokenRechecks(t *testing.T) {
	f := newFixture(t)
	clock := newFakeClock()
	a := newAuth(t, f.cfg, f.source(), authn.WithClock(clock.Now))
	now := clock.Now()
	tok := f.token(map[string]any{"iat": now.Unix(), "nbf": nil, "exp": now.Add(2 * time.Minute).Unix(), "cnf": authntest.CNF(f.alice.Leaf)})
	alice := tlsPeer("192.0.2.1:1", &f.alice, true)
	bob := tlsPeer("192.0.2.1:1", &f.bob, true)
	steps := []struct {
		name    string
		advance time.Duration
		m       *policy.Method
		p       *peer.Peer
		reason  string
	}{
		{name: "first use", m: anyCred, p: alice},
		{name: "cached", m: anyCred, p: alice},
		{name: "cached, no certificate", m: anyCred, reason: "without a client certificate"},
		{name: "cached, other certificate", m: anyCred, p: bob, reason: "different client certificate"},
		{name: "cached, method allows only mTLS", m: mtlsOnly, p: alice, reason: "method allows mtls credentials, not jwt"},
		{name: "cached, bound required", m: needsBound, p: alice},
		{name: "within exp", advance: 110 * time.Second, m: anyCred, p: alice},
		{name: "past exp, within leeway", advance: 20 * time.Second, m: anyCred, p: alice},
		{name: "past exp and leeway", advance: 21 * time.Second, m: anyCred, p: alice, reason: "token expired"},
	}
	for _, s := range steps {
		clock.Advance(s.advance)
		got := call(testContext(t), a, 0, s.m, s.p, bearer(tok)...)
		if s.reason == "" && got.err != nil {
			t.Fatalf("%s: UnaryServerInterceptor() = %v (%s), want nil", s.name, got.err, got.rec.AuthnFailure)
		}
		if s.reason != "" && (got.err == nil || !strings.Contains(got.rec.AuthnFailure, s.reason)) {
			t.Fatalf("%s: UnaryServerInterceptor() = %v (%s), want refused with %q", s.name, got.err, got.rec.AuthnFailure, s.reason)
		}
	}
}
