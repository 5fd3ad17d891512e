package gateway_test

// Local stand-ins for the secret back ends the wiring tests need: a Vault
// speaking token lookup and KV v2 reads (a trimmed copy of
// gateway/secrets/vaultfake_test.go; no Vault binary is installed here),
// and a PostgreSQL server that asks for a cleartext password and records
// it (the local PostgreSQL trusts every connection, so it cannot tell
// whether a password arrived).

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

// fakeVault serves GET /v1/auth/token/lookup-self and GET
// /v1/<mount>/data/<path> for one non-expiring token.
type fakeVault struct {
	*httptest.Server
	token string

	mu sync.Mutex
	kv map[string]map[string]any // "<mount>/<path>" → data
}

func newFakeVault(t *testing.T, token string) *fakeVault {
	t.Helper()
	f := &fakeVault{token: token, kv: map[string]map[string]any{}}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeVault) put(path string, data map[string]any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.kv[path] = data
}

func (f *fakeVault) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	reply := func(code int, body any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_ = json.NewEncoder(w).Encode(body)
	}
	denied := map[string]any{"errors": []string{"permission denied"}}
	if r.Header.Get("X-Vault-Token") != f.token {
		reply(http.StatusForbidden, denied)
		return
	}
	path := strings.TrimPrefix(r.URL.Path, "/v1/")
	switch {
	case path == "auth/token/lookup-self" && r.Method == http.MethodGet:
		reply(http.StatusOK, map[string]any{"data": map[string]any{"id": f.token, "ttl": 0, "renewable": false}})
	case r.Method == http.MethodGet && strings.Contains(path, "/data/"):
		mount, rest, _ := strings.Cut(path, "/data/")
		data, ok := f.kv[mount+"/"+rest]
		if !ok {
			reply(http.StatusNotFound, map[string]any{"errors": []string{}})
			return
		}
		reply(http.StatusOK, map[string]any{"request_id": "r", "lease_duration": 0, "renewable": false, "data": map[string]any{
			"data":     data,
			"metadata": map[string]any{"created_time": "2026-01-01T00:00:00Z", "deletion_time": "", "destroyed": false, "version": 1},
		}})
	default:
		reply(http.StatusNotFound, map[string]any{"errors": []string{"no handler for route " + path}})
	}
}

// fakePostgres listens on 127.0.0.1, asks every client for a cleartext
// password, sends what it received on passwords and refuses it as a
// PostgreSQL server refusing a wrong password would (28P01).
func fakePostgres(t *testing.T) (addr string, passwords <-chan string) {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("net.Listen() = %v", err)
	}
	got := make(chan string, 16)
	var wg sync.WaitGroup
	t.Cleanup(func() { _ = lis.Close(); wg.Wait() })
	wg.Go(func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			wg.Go(func() {
				defer conn.Close()
				be := pgproto3.NewBackend(conn, conn)
				if _, err := be.ReceiveStartupMessage(); err != nil {
					return
				}
				be.Send(&pgproto3.AuthenticationCleartextPassword{})
				if be.Flush() != nil || be.SetAuthType(pgproto3.AuthTypeCleartextPassword) != nil {
					return
				}
				msg, err := be.Receive()
				if err != nil {
					return
				}
				if pw, ok := msg.(*pgproto3.PasswordMessage); ok {
					select {
					case got <- pw.Password:
					default:
					}
				}
				be.Send(&pgproto3.ErrorResponse{Severity: "FATAL", Code: "28P01", Message: `password authentication failed for user "portcullis"`})
				_ = be.Flush()
			})
		}
	})
	return lis.Addr().String(), got
}

// logBuffer collects a gateway's log output (JSON lines, debug level).
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func captureLogs() (*slog.Logger, *logBuffer) {
	buf := &logBuffer{}
	return slog.New(slog.NewJSONHandler(buf, &slog.HandlerOptions{Level: slog.LevelDebug})), buf
}
