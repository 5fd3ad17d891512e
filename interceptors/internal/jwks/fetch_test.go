package jwks

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestFetchFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "jwks.json")
	if err := os.WriteFile(file, []byte(`{"keys":[]}`), 0o600); err != nil { // 11 bytes
		t.Fatal(err)
	}
	for _, tt := range []struct {
		name    string
		file    string
		max     int64
		wantErr string // "" for success
	}{
		{"under the bound", file, 100, ""},
		{"exactly the bound", file, 11, ""},
		{"over the bound", file, 10, "JWK Set larger than 10 bytes"},
		{"missing", filepath.Join(dir, "nope.json"), 100, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			got, err := Fetch(ctx, Source{File: tt.file, MaxBytes: tt.max, Timeout: time.Second})
			if tt.wantErr == "" {
				if err != nil || string(got) != `{"keys":[]}` {
					t.Errorf("Fetch(%s) = %q, %v, want the document", tt.name, got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Fetch(%s) = %v, want an error containing %q", tt.name, err, tt.wantErr)
			}
		})
	}
}

func TestFetchURL(t *testing.T) {
	const doc = `{"keys":[]}`
	release := make(chan struct{})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if got := r.Header.Get("Accept"); got != "application/jwk-set+json, application/json" {
			t.Errorf("Accept = %q, want the JWK Set types", got)
		}
		if got := r.Header.Get("Cache-Control"); got != "no-cache" {
			t.Errorf("Cache-Control = %q, want no-cache", got)
		}
		switch r.URL.Path {
		case "/ok":
			_, _ = w.Write([]byte(doc))
		case "/big":
			_, _ = w.Write([]byte(strings.Repeat(" ", 1000) + doc))
		case "/slow":
			// Never answers while the test runs. It used to return when
			// the request's context ended, and under load Fetch then got
			// an answer instead of its timeout in about 1 run in 100.
			select {
			case <-release:
			case <-time.After(10 * time.Second):
			}
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	defer close(release) // before srv.Close, which waits for the handler
	for _, tt := range []struct {
		name    string
		path    string
		max     int64
		wantErr string // "" for success
	}{
		{"ok", "/ok", 100, ""},
		{"exactly the bound", "/ok", int64(len(doc)), ""},
		{"over the bound", "/big", 100, "JWK Set larger than 100 bytes"},
		{"not found", "/missing", 100, "GET " + srv.URL + "/missing: 404 Not Found"},
		{"timeout", "/slow", 100, context.DeadlineExceeded.Error()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			start := time.Now()
			got, err := Fetch(ctx, Source{URL: srv.URL + tt.path, MaxBytes: tt.max, Timeout: 100 * time.Millisecond, Client: srv.Client()})
			if d := time.Since(start); d > 3*time.Second {
				t.Errorf("Fetch(%s) took %v, want it bounded by the 100ms timeout", tt.name, d)
			}
			if tt.wantErr == "" {
				if err != nil || string(got) != doc {
					t.Errorf("Fetch(%s) = %q, %v, want the document", tt.name, got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Fetch(%s) = %v, want an error containing %q", tt.name, err, tt.wantErr)
			}
			if tt.name == "timeout" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("Fetch(timeout) = %v, want context.DeadlineExceeded", err)
			}
		})
	}
}
