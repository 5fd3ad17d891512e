package e2e

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// Services routed by the tests.
const (
	bankService    = "examples.bank.v1.BankService"
	interopService = "grpc.testing.TestService"
)

// backend is a running backend process. Backends listen on 127.0.0.1:0
// with TLS (backend.pem) and require the gateway's client certificate.
type backend struct {
	*proc
	addr string
}

// startBackend starts bank-backend or interopserver and reads its address
// from its "serving" log line.
func startBackend(name string) (*backend, error) {
	p, err := startProc(name, env.root, "--listen", "127.0.0.1:0",
		"--tls-cert", certPath("backend.pem"), "--tls-key", certPath("backend-key.pem"), "--client-ca", certPath("ca.pem"))
	if err != nil {
		return nil, err
	}
	rec, err := p.waitLog(10*time.Second, "msg", "serving")
	if err != nil {
		_, _ = p.stop(5 * time.Second)
		return nil, err
	}
	return &backend{proc: p, addr: fmt.Sprint(rec["addr"])}, nil
}

// route is one routes entry; extra holds additional YAML keys.
type route struct {
	service, backend string
	extra            []string
}

// gatewayConfig is what a test varies in the gateway configuration; all
// listeners always use TLS with the dev server certificate on port 0.
type gatewayConfig struct {
	routes          []route
	descriptors     bool   // add the interop descriptor set and policy
	shutdownTimeout string // default 5s
	extra           string // more top-level YAML, appended as is
}

func (c gatewayConfig) yaml() string {
	tls := fmt.Sprintf("{cert_file: %q, key_file: %q}", certPath("server.pem"), certPath("server-key.pem"))
	var b strings.Builder
	fmt.Fprintf(&b, "listeners:\n")
	for _, l := range []string{"grpc", "http", "admin"} {
		fmt.Fprintf(&b, "  %s:\n    address: 127.0.0.1:0\n    tls: %s\n", l, tls)
	}
	b.WriteString("routes:\n")
	for _, r := range c.routes {
		fmt.Fprintf(&b, "  - service: %s\n    backend: %s\n", r.service, r.backend)
		fmt.Fprintf(&b, "    tls: {ca_file: %q, cert_file: %q, key_file: %q, server_name: localhost}\n",
			certPath("ca.pem"), certPath("gateway-client.pem"), certPath("gateway-client-key.pem"))
		b.WriteString("    connect_timeout: 2s\n")
		for _, e := range r.extra {
			fmt.Fprintf(&b, "    %s\n", e)
		}
	}
	if c.descriptors {
		fmt.Fprintf(&b, "descriptors:\n  - {file: %q, policy: %q}\n", env.interopSet, env.interopPolicy)
	}
	shutdown := c.shutdownTimeout
	if shutdown == "" {
		shutdown = "5s"
	}
	fmt.Fprintf(&b, "shutdown_timeout: %s\nlog: {level: info, format: json}\n", shutdown)
	b.WriteString(c.extra)
	return b.String()
}

// gateway is a running `portcullis serve` process and its bound addresses.
type gateway struct {
	*proc
	grpcAddr, httpAddr, adminAddr string
}

// startGateway writes cfg to a new directory, starts the gateway, reads the
// bound addresses from its "portcullis gateway serving" log line and waits
// until /readyz answers 200.
func startGateway(cfg gatewayConfig) (*gateway, error) {
	dir, err := os.MkdirTemp(env.root, "gateway-")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "gateway.yaml"), []byte(cfg.yaml()), 0o644); err != nil {
		return nil, err
	}
	p, err := startProc("portcullis", dir, "serve", "--config", "gateway.yaml")
	if err != nil {
		return nil, err
	}
	rec, err := p.waitLog(15*time.Second, "msg", "portcullis gateway serving")
	if err != nil {
		_, _ = p.stop(5 * time.Second)
		return nil, err
	}
	g := &gateway{proc: p, grpcAddr: fmt.Sprint(rec["grpc"]), httpAddr: fmt.Sprint(rec["http"]), adminAddr: fmt.Sprint(rec["admin"])}
	if err := g.waitReady(10 * time.Second); err != nil {
		_, _ = p.stop(5 * time.Second)
		return nil, err
	}
	return g, nil
}

