package bundle

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// bundleServer serves a bundle and optionally its signature with ETags,
// and counts conditional requests and 304 answers.
type bundleServer struct {
	*httptest.Server
	mu          sync.Mutex
	files       map[string][]byte
	delay       time.Duration
	requests    atomic.Int64
	conditional atomic.Int64
	notModified atomic.Int64
}

func newBundleServer(t *testing.T) *bundleServer {
	t.Helper()
	s := &bundleServer{files: map[string][]byte{}}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

func (s *bundleServer) set(path string, data []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if data == nil {
		delete(s.files, path)
		return
	}
	s.files[path] = data
}

func (s *bundleServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	data, ok := s.files[r.URL.Path]
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	etag := fmt.Sprintf(`"%x"`, sha256.Sum256(data))
	w.Header().Set("ETag", etag)
	if inm := r.Header.Get("If-None-Match"); inm != "" {
		s.conditional.Add(1)
		if inm == etag {
			s.notModified.Add(1)
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	_, _ = w.Write(data)
}

func TestHTTPSFetch(t *testing.T) {
	srv := newBundleServer(t)
	srv.set("/bundle.yaml", bankYAML("v1"))
	src, err := HTTPS(srv.URL+"/bundle.yaml", srv.Client())
	if err != nil {
		t.Fatal(err)
	}
	ctx := testContext(t)
	first, err := src.Fetch(ctx)
	if err != nil || string(first.Data) != string(bankYAML("v1")) || first.Sig != nil || first.ETag == "" {
		t.Fatalf("Fetch() = %+v, %v, want v1, unsigned, with an ETag", first, err)
	}
	if c := srv.conditional.Load(); c != 0 {
		t.Errorf("conditional requests after the first fetch = %d, want 0", c)
	}
	second, err := src.Fetch(ctx)
	if err != nil || string(second.Data) != string(first.Data) || second.ETag != first.ETag {
		t.Errorf("Fetch(unchanged) = %+v, %v, want the cached v1", second, err)
	}
	if c, n := srv.conditional.Load(), srv.notModified.Load(); c != 1 || n != 1 {
		t.Errorf("after an unchanged fetch: conditional = %d, 304 = %d, want 1 and 1 (the missing .sig is not conditional)", c, n)
	}
	srv.set("/bundle.yaml", bankYAML("v2"))
	srv.set("/bundle.yaml.sig", []byte("sig"))
	third, err := src.Fetch(ctx)
	if err != nil || string(third.Data) != string(bankYAML("v2")) || string(third.Sig) != "sig" || third.ETag == first.ETag {
		t.Errorf("Fetch(changed) = %+v, %v, want v2 with its signature", third, err)
	}
	if _, err := src.Fetch(ctx); err != nil || srv.notModified.Load() != 3 {
		t.Errorf("Fetch(unchanged, signed) = %v, 304s = %d, want nil and 3 (bundle and signature)", err, srv.notModified.Load())
	}
}

func TestHTTPSErrors(t *testing.T) {
	srv := newBundleServer(t)
	srv.set("/big.yaml", []byte(strings.Repeat("x", 100)))
	srv.set("/slow.yaml", bankYAML("v1"))
	tests := []struct {
		name string
		url  string
		opts []SourceOption
		want string
	}{
		{"too large", srv.URL + "/big.yaml", []SourceOption{WithMaxBytes(50)}, "larger than 50 bytes"},
		{"missing", srv.URL + "/nope.yaml", nil, "404"},
		{"timeout", srv.URL + "/slow.yaml", []SourceOption{WithTimeout(50 * time.Millisecond)}, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.name == "timeout" {
				srv.mu.Lock()
				srv.delay = 5 * time.Second
				srv.mu.Unlock()
				defer func() { srv.mu.Lock(); srv.delay = 0; srv.mu.Unlock() }()
			}
			src, err := HTTPS(tt.url, srv.Client(), tt.opts...)
			if err != nil {
				t.Fatal(err)
			}
			start := time.Now()
			_, err = src.Fetch(testContext(t))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Fetch(%s) = %v, want an error containing %q", tt.name, err, tt.want)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("Fetch(%s) took %v, want it bounded", tt.name, d)
			}
		})
	}
	plain := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(bankYAML("v1")) }))
	defer plain.Close()
	redirect := httptest.NewTLSServer(http.RedirectHandler(plain.URL+"/bundle.yaml", http.StatusFound))
	defer redirect.Close()
	src, _ := HTTPS(redirect.URL+"/bundle.yaml", redirect.Client())
	if _, err := src.Fetch(testContext(t)); err == nil || !strings.Contains(err.Error(), "refusing a non-https bundle source") {
		t.Errorf("Fetch(redirect to http) = %v, want a refusal", err)
	}
	for _, u := range []string{"http://example.com/b.yaml", "ftp://x/b.yaml", "https:///b.yaml", "://"} {
		if _, err := HTTPS(u, nil); err == nil {
			t.Errorf("HTTPS(%q) = nil error, want an error", u)
		}
	}
}

func TestManagerHTTPSource(t *testing.T) {
	srv := newBundleServer(t)
	srv.set("/bundle.yaml", bankYAML("v1"))
	src, err := HTTPS(srv.URL+"/bundle.yaml", srv.Client(), WithPollInterval(10*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	m, l := newTestManager(t, src)
	if err := m.Start(testContext(t)); err != nil {
		t.Fatal(err)
	}
	eventually(t, "polls answered 304", func() bool { return srv.notModified.Load() >= 3 })
	if st := m.Status(); st.Activations != 1 || st.Source != srv.URL+"/bundle.yaml" {
		t.Errorf("Status() = %+v, want one activation from %s (304 is no change)", st, srv.URL)
	}
	srv.set("/bundle.yaml", bankYAML("v2"))
	eventually(t, "v2 active", func() bool { return l.version() == "v2" })
	srv.set("/bundle.yaml", []byte("version: v3\nroles: {r: {permissions: [nope]}}\n"))
	eventually(t, "the bad bundle reported", func() bool { return m.Status().LastError != nil })
	if l.version() != "v2" {
		t.Errorf("active version = %q, want v2", l.version())
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	srv.CloseClientConnections()
}
