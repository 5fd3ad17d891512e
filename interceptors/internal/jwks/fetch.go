package jwks

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

// Source is where a JWK Set is read from: File if set, else URL.
type Source struct {
	File     string
	URL      string
	MaxBytes int64         // a larger document is an error
	Timeout  time.Duration // for the whole GET of URL, body included
	Client   *http.Client  // used for URL
}

// Fetch reads the JWK Set document from src.File, or else GETs src.URL with
// src.Client, bounded by src.MaxBytes (and src.Timeout for a URL). A status
// other than 200 is an error. It is safe for concurrent use.
func Fetch(ctx context.Context, src Source) ([]byte, error) {
	if src.File != "" {
		f, err := os.Open(src.File)
		if err != nil {
			return nil, err
		}
		defer func() { _ = f.Close() }() // read-only
		return readLimited(f, src.MaxBytes)
	}
	ctx, cancel := context.WithTimeout(ctx, src.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return nil, err
	}
	// No conditional request (If-None-Match) and no cached copy: a refresh
	// for an unknown kid must see the current document, whatever an ETag
	// or a cache says, or a key rotation would not be picked up.
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := src.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", src.URL, resp.Status)
	}
	return readLimited(resp.Body, src.MaxBytes)
}

// readLimited reads all of r, or fails if r holds more than max bytes.
func readLimited(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("JWK Set larger than %d bytes", max)
	}
	return b, nil
}
