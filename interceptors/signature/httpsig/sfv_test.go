package httpsig_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

func TestParseSignatureInputAccepts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []*httpsig.Input
	}{
		{`sig1=("@method" "@path");created=1;keyid="k"`, []*httpsig.Input{{
			Label: "sig1", Components: []string{"@method", "@path"}, Created: 1, KeyID: "k", Order: []string{"created", "keyid"},
		}}},
		{` sig1=( "@method"  "content-digest" );nonce="n\"\\";alg="ed25519";tag="t";expires=9 , b=()`, []*httpsig.Input{
			{Label: "sig1", Components: []string{"@method", "content-digest"}, Nonce: `n"\`, Alg: "ed25519", Tag: "t", Expires: 9, Order: []string{"nonce", "alg", "tag", "expires"}},
			{Label: "b", Components: nil},
		}},
		{"a=();created=0,\tb=(\"x-a\")", []*httpsig.Input{
			{Label: "a", Created: 0, Order: []string{"created"}},
			{Label: "b", Components: []string{"x-a"}},
		}},
	} {
		got, err := httpsig.ParseSignatureInput(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseSignatureInput(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSignatureInputRefuses(t *testing.T) {
	for _, in := range []string{
		``,
		`sig1`,
		`sig1=`,
		`Sig1=("@method")`,
		`sig1=("@method"`,
		`sig1=("@method""@path")`,
		`sig1=("@Method")`,
		`sig1=("Content-Type")`,
		`sig1=("@target-uri")`,
		`sig1=("@signature-params")`,
		`sig1=("@method" "@method")`,
		`sig1=("@method";req)`,
		`sig1=("content-type";sf)`,
		`sig1=(@method)`,
		`sig1=();created`,
		`sig1=();created=-1`,
		`sig1=();created=1.5`,
		`sig1=();created=1234567890123456`,
		`sig1=();created="1"`,
		`sig1=();keyid=1`,
		`sig1=();keyid=k`,
		`sig1=();keyid=:aGk=:`,
		`sig1=();foo="bar"`,
		`sig1=();keyid="a";keyid="b"`,
		`sig1=(), sig1=()`,
		`sig1=(),`,
		`sig1=() sig2=()`,
		`sig1="string"`,
		`sig1=:aGk=:`,
		`sig1=();nonce="a` + "\x7f" + `"`,
		`sig1=();nonce="a\n"`,
		`sig1=();nonce="\x"`,
		`sig1=()` + strings.Repeat(" ", httpsig.MaxFieldBytes),
	} {
		if got, err := httpsig.ParseSignatureInput(in); !errors.Is(err, httpsig.ErrSyntax) {
			t.Errorf("ParseSignatureInput(%q) = %+v, %v, want %v", in, got, err, httpsig.ErrSyntax)
		}
	}
}

func TestParseSignatures(t *testing.T) {
	got, err := httpsig.ParseSignatures(`a=:aGk=:, b=::`)
	if err != nil || string(got["a"]) != "hi" || len(got["b"]) != 0 || len(got) != 2 {
		t.Errorf("ParseSignatures() = %q, %v, want a=hi, b=empty", got, err)
	}
	for _, in := range []string{`a=:aGk:`, `a=:aGk=`, `a=:aGl=:`, `a=:aGk=:;p=1`, `a=:aGk=:, a=:aGk=:`, `a=()`, `a=1`, `a=:a Gk=:`} {
		if got, err := httpsig.ParseSignatures(in); !errors.Is(err, httpsig.ErrSyntax) {
			t.Errorf("ParseSignatures(%q) = %q, %v, want %v", in, got, err, httpsig.ErrSyntax)
		}
	}
}

func TestInputFormat(t *testing.T) {
	in := &httpsig.Input{Label: "sig1", Components: []string{"@method", "@path"}, Created: 1618884473, Nonce: "n", KeyID: "k", Alg: "ed25519"}
	want := `sig1=("@method" "@path");created=1618884473;nonce="n";keyid="k";alg="ed25519"`
	if got, err := in.Format(); err != nil || got != want {
		t.Errorf("Format() = %q, %v, want %q", got, err, want)
	}
	for _, bad := range []*httpsig.Input{
		{Label: "Sig1"},
		{Label: "s", Components: []string{"@bogus"}},
		{Label: "s", KeyID: "é"},
	} {
		if got, err := bad.Format(); err == nil {
			t.Errorf("Format(%+v) = %q, nil, want an error", bad, got)
		}
	}
}

func TestVerifyContentDigestRefuses(t *testing.T) {
	sha256OfEmpty := "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
	if err := httpsig.VerifyContentDigest(sha256OfEmpty, nil); err != nil {
		t.Fatalf("VerifyContentDigest(sha-256 of empty) = %v, want nil", err)
	}
	for _, field := range []string{
		"md5=:1B2M2Y8AsgTpgAmY7PhCfg==:",                        // no supported member
		sha256OfEmpty + ", sha-512=:AAAA:",                      // one good, one bad
		"sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU:", // unpadded
		"sha-256=47DEQpj8HBSa",
		"",
	} {
		if err := httpsig.VerifyContentDigest(field, nil); err == nil {
			t.Errorf("VerifyContentDigest(%q) = nil, want an error", field)
		}
	}
}
