// Package vaulttest is a stand-in Vault for tests: a local HTTP server
// speaking the parts of Vault's API that gateway/secrets uses. No Vault
// server can be installed from the registries this project builds with,
// so the resolver's and the gateway's tests run against this.
package vaulttest

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Server is a local HTTP server speaking the parts of Vault's API that
// the Resolver uses: KV v2 reads (GET /v1/<mount>/data/<path>), AppRole
// login (POST /v1/auth/approle/login), and token lookup-self and
// renew-self. Tokens expire; an expired or unknown token gets 403.
type Server struct {
	*httptest.Server
	// Logins, Renewals and Reads count AppRole logins, token renewals and
	// KV reads.
	Logins, Renewals, Reads atomic.Int64

	// Mu guards the fields below while the server runs.
	Mu sync.Mutex
	// Mounts are the KV v2 mounts ("secret" at first).
	Mounts map[string]bool
	// Lease is the lease_duration of KV reads, in seconds.
	Lease int
	// Tokens are the live tokens and their expiry (zero: never); add one
	// for a token-authenticated client.
	Tokens map[string]time.Time
	// RoleID and SecretID are the one AppRole that logs in; TokenTTL is
	// its tokens' lifetime in seconds, and renewals never grant past
	// MaxTTL seconds after login (0: no cap). RenewFail refuses renewals.
	RoleID, SecretID string
	TokenTTL, MaxTTL int
	RenewFail        bool

	kv     map[string]map[string]any // "<mount>/<path>" -> data
	issued map[string]time.Time      // token -> login time
	n      int
}

func New(t testing.TB) *Server {
	t.Helper()
	f := &Server{
		Mounts: map[string]bool{"secret": true},
		kv:     map[string]map[string]any{},
		Tokens: map[string]time.Time{},
		issued: map[string]time.Time{},
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// Put stores data at "<mount>/<path>".
func (f *Server) Put(path string, data map[string]any) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	f.kv[path] = data
}

// RevokeAll expires every token.
func (f *Server) RevokeAll() {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	clear(f.Tokens)
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func vaultErrors(msgs ...string) map[string]any { return map[string]any{"errors": msgs} }

// valid reports whether the request's token is live; call with f.Mu held.
func (f *Server) valid(r *http.Request) (string, bool) {
	tok := r.Header.Get("X-Vault-Token")
	exp, ok := f.Tokens[tok]
	return tok, ok && (exp.IsZero() || time.Now().Before(exp))
}

func (f *Server) serve(w http.ResponseWriter, r *http.Request) {
	f.Mu.Lock()
	defer f.Mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	write := r.Method == http.MethodPut || r.Method == http.MethodPost
	switch {
	case path == "auth/approle/login" && write:
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		if f.RoleID == "" || body["role_id"] != f.RoleID || body["secret_id"] != f.SecretID {
			reply(w, http.StatusBadRequest, vaultErrors("invalid role or secret ID"))
			return
		}
		f.Logins.Add(1)
		f.n++
		tok := "hvs.approle-" + strconv.Itoa(f.n)
		f.Tokens[tok] = time.Now().Add(time.Duration(f.TokenTTL) * time.Second)
		f.issued[tok] = time.Now()
		reply(w, http.StatusOK, map[string]any{"auth": map[string]any{
			"client_token": tok, "lease_duration": f.TokenTTL, "renewable": true, "policies": []string{"default"},
		}})
	case path == "auth/token/lookup-self" && r.Method == http.MethodGet:
		tok, ok := f.valid(r)
		if !ok {
			reply(w, http.StatusForbidden, vaultErrors("permission denied"))
			return
		}
		ttl := 0
		if exp := f.Tokens[tok]; !exp.IsZero() {
			ttl = int(time.Until(exp).Seconds())
		}
		reply(w, http.StatusOK, map[string]any{"data": map[string]any{"id": tok, "ttl": ttl, "renewable": ttl > 0}})
	case path == "auth/token/renew-self" && write:
		tok, ok := f.valid(r)
		if !ok || f.RenewFail {
			reply(w, http.StatusForbidden, vaultErrors("permission denied"))
			return
		}
		f.Renewals.Add(1)
		ttl := f.TokenTTL
		if f.MaxTTL > 0 {
			left := f.MaxTTL - int(time.Since(f.issued[tok]).Seconds())
			ttl = max(0, min(ttl, left))
		}
		f.Tokens[tok] = time.Now().Add(time.Duration(ttl) * time.Second)
		reply(w, http.StatusOK, map[string]any{"auth": map[string]any{"client_token": tok, "lease_duration": ttl, "renewable": true}})
	case r.Method == http.MethodGet && strings.Contains(path, "/data/"):
		if _, ok := f.valid(r); !ok {
			reply(w, http.StatusForbidden, vaultErrors("permission denied"))
			return
		}
		mount, rest, _ := strings.Cut(path, "/data/")
		data, ok := f.kv[mount+"/"+rest]
		if !f.Mounts[mount] || !ok {
			reply(w, http.StatusNotFound, vaultErrors())
			return
		}
		f.Reads.Add(1)
		reply(w, http.StatusOK, map[string]any{
			"request_id": "r", "lease_id": "", "renewable": false, "lease_duration": f.Lease,
			"data": map[string]any{
				"data":     data,
				"metadata": map[string]any{"created_time": "2026-01-01T00:00:00Z", "custom_metadata": nil, "deletion_time": "", "destroyed": false, "version": 1},
			},
		})
	default:
		reply(w, http.StatusNotFound, vaultErrors("no handler for route "+path))
	}
}
