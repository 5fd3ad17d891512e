package tlsconfig_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/portcullis/portcullis/gateway/devcerts"
	"github.com/portcullis/portcullis/gateway/tlsconfig"
)

// rotate makes devcerts reissue one leaf with the existing CA.
func rotate(t *testing.T, files *devcerts.Files, pair devcerts.KeyPair) {
	t.Helper()
	if err := os.Remove(pair.Key); err != nil {
		t.Fatal(err)
	}
	if _, err := devcerts.Generate(files.Dir, devcerts.WithClients("user/teller")); err != nil {
		t.Fatalf("devcerts.Generate() = %v, want nil", err)
	}
}

func TestServerCertRotation(t *testing.T) {
	files := pki(t)
	var errs errorRecorder
	r, err := tlsconfig.NewServer(tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key},
		quiet, tlsconfig.WithCheckInterval(0), tlsconfig.WithErrorHandler(errs.record))
	if err != nil {
		t.Fatalf("NewServer() = %v, want nil", err)
	}
	addr, results := serve(t, r.TLSConfig())
	client := clientConfig(t, tlsconfig.Client{CAFile: files.CA.Cert, ServerName: "localhost"})
	presented := func() string {
		t.Helper()
		state, err := dial(t, addr, client)
		if h := next(t, results); err != nil || h.err != nil {
			t.Fatalf("dial() = %v (server %v), want nil", err, h.err)
		}
		return peerSerial(state)
	}

	first := presented()
	if got := serial(r.Certificate()); got != first {
		t.Fatalf("Certificate() serial = %s, want %s", got, first)
	}
	rotate(t, files, files.Server)
	second := presented()
	if second == first {
		t.Fatalf("after rotation: presented serial %s, want a new one", second)
	}

	original, err := os.ReadFile(files.Server.Cert)
	if err != nil {
		t.Fatal(err)
	}
	bad := []struct {
		name string
		cert string // file whose contents replace server.pem
		data []byte
	}{
		{name: "garbage", data: []byte("not a certificate")},
		{name: "empty", data: []byte{}},
		{name: "other key", cert: files.Backend.Cert},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			before := errs.count()
			if tt.cert != "" {
				copyFile(t, tt.cert, files.Server.Cert)
			} else {
				writeFile(t, files.Server.Cert, tt.data)
			}
			if got := presented(); got != second {
				t.Errorf("after bad replacement: presented serial %s, want %s (kept)", got, second)
			}
			if errs.count() != before+1 || errs.last() == nil {
				t.Errorf("error handler calls = %d, want %d", errs.count(), before+1)
			}
			// The same bad file is reported once, not on every handshake.
			_ = presented()
			if errs.count() != before+1 {
				t.Errorf("error handler calls after a second handshake = %d, want %d", errs.count(), before+1)
			}
		})
	}

	writeFile(t, files.Server.Cert, original)
	if got := presented(); got != second {
		t.Errorf("after restoring: presented serial %s, want %s", got, second)
	}
}

func TestCheckIntervalAndReload(t *testing.T) {
	files := pki(t)
	r, err := tlsconfig.NewServer(tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key}, quiet, tlsconfig.WithCheckInterval(time.Hour))
	if err != nil {
		t.Fatalf("NewServer() = %v, want nil", err)
	}
	first := serial(r.Certificate())
	rotate(t, files, files.Server)
	if _, err := r.GetCertificate(nil); err != nil {
		t.Fatal(err)
	}
	if got := serial(r.Certificate()); got != first {
		t.Errorf("within the check interval: serial %s, want %s (not checked yet)", got, first)
	}
	if err := r.Reload(); err != nil {
		t.Fatalf("Reload() = %v, want nil", err)
	}
	if got := serial(r.Certificate()); got == first {
		t.Errorf("after Reload(): serial %s, want a new one", got)
	}
	writeFile(t, files.Server.Key, []byte("garbage"))
	if err := r.Reload(); err == nil {
		t.Errorf("Reload() with a bad key = nil, want error")
	}
}

func TestClientCARotation(t *testing.T) {
	files := pki(t)
	caFile := filepath.Join(t.TempDir(), "client-ca.pem")
	copyFile(t, files.CA.Cert, caFile)
	s := tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key, ClientCAFile: caFile, ClientAuth: "require"}
	addr, results := serve(t, serverConfig(t, s, tlsconfig.WithCheckInterval(0)))
	accepted := func(pair devcerts.KeyPair) bool {
		t.Helper()
		c := clientConfig(t, tlsconfig.Client{CAFile: files.CA.Cert, ServerName: "localhost", CertFile: pair.Cert, KeyFile: pair.Key})
		_, err := dial(t, addr, c)
		h := next(t, results)
		return err == nil && h.err == nil
	}
	teller := files.Clients["user/teller"]
	if !accepted(teller) || accepted(files.UntrustedClient) {
		t.Fatalf("before rotation: want teller accepted and untrusted client rejected")
	}
	copyFile(t, files.UntrustedCA.Cert, caFile)
	if got := accepted(files.UntrustedClient); !got {
		t.Errorf("after CA rotation: untrusted client accepted = %v, want true", got)
	}
	if got := accepted(teller); got {
		t.Errorf("after CA rotation: teller accepted = %v, want false", got)
	}
}

func TestClientRotation(t *testing.T) {
	files := pki(t)
	s := tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key, ClientCAFile: files.CA.Cert, ClientAuth: "require"}
	addr, results := serve(t, serverConfig(t, s))
	rootFile := filepath.Join(t.TempDir(), "roots.pem")
	copyFile(t, files.UntrustedCA.Cert, rootFile)
	client := clientConfig(t, tlsconfig.Client{CAFile: rootFile, ServerName: "localhost", CertFile: files.GatewayClient.Cert, KeyFile: files.GatewayClient.Key},
		tlsconfig.WithCheckInterval(0))

	if _, err := dial(t, addr, client); err == nil {
		t.Fatalf("dial() trusting the untrusted CA = nil, want error")
	}
	_ = next(t, results)

	copyFile(t, files.CA.Cert, rootFile)
	_, err := dial(t, addr, client)
	h := next(t, results)
	if err != nil || h.err != nil {
		t.Fatalf("dial() after root rotation = %v (server %v), want nil", err, h.err)
	}
	first := peerSerial(h.state)

	rotate(t, files, files.GatewayClient)
	_, err = dial(t, addr, client)
	h = next(t, results)
	if err != nil || h.err != nil {
		t.Fatalf("dial() after client cert rotation = %v (server %v), want nil", err, h.err)
	}
	if got := peerSerial(h.state); got == first {
		t.Errorf("after client cert rotation: server saw serial %s, want a new one", got)
	}
}

func TestWatch(t *testing.T) {
	files := pki(t)
	r, err := tlsconfig.NewServer(tlsconfig.Server{CertFile: files.Server.Cert, KeyFile: files.Server.Key}, quiet, tlsconfig.WithCheckInterval(10*time.Millisecond))
	if err != nil {
		t.Fatalf("NewServer() = %v, want nil", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Watch(ctx)
	}()
	first := serial(r.Certificate())
	rotate(t, files, files.Server)
	for serial(r.Certificate()) == first && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	if got := serial(r.Certificate()); got == first {
		t.Errorf("Watch: serial %s after rotation, want a new one", got)
	}
	cancel()
	<-done
}
