package httpsig_test

import (
	"errors"
	"reflect"
	"testing"

	"github.com/portcullis/portcullis/interceptors/signature/httpsig"
)

// FuzzParseSignatureInput checks that no Signature-Input value makes the
// parser panic, that every error wraps ErrSyntax, and that what parses is
// canonical: formatting the entries and parsing them again gives the same
// entries, and formatting is then stable. Signature and Content-Digest
// values go through the byte-dictionary parser on the same input. Seeds
// are in testdata/fuzz/FuzzParseSignatureInput.
func FuzzParseSignatureInput(f *testing.F) {
	for _, v := range vectors {
		if v.input != "" {
			f.Add(v.input)
		}
		if v.sig != "" {
			f.Add(v.sig)
		}
	}
	f.Fuzz(func(t *testing.T, field string) {
		if sigs, err := httpsig.ParseSignatures(field); err != nil && !errors.Is(err, httpsig.ErrSyntax) {
			t.Fatalf("ParseSignatures(%q) = %v, %v, want an ErrSyntax error", field, sigs, err)
		}
		_ = httpsig.VerifyContentDigest(field, []byte(field))
		ins, err := httpsig.ParseSignatureInput(field)
		if err != nil {
			if !errors.Is(err, httpsig.ErrSyntax) || ins != nil {
				t.Fatalf("ParseSignatureInput(%q) = %v, %v, want nil and an ErrSyntax error", field, ins, err)
			}
			return
		}
		if len(ins) == 0 {
			t.Fatalf("ParseSignatureInput(%q) = no entries, nil error", field)
		}
		canon := ""
		for i, in := range ins {
			s, err := in.Format()
			if err != nil {
				t.Fatalf("Format(%+v) = %v, want nil for a parsed entry", in, err)
			}
			if i > 0 {
				canon += ", "
			}
			canon += s
		}
		again, err := httpsig.ParseSignatureInput(canon)
		if err != nil || !reflect.DeepEqual(again, ins) {
			t.Fatalf("ParseSignatureInput(Format(%q)) = %+v, %v, want %+v", field, again, err, ins)
		}
		// The base of a message that has every component is well formed.
		for _, in := range ins {
			base, err := httpsig.Base(in, func(string) (string, error) { return "v", nil })
			if err != nil || len(base) == 0 {
				t.Fatalf("Base(%+v) = %q, %v, want a base", in, base, err)
			}
		}
	})
}
