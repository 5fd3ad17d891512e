package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestShutdownStopsGoroutines: after Shutdown nothing the gateway started
// keeps running (JWKS refreshers, cache clocks, servers).
func TestShutdownStopsGoroutines(t *testing.T) {
	before := goleak.IgnoreCurrent()
	t.Run("run", func(t *testing.T) {
		h := newHarness(t)
		_ = getAccount(cred{}.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone))
	})
	if err := goleak.Find(before); err != nil {
		t.Errorf("goroutines left after Shutdown: %v", err)
	}
}
