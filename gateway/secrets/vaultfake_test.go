package secrets_test

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

// fakeVault is a local HTTP server speaking the parts of Vault's API that
// the Resolver uses: KV v2 reads (GET /v1/<mount>/data/<path>), AppRole
// login (POST /v1/auth/approle/login), and token lookup-self and
// renew-self. Tokens expire; an expired or unknown token gets 403.
type fakeVault struct {
	*httptest.Server
	logins, renewals, reads atomic.Int64

	mu        sync.Mutex
	mounts    map[string]bool
	kv        map[string]map[string]any // "<mount>/<path>" -> data
	lease     int                       // lease_duration of KV reads, seconds
	tokens    map[string]time.Time      // token -> expiry (zero: never)
	roleID    string
	secretID  string
	tokenTTL  int // seconds, of AppRole tokens
	maxTTL    int // renewals never grant past this many seconds after login
	renewFail bool
	issued    map[string]time.Time // token -> login time
	n         int
}

func newFakeVault(t testing.TB) *fakeVault {
	t.Helper()
	f := &fakeVault{
		mounts: map[string]bool{"secret": true},
		kv:     map[string]map[string]any{},
		tokens: map[string]time.Time{},
		issued: map[string]time.Time{},
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeVault) put(path string, data map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kv[path] = data
}

func (f *fakeVault) revokeAll() {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(f.tokens)
}

func reply(w http.ResponseWriter, code int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(body)
}

func vaultErrors(msgs ...string) map[string]any { return map[string]any{"errors": msgs} }

// valid reports whether the request's token is live; call with f.mu held.
func (f *fakeVault) valid(r *http.Request) (string, bool) {
	tok := r.Header.Get("X-Vault-Token")
	exp, ok := f.tokens[tok]
	return tok, ok && (exp.IsZero() || time.Now().Before(exp))
}

func (f *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	write := r.Method == http.MethodPut || r.Method == http.MethodPost
	switch {
	case path == "auth/approle/login" && write:
		var body map[string]string
		_ = json.NewDecoder(r.Body).Decode(&body)
		if f.roleID == "" || body["role_id"] != f.roleID || body["secret_id"] != f.secretID {
			reply(w, http.StatusBadRequest, vaultErrors("invalid role or secret ID"))
			return
		}
		f.logins.Add(1)
		f.n++
		tok := "hvs.approle-" + strconv.Itoa(f.n)
		f.tokens[tok] = time.Now().Add(time.Duration(f.tokenTTL) * time.Second)
		f.issued[tok] = time.Now()
		reply(w, http.StatusOK, map[string]any{"auth": map[string]any{
			"client_token": tok, "lease_duration": f.tokenTTL, "renewable": true, "policies": []string{"default"},
		}})
	case path == "auth/token/lookup-self" && r.Method == http.MethodGet:
		tok, ok := f.valid(r)
		if !ok {
			reply(w, http.StatusForbidden, vaultErrors("permission denied"))
			return
		}
		ttl := 0
		if exp := f.tokens[tok]; !exp.IsZero() {
			ttl = int(time.Until(exp).Seconds())
		}
		reply(w, http.StatusOK, map[string]any{"data": map[string]any{"id": tok, "ttl": ttl, "renewable": ttl > 0}})
	case path == "auth/token/renew-self" && write:
		tok, ok := f.valid(r)
		if !ok || f.renewFail {
			reply(w, http.StatusForbidden, vaultErrors("permission denied"))
			return
		}
		f.renewals.Add(1)
		ttl := f.tokenTTL
		if f.maxTTL > 0 {
			left := f.maxTTL - int(time.Since(f.issued[tok]).Seconds())
			ttl = max(0, min(ttl, left))
		}
		f.tokens[tok] = time.Now().Add(time.Duration(ttl) * time.Second)
		reply(w, http.StatusOK, map[string]any{"auth": map[string]any{"client_token": tok, "lease_duration": ttl, "renewable": true}})
	case r.Method == http.MethodGet && strings.Contains(path, "/data/"):
		if _, ok := f.valid(r); !ok {
			reply(w, http.StatusForbidden, vaultErrors("permission denied"))
			return
		}
		mount, rest, _ := strings.Cut(path, "/data/")
		data, ok := f.kv[mount+"/"+rest]
		if !f.mounts[mount] || !ok {
			reply(w, http.StatusNotFound, vaultErrors())
			return
		}
		f.reads.Add(1)
		reply(w, http.StatusOK, map[string]any{
			"request_id": "r", "lease_id": "", "renewable": false, "lease_duration": f.lease,
			"data": map[string]any{
				"data":     data,
				"metadata": map[string]any{"created_time": "2026-01-01T00:00:00Z", "custom_metadata": nil, "deletion_time": "", "destroyed": false, "version": 1},
			},
		})
	default:
		reply(w, http.StatusNotFound, vaultErrors("no handler for route "+path))
	}
}
