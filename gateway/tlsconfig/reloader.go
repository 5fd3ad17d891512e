package tlsconfig

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Reloader serves certificates and CA pools loaded from files and reloads
// them when the files change. Its methods are safe for concurrent use; the
// handshake path takes no lock and allocates nothing unless a check is due.
type Reloader struct {
	server   bool
	settings Client // CAFile is the client CA file when server is true
	auth     tls.ClientAuthType
	version  uint16
	opts     options
	files    []string    // watched paths, fixed at construction
	config   *tls.Config // the static configuration handed out
	cur      atomic.Pointer[snapshot]
	next     atomic.Int64 // unix nanoseconds before which no check runs
	mu       sync.Mutex   // serializes checks and reloads; guards seen
	seen     []fileStat   // stats at the last load attempt, good or bad
}

// snapshot is one consistent set of loaded files. It is never modified.
type snapshot struct {
	cert *tls.Certificate // nil for a client without certificate
	pool *x509.CertPool   // client CAs (server) or roots (client); nil if unset
	tls  *tls.Config      // server only: the per-handshake configuration
}

// NewServer loads the files of s and returns a Reloader for a listener.
func NewServer(s Server, opts ...Option) (*Reloader, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	r := newReloader(opts)
	r.server = true
	r.settings = Client{CAFile: s.ClientCAFile, CertFile: s.CertFile, KeyFile: s.KeyFile}
	r.auth, _ = ParseClientAuth(s.ClientAuth)
	r.version, _ = ParseVersion(s.MinVersion)
	if err := r.init(); err != nil {
		return nil, err
	}
	r.config = &tls.Config{
		MinVersion:         r.version,
		CipherSuites:       cipherSuites,
		NextProtos:         r.opts.nextProtos,
		ClientAuth:         r.auth,
		GetCertificate:     r.GetCertificate,
		GetConfigForClient: r.GetConfigForClient,
	}
	return r, nil
}

// NewClient loads the files of c and returns a Reloader for upstream
// connections.
//
// With CAFile set, the configuration disables the built-in verification
// (InsecureSkipVerify) and verifies in VerifyConnection instead, against the
// current CA pool and ServerName (or the SNI name when ServerName is empty),
// so that a rotated CA bundle applies to the next handshake. A copy of the
// configuration must keep VerifyConnection.
func NewClient(c Client, opts ...Option) (*Reloader, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	r := newReloader(opts)
	r.settings = c
	r.version, _ = ParseVersion(c.MinVersion)
	if err := r.init(); err != nil {
		return nil, err
	}
	r.config = &tls.Config{
		MinVersion:   r.version,
		CipherSuites: cipherSuites,
		NextProtos:   r.opts.nextProtos,
		ServerName:   c.ServerName,
	}
	if c.CertFile != "" {
		r.config.GetClientCertificate = r.GetClientCertificate
	}
	if c.CAFile != "" {
		r.config.InsecureSkipVerify = true // verified by verifyServer, see above
		r.config.VerifyConnection = r.verifyServer
	}
	return r, nil
}

func newReloader(opts []Option) *Reloader {
	o := defaultOptions()
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.Default()
	}
	if o.onError == nil {
		logger := o.logger
		o.onError = func(err error) {
			logger.Error("tlsconfig: reload failed, keeping previous certificates", "err", err)
		}
	}
	return &Reloader{opts: o}
}

func (r *Reloader) init() error {
	for _, f := range []string{r.settings.CertFile, r.settings.KeyFile, r.settings.CAFile} {
		if f != "" {
			r.files = append(r.files, f)
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = statFiles(r.files)
	snap, err := r.load()
	if err != nil {
		return err
	}
	r.cur.Store(snap)
	r.next.Store(time.Now().Add(r.opts.interval).UnixNano())
	return nil
}

// TLSConfig returns the configuration to pass to tls.Listen, tls.Dial,
// http.Server or grpc's credentials.NewTLS. It is shared; clone it before
// changing it.
func (r *Reloader) TLSConfig() *tls.Config { return r.config }

// Certificate returns the leaf certificate currently served, or nil for a
// client without certificate. Useful to export its expiry as a metric.
func (r *Reloader) Certificate() *x509.Certificate {
	if c := r.cur.Load().cert; c != nil {
		return c.Leaf
	}
	return nil
}

// GetCertificate implements tls.Config.GetCertificate with the current
// server certificate.
func (r *Reloader) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.maybeCheck()
	return r.cur.Load().cert, nil
}

// GetConfigForClient implements tls.Config.GetConfigForClient: it returns
// the complete configuration of the current snapshot, so a changed client CA
// bundle applies to the next handshake. On the server only.
func (r *Reloader) GetConfigForClient(*tls.ClientHelloInfo) (*tls.Config, error) {
	r.maybeCheck()
	return r.cur.Load().tls, nil
}

// GetClientCertificate implements tls.Config.GetClientCertificate with the
// current client certificate, or none if no CertFile was configured.
func (r *Reloader) GetClientCertificate(*tls.CertificateRequestInfo) (*tls.Certificate, error) {
	r.maybeCheck()
	if c := r.cur.Load().cert; c != nil {
		return c, nil
	}
	return &tls.Certificate{}, nil
}

// Reload loads the files now, whether or not they changed, and returns the
// error if they are bad (the previous certificates then stay in use). Call
// it on SIGHUP, for example.
func (r *Reloader) Reload() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.seen = statFiles(r.files)
	return r.swap()
}

