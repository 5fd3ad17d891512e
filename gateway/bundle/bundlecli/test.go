package bundlecli

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/reflect/protoregistry"

	"github.com/portcullis/portcullis/gateway/bundle"
	"github.com/portcullis/portcullis/interceptors/authz"
	"github.com/portcullis/portcullis/policy"
	"github.com/portcullis/portcullis/policy/fields"
)

// suite is the YAML shape of a TESTS file.
type suite struct {
	Cases []testCase `yaml:"cases"`
}

type testCase struct {
	Name      string         `yaml:"name"`
	Principal *casePrincipal `yaml:"principal"`
	Claims    map[string]any `yaml:"claims"`
	Method    string         `yaml:"method"`
	Request   map[string]any `yaml:"request"`
	Context   *caseContext   `yaml:"context"`
	Expect    string         `yaml:"expect"`
	Reason    string         `yaml:"reason"`
}

// caseContext holds the call facts conditions see as `context`.
type caseContext struct {
	ClientIP    string  `yaml:"client_ip"`
	Time        string  `yaml:"time"` // RFC 3339; default: now
	Transport   string  `yaml:"transport"`
	RequestRate float64 `yaml:"request_rate"`
}

// check is one decoded case, ready to run.
type check struct {
	name, where, expect, reason string
	method                      *policy.Method
	in                          authz.Input
}

// RunTest runs `portcullis policy test BUNDLE TESTS [--config FILE]
// [-v]`: it evaluates every case of TESTS against BUNDLE with the policy
// load returns (for --config's path, "" without it), prints a report
// naming each failing case (expected and actual verdict, reason) and a
// summary "N passed, M failed", and returns the exit code: 0 when every
// case passed, 1 when one failed or an input is invalid, 2 for usage
// errors. -v lists passing cases too.
func RunTest(args []string, stdout, stderr io.Writer, load PolicyLoader) int {
	errs, out := &printer{w: stderr}, &printer{w: stdout}
	fs := flag.NewFlagSet("policy test", flag.ContinueOnError)
	fs.SetOutput(stderr)
	verbose := fs.Bool("v", false, "list passing cases too")
	cfgPath := ConfigFlag(fs)
	fs.Usage = func() {
		errs.ln("usage: portcullis policy test BUNDLE TESTS [--config FILE] [-v]")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) != 2 {
		fs.Usage()
		return 2
	}
	reg, err := load(*cfgPath)
	if err != nil {
		errs.ln(err)
		return 1
	}
	b, err := bundle.Load(pos[0], reg)
	if err != nil {
		errs.ln(err)
		return 1
	}
	eng, err := authz.NewEngine(reg, b)
	if err != nil {
		errs.f("policy test: %s: %v\n", pos[0], err)
		return 1
	}
	checks, err := loadSuite(pos[1], reg)
	if err != nil {
		errs.ln(err)
		return 1
	}
	passed, failed := 0, 0
	for _, c := range checks {
		d := eng.Explain(c.method, &c.in)
		got := "deny"
		if d.Allowed {
			got = "allow"
		}
		reasonOK := c.reason == "" || c.reason == d.FailedRequirement || strings.Contains(d.Reason, c.reason)
		if got == c.expect && reasonOK {
			passed++
			if *verbose {
				out.f("--- PASS: %s (%s)\n", c.name, c.where)
			}
			continue
		}
		failed++
		want := c.expect
		if c.reason != "" {
			want += fmt.Sprintf(" (reason %q)", c.reason)
		}
		if d.FailedRequirement != "" {
			got += " (" + d.FailedRequirement + ")"
		}
		out.f("--- FAIL: %s (%s)\n", c.name, c.where)
		out.f("    method:    %s\n    expected:  %s\n    got:       %s\n    reason:    %s\n", c.method.FullMethod, want, got, d.Reason)
		out.f("    roles:     %s\n    effective: %s\n", list(d.Roles), list(d.Effective))
	}
	out.f("%d passed, %d failed (bundle %s, %s)\n", passed, failed, b.Version, pos[1])
	if failed > 0 || out.err != nil {
		return 1
	}
	return 0
}

func list(ss []string) string {
	if len(ss) == 0 {
		return "(none)"
	}
	return strings.Join(ss, " ")
}

