package gateway_test

// Local stand-ins for the secret back ends the wiring tests need: a Vault
// (gateway/secrets/vaulttest; no Vault binary is installed here) and a
// PostgreSQL server that asks for a cleartext password and records
// it (the local PostgreSQL trusts every connection, so it cannot tell
// whether a password arrived).

import (
	"bytes"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/portcullis/portcullis/gateway/secrets/vaulttest"
)

// newFakeVault returns a stand-in Vault (vaulttest) in which token is live
// and never expires.
func newFakeVault(t *testing.T, token string) *vaulttest.Server {
	t.Helper()
	v := vaulttest.New(t)
	v.Tokens[token] = time.Time{}
	return v
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
