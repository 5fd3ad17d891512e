package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"text/template"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	gwconfig "github.com/portcullis/portcullis/gateway/config"
)

// target is one thing the load generator calls. portcullis-grpc and
// portcullis-rest share one gateway process.
type target struct {
	name    string
	rest    bool   // REST GET /v1/ping instead of gRPC Ping
	addr    string // host:port the client dials
	proxy   *child // the process between client and backend; nil for direct
	note    string // why it was not measured, e.g. "not installed"
	version string // the peer's version line, if any
	caller  caller
	token   string // bearer JWT: call GetAccount (a protected method) instead of Ping
	// floorRef names the target whose proxy CPU this one's is compared
	// with: "" for floor; portcullis-jwt uses floor-jwt, the floor carrying
	// the same calls.
	floorRef string
}

// binaries are the servers built from the working tree.
type binaries struct{ gateway, backend, floor string }

// build compiles the gateway, the bank backend and the floor proxy into dir.
func build(ctx context.Context, repo, dir string, log io.Writer) (binaries, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/portcullis", "./examples/bank/cmd/bank-backend", "./bench/cmd/floorproxy")
	cmd.Dir = repo
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Run(); err != nil {
		return binaries{}, fmt.Errorf("go build: %w", err)
	}
	return binaries{gateway: filepath.Join(dir, "portcullis"), backend: filepath.Join(dir, "bank-backend"),
		floor: filepath.Join(dir, "floorproxy")}, nil
}

// setup starts servers in a scratch directory, all proxying to backend.
type setup struct {
	kids    *children
	work    string // scratch directory
	repo    string
	tools   string // where run.sh installs Caddy
	backend string // bank-backend's address
	gc      int    // --gc-percent: 0 leaves the gateway and the floor at their defaults
	minHeap int64  // --gc-min-heap-bytes: 0 the gateway's default for both, -1 none
}

// startFloor starts the raw floor proxy.
func (s *setup) startFloor(bin string) (*target, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	c, err := s.kids.start("floor", s.work, filepath.Join(s.work, "floor.log"), bin, s.floorArgs(addr), s.floorEnv())
	if err != nil {
		return nil, err
	}
	return &target{name: "floor", addr: addr, proxy: c}, nil
}

// floorArgs, floorEnv and gatewayYAML give the floor and every gateway the
// same GC settings, so that the CPU ratio compares the work each does per
// request, not their GC settings: --gc-percent (the floor's GOGC, the
// gateways' runtime.gc_percent; without it both at Go's default) and
// --gc-min-heap-bytes (without it the gateway's default heap floor, as
// shipped, which the floor applies alike).
func (s *setup) floorArgs(addr string) []string {
	floor := s.minHeap
	if floor == 0 {
		floor = gwconfig.DefaultGCMinHeapBytes
	}
	return []string{"--listen", addr, "--backend", s.backend, "--gc-min-heap-bytes", strconv.FormatInt(floor, 10)}
}

func (s *setup) floorEnv() []string {
	if s.gc == 0 {
		return nil
	}
	return []string{"GOGC=" + strconv.Itoa(s.gc)}
}

// gatewayYAML is gatewayConfig for the given addresses, with the GC flags
// and then extra appended.
func (s *setup) gatewayYAML(grpcAddr, httpAddr, extra string) []byte {
	b := fmt.Appendf(nil, gatewayConfig, grpcAddr, httpAddr, s.backend)
	switch {
	case s.gc != 0 && s.minHeap != 0:
		b = fmt.Appendf(b, "runtime: {gc_percent: %d, gc_min_heap_bytes: %d}\n", s.gc, s.minHeap)
	case s.gc != 0:
		b = fmt.Appendf(b, "runtime: {gc_percent: %d}\n", s.gc)
	case s.minHeap != 0:
		b = fmt.Appendf(b, "runtime: {gc_min_heap_bytes: %d}\n", s.minHeap)
	}
	return append(b, extra...)
}

const gatewayConfig = `# Written by benche2e: plaintext on loopback, one route to the bank backend.
listeners:
  grpc: {address: "%s", plaintext: true}
  http: {address: "%s", plaintext: true}
routes:
  - service: examples.bank.v1.BankService
    backend: "%s"
    plaintext: true
# Ping's per-IP limit (50/s) would refuse the load generator: count, do not enforce.
rate_limits: {shadow: true}
log: {level: warn, format: text}
`

