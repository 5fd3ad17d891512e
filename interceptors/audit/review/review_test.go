package review_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/interceptors/audit/review"
	"github.com/portcullis/portcullis/policy"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const (
	getAccount = "/bank.v1.Bank/GetAccount"
	transfer   = "/bank.v1.Bank/Transfer"
	closeAcct  = "/bank.v1.Bank/CloseAccount"
	listAll    = "/bank.v1.Bank/ListAll"
	ping       = "/bank.v1.Bank/Ping"
)

func fixtures(t *testing.T) (*policy.Bundle, *policy.Registry) {
	t.Helper()
	reg, err := policy.NewRegistry(&policy.Table{
		File: "bank.proto",
		Permissions: []policy.Permission{
			{Name: "bank.accounts.close", Sensitive: true}, {Name: "bank.accounts.read"},
			{Name: "bank.admin.list", Sensitive: true}, {Name: "bank.transfers.create"},
		},
		Methods: []policy.Method{
			{FullMethod: closeAcct, Permissions: []string{"bank.accounts.close"}, Sensitivity: policy.SensitivityRestricted},
			{FullMethod: getAccount, Permissions: []string{"bank.accounts.read"}},
			{FullMethod: listAll, Permissions: []string{"bank.admin.list"}},
			{FullMethod: ping, Public: true, PublicReason: "liveness"},
			{FullMethod: transfer, Permissions: []string{"bank.transfers.create"}},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	b := &policy.Bundle{
		Version: "2026-12-01.3",
		Roles: map[string]*policy.Role{
			"teller":  {Name: "teller", Permissions: []string{"bank.accounts.read", "bank.transfers.create", "bank.accounts.close"}},
			"auditor": {Name: "auditor", Permissions: []string{"bank.accounts.read", "bank.admin.list"}},
			"legacy":  {Name: "legacy", Permissions: []string{"bank.transfers.create"}},
		},
		Bindings: []policy.Binding{
			{Roles: []string{"teller"}, Users: []string{"alice", "carol"}},
			{Roles: []string{"auditor"}, Users: []string{"bob"}},
			{Roles: []string{"legacy"}, Services: []string{"batch"}},
		},
		APIKeys: map[string]*policy.APIKey{
			"k7f3q2m9x4wb": {ID: "k7f3q2m9x4wb", Principal: "report-bot", Kind: policy.KindService, Roles: []string{"auditor"}},
			"aaaabbbbcccc": {ID: "aaaabbbbcccc", Principal: "old-bot", Kind: policy.KindService, Roles: []string{"auditor"}, Disabled: true},
		},
	}
	return b, reg
}

var (
	start = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	now   = time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
)

type call struct {
	at         time.Duration // after start
	who, kind  string
	cred, id   string
	method     string
	allowed    bool
	failed     string
	authn      string
	required   []string
	effective  []string
	roles      []string
	matched    []string
	statusCode string
}

// generate writes a month of calls to a file log through a real Logger
// and FileSink, and returns the log directory.
func generate(t *testing.T) string {
	t.Helper()
	teller := []string{"bank.accounts.close", "bank.accounts.read", "bank.transfers.create"}
	auditor := []string{"bank.accounts.read", "bank.admin.list"}
	calls := []call{
		{at: -time.Hour, who: "alice", kind: "user", cred: "jwt", id: "j0", method: transfer, allowed: true, // before the window
			required: []string{"bank.transfers.create"}, effective: teller, roles: []string{"teller"}, matched: []string{"teller"}},
		{at: 1 * time.Hour, who: "alice", kind: "user", cred: "jwt", id: "j1", method: getAccount, allowed: true,
			required: []string{"bank.accounts.read"}, effective: teller, roles: []string{"teller"}, matched: []string{"teller"}},
		{at: 2 * time.Hour, who: "alice", kind: "user", cred: "jwt", id: "j2", method: getAccount, allowed: true,
			required: []string{"bank.accounts.read"}, effective: teller, roles: []string{"teller"}, matched: []string{"teller"}},
		{at: 3 * time.Hour, who: "alice", kind: "user", cred: "jwt", id: "j3", method: transfer, allowed: true,
			required: []string{"bank.transfers.create"}, effective: teller, roles: []string{"teller"}, matched: []string{"teller"}},
		{at: 4 * time.Hour, who: "bob", kind: "user", cred: "jwt", id: "j4", method: getAccount, allowed: true,
			required: []string{"bank.accounts.read"}, effective: auditor, roles: []string{"auditor"}, matched: []string{"auditor"}},
		{at: 5 * time.Hour, who: "bob", kind: "user", cred: "jwt", id: "j5", method: transfer, failed: "permission",
			required: []string{"bank.transfers.create"}, effective: auditor, roles: []string{"auditor"}, statusCode: "PERMISSION_DENIED"},
		{at: 6 * time.Hour, who: "bob", kind: "user", cred: "jwt", id: "j6", method: transfer, failed: "permission",
			required: []string{"bank.transfers.create"}, effective: auditor, roles: []string{"auditor"}, statusCode: "PERMISSION_DENIED"},
		{at: 7 * time.Hour, method: closeAcct, authn: "jwt: token is expired", statusCode: "UNAUTHENTICATED"},
		{at: 8 * time.Hour, method: closeAcct, authn: "missing credentials", statusCode: "UNAUTHENTICATED"},
		{at: 9 * time.Hour, method: closeAcct, authn: "missing credentials", statusCode: "UNAUTHENTICATED"},
		{at: 10 * time.Hour, who: "report-bot", kind: "service", cred: "api_key", id: "k7f3q2m9x4wb", method: getAccount, allowed: true,
			required: []string{"bank.accounts.read"}, effective: auditor, roles: []string{"auditor"}, matched: []string{"auditor"}},
		{at: 11 * time.Hour, who: "anonymous", kind: "anonymous", method: ping, allowed: true},
		{at: 12 * time.Hour, method: "/grpc.health.v1.Health/Check"},
	}
	dir := t.TempDir()
	fs, err := audit.NewFileSink(dir, audit.WithFileClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	l, err := audit.New([]audit.Sink{fs})
	if err != nil {
		t.Fatal(err)
	}
	for i, c := range calls {
		e := l.NewEvent()
		e.Time, e.RequestID, e.Method, e.Transport = start.Add(c.at), "r"+strings.Repeat("x", i), c.method, "grpc"
		e.Status.Code = "OK"
		if c.statusCode != "" {
			e.Status.Code = c.statusCode
		}
		if c.who != "" {
			e.Principal = audit.Principal{ID: c.who, Kind: c.kind, Roles: c.roles}
		}
		if c.cred != "" {
			e.Credential = audit.Credential{Kind: c.cred, ID: c.id}
		}
		e.AuthnFailure = c.authn
		if c.authn == "" && c.method != "/grpc.health.v1.Health/Check" {
			e.Decision = audit.Decision{Allowed: c.allowed, Reason: "test", FailedRequirement: c.failed,
				Required: c.required, Effective: c.effective, MatchedRoles: c.matched, BundleVersion: "2026-12-01.3"}
		}
		l.Log(e)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	return dir
}

func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read golden %s: %v (run with -update)", path, err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (run with -update to accept):\n%s", name, got)
	}
}

// TestReviewGolden builds the report from a generated file log and
// compares its text and JSON forms with the golden files.
func TestReviewGolden(t *testing.T) {
	b, reg := fixtures(t)
	dir := generate(t)
	if r, err := audit.Verify(dir); err != nil || !r.OK() {
		t.Fatalf("Verify(generated log) = %+v, %v, want a verified chain", r, err)
	}
	r, err := review.Review(audit.ReadFiles(dir), b, reg, start)
	if err != nil {
		t.Fatalf("Review() = %v, want nil", err)
	}
	var text, js bytes.Buffer
	if err := review.WriteText(&text, r); err != nil {
		t.Fatal(err)
	}
	if err := review.WriteJSON(&js, r); err != nil {
		t.Fatal(err)
	}
	golden(t, "review.txt", text.Bytes())
	golden(t, "review.json", js.Bytes())

	// Spot checks that the golden files must not hide.
	if r.Calls != 12 || r.Denied != 5 {
		t.Errorf("Review() calls, denied = %d, %d, want 12, 5 (the call before the window left out)", r.Calls, r.Denied)
	}
	for _, ro := range r.Roles {
		if ro.Name == "legacy" && ro.Exercised() {
			t.Errorf("role legacy exercised, want never")
		}
	}
}

func TestRunReview(t *testing.T) {
	b, reg := fixtures(t)
	dir := generate(t)
	load := func(path string) (*policy.Bundle, *policy.Registry, error) {
		if path != "bundle.yaml" {
			return nil, nil, os.ErrNotExist
		}
		return b, reg, nil
	}
	for _, tc := range []struct {
		args []string
		code int
		out  string
	}{
		{args: []string{"--bundle", "bundle.yaml", "--now", "2026-12-01T00:00:00Z", "--since", "720h", dir}, code: 0,
			out: "Access review of bundle 2026-12-01.3, 2026-11-01T00:00:00Z to 2026-11-01T12:00:00Z: 12 calls, 5 denied"},
		{args: []string{"--bundle", "bundle.yaml", "--now", "2026-12-01T00:00:00Z", "--json", dir}, code: 0, out: `"calls": 12`},
		{args: []string{"--bundle", "bundle.yaml", "--now", "2026-11-01T05:30:00Z", "--since", "5h", dir}, code: 0, out: ": 5 calls, 1 denied"},
		{args: []string{dir}, code: 2},
		{args: []string{"--bundle", "bundle.yaml"}, code: 2},
		{args: []string{"--bundle", "missing.yaml", dir}, code: 2},
		{args: []string{"--bundle", "bundle.yaml", filepath.Join(dir, "nope")}, code: 2},
	} {
		var stdout, stderr bytes.Buffer
		if code := review.RunReview(tc.args, &stdout, &stderr, load); code != tc.code || !strings.Contains(stdout.String(), tc.out) {
			t.Errorf("RunReview(%q) = %d, %q (stderr %q), want %d and output containing %q", tc.args, code, stdout.String(), stderr.String(), tc.code, tc.out)
		}
	}
}
