package authz

import (
	"fmt"
	"strconv"
	"testing"
	"time"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
	"github.com/portcullis/portcullis/policy"
)

// syntheticEngine builds 10k methods over 1k permissions and a bundle of
// 100 roles of 20 permissions each, bound to users and groups.
func syntheticEngine(b *testing.B) (*Engine, *policy.Registry, []*policy.Method) {
	b.Helper()
	const nPerms, nMethods, nRoles = 1000, 10000, 100
	t := &policy.Table{File: "synthetic.proto"}
	for i := range nPerms {
		t.Permissions = append(t.Permissions, policy.Permission{Name: fmt.Sprintf("svc.res%d.read", i)})
	}
	for i := range nMethods {
		t.Methods = append(t.Methods, policy.Method{FullMethod: fmt.Sprintf("/synthetic.v1.S%d/M%d", i/50, i),
			Permissions: []string{fmt.Sprintf("svc.res%d.read", i%nPerms)}, Credentials: policy.AnyCredential})
	}
	reg, err := policy.NewRegistry(t)
	if err != nil {
		b.Fatal(err)
	}
	bundle := &policy.Bundle{Version: "bench", Roles: map[string]*policy.Role{}}
	for r := range nRoles {
		name := fmt.Sprintf("role%d", r)
		var perms []string
		for j := range 20 {
			perms = append(perms, fmt.Sprintf("svc.res%d.read", (r*10+j)%nPerms))
		}
		bundle.Roles[name] = &policy.Role{Name: name, Permissions: perms}
		bundle.Bindings = append(bundle.Bindings, policy.Binding{Roles: []string{name}, Users: []string{fmt.Sprintf("user%d", r)}, Groups: []string{fmt.Sprintf("group%d", r%10)}})
	}
	e, err := NewEngine(reg, bundle)
	if err != nil {
		b.Fatal(err)
	}
	var ms []*policy.Method
	for _, n := range reg.Methods() {
		m, _ := reg.Lookup(n)
		ms = append(ms, m)
	}
	return e, reg, ms
}

// BenchmarkDecide is the authorization decision without a condition at
// 10k methods × 100 roles: a principal whose role comes from a token claim
// and one whose role comes from a user binding.
func BenchmarkDecide(b *testing.B) {
	e, reg, _ := syntheticEngine(b)
	m, _ := reg.Lookup("/synthetic.v1.S0/M5") // svc.res5.read: granted by role0
	claim := &policy.Principal{ID: "someone", Kind: policy.KindUser, Credential: policy.CredentialJWT, Roles: []string{"role0"}}
	bound := &policy.Principal{ID: "user0", Kind: policy.KindUser, Credential: policy.CredentialJWT}
	for _, c := range []struct {
		name string
		p    *policy.Principal
	}{{"claim-role", claim}, {"user-binding", bound}} {
		b.Run(c.name, func(b *testing.B) {
			in := &Input{Principal: c.p}
			b.ReportAllocs()
			for b.Loop() {
				if v := e.Decide(m, in); !v.Allowed {
					b.Fatalf("denied: %+v", v)
				}
			}
		})
	}
	b.Run("deny", func(b *testing.B) {
		// user50 holds role50 (svc.res500–519.read), group7's roles do not
		// hold svc.res5.read either: every binding is searched, in vain.
		in := &Input{Principal: &policy.Principal{ID: "user50", Kind: policy.KindUser, Credential: policy.CredentialJWT, Groups: []string{"group7"}}}
		b.ReportAllocs()
		for b.Loop() {
			if v := e.Decide(m, in); v.Allowed {
				b.Fatal("allowed")
			}
		}
	})
}

// BenchmarkDecideCondition is CreateTransfer's CEL condition on a decoded
// request.
func BenchmarkDecideCondition(b *testing.B) {
	reg := bankRegistry(b)
	e, err := NewEngine(reg, bankBundle())
	if err != nil {
		b.Fatal(err)
	}
	m, _ := reg.Lookup(bankv1.BankService_CreateTransfer_FullMethodName)
	in := &Input{Request: &bankv1.CreateTransferRequest{Account: "accounts/a", AmountCents: 5000},
		Principal: &policy.Principal{ID: "t1", Kind: policy.KindUser, Credential: policy.CredentialJWT, Roles: []string{"teller"}}}
	b.ReportAllocs()
	for b.Loop() {
		if v := e.Decide(m, in); !v.Allowed {
			b.Fatalf("denied: %+v", v)
		}
	}
}

// BenchmarkRateMeter is the cost context.request_rate adds to a call while
// a condition reads it: one Observe on a caller already tracked, among 10k.
func BenchmarkRateMeter(b *testing.B) {
	m := NewRateMeter(0, 0)
	keys := make([]string, 10_000)
	now := time.Now()
	for i := range keys {
		keys[i] = rateKey(&policy.Principal{ID: "user-" + strconv.Itoa(i), Kind: policy.KindUser})
		m.Observe(keys[i], now)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		now = now.Add(time.Microsecond)
		m.Observe(keys[i], now)
		if i++; i == len(keys) {
			i = 0
		}
	}
}
