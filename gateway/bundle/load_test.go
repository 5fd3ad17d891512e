package bundle

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/interceptors/authz"
	"github.com/portcullis/portcullis/policy"
)

// TestReloadUnderLoad swaps valid and invalid bundles repeatedly while
// goroutines decide continuously. Version ok-N grants alice GetAccount
// when N is even and ListAccounts when N is odd, so every decision can be
// checked against the version that made it.
func TestReloadUnderLoad(t *testing.T) {
	const duration = 2 * time.Second
	reg := bankRegistry(t)
	get, _ := reg.Lookup(bankv1.BankService_GetAccount_FullMethodName)
	list, _ := reg.Lookup(bankv1.BankService_ListAccounts_FullMethodName)
	valid := func(n int) []byte {
		perm := "bank.accounts.read"
		if n%2 == 1 {
			perm = "bank.accounts.list"
		}
		return bankYAML(fmt.Sprintf("ok-%d", n), perm)
	}
	invalid := []func(n int) []byte{
		func(n int) []byte { return bankYAML(fmt.Sprintf("bad-%d", n), "bank.nope") },             // unknown permission
		func(n int) []byte { return fmt.Appendf(nil, "version: bad-%d\nrolez: {}\n", n) },         // unknown key
		func(n int) []byte { return fmt.Appendf(nil, "version: bad-%d\nroles: [\n", n) },          // YAML syntax
		func(n int) []byte { return bankYAML(fmt.Sprintf("bad-%d", n), "bank.ledger.reconcile") }, // internal permission
		func(n int) []byte { // CEL that does not compile
			return fmt.Appendf(nil, "version: bad-%d\nroles:\n  teller:\n    permissions: [bank.accounts.read]\n    condition: \"principal.nope\"\nbindings:\n  - {roles: [teller], users: [alice]}\n", n)
		},
	}
	src := newMemSource(valid(0), nil)
	m, l := newTestManager(t, src)
	ctx := testContext(t)
	if err := m.Start(ctx); err != nil {
		t.Fatal(err)
	}

	var stop atomic.Bool
	var decisions, wrong atomic.Int64
	var mu sync.Mutex
	seen := map[string]int64{} // version → decisions it made
	alice := &authz.Input{Principal: &policy.Principal{ID: "alice", Kind: policy.KindUser, Credential: policy.CredentialJWT}}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := map[string]int64{}
			for i := 0; !stop.Load(); i++ {
				s := l.p.Load() // one snapshot: one version decides
				v := s.engine.Version()
				n, err := strconv.Atoi(strings.TrimPrefix(v, "ok-"))
				if err != nil || v != s.bundle.Version {
					wrong.Add(1)
					t.Errorf("goroutine %d: live version %q (bundle %q), want ok-N from a valid bundle", g, v, s.bundle.Version)
					return
				}
				even := n%2 == 0
				if got := s.engine.Decide(get, alice).Allowed; got != even {
					wrong.Add(1)
					t.Errorf("Decide(GetAccount) under %s = %v, want %v", v, got, even)
				}
				if got := s.engine.Decide(list, alice).Allowed; got == even {
					wrong.Add(1)
					t.Errorf("Decide(ListAccounts) under %s = %v, want %v", v, got, !even)
				}
				if i%64 == 0 {
					if d := s.engine.Explain(get, alice); d.BundleVersion != v || d.Allowed != even {
						wrong.Add(1)
						t.Errorf("Explain() under %s = version %s allowed %v, want %s %v", v, d.BundleVersion, d.Allowed, v, even)
					}
				}
				local[v] += 2
				decisions.Add(2)
			}
			mu.Lock()
			for v, c := range local {
				seen[v] += c
			}
			mu.Unlock()
		}()
	}

	activated := map[string]bool{"ok-0": true}
	swaps, rejected := 0, 0
	deadline := time.Now().Add(duration)
	for n := 1; time.Now().Before(deadline); n++ {
		if n%3 == 0 {
			before := l.version()
			src.set(invalid[n%len(invalid)](n), nil)
			if err := m.Reload(ctx); err == nil {
				t.Errorf("Reload(bad-%d) = nil, want an error", n)
			}
			if got := l.version(); got != before {
				t.Errorf("after bad-%d: active %q, want %q", n, got, before)
			}
			rejected++
			continue
		}
		src.set(valid(n), nil)
		if err := m.Reload(ctx); err != nil {
			t.Fatalf("Reload(ok-%d) = %v, want nil", n, err)
		}
		activated[fmt.Sprintf("ok-%d", n)] = true
		swaps++
		time.Sleep(time.Millisecond) // let deciders see most versions
	}
	stop.Store(true)
	wg.Wait()

	if wrong.Load() != 0 {
		t.Fatalf("%d wrong decisions out of %d", wrong.Load(), decisions.Load())
	}
	for v := range seen {
		if !activated[v] {
			t.Errorf("version %s made decisions but was never activated", v)
		}
	}
	if decisions.Load() == 0 || swaps < 10 || rejected < 5 {
		t.Errorf("decisions = %d, swaps = %d, rejected = %d, want a real load", decisions.Load(), swaps, rejected)
	}
	if st := m.Status(); st.Rejections != uint64(rejected) {
		t.Errorf("Status().Rejections = %d, want %d", st.Rejections, rejected)
	}
	t.Logf("%d decisions by %d versions during %d swaps and %d rejected bundles", decisions.Load(), len(seen), swaps, rejected)
}
