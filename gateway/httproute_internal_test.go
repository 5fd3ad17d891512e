package gateway

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestRouteAPI: routeAPI hands front exactly the requests net/http's
// ServeMux would route to it unchanged, and everything else (the OpenAPI
// document, CONNECT, paths the mux redirects to their clean form) to the
// mux itself.
func TestRouteAPI(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /openapi.json", func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-By", "openapi") })
	var viaMux bool
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { viaMux = true; w.Header().Set("X-By", "front") }))
	front := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.Header().Set("X-By", "front") })
	h := routeAPI(mux, front)
	for _, tt := range []struct {
		method, target string
		by             string // X-By, "" for none
		code           int
		viaMux         bool
	}{
		{"GET", "/v1/accounts/a", "front", 200, false},
		{"POST", "/v1/accounts/a/transfers", "front", 200, false},
		{"GET", "/v1/accounts/", "front", 200, false},
		{"GET", "/", "front", 200, false},
		{"GET", "/openapi.json", "openapi", 200, false},
		{"POST", "/openapi.json", "front", 200, true}, // as the mux routes it: "/" takes other methods
		{"GET", "/v1/accounts/b/../a", "", http.StatusTemporaryRedirect, false},
		{"GET", "/v1//accounts/a", "", http.StatusTemporaryRedirect, false},
		{"GET", "/v1/accounts/a/.", "", http.StatusTemporaryRedirect, false},
	} {
		viaMux = false
		w := httptest.NewRecorder()
		h.ServeHTTP(w, httptest.NewRequest(tt.method, tt.target, nil))
		if w.Code != tt.code || w.Header().Get("X-By") != tt.by || viaMux != tt.viaMux {
			t.Errorf("%s %s = %d by %q (via mux %v), want %d by %q (via mux %v)", tt.method, tt.target, w.Code, w.Header().Get("X-By"), viaMux, tt.code, tt.by, tt.viaMux)
		}
	}
}

// TestCleanPath: cleanPath agrees with what ServeMux redirects to.
func TestCleanPath(t *testing.T) {
	for in, want := range map[string]string{"": "/", "a": "/a", "/a/": "/a/", "/a//": "/a/", "/a/./b": "/a/b", "/a/../b/": "/b/", "/": "/", "//": "/"} {
		if got := cleanPath(in); got != want {
			t.Errorf("cleanPath(%q) = %q, want %q", in, got, want)
		}
	}
}
