package gateway_test

import (
	"net/http"
	"testing"
)

// A refused REST call still carries the request id the chain assigned,
// unary and server-streaming alike (the streaming refusal is trailers-only
// with a header the request-id stage set but never sent).
func TestRESTRequestIDOnRefusal(t *testing.T) {
	h := newHarness(t)
	for _, p := range []string{"/v1/" + aliceChecking + "/transactions", "/v1/" + aliceChecking + "/transactions:watch"} {
		req, _ := http.NewRequestWithContext(timeout(t, callTimeout), "GET", "https://"+h.httpAddr+p, nil)
		resp, err := h.httpClient("").Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized || len(resp.Header.Get("X-Request-Id")) != 32 {
			t.Errorf("GET %s (anonymous) = %d, X-Request-Id %q, want 401 with the call's request id", p, resp.StatusCode, resp.Header.Get("X-Request-Id"))
		}
	}
}
