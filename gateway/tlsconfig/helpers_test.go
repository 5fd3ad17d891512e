package tlsconfig_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/gateway/devcerts"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// pki generates a fresh development PKI for one test.
func pki(t *testing.T) *devcerts.Files {
	t.Helper()
	files, err := devcerts.Generate(filepath.Join(t.TempDir(), "pki"), devcerts.WithClients("user/teller"))
	if err != nil {
		t.Fatalf("devcerts.Generate() = %v, want nil", err)
	}
	return files
}

// handshake is what the server saw of one connection.
type handshake struct {
	state tls.ConnectionState
	err   error
}

// serve accepts TLS connections on 127.0.0.1 until the test ends. For each
// it completes the handshake, reports it, and on success writes one byte so
// the client learns whether the server accepted it (in TLS 1.3 a client
// finishes its handshake before the server has checked its certificate).
func serve(t *testing.T, cfg *tls.Config) (string, <-chan handshake) {
	t.Helper()
	ln, err := tls.Listen("tcp", "127.0.0.1:0", cfg)
	if err != nil {
		t.Fatalf("tls.Listen() = %v, want nil", err)
	}
	results := make(chan handshake, 16)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			tc := conn.(*tls.Conn)
			_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
			err = tc.Handshake()
			results <- handshake{state: tc.ConnectionState(), err: err}
			if err == nil {
				_, _ = tc.Write([]byte{'x'})
			}
			_ = tc.Close()
		}
	})
	t.Cleanup(func() {
		_ = ln.Close()
		wg.Wait()
	})
	return ln.Addr().String(), results
}

// dial connects to addr and returns the client's view once the server has
// accepted the connection (by reading the server's byte).
func dial(t *testing.T, addr string, cfg *tls.Config) (tls.ConnectionState, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := tls.Dialer{Config: cfg}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return tls.ConnectionState{}, err
	}
	defer conn.Close()
	tc := conn.(*tls.Conn)
	_ = tc.SetDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, 1)
	if _, err := io.ReadFull(tc, b); err != nil {
		return tc.ConnectionState(), err
	}
	return tc.ConnectionState(), nil
}

// next returns the server's view of the latest handshake.
func next(t *testing.T, results <-chan handshake) handshake {
	t.Helper()
	select {
	case h := <-results:
		return h
	case <-time.After(5 * time.Second):
		t.Fatal("no handshake on the server within 5s")
		return handshake{}
	}
}

func serial(c *x509.Certificate) string {
	if c == nil {
		return "<none>"
	}
	return c.SerialNumber.String()
}

func peerSerial(s tls.ConnectionState) string {
	if len(s.PeerCertificates) == 0 {
		return "<none>"
	}
	return serial(s.PeerCertificates[0])
}

// copyFile replaces dst with the contents of src the way a careful
// deployment does: write a temporary file, then rename it into place.
func copyFile(t *testing.T, src, dst string) {
	t.Helper()
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, dst, data)
}

func writeFile(t *testing.T, dst string, data []byte) {
	t.Helper()
	tmp := dst + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		t.Fatal(err)
	}
}

// errorRecorder collects the errors a Reloader reports.
type errorRecorder struct {
	mu   sync.Mutex
	errs []error
}

func (r *errorRecorder) record(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, err)
}

func (r *errorRecorder) last() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) == 0 {
		return nil
	}
	return r.errs[len(r.errs)-1]
}

func (r *errorRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errs)
}
