package gateway_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"go.uber.org/goleak"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/assertion"
	"github.com/portcullis/portcullis/gateway/config"
	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

// secretsGateway builds a gateway with plaintext loopback listeners in
// front of the bank backend, plus extra YAML, logging to log; when New
// succeeds it starts it (stopped when the test ends). It returns New's
// error.
func secretsGateway(t *testing.T, extra string, log *slog.Logger) (*gateway.Gateway, error) {
	t.Helper()
	text := fmt.Sprintf(`listeners:
  grpc: {address: 127.0.0.1:0, plaintext: true}
  admin: {address: 127.0.0.1:0, plaintext: true}
routes:
  - {service: examples.bank.v1.BankService, backend: %q, plaintext: true}
log: {level: debug}
`, startBank(t)) + extra
	path := filepath.Join(t.TempDir(), "gateway.yaml")
	writeFile(t, path, text)
	cfg, err := config.Parse(path, []byte(text))
	if err != nil {
		t.Fatalf("config.Parse() = %v, want nil", err)
	}
	gw, err := gateway.New(cfg, gateway.WithLogger(log))
	if err != nil {
		return nil, err
	}
	if err := gw.Start(); err != nil {
		t.Fatalf("Start() = %v, want nil", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = gw.Shutdown(ctx)
	})
	return gw, nil
}

// ping calls the public, rate-limited Ping through the gateway.
func ping(t *testing.T, gw *gateway.Gateway) error {
	t.Helper()
	cc, err := grpc.NewClient(gw.Addr("grpc").String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("grpc.NewClient() = %v", err)
	}
	defer cc.Close()
	_, err = bankv1.NewBankServiceClient(cc).Ping(timeout(t, callTimeout), &bankv1.PingRequest{})
	return err
}

func randomHex(t *testing.T) string {
	t.Helper()
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// secretFile writes content to a new file of mode 0600 and returns its path.
func secretFile(t *testing.T, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "secret")
	writeFile(t, path, content)
	return path
}

// pemKey returns a new Ed25519 key as PEM and its kid.
func pemKey(t *testing.T) (string, string) {
	t.Helper()
	key, err := assertion.GenerateKey(assertion.EdDSA)
	if err != nil {
		t.Fatalf("GenerateKey() = %v", err)
	}
	s, err := assertion.New(assertion.Config{Issuer: "kid", KeyPEM: key})
	if err != nil {
		t.Fatalf("assertion.New() = %v", err)
	}
	return string(key), s.KeyID()
}

// secretParts are the strings of secret values that must never be shown:
// each value and, for PEM, each line of its base64 body.
func secretParts(values ...string) []string {
	var out []string
	for _, v := range values {
		out = append(out, strings.TrimSpace(v))
		for _, l := range strings.Split(v, "\n") {
			if l != "" && !strings.HasPrefix(l, "-----") {
				out = append(out, l)
			}
		}
	}
	return out
}

// noSecret fails the test if text contains any part of values.
func noSecret(t *testing.T, where, text string, values ...string) {
	t.Helper()
	for _, p := range secretParts(values...) {
		if p != "" && strings.Contains(text, p) {
			t.Errorf("%s shows a secret value (%d chars): %s", where, len(p), text)
			return
		}
	}
}

