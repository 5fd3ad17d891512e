package gateway

import (
	"net/http"
	"path"
	"strings"
)

// routeAPI sends API requests straight to front, and the rest (the OpenAPI
// document, CONNECT, paths net/http would redirect to their clean form)
// through mux. mux would route those API requests to front too: matching
// them against its patterns costs about a microsecond a request. It
// assumes mux has exactly the patterns buildHTTP gives it ("GET
// /openapi.json" and "/"). The one difference a handler can see: the
// request's Pattern is "" instead of "/" (nothing reads it).
func routeAPI(mux *http.ServeMux, front http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; r.Method != http.MethodConnect && p != "/openapi.json" && cleanPath(p) == p {
			front.ServeHTTP(w, r)
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// cleanPath is net/http's cleanPath: the path ServeMux redirects p to when
// they differ (trailing slash kept).
func cleanPath(p string) string {
	if p == "" {
		return "/"
	}
	if p[0] != '/' {
		p = "/" + p
	}
	np := path.Clean(p)
	if p[len(p)-1] == '/' && np != "/" {
		if len(p) == len(np)+1 && strings.HasPrefix(p, np) {
			return p
		}
		return np + "/"
	}
	return np
}