// Watch checks the files every check interval (at least every second when
// the interval is zero) until ctx is done. Errors go to the error handler.
func (r *Reloader) Watch(ctx context.Context) {
	interval := r.opts.interval
	if interval <= 0 {
		interval = time.Second
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.check()
		}
	}
}

// maybeCheck runs check if the interval has passed since the last one. Only
// the handshake that wins the compare-and-swap pays for the stat calls.
func (r *Reloader) maybeCheck() {
	now := time.Now().UnixNano()
	next := r.next.Load()
	if now < next || !r.next.CompareAndSwap(next, now+int64(r.opts.interval)) {
		return
	}
	r.check()
}

// check reloads if any file's size or modification time changed since the
// last attempt. A handshake never waits for another goroutine's reload.
func (r *Reloader) check() {
	if !r.mu.TryLock() {
		return
	}
	defer r.mu.Unlock()
	stats := statFiles(r.files)
	if slices.EqualFunc(stats, r.seen, fileStat.equal) {
		return
	}
	r.seen = stats
	if err := r.swap(); err != nil {
		r.opts.onError(err)
	}
}

// swap loads a new snapshot and installs it; r.mu must be held.
func (r *Reloader) swap() error {
	snap, err := r.load()
	if err != nil {
		return err
	}
	r.cur.Store(snap)
	attrs := []any{"files", r.files}
	if snap.cert != nil {
		attrs = append(attrs, "serial", snap.cert.Leaf.SerialNumber.String(), "not_after", snap.cert.Leaf.NotAfter)
	}
	r.opts.logger.Info("tlsconfig: reloaded", attrs...)
	return nil
}

func (r *Reloader) load() (*snapshot, error) {
	s := r.settings
	snap := &snapshot{}
	var err error
	if s.CertFile != "" {
		if snap.cert, err = loadKeyPair(s.CertFile, s.KeyFile, time.Now()); err != nil {
			return nil, err
		}
	}
	if s.CAFile != "" {
		if snap.pool, err = loadPool(s.CAFile); err != nil {
			return nil, err
		}
	}
	if r.server {
		snap.tls = &tls.Config{
			MinVersion:   r.version,
			CipherSuites: cipherSuites,
			NextProtos:   r.opts.nextProtos,
			Certificates: []tls.Certificate{*snap.cert},
			ClientAuth:   r.auth,
			ClientCAs:    snap.pool,
		}
	}
	return snap, nil
}

// verifyServer does what crypto/tls does when InsecureSkipVerify is false,
// against the current CA pool: chain to a root, valid now, usable for server
// authentication, and issued for the expected name. It also runs on resumed
// sessions, so a removed CA takes effect for those too.
func (r *Reloader) verifyServer(cs tls.ConnectionState) error {
	r.maybeCheck()
	name := r.settings.ServerName
	if name == "" {
		name = cs.ServerName
	}
	if name == "" {
		return errors.New("tlsconfig: no server name to verify the certificate against (dialled an IP address?); set ServerName")
	}
	if len(cs.PeerCertificates) == 0 {
		return errors.New("tlsconfig: server sent no certificate")
	}
	opts := x509.VerifyOptions{
		Roots:         r.cur.Load().pool,
		DNSName:       name,
		Intermediates: x509.NewCertPool(),
	}
	for _, c := range cs.PeerCertificates[1:] {
		opts.Intermediates.AddCert(c)
	}
	if _, err := cs.PeerCertificates[0].Verify(opts); err != nil {
		return fmt.Errorf("tlsconfig: verify server certificate: %w", err)
	}
	return nil
}
