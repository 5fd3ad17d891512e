package backend_test

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/portcullis/portcullis/interceptors/backend"
	"github.com/portcullis/portcullis/interceptors/backend/backendtest"
)

func urlConfig(gw *backendtest.Gateway, url string) backend.Config {
	return backend.Config{Issuer: gw.Issuer(), JWKSURL: url, RefreshInterval: time.Hour, MinRefreshInterval: time.Hour}
}

// verifyCode returns the code of intercepting one call carrying tok.
func verifyCode(t *testing.T, v *backend.Verifier, tok string) codes.Code {
	t.Helper()
	_, err := callUnary(testContext(t), v, method, backend.MetadataKey, tok)
	return status.Code(err)
}

// TestRotation rotates the gateway's key under load: assertions of the old
// key keep verifying until it is retired, the new key is picked up by one
// unknown-kid refresh shared by every concurrent call, and no call fails.
func TestRotation(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	srv := newJWKSServer(t, nil)
	srv.serveLive(gw.JWKS)
	cfg := urlConfig(gw, srv.URL)
	v := newVerifier(t, cfg)
	if got := srv.fetches.Load(); got != 1 {
		t.Fatalf("fetches after New() = %d, want 1", got)
	}
	old := gw.Assertion(method, "alice")

	var failed atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 8 {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				if c := verifyCode(t, v, gw.Assertion(method, "alice")); c != codes.OK {
					failed.Add(1)
				}
			}
		})
	}
	time.Sleep(20 * time.Millisecond)
	// The gateway publishes the new key with the old one and signs with it.
	gw.Rotate()
	time.Sleep(50 * time.Millisecond)
	close(stop)
	wg.Wait()
	if n := failed.Load(); n != 0 {
		t.Errorf("calls refused during rotation = %d, want 0", n)
	}
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("fetches after rotation = %d, want 2 (one shared unknown-kid refresh)", got)
	}
	if c := verifyCode(t, v, old); c != codes.OK {
		t.Errorf("intercept(old key, still published) = %v, want OK", c)
	}
}

// TestRetireByRefresh drops a retired key at the next periodic refresh:
// its assertions stop verifying once the gateway stops publishing it.
func TestRetireByRefresh(t *testing.T) {
	gw := backendtest.New(gatewayID, "ES256")
	old := gw.Assertion(method, "alice")
	gw.Rotate()
	srv := newJWKSServer(t, gw.JWKS())
	cfg := urlConfig(gw, srv.URL)
	cfg.RefreshInterval = 20 * time.Millisecond
	v := newVerifier(t, cfg)
	if c := verifyCode(t, v, old); c != codes.OK {
		t.Fatalf("intercept(old key) = %v, want OK", c)
	}
	gw.RemoveOld()
	srv.set(gw.JWKS())
	deadline := time.Now().Add(5 * time.Second)
	for verifyCode(t, v, old) == codes.OK {
		if time.Now().After(deadline) {
			t.Fatal("intercept(retired key) still OK after 5s of refreshes, want Unauthenticated")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestUnknownKidBounded checks that made-up kids cannot make the backend
// hammer the gateway: one fetch per MinRefreshInterval.
func TestUnknownKidBounded(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	srv := newJWKSServer(t, gw.JWKS())
	clk := newClock()
	cfg := urlConfig(gw, srv.URL)
	cfg.MinRefreshInterval = 10 * time.Second
	v := newVerifier(t, cfg, backend.WithClock(clk.Now))
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			forged := backendtest.New(gatewayID, "EdDSA").Assertion(method, "mallory")
			if c := verifyCode(t, v, forged); c != codes.Unauthenticated {
				t.Errorf("intercept(unknown kid) = %v, want Unauthenticated", c)
			}
		})
	}
	wg.Wait()
	if got := srv.fetches.Load(); got != 2 {
		t.Errorf("fetches after 50 unknown kids = %d, want 2 (New + one refresh)", got)
	}
	clk.Advance(11 * time.Second)
	verifyCode(t, v, backendtest.New(gatewayID, "EdDSA").Assertion(method, "mallory"))
	if got := srv.fetches.Load(); got != 3 {
		t.Errorf("fetches after MinRefreshInterval = %d, want 3", got)
	}
}

