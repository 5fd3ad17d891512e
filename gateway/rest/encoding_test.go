package rest

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"net/http"
	"testing"

	"google.golang.org/grpc/codes"
)

func TestContentEncoding(t *testing.T) {
	f := newFixture(t)
	var zipped bytes.Buffer
	zw := gzip.NewWriter(&zipped)
	_, _ = zw.Write([]byte(`{"amount_cents":5,"currency":"EUR"}`))
	_ = zw.Close()
	const transfers, account = "/v1/accounts/alice-checking/transfers", "/v1/accounts/alice-checking"
	tests := []struct {
		name, method, path, body, encoding string
		want                               int
	}{
		{"gzip body", "POST", transfers, zipped.String(), "gzip", http.StatusUnsupportedMediaType},
		{"gzip without a body", "GET", account, "", "gzip", http.StatusUnsupportedMediaType},
		{"unknown coding", "GET", account, "", "zstd", http.StatusUnsupportedMediaType},
		{"identity then gzip", "GET", account, "", "identity, gzip", http.StatusUnsupportedMediaType},
		{"identity", "GET", account, "", "identity", http.StatusOK},
		{"identity, any case", "GET", account, "", "IDENTITY", http.StatusOK},
		{"none", "GET", account, "", "", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hdr := map[string]string{}
			if tt.encoding != "" {
				hdr["Content-Encoding"] = tt.encoding
			}
			resp, body := f.do(t, tt.method, tt.path, tt.body, hdr)
			if resp.StatusCode != tt.want {
				t.Fatalf("%s %s (Content-Encoding %q) = %d %s, want %d", tt.method, tt.path, tt.encoding, resp.StatusCode, body, tt.want)
			}
			if tt.want == http.StatusOK {
				return
			}
			if got := resp.Header.Get("Accept-Encoding"); got != "identity" {
				t.Errorf("%s %s (Content-Encoding %q) Accept-Encoding = %q, want %q", tt.method, tt.path, tt.encoding, got, "identity")
			}
			var st struct {
				Code int `json:"code"`
			}
			if err := json.Unmarshal([]byte(body), &st); err != nil || codes.Code(st.Code) != codes.Unimplemented {
				t.Errorf("%s %s (Content-Encoding %q) body = %s, want a google.rpc.Status with code %v", tt.method, tt.path, tt.encoding, body, codes.Unimplemented)
			}
		})
	}
}
