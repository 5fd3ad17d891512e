package assertion_test

import (
	"context"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/gateway/assertion"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	gatewayID = "portcullis-test"
	method    = "/examples.bank.v1.BankService/Transfer"
	service   = "examples.bank.v1.BankService"
)

func testContext(t testing.TB) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func newSigner(t testing.TB, cfg assertion.Config, opts ...assertion.Option) *assertion.Signer {
	t.Helper()
	s, err := assertion.New(cfg, opts...)
	if err != nil {
		t.Fatalf("assertion.New() = %v, want nil", err)
	}
	return s
}

// alice is a typical assertion input.
var alice = assertion.Assertion{
	Subject: "alice", Kind: "user", Roles: []string{"teller", "auditor"},
	Credential: 1, // policy.CredentialJWT
	Method:     method, RequestID: "01JREQUEST",
}