// TestFetchBounds checks that a bad, huge, slow or failing key set
// document leaves the last good set in place.
func TestFetchBounds(t *testing.T) {
	tests := []struct {
		name  string
		doc   func(gw *backendtest.Gateway) []byte
		delay time.Duration
		code  int
	}{
		{"oversized", func(gw *backendtest.Gateway) []byte {
			return append(gw.JWKS()[:len(gw.JWKS())-1], append(bytes.Repeat([]byte(" "), 4096), '}')...)
		}, 0, http.StatusOK},
		{"slow", (*backendtest.Gateway).JWKS, 3 * time.Second, http.StatusOK},
		{"server error", (*backendtest.Gateway).JWKS, 0, http.StatusInternalServerError},
		{"not a key set", func(*backendtest.Gateway) []byte { return []byte(`{"keys": 1}`) }, 0, http.StatusOK},
		{"no usable key", func(*backendtest.Gateway) []byte {
			return []byte(`{"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "x"}]}`)
		}, 0, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			gw := backendtest.New(gatewayID, "EdDSA")
			srv := newJWKSServer(t, gw.JWKS())
			cfg := urlConfig(gw, srv.URL)
			cfg.FetchTimeout = 200 * time.Millisecond
			cfg.MaxJWKSBytes = 2048
			v := newVerifier(t, cfg)
			old := gw.Assertion(method, "alice")
			gw.Rotate()
			srv.set(tt.doc(gw))
			srv.behave(tt.delay, tt.code)
			start := time.Now()
			if c := verifyCode(t, v, gw.Assertion(method, "alice")); c != codes.Unauthenticated {
				t.Errorf("intercept(new key, %s set) = %v, want Unauthenticated", tt.name, c)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("intercept(new key, %s set) took %v, want at most about FetchTimeout", tt.name, d)
			}
			if c := verifyCode(t, v, old); c != codes.OK {
				t.Errorf("intercept(old key after a %s set) = %v, want OK (last good set kept)", tt.name, c)
			}
		})
	}
}

// TestRedirects follows only https or loopback-http redirects.
func TestRedirects(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	good := newJWKSServer(t, gw.JWKS())
	for _, tt := range []struct {
		name, to string
		want     codes.Code
	}{
		{"to loopback http", good.URL, codes.OK},
		{"to plain http elsewhere", "http://jwks.example.invalid/keys", codes.Unauthenticated},
	} {
		t.Run(tt.name, func(t *testing.T) {
			redirect := httptest.NewServer(http.RedirectHandler(tt.to, http.StatusFound))
			t.Cleanup(redirect.Close)
			v := newVerifier(t, urlConfig(gw, redirect.URL))
			if c := verifyCode(t, v, gw.Assertion(method, "alice")); c != tt.want {
				t.Errorf("intercept(set behind a redirect %s) = %v, want %v", tt.name, c, tt.want)
			}
		})
	}
}

// TestStartBeforeGateway starts a backend while the gateway's key set is
// unavailable: calls are refused until the keys load, then accepted.
func TestStartBeforeGateway(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	srv := newJWKSServer(t, gw.JWKS())
	srv.behave(0, http.StatusServiceUnavailable)
	cfg := urlConfig(gw, srv.URL)
	cfg.MinRefreshInterval = 50 * time.Millisecond
	v := newVerifier(t, cfg)
	if c := verifyCode(t, v, gw.Assertion(method, "alice")); c != codes.Unauthenticated {
		t.Fatalf("intercept(keys not loaded) = %v, want Unauthenticated", c)
	}
	srv.behave(0, http.StatusOK)
	// The background retry (every MinRefreshInterval while no set has
	// loaded) or the next call's refresh loads the keys.
	deadline := time.Now().Add(5 * time.Second)
	for verifyCode(t, v, gw.Assertion(method, "alice")) != codes.OK {
		if time.Now().After(deadline) {
			t.Fatal("intercept() still refused 5s after the key set came up, want OK")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestJWKSFile reads the key set from a file and re-reads it on an
// unknown kid.
func TestJWKSFile(t *testing.T) {
	gw := backendtest.New(gatewayID, "EdDSA")
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := gw.WriteJWKS(path); err != nil {
		t.Fatalf("WriteJWKS() = %v", err)
	}
	v := newVerifier(t, backend.Config{Issuer: gatewayID, JWKSFile: path, RefreshInterval: time.Hour})
	if c := verifyCode(t, v, gw.Assertion(method, "alice")); c != codes.OK {
		t.Fatalf("intercept() = %v, want OK", c)
	}
	gw.Rotate()
	if err := gw.WriteJWKS(path); err != nil {
		t.Fatalf("WriteJWKS() = %v", err)
	}
	if c := verifyCode(t, v, gw.Assertion(method, "alice")); c != codes.OK {
		t.Errorf("intercept(rotated key) = %v, want OK", c)
	}
	if _, err := backend.New(backend.Config{Issuer: gatewayID, JWKSFile: filepath.Join(t.TempDir(), "missing.json")}); err == nil {
		t.Error("New(missing JWKS file) = nil error, want an error")
	}
}
