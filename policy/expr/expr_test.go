package expr

import (
	"strings"
	"testing"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

func TestCheck(t *testing.T) {
	env, err := NewEnv((&bankv1.CreateTransferRequest{}).ProtoReflect().Descriptor())
	if err != nil {
		t.Fatalf("NewEnv() = %v", err)
	}
	roleEnv, err := NewEnv(nil)
	if err != nil {
		t.Fatalf("NewEnv(nil) = %v", err)
	}
	tests := []struct {
		name, src, want string
		noRequest       bool
	}{
		{"request field", "request.amount_cents > 0", "", false},
		{"nested request field", "request.beneficiary.name != ''", "", false},
		{"principal lists", "'teller' in principal.roles && principal.permissions.size() > 0", "", false},
		{"context", "context.transport == 'grpc' && context.mtls && context.time > timestamp('2020-01-01T00:00:00Z')", "", false},
		{"unknown request field", "request.amount > 0", "undefined field 'amount'", false},
		{"unknown principal field", "principal.rolez.size() > 0", "undefined field 'rolez'", false},
		{"unknown variable", "user.id == 'x'", "undeclared reference to 'user'", false},
		{"not bool", "request.amount_cents", "want bool", false},
		{"parse error", "request.amount_cents <", "Syntax error", false},
		{"role condition sees no request", "request.amount_cents > 0", "undeclared reference to 'request'", true},
		{"role condition", "principal.tenant == 'acme'", "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := env
			if tt.noRequest {
				e = roleEnv
			}
			_, err := Check(e, tt.src)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Check(%q) = %v, want nil", tt.src, err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("Check(%q) = %v, want an error containing %q", tt.src, err, tt.want)
			}
		})
	}
}
