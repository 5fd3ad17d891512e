package main

import (
	"fmt"
	"io"

	"github.com/portcullis/portcullis/gateway/bundle"
	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/audit/review"
	"github.com/portcullis/portcullis/policy"
)

// runAudit dispatches `portcullis audit verify|review`.
func runAudit(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: portcullis audit verify FILE... | review --bundle BUNDLE [--since 720h] [--json] FILE...|--postgres DSN")
		return 2
	}
	switch args[0] {
	case "verify":
		return audit.RunVerify(args[1:], stdout, stderr)
	case "review":
		return review.RunReview(args[1:], stdout, stderr, func(path string) (*policy.Bundle, *policy.Registry, error) {
			reg, err := policy.NewRegistry(policy.Tables()...)
			if err != nil {
				return nil, nil, err
			}
			b, err := bundle.Load(path, reg)
			return b, reg, err
		})
	}
	fmt.Fprintf(stderr, "portcullis audit: unknown command %q (want verify or review)\n", args[0])
	return 2
}
