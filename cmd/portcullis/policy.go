package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/portcullis/portcullis"
	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/bundle/bundlecli"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/policy"
)

// runPolicy dispatches `portcullis policy …`.
func runPolicy(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprintln(stderr, "usage: portcullis policy show|catalog|explain|validate|test|diff|sign|keygen|hash-key")
		return 2
	}
	switch args[0] {
	case "show":
		return policyShow(args[1:], stdout, stderr)
	case "explain":
		return policyExplain(args[1:], stdout, stderr)
	case "validate":
		return policyValidate(args[1:], stdout, stderr)
	case "hash-key":
		return policyHashKey(args[1:], stdout, stderr)
	case "test":
		return bundlecli.RunTest(args[1:], stdout, stderr, effectivePolicy)
	case "diff":
		return bundlecli.RunDiff(args[1:], stdout, stderr, effectivePolicy)
	case "sign":
		return policySign(args[1:], stdout, stderr)
	case "keygen":
		return policyKeygen(args[1:], stdout, stderr)
	case "catalog":
		_, _ = stdout.Write(portcullis.Catalog)
		return 0
	default:
		fmt.Fprintf(stderr, "portcullis policy: unknown command %q (want show, catalog, explain, validate, test, diff, sign, keygen or hash-key)\n", args[0])
		return 2
	}
}

// effectivePolicy is the policy a gateway with the configuration at path
// enforces ("": none): what policy show, test and diff evaluate.
func effectivePolicy(path string) (*policy.Registry, error) {
	if path == "" {
		return gateway.EffectivePolicy(nil)
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, err
	}
	return gateway.EffectivePolicy(cfg)
}

// policyShow prints the compiled-in policy tables: one line per method, or
// every field of one method.
func policyShow(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("policy show", flag.ContinueOnError)
	fs.SetOutput(stderr)
	method := fs.String("method", "", "show every field of this full method name")
	asJSON := fs.Bool("json", false, "print JSON")
	cfgPath := bundlecli.ConfigFlag(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	reg, err := effectivePolicy(*cfgPath)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	if *method != "" {
		m, ok := reg.Lookup(*method)
		if !ok {
			fmt.Fprintf(stderr, "portcullis policy show: no policy for %q (known: %s)\n", *method, strings.Join(reg.Methods(), ", "))
			return 1
		}
		b, _ := json.MarshalIndent(m, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	names := reg.Methods()
	sort.Strings(names)
	if *asJSON {
		all := make([]*policy.Method, 0, len(names))
		for _, n := range names {
			m, _ := reg.Lookup(n)
			all = append(all, m)
		}
		b, _ := json.MarshalIndent(all, "", "  ")
		fmt.Fprintln(stdout, string(b))
		return 0
	}
	tw := tabwriter.NewWriter(stdout, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "METHOD\tACCESS\tCREDENTIALS\tSENSITIVITY\tRATE LIMIT\tEXTRAS")
	for _, n := range names {
		m, _ := reg.Lookup(n)
		access := "public (" + m.PublicReason + ")"
		if !m.Public {
			access = m.Match.String() + " of [" + strings.Join(m.Permissions, " ") + "]"
			if len(m.Scopes) > 0 {
				access += " scopes [" + strings.Join(m.Scopes, " ") + "]"
			}
		}
		rl := "-"
		if m.RateLimit != nil {
			rl = fmt.Sprintf("%d/%s burst %d by %s", m.RateLimit.Rate, m.RateLimit.Period, m.RateLimit.Burst, m.RateLimit.Key)
		}
		var extras []string
		if m.Resource != "" {
			extras = append(extras, "resource="+m.Resource)
		}
		if m.Condition != "" {
			extras = append(extras, "condition")
		}
		if m.RequireBoundToken {
			extras = append(extras, "bound-token")
		} else if m.RequireMTLS {
			extras = append(extras, "mtls")
		}
		if m.RequireSignature {
			extras = append(extras, "signed")
		}
		if m.Audit.Required {
			extras = append(extras, "audit-required")
		}
		if len(m.SensitiveFields) > 0 {
			extras = append(extras, "redacts="+strings.Join(m.SensitiveFields, ","))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", n, access, m.Credentials, m.Sensitivity, rl, strings.Join(extras, " "))
	}
	_ = tw.Flush()
	return 0
}