// startGateway starts one gateway and returns its gRPC and REST targets.
func (s *setup) startGateway(bin string) (grpcT, restT *target, err error) {
	grpcAddr, err1 := freeAddr()
	httpAddr, err2 := freeAddr()
	if err := errors.Join(err1, err2); err != nil {
		return nil, nil, err
	}
	path := filepath.Join(s.work, "gateway.yaml")
	if err := os.WriteFile(path, s.gatewayYAML(grpcAddr, httpAddr, ""), 0o600); err != nil {
		return nil, nil, err
	}
	c, err := s.kids.start("portcullis", s.work, filepath.Join(s.work, "gateway.log"), bin, []string{"serve", "--config", path}, nil)
	if err != nil {
		return nil, nil, err
	}
	return &target{name: "portcullis-grpc", addr: grpcAddr, proxy: c},
		&target{name: "portcullis-rest", addr: httpAddr, proxy: c, rest: true}, nil
}

// peer describes how to run one peer proxy from its config in bench/peers.
type peer struct {
	bin, config string
	args        func(dir, config string) []string
	version     []string // arguments that print the version
	versionLine string   // the version is on the first line containing this
}

var peers = map[string]peer{
	"haproxy": {bin: "haproxy", config: "haproxy.cfg", version: []string{"-v"},
		args: func(_, cfg string) []string { return []string{"-db", "-f", cfg} }},
	"nginx": {bin: "nginx", config: "nginx.conf", version: []string{"-v"},
		args: func(dir, cfg string) []string {
			return []string{"-p", dir + "/", "-c", cfg, "-e", filepath.Join(dir, "nginx-error.log"), "-g", "daemon off;"}
		}},
	// `caddy version` says "unknown" when built by go install; build-info
	// has the module version.
	"caddy": {bin: "caddy", config: "Caddyfile", version: []string{"build-info"}, versionLine: "caddyserver/caddy/v2\t",
		args: func(_, cfg string) []string { return []string{"run", "--config", cfg, "--adapter", "caddyfile"} }},
}

// startPeer starts a peer proxy. It never fails: a peer that cannot run
// comes back with a note saying why, and is reported instead of measured.
func (s *setup) startPeer(name string) *target {
	t := &target{name: name}
	p, ok := peers[name]
	if !ok {
		t.note = "unknown peer"
		return t
	}
	bin, ok := findBinary(p.bin, s.tools)
	if !ok {
		t.note = "not installed"
		return t
	}
	t.version = versionOf(bin, p.version, p.versionLine)
	dir := filepath.Join(s.work, name)
	addr, err := freeAddr()
	if err == nil {
		err = os.MkdirAll(dir, 0o755)
	}
	if err == nil {
		err = s.writePeerConfig(filepath.Join(s.repo, "bench", "peers", p.config), filepath.Join(dir, p.config), addr)
	}
	if err != nil {
		t.note = "setup failed: " + err.Error()
		return t
	}
	t.addr = addr
	env := []string{"HOME=" + dir, "XDG_CONFIG_HOME=" + dir, "XDG_DATA_HOME=" + dir} // keep Caddy's state in the scratch dir
	t.proxy, err = s.kids.start(name, dir, filepath.Join(dir, name+".log"), bin, p.args(dir, filepath.Join(dir, p.config)), env)
	if err != nil {
		t.note = "failed to start: " + err.Error()
	}
	return t
}

// writePeerConfig fills in a peer config template from bench/peers.
func (s *setup) writePeerConfig(src, dst, listen string) error {
	text, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	tmpl, err := template.New(filepath.Base(src)).Option("missingkey=error").Parse(string(text))
	if err != nil {
		return err
	}
	host, _, _ := net.SplitHostPort(listen)
	var out bytes.Buffer
	if err := tmpl.Execute(&out, map[string]string{"Listen": listen, "Host": host, "Backend": s.backend}); err != nil {
		return err
	}
	return os.WriteFile(dst, out.Bytes(), 0o644)
}

