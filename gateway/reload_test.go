package gateway_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// writeBundle replaces bundle.yaml atomically (write + rename), as a
// deployment tool would.
func (h *harness) writeBundle(t *testing.T, version, tellerPerms string) {
	t.Helper()
	text := strings.Replace(strings.Replace(h.bundle(t), "version: test-1", "version: "+version, 1),
		"permissions: [bank.accounts.read, bank.accounts.list, bank.transfers.create, bank.transactions.read, bank.transactions.watch, bank.quotes.read, bank.payees.create]",
		"permissions: ["+tellerPerms+"]", 1)
	tmp := filepath.Join(h.dir, ".bundle.yaml.tmp")
	if err := os.WriteFile(tmp, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(h.dir, "bundle.yaml")); err != nil {
		t.Fatal(err)
	}
}

var original sync.Map // harness dir → first bundle text

func (h *harness) bundle(t *testing.T) string {
	t.Helper()
	if v, ok := original.Load(h.dir); ok {
		return v.(string)
	}
	b, err := os.ReadFile(filepath.Join(h.dir, "bundle.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	original.Store(h.dir, string(b))
	return string(b)
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestBundleHotReload: a changed bundle file is picked up without a
// restart, an invalid one never replaces the good one, and rollback
// restores the previous version.
func TestBundleHotReload(t *testing.T) {
	h := newHarness(t)
	h.bundle(t)
	teller := cred{bearer: h.token("teller-1", map[string]any{"roles": []string{"teller"}})}
	call := func() codes.Code {
		return status.Code(getAccount(teller.outgoing(timeout(t, callTimeout)), h.grpcClient(certNone)))
	}
	if got := call(); got != codes.OK {
		t.Fatalf("GetAccount(teller, v1) = %v, want OK", got)
	}
	h.writeBundle(t, "test-2", "bank.quotes.read")
	waitFor(t, "version test-2", func() bool { return h.gw.PolicyStatus().ActiveVersion == "test-2" })
	if got := call(); got != codes.PermissionDenied {
		t.Errorf("GetAccount(teller, v2) = %v, want PermissionDenied", got)
	}

	h.writeBundle(t, "test-3", "bank.accounts.raed") // unknown permission
	waitFor(t, "the load error", func() bool { return h.gw.PolicyStatus().LastError != "" })
	if st := h.gw.PolicyStatus(); st.ActiveVersion != "test-2" || !strings.Contains(st.LastError, "bank.accounts.raed") {
		t.Errorf("PolicyStatus() = %+v, want test-2 still active and the error naming the permission", st)
	}
	if err := h.gw.ReloadBundle(context.Background()); err == nil {
		t.Errorf("ReloadBundle(invalid) = nil, want an error")
	}

	if err := h.gw.Rollback(); err != nil {
		t.Fatalf("Rollback() = %v, want nil", err)
	}
	if got := h.gw.PolicyStatus().ActiveVersion; got != "test-1" {
		t.Errorf("after Rollback ActiveVersion = %q, want test-1", got)
	}
	if got := call(); got != codes.OK {
		t.Errorf("GetAccount(teller, rolled back) = %v, want OK", got)
	}
}

// TestReloadUnderLoad: calls run continuously while valid and invalid
// bundles are swapped in; no call that every valid version allows fails,
// and the invalid bundle never becomes active.
func TestReloadUnderLoad(t *testing.T) {
	h := newHarness(t)
	h.bundle(t)
	teller := cred{bearer: h.token("teller-1", map[string]any{"roles": []string{"teller"}})}
	client := h.grpcClient(certNone)
	var calls, failed atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				calls.Add(1)
				if err := getAccount(teller.outgoing(timeout(t, callTimeout)), client); err != nil {
					failed.Add(1)
					t.Errorf("GetAccount during reload = %v, want OK", err)
					return
				}
			}
		}()
	}
	valid := "bank.accounts.read, bank.accounts.list, bank.quotes.read"
	for i := range 12 {
		if i%3 == 2 {
			h.writeBundle(t, "bad", "bank.nope.nope")
		} else {
			h.writeBundle(t, "load-"+string(rune('a'+i)), valid)
		}
		time.Sleep(150 * time.Millisecond)
		if v := h.gw.PolicyStatus().ActiveVersion; v == "bad" {
			t.Errorf("ActiveVersion = bad, want the invalid bundle never active")
		}
	}
	close(stop)
	wg.Wait()
	if calls.Load() < 20 || failed.Load() != 0 {
		t.Errorf("calls = %d, failed = %d, want ≥ 20 calls and none failed", calls.Load(), failed.Load())
	}
}
