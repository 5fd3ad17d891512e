package bundle

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"
)

// HTTPS returns a Source that polls rawURL (which must be https) with
// If-None-Match: a 304 Not Modified answer costs no download and is no
// change. The signature is fetched from rawURL + ".sig" the same way; a
// 404 there means the bundle is unsigned. Bodies are bounded (WithMaxBytes)
// and every fetch is bounded in time (WithTimeout). A nil client means
// http.DefaultClient; a redirect to a non-https URL is refused.
func HTTPS(rawURL string, client *http.Client, opts ...SourceOption) (Source, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("bundle: source URL: %w", err)
	}
	if u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("bundle: source URL %q: want https://host/path (bundles are policy: never fetch them in clear text)", rawURL)
	}
	if client == nil {
		client = http.DefaultClient
	}
	o := sourceDefaults(30*time.Second, opts)
	return &httpSource{url: rawURL, client: client, o: o}, nil
}

type httpSource struct {
	url    string
	client *http.Client
	o      sourceOptions

	mu       sync.Mutex // serializes fetches; guards body and sig
	body, sg cached
}

// cached is the last 200 answer for one URL.
type cached struct {
	etag string
	data []byte
	ok   bool // data is from a 200 answer (false: none yet, or 404)
}

func (s *httpSource) String() string { return s.url }

func (s *httpSource) Fetch(ctx context.Context) (Snapshot, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, s.o.timeout)
	defer cancel()
	body, err := s.get(ctx, s.url, s.body, s.o.maxBytes, false)
	if err != nil {
		return Snapshot{}, err
	}
	sig, err := s.get(ctx, s.url+SigSuffix, s.sg, maxSigBytes, true)
	if err != nil {
		return Snapshot{}, err
	}
	s.body, s.sg = body, sig
	etag := body.etag
	if etag == "" {
		etag = contentTag(body.data, sig.data)
	}
	return Snapshot{Data: body.data, Sig: sig.data, Name: s.url, ETag: etag}, nil
}

// get fetches one URL conditionally on prev. With optional, a 404 is an
// empty answer rather than an error.
func (s *httpSource) get(ctx context.Context, u string, prev cached, limit int64, optional bool) (cached, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return cached{}, fmt.Errorf("bundle: %s: %w", u, err)
	}
	if prev.ok && prev.etag != "" {
		req.Header.Set("If-None-Match", prev.etag)
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return cached{}, fmt.Errorf("bundle: fetch: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.Request != nil && resp.Request.URL.Scheme != "https" {
		return cached{}, fmt.Errorf("bundle: %s: redirected to %s: refusing a non-https bundle source", u, resp.Request.URL.Redacted())
	}
	switch {
	case resp.StatusCode == http.StatusNotModified && prev.ok:
		return prev, nil
	case resp.StatusCode == http.StatusNotFound && optional:
		return cached{}, nil
	case resp.StatusCode != http.StatusOK:
		return cached{}, fmt.Errorf("bundle: %s: HTTP %s", u, resp.Status)
	}
	if resp.ContentLength > limit {
		return cached{}, fmt.Errorf("bundle: %s: larger than %d bytes", u, limit)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return cached{}, fmt.Errorf("bundle: %s: %w", u, err)
	}
	if int64(len(data)) > limit {
		return cached{}, fmt.Errorf("bundle: %s: larger than %d bytes", u, limit)
	}
	return cached{etag: resp.Header.Get("ETag"), data: data, ok: true}, nil
}

// Watch asks for a fetch every poll interval (there is nothing to watch
// over HTTP); the conditional request makes an unchanged bundle cheap.
func (s *httpSource) Watch(ctx context.Context, changed func()) {
	changed()
	if s.o.poll <= 0 {
		<-ctx.Done()
		return
	}
	t := time.NewTicker(s.o.poll)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			changed()
		}
	}
}
