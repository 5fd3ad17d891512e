package authn_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/authn"
	"github.com/portcullis/portcullis/interceptors/authn/authntest"
)

// verdict returns "" when tok authenticates on anyCred, else the recorded
// reason.
func verdict(t *testing.T, a *authn.Authenticator, tok string) string {
	t.Helper()
	got := call(testContext(t), a, 1, anyCred, nil, bearer(tok)...)
	if got.err == nil {
		return ""
	}
	if status.Code(got.err) != codes.Unauthenticated {
		t.Fatalf("StreamServerInterceptor() = %v, want nil or %v", got.err, codes.Unauthenticated)
	}
	return got.rec.AuthnFailure
}

func wantAccepted(t *testing.T, a *authn.Authenticator, name, tok string) {
	t.Helper()
	if why := verdict(t, a, tok); why != "" {
		t.Fatalf("StreamServerInterceptor(%s) refused: %s, want accepted", name, why)
	}
}

func wantRefused(t *testing.T, a *authn.Authenticator, name, tok, reason string) {
	t.Helper()
	if why := verdict(t, a, tok); why == "" || !strings.Contains(why, reason) {
		t.Fatalf("StreamServerInterceptor(%s) reason = %q, want refused with %q", name, why, reason)
	}
}

// eventually polls until tok's verdict is wanted ("" for accepted, else a
// reason substring), for changes that a background reload brings.
func eventually(t *testing.T, a *authn.Authenticator, name, tok, reason string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		why := verdict(t, a, tok)
		if (reason == "" && why == "") || (reason != "" && strings.Contains(why, reason)) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("StreamServerInterceptor(%s) = %q after 5s, want %q", name, why, reason)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJWKSFileRotation rotates an issuer's key in its JWKS file while
// calls keep coming: the new key works once the file is re-read, the old
// key keeps working until it is removed, and then stops, although its
// token is cached.
func TestJWKSFileRotation(t *testing.T) {
	iss := authntest.NewIssuer("https://rotate.test", "ES256")
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := iss.WriteJWKS(path); err != nil {
		t.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	a := newAuth(t, authn.Config{JWT: true, Issuers: []authn.Issuer{{
		Issuer: iss.Issuer(), Audiences: []string{audience}, Algorithms: []string{"ES256"},
		JWKSFile: path, RefreshInterval: 20 * time.Millisecond,
	}}}, nil)
	oldTok := sign(iss, "alice", nil)
	wantAccepted(t, a, "old token", oldTok)

	// Serve the old token from several goroutines during the rotation.
	ctx, stop := context.WithCancel(testContext(t))
	var wg sync.WaitGroup
	var failures atomic.Int64
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				if got := call(ctx, a, 0, anyCred, nil, bearer(oldTok)...); got.err != nil && ctx.Err() == nil {
					failures.Add(1)
				}
			}
		})
	}
	iss.Rotate()
	newTok := sign(iss, "alice", nil)
	if err := iss.WriteJWKS(path); err != nil {
		t.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	eventually(t, a, "new token after rotation", newTok, "")
	stop()
	wg.Wait()
	if n := failures.Load(); n != 0 {
		t.Errorf("old token refused %d times during the rotation, want 0", n)
	}
	wantAccepted(t, a, "old token after rotation", oldTok)

	// A broken file keeps the last good key set.
	writeFile(t, path, []byte(`{"keys": [`))
	time.Sleep(100 * time.Millisecond)
	wantAccepted(t, a, "old token with a broken file", oldTok)

	iss.RemoveOld()
	if err := iss.WriteJWKS(path); err != nil {
		t.Fatalf("WriteJWKS() = %v, want nil", err)
	}
	eventually(t, a, "old token after removal", oldTok, "unknown kid")
	wantAccepted(t, a, "new token after removal", newTok)
}

// jwksServer serves an issuer's JWKS over HTTPS and counts the fetches. It
// answers a matching If-None-Match with 304, so that a client relying on
// ETags would never see a rotated set it had not asked for properly.
type jwksServer struct {
	*httptest.Server
	fetches     atomic.Int64
	conditional atomic.Int64 // requests with If-None-Match or If-Modified-Since
	mode        atomic.Value // "", "hang", "error", "huge"
}

func newJWKSServer(t *testing.T, iss *authntest.Issuer) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.mode.Store("")
	s.Server = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.fetches.Add(1)
		if r.Header.Get("If-None-Match") != "" || r.Header.Get("If-Modified-Since") != "" {
			s.conditional.Add(1)
		}
		switch s.mode.Load() {
		case "hang":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		case "error":
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		case "huge":
			_, _ = w.Write([]byte(`{"keys": [` + strings.Repeat(" ", 4096) + `]}`))
			return
		}
		b := iss.JWKS()
		etag := fmt.Sprintf(`"%x"`, sha256.Sum256(b))
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", etag)
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(b)
	}))
	// Handshakes cut short by Close are expected; keep them out of the log.
	s.Config.ErrorLog = log.New(io.Discard, "", 0)
	s.StartTLS()
	t.Cleanup(s.Close)
	return s
}