// loadSuite reads and checks a TESTS file; every problem is reported with
// its line.
func loadSuite(path string, reg *policy.Registry) ([]check, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("policy test: %w", err)
	}
	var s suite
	if err := yaml.UnmarshalWithOptions(data, &s, yaml.DisallowUnknownField()); err != nil {
		return nil, fmt.Errorf("policy test: %s: %s", path, strings.TrimSpace(yaml.FormatError(err, false, false)))
	}
	loc := newLocator(path, data)
	if len(s.Cases) == 0 {
		return nil, fmt.Errorf("policy test: %s: no cases", path)
	}
	var errs []error
	var out []check
	names := map[string]bool{}
	for i, tc := range s.Cases {
		at := fmt.Sprintf("$.cases[%d]", i)
		c, caseErrs := decodeCase(loc, at, tc, reg)
		errs = append(errs, caseErrs...)
		if tc.Name != "" && names[tc.Name] {
			errs = append(errs, loc.errorf(at+".name", "case name %q used twice", tc.Name))
		}
		names[tc.Name] = true
		if len(caseErrs) == 0 {
			out = append(out, c)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func decodeCase(loc *locator, at string, tc testCase, reg *policy.Registry) (check, []error) {
	var errs []error
	fail := func(path, format string, args ...any) { errs = append(errs, loc.errorf(path, format, args...)) }
	c := check{name: tc.Name, where: loc.at(at), expect: tc.Expect, reason: tc.Reason}
	if tc.Name == "" {
		fail(at, "name is required")
	}
	if tc.Expect != "allow" && tc.Expect != "deny" {
		fail(at+".expect", "expect must be allow or deny, got %q", tc.Expect)
	}
	var err error
	var field string
	switch {
	case tc.Principal != nil && tc.Claims != nil:
		fail(at, "give principal or claims, not both")
	case tc.Principal != nil:
		if c.in.Principal, field, err = tc.Principal.principal(); err != nil {
			fail(at+".principal."+field, "%v", err)
		}
	case tc.Claims != nil:
		if c.in.Principal, field, err = claimsPrincipal(tc.Claims); err != nil {
			fail(at+".claims."+field, "%v", err)
		}
	default:
		fail(at, "principal or claims is required (principal: {kind: anonymous} for an anonymous call)")
	}
	m, ok := reg.Lookup(tc.Method)
	if !ok {
		fail(at+".method", "unknown method %q (see `portcullis policy show`)", tc.Method)
		return c, errs
	}
	c.method = m
	c.in.Method = m.FullMethod
	if tc.Request != nil {
		if c.in.Request, err = decodeRequest(m, tc.Request); err != nil {
			fail(at+".request", "%v", err)
		} else if m.Resource != "" {
			c.in.Resource = fields.String(c.in.Request, m.Resource)
		}
	}
	c.in.Time = now()
	if cx := tc.Context; cx != nil {
		c.in.ClientIP, c.in.Transport, c.in.RequestRate = cx.ClientIP, cx.Transport, cx.RequestRate
		if !(cx.RequestRate >= 0) || math.IsInf(cx.RequestRate, 1) {
			fail(at+".context.request_rate", "want a finite rate ≥ 0, got %v", cx.RequestRate)
		}
		if cx.Time != "" {
			if c.in.Time, err = time.Parse(time.RFC3339, cx.Time); err != nil {
				fail(at+".context.time", "invalid time %q (RFC 3339)", cx.Time)
			}
		}
	}
	return c, errs
}

// decodeRequest turns the YAML request fields into the method's request
// message with protojson (field names as in proto or JSON, unknown fields
// rejected).
func decodeRequest(m *policy.Method, fields map[string]any) (proto.Message, error) {
	mt, err := protoregistry.GlobalTypes.FindMessageByName(protoreflect.FullName(m.RequestType))
	if err != nil {
		return nil, fmt.Errorf("request type %s is not linked into this binary: %v", m.RequestType, err)
	}
	raw, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("request: %v", err)
	}
	msg := mt.New().Interface()
	if err := protojson.Unmarshal(raw, msg); err != nil {
		return nil, fmt.Errorf("request is not a valid %s: %v", m.RequestType, err)
	}
	return msg, nil
}
