package fields

import (
	"testing"

	bankv1 "github.com/portcullis/portcullis/gen/examples/bank/v1"
)

func TestString(t *testing.T) {
	req := &bankv1.CreateTransferRequest{Account: "accounts/a", AmountCents: -42, Beneficiary: &bankv1.Beneficiary{Name: "Bob"}}
	for _, tt := range []struct{ path, want string }{
		{"account", "accounts/a"},
		{"amount_cents", "-42"},
		{"beneficiary.name", "Bob"},
		{"beneficiary", ""},      // a message, not a scalar
		{"nope", ""},             // unknown field
		{"account.x", ""},        // through a scalar
		{"beneficiary.iban", ""}, // unset scalar
	} {
		if got := String(req, tt.path); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.path, got, tt.want)
		}
	}
	if got := String(&bankv1.CreateTransferRequest{}, "beneficiary.name"); got != "" {
		t.Errorf("String(unset message path) = %q, want empty", got)
	}
}