func (g *gateway) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		code, body, err := httpsGet(g.adminAddr, "/readyz")
		if err == nil && code == http.StatusOK {
			return nil
		}
		last = fmt.Sprintf("status %d %q, err %v", code, body, err)
		if g.exited() {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("gateway not ready within %v (last: %s); output:\n%s", timeout, last, g.out)
}

// newGateway starts a gateway for one test and stops it when the test ends.
func newGateway(t *testing.T, cfg gatewayConfig) *gateway {
	t.Helper()
	g, err := startGateway(cfg)
	if err != nil {
		t.Fatalf("startGateway() = %v", err)
	}
	t.Cleanup(func() { _, _ = g.stop(10 * time.Second) })
	return g
}

// newBackend starts a backend for one test and stops it when the test ends.
func newBackend(t *testing.T, name string) *backend {
	t.Helper()
	b, err := startBackend(name)
	if err != nil {
		t.Fatalf("startBackend(%q) = %v", name, err)
	}
	t.Cleanup(func() { _, _ = b.stop(10 * time.Second) })
	return b
}

// Shared processes, started on first use and stopped by TestMain.
var shared struct {
	mu    sync.Mutex
	procs []*proc // in start order

	bankOnce, interopOnce sync.Once
	bank                  *bankTopology
	interop               *interopTopology
	bankErr, interopErr   error
}

func keep(ps ...*proc) {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	shared.procs = append(shared.procs, ps...)
}

func stopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	for i := len(shared.procs) - 1; i >= 0; i-- {
		_, _ = shared.procs[i].stop(10 * time.Second)
	}
}

// bankTopology is the real bank demo backend behind a gateway.
type bankTopology struct {
	backend *backend
	gw      *gateway
}

// bankEnv returns the shared bank topology. The route's timeout (for calls
// without a deadline) is 1s.
func bankEnv(t *testing.T) *bankTopology {
	t.Helper()
	shared.bankOnce.Do(func() {
		b, err := startBackend("bank-backend")
		if err != nil {
			shared.bankErr = err
			return
		}
		keep(b.proc)
		g, err := startGateway(gatewayConfig{routes: []route{{service: bankService, backend: b.addr, extra: []string{"timeout: 1s"}}}})
		if err != nil {
			shared.bankErr = err
			return
		}
		keep(g.proc)
		shared.bank = &bankTopology{backend: b, gw: g}
	})
	if shared.bankErr != nil {
		t.Fatalf("bank topology: %v", shared.bankErr)
	}
	return shared.bank
}

// interopTopology is interopserver behind a gateway that routes the bank
// service (Ping only) and, from the interop descriptor set, the TestService.
type interopTopology struct {
	backend *backend
	gw      *gateway
}

// interopEnv returns the shared interop topology.
func interopEnv(t *testing.T) *interopTopology {
	t.Helper()
	shared.interopOnce.Do(func() {
		b, err := startBackend("interopserver")
		if err != nil {
			shared.interopErr = err
			return
		}
		keep(b.proc)
		g, err := startGateway(interopConfig(b.addr))
		if err != nil {
			shared.interopErr = err
			return
		}
		keep(g.proc)
		shared.interop = &interopTopology{backend: b, gw: g}
	})
	if shared.interopErr != nil {
		t.Fatalf("interop topology: %v", shared.interopErr)
	}
	return shared.interop
}

// interopConfig routes the bank service and, from the descriptor set, the
// TestService (message limits 8 MiB, for 4 MiB payloads) to addr.
func interopConfig(addr string) gatewayConfig {
	return gatewayConfig{descriptors: true, routes: []route{
		{service: bankService, backend: addr},
		{service: interopService, backend: addr, extra: []string{"max_request_bytes: 8388608", "max_response_bytes: 8388608"}},
	}}
}
