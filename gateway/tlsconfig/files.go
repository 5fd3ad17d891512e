package tlsconfig

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"time"
)

// fileStat is the cheap fingerprint of a watched file: size, modification
// time and identity (device and inode on Unix), so that a file renamed into
// place is noticed even when size and time happen to match. Stat follows
// symbolic links, which covers Kubernetes secret volumes (a symlinked
// directory swapped atomically).
type fileStat struct {
	info os.FileInfo // nil if the file could not be stat'ed
}

func (a fileStat) equal(b fileStat) bool {
	if a.info == nil || b.info == nil {
		return a.info == nil && b.info == nil
	}
	return os.SameFile(a.info, b.info) && a.info.Size() == b.info.Size() && a.info.ModTime().Equal(b.info.ModTime())
}

func statFiles(paths []string) []fileStat {
	out := make([]fileStat, len(paths))
	for i, p := range paths {
		if st, err := os.Stat(p); err == nil {
			out[i] = fileStat{info: st}
		}
	}
	return out
}

// loadKeyPair loads a certificate chain and its key and rejects a leaf that
// is not valid now, so that a stale file never replaces a working one.
func loadKeyPair(certFile, keyFile string, now time.Time) (*tls.Certificate, error) {
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: load %s: %w", certFile, err)
	}
	leaf := cert.Leaf
	if leaf == nil {
		if leaf, err = x509.ParseCertificate(cert.Certificate[0]); err != nil {
			return nil, fmt.Errorf("tlsconfig: load %s: %w", certFile, err)
		}
		cert.Leaf = leaf
	}
	if now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		return nil, fmt.Errorf("tlsconfig: load %s: certificate is valid from %s to %s, not now",
			certFile, leaf.NotBefore.Format(time.RFC3339), leaf.NotAfter.Format(time.RFC3339))
	}
	return &cert, nil
}

// loadPool reads a PEM bundle strictly: every block must be a certificate
// that parses, and there must be at least one. (x509.CertPool's
// AppendCertsFromPEM would skip bad blocks silently.)
func loadPool(file string) (*x509.CertPool, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("tlsconfig: load CA bundle: %w", err)
	}
	pool := x509.NewCertPool()
	n := 0
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("tlsconfig: load CA bundle %s: unexpected PEM block %q", file, block.Type)
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("tlsconfig: load CA bundle %s: %w", file, err)
		}
		pool.AddCert(cert)
		n++
	}
	if n == 0 {
		return nil, fmt.Errorf("tlsconfig: load CA bundle %s: %w", file, errNoCerts)
	}
	return pool, nil
}

var errNoCerts = errors.New("no PEM certificates")
