package gateway_test

import (
	"net/http"
	"testing"
)

// TestRESTPathTricks: through the gateway's REST listener, a path with dot
// or empty segments is never served as another resource: net/http answers
// a redirect to the clean path (the client must ask again, through the
// whole chain), and encoded slashes or double-encoded characters match
// nothing or reach the backend as they are.
func TestRESTPathTricks(t *testing.T) {
	h := newHarness(t)
	teller := cred{bearer: h.token("teller-1", roles("teller"))}
	client := &http.Client{Transport: h.httpClient(certNone).Transport,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, tt := range []struct {
		path     string
		code     int
		location string
	}{
		{"/v1/accounts/alice-checking", 200, ""},
		{"/v1/accounts/bob-checking/../alice-checking", http.StatusTemporaryRedirect, "/v1/accounts/alice-checking"},
		{"/v1//accounts/alice-checking", http.StatusTemporaryRedirect, "/v1/accounts/alice-checking"},
		{"/v1/accounts/alice-checking%2F..%2Fbob-checking", 404, ""},
		{"/v1/accounts/alice%252Dchecking", 400, ""},
	} {
		req := h.restRequest(t, teller, "GET", tt.path, "")
		resp, err := client.Do(req)
		if err != nil {
			t.Fatalf("GET %s: %v", tt.path, err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code || resp.Header.Get("Location") != tt.location {
			t.Errorf("GET %s = %d (Location %q), want %d (Location %q)", tt.path, resp.StatusCode, resp.Header.Get("Location"), tt.code, tt.location)
		}
	}
}