// findBinary looks in the tools directory, then PATH, then the sbin
// directories that a non-root PATH often lacks.
func findBinary(name, tools string) (string, bool) {
	candidates := []string{filepath.Join(tools, name)}
	if p, err := exec.LookPath(name); err == nil {
		candidates = append(candidates, p)
	}
	for _, dir := range []string{"/usr/sbin", "/usr/local/sbin", "/usr/local/bin"} {
		candidates = append(candidates, filepath.Join(dir, name))
	}
	for _, p := range candidates {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// versionOf returns the first line containing match that a binary prints
// for args (bounded), with its words joined by single spaces (at most 3).
func versionOf(bin string, args []string, match string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, _ := exec.CommandContext(ctx, bin, args...).CombinedOutput()
	for line := range strings.SplitSeq(string(out), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.Contains(line, match) {
			return strings.Join(f[:min(len(f), 3)], " ")
		}
	}
	return ""
}

// waitReady calls the target until one request succeeds, for at most 20 s.
func waitReady(ctx context.Context, t *target, backend *child) error {
	deadline := time.Now().Add(20 * time.Second)
	var last error
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, c := range []*child{t.proxy, backend} {
			if c != nil {
				if done, _ := c.exited(); done {
					return errors.New(c.describe())
				}
			}
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		last = t.caller.call(cctx, 0)
		cancel()
		if last == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	if t.proxy != nil {
		return fmt.Errorf("not ready: %v (%s)", last, t.proxy.describe())
	}
	return fmt.Errorf("not ready: %v", last)
}

// identityConfig adds JWT authentication with a bundle granting the
// bench's teller token bank.accounts.read (GetAccount): the full chain.
const identityConfig = `identity:
  jwt: true
  issuers:
    - {issuer: bench-issuer, audiences: [bench], algorithms: [ES256], jwks_file: %q}
bundle: %q
`

const benchBundle = `version: bench-1
roles:
  teller: {permissions: [bank.accounts.read]}
`

// startVariant starts another gateway with extra config and returns its
// gRPC target named name.
func (s *setup) startVariant(bin, name, extra string) (*target, error) {
	grpcAddr, err1 := freeAddr()
	httpAddr, err2 := freeAddr()
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	path := filepath.Join(s.work, name+".yaml")
	if err := os.WriteFile(path, s.gatewayYAML(grpcAddr, httpAddr, extra), 0o600); err != nil {
		return nil, err
	}
	c, err := s.kids.start(name, s.work, filepath.Join(s.work, name+".log"), bin, []string{"serve", "--config", path}, nil)
	if err != nil {
		return nil, err
	}
	return &target{name: name, addr: grpcAddr, proxy: c}, nil
}

// startJWTGateway starts a gateway with identity configured and returns a
// target whose calls carry a (cached after the first call) ES256 token.
func (s *setup) startJWTGateway(bin string) (*target, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	jwk := jose.JSONWebKey{Key: &key.PublicKey, KeyID: "bench", Algorithm: string(jose.ES256), Use: "sig"}
	set, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{jwk}})
	if err != nil {
		return nil, err
	}
	jwks, bundle := filepath.Join(s.work, "jwks.json"), filepath.Join(s.work, "bundle.yaml")
	if err := errors.Join(os.WriteFile(jwks, set, 0o644), os.WriteFile(bundle, []byte(benchBundle), 0o600)); err != nil {
		return nil, err
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: key}, (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", "bench"))
	if err != nil {
		return nil, err
	}
	now := time.Now()
	tok, err := jwt.Signed(signer).Claims(jwt.Claims{Issuer: "bench-issuer", Subject: "teller-1", Audience: jwt.Audience{"bench"},
		IssuedAt: jwt.NewNumericDate(now), Expiry: jwt.NewNumericDate(now.Add(2 * time.Hour))}).
		Claims(map[string]any{"roles": []string{"teller"}}).Serialize()
	if err != nil {
		return nil, err
	}
	t, err := s.startVariant(bin, "portcullis-jwt", fmt.Sprintf(identityConfig, jwks, bundle))
	if err != nil {
		return nil, err
	}
	t.token = tok
	return t, nil
}