// TestSecretsUnresolvable: a reference that cannot be resolved (or whose
// value is unusable) fails New with an error naming the config key and
// the reference, and neither the error nor the logs show a secret value;
// nothing New started keeps running.
func TestSecretsUnresolvable(t *testing.T) {
	loose := secretFile(t, "loose-secret-value")
	if err := os.Chmod(loose, 0o644); err != nil {
		t.Fatal(err)
	}
	tok := "hvs.test-" + randomHex(t)
	vault := newFakeVault(t, tok)
	keyPEM, _ := pemKey(t)
	vault.Put("secret/portcullis/assertion", map[string]any{"pem": keyPEM})
	vaultBlock := fmt.Sprintf("secrets: {vault: {address: %q, token: 'env:PC_TEST_VAULT_TOKEN'}}\n", vault.URL)
	const garbage = "not-a-key-but-secret-anyway"
	t.Setenv("PC_TEST_GARBAGE_KEY", garbage)
	t.Setenv("PC_TEST_VAULT_TOKEN", tok)
	t.Setenv("PC_TEST_WRONG_VAULT_TOKEN", "hvs.wrong-"+randomHex(t))
	missing := filepath.Join(t.TempDir(), "none")

	before := goleak.IgnoreCurrent()
	for _, tt := range []struct {
		name, extra, key, ref, want string
	}{
		{"env unset", "assertion: {key: 'env:PC_TEST_UNSET_VARIABLE'}\n",
			"assertion.key", "env:PC_TEST_UNSET_VARIABLE", "environment variable PC_TEST_UNSET_VARIABLE is not set"},
		{"world-readable file", "assertion: {key: 'file:" + loose + "'}\n",
			"assertion.key", "file:" + loose, "run: chmod 600 " + loose},
		{"missing file", "rate_limits: {store: redis, redis: {address: '127.0.0.1:6379', password: 'file:" + missing + "'}}\n",
			"rate_limits.redis.password", "file:" + missing, "no such file"},
		{"postgres password", "audit: {postgres: {dsn: 'postgres://pc@127.0.0.1:1/audit', password: 'env:PC_TEST_UNSET_VARIABLE'}}\n",
			"audit.postgres.password", "env:PC_TEST_UNSET_VARIABLE", "is not set"},
		{"vault path not found", vaultBlock + "assertion: {key: 'vault:secret/portcullis/missing#pem'}\n",
			"assertion.key", "vault:secret/portcullis/missing#pem", "secret not found"},
		{"vault field missing", vaultBlock + "assertion: {key: 'vault:secret/portcullis/assertion#key'}\n",
			"assertion.key", "vault:secret/portcullis/assertion#key", `no field "key"`},
		{"vault token refused", strings.Replace(vaultBlock, "PC_TEST_VAULT_TOKEN", "PC_TEST_WRONG_VAULT_TOKEN", 1) + "assertion: {key: 'vault:secret/portcullis/assertion#pem'}\n",
			"assertion.key", "vault:secret/portcullis/assertion#pem", "permission denied"},
		{"not a key", "assertion: {key: 'env:PC_TEST_GARBAGE_KEY'}\n",
			"assertion.key", "env:PC_TEST_GARBAGE_KEY", "no PEM private key"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			log, logs := captureLogs()
			_, err := secretsGateway(t, tt.extra, log)
			want := "gateway: " + tt.key + " (" + tt.ref + "): "
			if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("gateway.New() = %v, want an error starting %q and containing %q", err, want, tt.want)
			}
			secretValues := []string{"loose-secret-value", tok, os.Getenv("PC_TEST_WRONG_VAULT_TOKEN"), keyPEM, garbage}
			noSecret(t, "gateway.New() error", err.Error(), secretValues...)
			noSecret(t, "the gateway's logs", logs.String(), secretValues...)
		})
	}
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after a failed New: %v", err)
	}
}