func urlConfig(iss *authntest.Issuer, url string, timeout time.Duration) authn.Config {
	return authn.Config{JWT: true, Issuers: []authn.Issuer{{
		Issuer: iss.Issuer(), Audiences: []string{audience}, Algorithms: []string{"ES256"},
		JWKSURL: url, RefreshInterval: time.Hour, FetchTimeout: timeout, MaxJWKSBytes: 2048,
	}}}
}

// TestJWKSURL checks the refresh of a JWKS URL on unknown kids: at most one
// fetch per MinRefreshInterval (default 30s), shared by concurrent calls,
// and a removed key stops working once a refresh sees it gone.
func TestJWKSURL(t *testing.T) {
	iss := authntest.NewIssuer("https://url.test", "ES256")
	srv := newJWKSServer(t, iss)
	clock := newFakeClock()
	a := newAuth(t, urlConfig(iss, srv.URL+"/jwks.json", 5*time.Second), nil, authn.WithHTTPClient(srv.Client()), authn.WithClock(clock.Now))
	wantFetches := func(n int64) {
		t.Helper()
		if got := srv.fetches.Load(); got != n {
			t.Fatalf("JWKS fetches = %d, want %d", got, n)
		}
	}
	wantFetches(1)
	oldTok := sign(iss, "alice", nil)
	wantAccepted(t, a, "token of the first key", oldTok)

	iss.Rotate()
	newTok := sign(iss, "alice", nil)
	wantRefused(t, a, "new kid within the refresh bound", newTok, "unknown kid")
	wantFetches(1)

	clock.Advance(31 * time.Second)
	wantAccepted(t, a, "new kid after the bound", newTok)
	wantFetches(2)
	wantAccepted(t, a, "old kid still published", oldTok)

	// A flood of unknown kids: none fetches within the bound, and exactly
	// one after it.
	flood := func() {
		var wg sync.WaitGroup
		for range 20 {
			wg.Go(func() { _ = verdict(t, a, sign(authntest.NewIssuer(iss.Issuer(), "ES256"), "mallory", nil)) })
		}
		wg.Wait()
	}
	flood()
	wantFetches(2)
	clock.Advance(31 * time.Second)
	flood()
	wantFetches(3)

	iss.RemoveOld()
	clock.Advance(31 * time.Second)
	wantRefused(t, a, "unknown kid that triggers a refresh", sign(authntest.NewIssuer(iss.Issuer(), "ES256"), "mallory", nil), "unknown kid")
	wantFetches(4)
	wantRefused(t, a, "removed kid, cached token", oldTok, "unknown kid")
	wantAccepted(t, a, "current kid", newTok)
	wantFetches(4)
	if n := srv.conditional.Load(); n != 0 {
		t.Errorf("conditional JWKS requests = %d, want 0 (a refresh must not depend on ETags)", n)
	}
}

// TestJWKSURLFailures checks the fetch bounds (time, size, status) and that
// the last good key set survives a failed refresh.
func TestJWKSURLFailures(t *testing.T) {
	iss := authntest.NewIssuer("https://down.test", "ES256")
	tok := sign(iss, "alice", nil)
	for _, mode := range []string{"hang", "error", "huge"} {
		t.Run(mode, func(t *testing.T) {
			srv := newJWKSServer(t, iss)
			srv.mode.Store(mode)
			clock := newFakeClock()
			// Only the hanging server needs a short timeout; the others get
			// a generous one, so that a slow machine does not time out.
			timeout := 5 * time.Second
			if mode == "hang" {
				timeout = 500 * time.Millisecond
			}
			start := time.Now()
			a := newAuth(t, urlConfig(iss, srv.URL, timeout), nil, authn.WithHTTPClient(srv.Client()), authn.WithClock(clock.Now))
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("authn.New() took %v with a %s JWKS server, want at most about the FetchTimeout", d, mode)
			}
			wantRefused(t, a, "token while the keys cannot load", tok, "unknown kid")

			srv.mode.Store("")
			clock.Advance(31 * time.Second)
			wantAccepted(t, a, "token once the server recovers", tok)

			srv.mode.Store(mode)
			clock.Advance(31 * time.Second)
			wantRefused(t, a, "unknown kid during the outage", sign(authntest.NewIssuer(iss.Issuer(), "ES256"), "x", nil), "unknown kid")
			wantAccepted(t, a, "token with the last good keys", tok)
			if got := srv.fetches.Load(); got != 3 {
				t.Errorf("JWKS fetches = %d, want 3", got)
			}
		})
	}
}
