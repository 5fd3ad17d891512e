package config_test

import (
	"strings"
	"testing"

	"github.com/portcullis/portcullis/gateway/config"
)

// FuzzParse checks that no input makes Parse panic, and that its results are
// consistent: an error is a list of "config: " lines, a success validates.
// Seeds are in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte(minimal))
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse("fuzz.yaml", data)
		if err != nil {
			if cfg != nil {
				t.Fatalf("Parse() = %+v, %v, want nil config with the error", cfg, err)
			}
			for line := range strings.SplitSeq(err.Error(), "\n") {
				if !strings.HasPrefix(line, "config: fuzz.yaml") {
					t.Fatalf("Parse() error line %q, want prefix %q", line, "config: fuzz.yaml")
				}
			}
			return
		}
		if cfg.Listeners.GRPC == nil {
			t.Fatalf("Parse() = nil listeners.grpc, nil error")
		}
		if err := cfg.Validate(); err != nil {
			t.Fatalf("Validate() after a successful Parse = %v, want nil", err)
		}
	})
}
