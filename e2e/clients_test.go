package e2e

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/textproto"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// timeout returns a context that ends after d or with the test.
func timeout(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

var caPool = sync.OnceValues(func() (*x509.CertPool, error) {
	pem, err := os.ReadFile(certPath("ca.pem"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("ca.pem: no certificates")
	}
	return pool, nil
})

// clientTLS trusts the dev CA. With a certificate name ("gateway-client")
// it also presents that client certificate.
func clientTLS(t *testing.T, cert string) *tls.Config {
	t.Helper()
	pool, err := caPool()
	if err != nil {
		t.Fatalf("caPool() = %v", err)
	}
	cfg := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	if cert != "" {
		pair, err := tls.LoadX509KeyPair(certPath(cert+".pem"), certPath(cert+"-key.pem"))
		if err != nil {
			t.Fatalf("LoadX509KeyPair(%q) = %v", cert, err)
		}
		cfg.Certificates = []tls.Certificate{pair}
	}
	return cfg
}

// dial returns a grpc-go client connection to addr over TLS (16 MiB
// message limits), closed when the test ends.
func dial(t *testing.T, addr string, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	opts = append([]grpc.DialOption{
		grpc.WithTransportCredentials(credentials.NewTLS(clientTLS(t, ""))),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(16<<20), grpc.MaxCallSendMsgSize(16<<20)),
	}, opts...)
	cc, err := grpc.NewClient(addr, opts...)
	if err != nil {
		t.Fatalf("grpc.NewClient(%q) = %v", addr, err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

var adminClient = sync.OnceValue(func() *http.Client {
	pool, _ := caPool() // nil if ca.pem is unreadable: every request then fails verification, which waitReady reports
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
})

// httpsGet fetches https://addr/path with the Go client (for the admin
// listener; REST tests use curl).
func httpsGet(addr, path string) (int, string, error) {
	resp, err := adminClient().Get("https://" + addr + path)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, string(body), err
}

// metricValue returns the value of one series of a counter or gauge from
// the gateway's /metrics (0 if the series does not exist yet).
func metricValue(t *testing.T, g *gateway, name string, labels map[string]string) float64 {
	t.Helper()
	code, body, err := httpsGet(g.adminAddr, "/metrics")
	if err != nil || code != http.StatusOK {
		t.Fatalf("GET /metrics = %d, %v, want 200", code, err)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(strings.NewReader(body))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	f, ok := families[name]
	if !ok {
		return 0
	}
	for _, m := range f.GetMetric() {
		if hasLabels(m, labels) {
			switch {
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

func hasLabels(m *dto.Metric, want map[string]string) bool {
	n := 0
	for _, l := range m.GetLabel() {
		if v, ok := want[l.GetName()]; ok {
			if v != l.GetValue() {
				return false
			}
			n++
		}
	}
	return n == len(want)
}

// httpResult is what curl reports.
type httpResult struct {
	status int
	header http.Header // response headers and trailers, canonical keys
	body   []byte
}

// curl runs curl with the dev CA against url plus args and returns the
// status, headers (and trailers) and body.
func curl(t *testing.T, url string, args ...string) httpResult {
	t.Helper()
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("curl not found: install it (apt-get install curl)")
		}
		t.Skip("curl not found: install it (apt-get install curl) to run the REST end-to-end tests")
	}
	dir := t.TempDir()
	hdr, body := filepath.Join(dir, "headers"), filepath.Join(dir, "body")
	ctx := timeout(t, 15*time.Second)
	argv := append([]string{"--silent", "--show-error", "--max-time", "10", "--cacert", certPath("ca.pem"),
		"--dump-header", hdr, "--output", body, "--write-out", "%{http_code}"}, args...)
	cmd := exec.CommandContext(ctx, "curl", append(argv, url)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("curl %v %s = %v, stderr %q", args, url, err, stderr.String())
	}
	status, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("curl %v %s wrote status %q, want a number", args, url, out)
	}
	res := httpResult{status: status, header: http.Header{}}
	raw, _ := os.ReadFile(hdr)
	for _, line := range strings.Split(string(raw), "\n") {
		k, v, ok := strings.Cut(strings.TrimRight(line, "\r"), ":")
		if ok && !strings.HasPrefix(k, "HTTP/") {
			res.header.Add(textproto.CanonicalMIMEHeaderKey(strings.TrimSpace(k)), strings.TrimSpace(v))
		}
	}
	res.body, _ = os.ReadFile(body)
	return res
}

// grpcurlPath returns the grpcurl binary: bin/grpcurl of the module, then
// PATH. Without it the test is skipped, or fails when CI=true.
func grpcurlPath(t *testing.T) string {
	t.Helper()
	ctx := timeout(t, 10*time.Second)
	if root, err := moduleRoot(ctx); err == nil {
		if p := filepath.Join(root, "bin", "grpcurl"); isExecutable(p) {
			return p
		}
	}
	if p, err := exec.LookPath("grpcurl"); err == nil {
		return p
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("grpcurl not found in bin/ or on PATH: run `make tools`")
	}
	t.Skip("grpcurl not found in bin/ or on PATH: run `make tools`")
	return ""
}

func isExecutable(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0
}

// grpcurl runs grpcurl with the dev CA and returns its combined output and
// exit code.
func grpcurl(t *testing.T, args ...string) (string, int) {
	t.Helper()
	bin := grpcurlPath(t)
	ctx := timeout(t, 15*time.Second)
	argv := append([]string{"-cacert", certPath("ca.pem"), "-max-time", "10"}, args...)
	out, err := exec.CommandContext(ctx, bin, argv...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("grpcurl %v = %v", args, err)
	return "", -1
}

func (r httpResult) String() string {
	return fmt.Sprintf("%d %s", r.status, r.body)
}
