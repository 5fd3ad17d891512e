package authz

import (
	"context"
	"testing"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/policy"
)

// The interceptor fills the call's Record with the decision's trace,
// unless the Record's creator said nothing reads it; the verdict is
// enforced either way.
func TestRecordDecisionTrace(t *testing.T) {
	reg := bankRegistry(t)
	e, err := NewEngine(reg, bankBundle())
	if err != nil {
		t.Fatal(err)
	}
	m, _ := reg.Lookup("/examples.bank.v1.BankService/GetAccount")
	audrey := &policy.Principal{ID: "audrey", Kind: policy.KindUser, Credential: policy.CredentialJWT}
	nobody := &policy.Principal{ID: "nobody", Kind: policy.KindUser, Credential: policy.CredentialJWT}
	for _, tc := range []struct {
		name      string
		p         *policy.Principal
		noTrace   bool
		wantErr   bool
		wantTrace bool
	}{
		{"traced allow", audrey, false, false, true},
		{"traced deny", nobody, false, true, true},
		{"untraced allow", audrey, true, false, false},
		{"untraced deny", nobody, true, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ic := UnaryServerInterceptor(Static(e),
				WithMethodFunc(func(context.Context) (*policy.Method, bool) { return m, true }),
				WithPrincipalFunc(func(context.Context) (*policy.Principal, bool) { return tc.p, true }))
			rec := &policy.Record{NoDecisionTrace: tc.noTrace}
			ctx := policy.NewRecordContext(context.Background(), rec)
			_, err := ic(ctx, nil, &grpc.UnaryServerInfo{FullMethod: m.FullMethod}, func(context.Context, any) (any, error) { return nil, nil })
			if (err != nil) != tc.wantErr {
				t.Errorf("err = %v, want error %v", err, tc.wantErr)
			}
			if (rec.Decision != nil) != tc.wantTrace {
				t.Errorf("Decision = %+v, want a trace: %v", rec.Decision, tc.wantTrace)
			}
			if tc.wantTrace && rec.Decision.Allowed == tc.wantErr {
				t.Errorf("traced verdict Allowed = %v with err %v", rec.Decision.Allowed, err)
			}
		})
	}
}