// redisAdmin returns a client of the test Redis (PORTCULLIS_TEST_REDIS,
// default 127.0.0.1:6379), skipping the test when it is down (failing it
// under CI=true).
func redisAdmin(t *testing.T) (*redis.Client, string) {
	t.Helper()
	addr := os.Getenv("PORTCULLIS_TEST_REDIS")
	if addr == "" {
		addr = "127.0.0.1:6379"
	}
	c := redis.NewClient(&redis.Options{Addr: addr, ContextTimeoutEnabled: true, DialTimeout: time.Second, MaxRetries: -1})
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Ping(timeout(t, 2*time.Second)).Err(); err != nil {
		msg := fmt.Sprintf("Redis not reachable at %s (%v); start one with: redis-server --port 6379 --save ''", addr, err)
		if os.Getenv("CI") == "true" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return c, addr
}

// redisUsers returns the users of Redis's open client connections.
func redisUsers(t *testing.T, c *redis.Client) []string {
	t.Helper()
	list, err := c.ClientList(timeout(t, 2*time.Second)).Result()
	if err != nil {
		t.Fatalf("CLIENT LIST = %v", err)
	}
	var users []string
	for _, f := range strings.Fields(list) {
		if u, ok := strings.CutPrefix(f, "user="); ok {
			users = append(users, u)
		}
	}
	return users
}

// TestSecretsRedisPassword: the gateway authenticates to Redis as an ACL
// user whose password comes from a file: reference, and follows a
// rotation (new connections use the refreshed value); a wrong password
// fails New clearly, without showing it.
func TestSecretsRedisPassword(t *testing.T) {
	admin, addr := redisAdmin(t)
	id := randomHex(t)
	user, pw, prefix := "portcullis-test-"+id, "pw-"+randomHex(t), "portcullis:test:"+id+":"
	ctx := timeout(t, 10*time.Second)
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "on", ">"+pw, "~"+prefix+"*", "+@all").Err(); err != nil {
		t.Fatalf("ACL SETUSER = %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = admin.Do(ctx, "ACL", "DELUSER", user).Err()
	})
	pwFile := secretFile(t, pw+"\n")
	extra := fmt.Sprintf(`rate_limits:
  store: redis
  on_redis_down: fail_closed
  redis: {address: %q, username: %q, password: "file:%s", prefix: %q, timeout: 2s}
secrets: {file_refresh_interval: 50ms}
`, addr, user, pwFile, prefix)
	log, logs := captureLogs()
	gw, err := secretsGateway(t, extra, log)
	if err != nil {
		t.Fatalf("gateway.New(right password) = %v, want nil", err)
	}
	if err := ping(t, gw); err != nil {
		t.Fatalf("Ping(right password) = %v, want OK", err)
	}
	if users := redisUsers(t, admin); !slices.Contains(users, user) {
		t.Errorf("Redis client users = %v, want the gateway connected as %s", users, user)
	}

	// Rotate: Redis and the file get a new password; connections made
	// after the refresh use it.
	pw2 := "pw-" + randomHex(t)
	if err := admin.Do(ctx, "ACL", "SETUSER", user, "resetpass", ">"+pw2).Err(); err != nil {
		t.Fatalf("ACL SETUSER resetpass = %v", err)
	}
	writeFile(t, pwFile, pw2+"\n")
	deadline := time.Now().Add(5 * time.Second)
	for {
		_ = admin.Do(ctx, "CLIENT", "KILL", "USER", user).Err() // force new connections
		err := ping(t, gw)
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ping after the password rotation = %v, want OK within 5s", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	noSecret(t, "the gateway's logs", logs.String(), pw, pw2)

	t.Run("wrong password", func(t *testing.T) {
		wrong := "wrong-" + randomHex(t)
		t.Setenv("PC_TEST_REDIS_PASSWORD", wrong)
		extra := fmt.Sprintf("rate_limits:\n  store: redis\n  redis: {address: %q, username: %q, password: 'env:PC_TEST_REDIS_PASSWORD', prefix: %q, timeout: 2s}\n", addr, user, prefix)
		log, logs := captureLogs()
		_, err := secretsGateway(t, extra, log)
		want := "gateway: rate_limits.redis.password (env:PC_TEST_REDIS_PASSWORD): Redis at " + addr + " refused the credentials: WRONGPASS"
		if err == nil || !strings.HasPrefix(err.Error(), want) {
			t.Fatalf("gateway.New(wrong password) = %v, want an error starting %q", err, want)
		}
		noSecret(t, "gateway.New() error", err.Error(), wrong, pw, pw2)
		noSecret(t, "the gateway's logs", logs.String(), wrong, pw, pw2)
	})
}

// TestSecretsPostgresPassword: the audit sink's password comes from a
// file: reference and reaches the server in the PostgreSQL protocol's
// password message (the fake server asks for it in cleartext, then
// refuses it); the DSN carries none, and the value is shown nowhere.
func TestSecretsPostgresPassword(t *testing.T) {
	addr, got := fakePostgres(t)
	pw := "pg-" + randomHex(t)
	pwFile := secretFile(t, pw+"\n")
	extra := fmt.Sprintf("audit:\n  postgres: {dsn: 'postgres://portcullis@%s/audit?sslmode=disable&connect_timeout=5', password: 'file:%s'}\n", addr, pwFile)
	log, logs := captureLogs()
	_, err := secretsGateway(t, extra, log)
	select {
	case sent := <-got:
		if sent != pw {
			t.Errorf("password sent to PostgreSQL = %q, want the file's content %q", sent, pw)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("no password reached the server; gateway.New() = %v", err)
	}
	if err == nil || !strings.HasPrefix(err.Error(), "gateway: audit.postgres: ") || !strings.Contains(err.Error(), "password authentication failed") {
		t.Fatalf("gateway.New(refused password) = %v, want an audit.postgres error saying the password was refused", err)
	}
	noSecret(t, "gateway.New() error", err.Error(), pw)
	noSecret(t, "the gateway's logs", logs.String(), pw)
}

// jwksKids fetches the assertion JWKS from the admin listener; no key in
// it may have a private part.
func jwksKids(t *testing.T, gw *gateway.Gateway) []string {
	t.Helper()
	body := adminGet(t, gw, assertion.JWKSPath, "")
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal([]byte(body), &set); err != nil {
		t.Fatalf("JWKS %s: %v", body, err)
	}
	var kids []string
	for _, k := range set.Keys {
		if _, private := k["d"]; private {
			t.Fatalf("JWKS publishes a private key: %s", body)
		}
		kids = append(kids, fmt.Sprint(k["kid"]))
	}
	return kids
}

// adminGet GETs path from the admin listener (with a bearer token unless
// empty) and returns the body of a 200 answer.
func adminGet(t *testing.T, gw *gateway.Gateway, path, bearer string) string {
	t.Helper()
	req, _ := http.NewRequestWithContext(timeout(t, callTimeout), "GET", "http://"+gw.Addr("admin").String()+path, nil)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s = %d %s, want 200", path, resp.StatusCode, b)
	}
	return string(b)
}

// TestSecretsVault: the assertion signing key comes from a vault:
// reference (KV v2, token from an env: reference); when Vault has a new
// value the signer reloads it without a restart, and neither the token
// nor the keys ever reach the logs.
func TestSecretsVault(t *testing.T) {
	tok := "hvs.test-" + randomHex(t)
	vault := newFakeVault(t, tok)
	key1, kid1 := pemKey(t)
	vault.Put("secret/portcullis/assertion", map[string]any{"pem": key1})
	t.Setenv("PC_TEST_VAULT_TOKEN", tok)
	extra := fmt.Sprintf(`secrets:
  vault: {address: %q, token: "env:PC_TEST_VAULT_TOKEN", refresh_interval: 100ms}
assertion: {issuer: gw-test, key: "vault:secret/portcullis/assertion#pem"}
`, vault.URL)
	log, logs := captureLogs()
	gw, err := secretsGateway(t, extra, log)
	if err != nil {
		t.Fatalf("gateway.New() = %v, want nil", err)
	}
	if kids := jwksKids(t, gw); !slices.Equal(kids, []string{kid1}) {
		t.Errorf("JWKS kids = %v, want [%s] (the key from Vault)", kids, kid1)
	}
	if err := ping(t, gw); err != nil {
		t.Errorf("Ping() = %v, want OK", err)
	}

	// Rotation: the new key first, the old one still published.
	key2, kid2 := pemKey(t)
	vault.Put("secret/portcullis/assertion", map[string]any{"pem": key2 + key1})
	deadline := time.Now().Add(5 * time.Second)
	for kids := jwksKids(t, gw); !slices.Equal(kids, []string{kid2, kid1}); kids = jwksKids(t, gw) {
		if time.Now().After(deadline) {
			t.Fatalf("JWKS kids = %v, want [%s %s] after the key changed in Vault", kids, kid2, kid1)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A bad value in Vault keeps the keys.
	vault.Put("secret/portcullis/assertion", map[string]any{"pem": "garbage"})
	time.Sleep(300 * time.Millisecond)
	if kids := jwksKids(t, gw); !slices.Equal(kids, []string{kid2, kid1}) {
		t.Errorf("JWKS kids = %v after a bad key in Vault, want [%s %s] kept", kids, kid2, kid1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := gw.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown() = %v, want nil", err)
	}
	out := logs.String()
	if !strings.Contains(out, "assertion: signing keys reloaded") || !strings.Contains(out, "assertion: refreshed key refused") {
		t.Errorf("logs = %s, want the reload and the refused value logged", out)
	}
	noSecret(t, "the gateway's logs", out, tok, key1, key2)
}

// TestSecretsNotInAdminAPI: with the signing key from a file: reference,
// the admin API status, the policy status, /metrics and the JWKS show
// nothing of it.
func TestSecretsNotInAdminAPI(t *testing.T) {
	key, kid := pemKey(t)
	h := newHarnessWith(t, "assertion: {issuer: gw-test, key: 'file:"+secretFile(t, key)+"'}\n")
	// Give tellers portcullis.admin.read (write + rename, as a deployment would).
	text := strings.Replace(strings.Replace(h.bundle(t), "version: test-1", "version: test-2", 1),
		"  teller:\n    permissions: [", "  teller:\n    permissions: [portcullis.admin.read, ", 1)
	tmp := filepath.Join(h.dir, ".bundle.yaml.tmp")
	writeFile(t, tmp, text)
	if err := os.Rename(tmp, filepath.Join(h.dir, "bundle.yaml")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "version test-2", func() bool { return h.gw.PolicyStatus().ActiveVersion == "test-2" })
	teller := h.token("teller-1", map[string]any{"roles": []string{"teller"}})
	status := adminGet(t, h.gw, "/admin/v1/status", teller)
	if !strings.Contains(status, "test-2") {
		t.Errorf("GET /admin/v1/status = %s, want the active version", status)
	}
	noSecret(t, "GET /admin/v1/status", status, key)
	ps, _ := json.Marshal(h.gw.PolicyStatus())
	noSecret(t, "PolicyStatus()", string(ps), key)
	noSecret(t, "GET /metrics", adminGet(t, h.gw, "/metrics", ""), key)
	if kids := jwksKids(t, h.gw); !slices.Equal(kids, []string{kid}) {
		t.Errorf("JWKS kids = %v, want [%s] (the key from the file)", kids, kid)
	}
}

// TestSecretsLiteralInGo: a Config assembled in Go and never validated may
// hold a literal where a reference belongs; New refuses it without
// quoting it.
func TestSecretsLiteralInGo(t *testing.T) {
	text := "listeners:\n  grpc: {address: 127.0.0.1:0, plaintext: true}\nassertion: {issuer: gw-test}\n"
	cfg, err := config.Parse("gateway.yaml", []byte(text))
	if err != nil {
		t.Fatalf("config.Parse() = %v, want nil", err)
	}
	const literal = "-----BEGIN PRIVATE KEY-----MC4CAQAwBQYDK2VwBCIEI"
	cfg.Assertion.Key = literal
	log, logs := captureLogs()
	_, err = gateway.New(cfg, gateway.WithLogger(log))
	if err == nil || !strings.Contains(err.Error(), "gateway: assertion.key: secrets: a literal secret is not allowed") {
		t.Fatalf("gateway.New(literal key) = %v, want a literal secret error naming assertion.key", err)
	}
	noSecret(t, "gateway.New() error", err.Error(), literal)
	noSecret(t, "the gateway's logs", logs.String(), literal)
}
