package policy

import (
	"strings"
	"testing"
)

func sensitivityTable() *Table {
	return &Table{File: "x.proto", Permissions: []Permission{{Name: "a.read"}}, Methods: []Method{
		{FullMethod: "/p.S/Public", Public: true, Sensitivity: SensitivityConfidential, Credentials: AnyCredential},
		{FullMethod: "/p.S/Internal", Permissions: []string{"a.read"}, Credentials: AnyCredential},
		{FullMethod: "/p.S/Confidential", Permissions: []string{"a.read"}, Sensitivity: SensitivityConfidential, Credentials: AnyCredential},
		{FullMethod: "/p.S/KeysOnly", Permissions: []string{"a.read"}, Sensitivity: SensitivityConfidential, Credentials: CredentialAPIKey},
		{FullMethod: "/p.S/Restricted", Permissions: []string{"a.read"}, Sensitivity: SensitivityRestricted, Credentials: AnyCredential},
	}}
}

func TestWithClassRequirements(t *testing.T) {
	table := sensitivityTable()
	reg, err := NewRegistry(table)
	if err != nil {
		t.Fatal(err)
	}
	got, err := reg.WithClassRequirements(map[Sensitivity]ClassRequirement{
		SensitivityConfidential: {RequireMTLS: true, Credentials: CredentialAPIKey | CredentialMTLS},
		SensitivityRestricted:   DefaultRestricted,
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		method               string
		mtls, bound, audited bool
		creds                Credentials
	}{
		{"/p.S/Public", false, false, false, AnyCredential}, // public methods need no credentials: unchanged
		{"/p.S/Internal", false, false, false, AnyCredential},
		{"/p.S/Confidential", true, false, false, CredentialAPIKey | CredentialMTLS},
		{"/p.S/KeysOnly", true, false, false, CredentialAPIKey},
		{"/p.S/Restricted", true, true, true, AnyCredential},
	} {
		m, ok := got.Lookup(tc.method)
		if !ok {
			t.Fatalf("Lookup(%s) = false", tc.method)
		}
		if m.RequireMTLS != tc.mtls || m.RequireBoundToken != tc.bound || m.Audit.Required != tc.audited || m.Credentials != tc.creds {
			t.Errorf("%s: mtls %v bound %v audit %v credentials %s, want %v %v %v %s", tc.method,
				m.RequireMTLS, m.RequireBoundToken, m.Audit.Required, m.Credentials, tc.mtls, tc.bound, tc.audited, tc.creds)
		}
		if svc := got.Service("p.S"); len(svc) != 5 {
			t.Errorf("Service(p.S) has %d methods, want 5", len(svc))
		}
	}
	// The original registry and the tables are untouched.
	if m, _ := reg.Lookup("/p.S/Confidential"); m.RequireMTLS || m.Credentials != AnyCredential {
		t.Errorf("original registry changed: %+v", m)
	}
	if table.Methods[4].RequireBoundToken {
		t.Error("table changed")
	}
	// Service and Lookup hand out the same tightened copy.
	m, _ := got.Lookup("/p.S/Confidential")
	found := false
	for _, sm := range got.Service("p.S") {
		found = found || sm == m
	}
	if !found {
		t.Error("Service(p.S) does not hold the tightened method Lookup returns")
	}
}

func TestWithClassRequirementsErrors(t *testing.T) {
	disjoint := ClassRequirement{Credentials: CredentialJWT}.And(ClassRequirement{Credentials: CredentialAPIKey})
	reg, err := NewRegistry(sensitivityTable())
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		reqs map[Sensitivity]ClassRequirement
		want string
	}{
		{"no kind left", map[Sensitivity]ClassRequirement{SensitivityConfidential: {Credentials: CredentialJWT}},
			"method /p.S/KeysOnly (confidential) allows api_key credentials and sensitivity.confidential allows only jwt: none is left"},
		{"disjoint kinds", map[Sensitivity]ClassRequirement{SensitivityInternal: disjoint}, "method /p.S/Internal (internal) allows jwt|api_key|mtls credentials"},
		{"bound token without jwt", map[Sensitivity]ClassRequirement{SensitivityConfidential: {RequireBoundToken: true}},
			"method /p.S/KeysOnly (confidential) requires a certificate-bound token (a JWT) by its sensitivity class but allows no JWT"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := reg.WithClassRequirements(tc.reqs)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("WithClassRequirements() = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestClassRequirementAnd(t *testing.T) {
	for _, tc := range []struct{ a, b, want ClassRequirement }{
		{DefaultRestricted, ClassRequirement{Credentials: CredentialJWT}, ClassRequirement{RequireMTLS: true, RequireBoundToken: true, AuditRequired: true, Credentials: CredentialJWT}},
		{ClassRequirement{}, ClassRequirement{}, ClassRequirement{}},
		{ClassRequirement{Credentials: CredentialJWT | CredentialMTLS}, ClassRequirement{Credentials: CredentialMTLS | CredentialAPIKey}, ClassRequirement{Credentials: CredentialMTLS}},
		{ClassRequirement{AuditRequired: true}, ClassRequirement{RequireMTLS: true}, ClassRequirement{RequireMTLS: true, AuditRequired: true}},
		{ClassRequirement{Credentials: CredentialJWT}, ClassRequirement{Credentials: CredentialAPIKey}, ClassRequirement{Credentials: noCredential}},
	} {
		if got := tc.a.And(tc.b); got != tc.want {
			t.Errorf("%+v.And(%+v) = %+v, want %+v", tc.a, tc.b, got, tc.want)
		}
		if got := tc.b.And(tc.a); got != tc.want {
			t.Errorf("And is not symmetric: %+v.And(%+v) = %+v", tc.b, tc.a, got)
		}
	}
}
