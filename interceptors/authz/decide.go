package authz

import (
	"fmt"
	"net/netip"
	"sort"
	"time"

	"cel.dev/cel-go/cel"
	"cel.dev/cel-go/interpreter"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	portcullisv1 "github.com/portcullis/portcullis/gen/portcullis/v1"
	"github.com/portcullis/portcullis/policy"
)

// Input is what a decision is made from besides the method policy.
type Input struct {
	// Principal is the authenticated caller; nil for anonymous calls.
	Principal *policy.Principal
	// Request is the decoded (first) request message, or nil when the
	// method's policy reads no request field.
	Request proto.Message
	// Facts about the call, visible to conditions as `context`: the
	// client address (as clientip resolves it), when the call arrived, its
	// full method name ("/pkg.Svc/Method"), transport ("grpc" or "http"),
	// the resource field's value, and the caller's recent calls per second
	// (RateMeter; the interceptors measure it only for engines whose
	// conditions read it, Engine.UsesRequestRate).
	ClientIP    string
	Time        time.Time
	Method      string
	Transport   string
	Resource    string
	RequestRate float64

	// addr is the client address the interceptors resolved, formatted into
	// ClientIP only when read (clientIP); now, when set, gives Time when a
	// condition first reads it and Time is zero.
	addr netip.Addr
	now  func() time.Time
}

// clientIP is ClientIP, or else the resolved address as text.
func (in *Input) clientIP() string {
	if in.ClientIP == "" && in.addr.IsValid() {
		return in.addr.String()
	}
	return in.ClientIP
}

// Failed requirements, as recorded in Verdict.Failed and policy.Decision.
const (
	FailedNone        = ""
	FailedUnauthentic = "authentication"
	FailedCredential  = "credential"
	FailedMTLS        = "mtls"
	FailedBoundToken  = "bound_token"
	FailedScope       = "scope"
	FailedPermission  = "permission"
	FailedCondition   = "condition"
	FailedUnknownPlan = "unknown_method"
	FailedDisabled    = "disabled"
)

// Verdict is the outcome of Decide. It holds no slices so that a decision
// costs no allocation; Explain gives the full trace.
type Verdict struct {
	Allowed bool
	// Failed is the requirement that failed (Failed… constants).
	Failed string
	// Detail is the permission or scope that was missing, or the role that
	// granted access, depending on the outcome.
	Detail string
	// MatchedRole is the role (or "grant") that granted the last required
	// permission.
	MatchedRole string
}

// Decide authorizes one call of m. It is a pure function of its inputs and
// the engine (an Input filled by the interceptors may get its Time set the
// first time a condition reads context.time, once for the whole decision),
// safe for concurrent use, and allocates nothing unless a CEL condition has
// to be evaluated.
func (e *Engine) Decide(m *policy.Method, in *Input) Verdict {
	pl, ok := e.plans[m]
	if !ok {
		return Verdict{Failed: FailedUnknownPlan}
	}
	if pl.disabled {
		return Verdict{Failed: FailedDisabled}
	}
	if m.Public {
		return Verdict{Allowed: true, Detail: "public"}
	}
	p := in.Principal
	if p == nil || p.Kind == policy.KindAnonymous {
		return Verdict{Failed: FailedUnauthentic}
	}
	if m.Credentials&p.Credential == 0 {
		return Verdict{Failed: FailedCredential, Detail: p.Credential.String()}
	}
	if m.RequireMTLS && !p.MTLS {
		return Verdict{Failed: FailedMTLS}
	}
	if m.RequireBoundToken && !p.Bound {
		return Verdict{Failed: FailedBoundToken}
	}
	for _, s := range m.Scopes {
		if !contains(p.Scopes, s) {
			return Verdict{Failed: FailedScope, Detail: s}
		}
	}
	v := Verdict{Allowed: true}
	if len(pl.required) > 0 {
		granted := 0
		for _, i := range pl.required {
			r := e.grantedBy(i, p, in)
			if r != "" {
				granted++
				v.MatchedRole = r
				if m.Match == policy.MatchAny {
					break
				}
			} else if m.Match == policy.MatchAll {
				return Verdict{Failed: FailedPermission, Detail: e.names[i]}
			}
		}
		if granted == 0 {
			return Verdict{Failed: FailedPermission, Detail: e.names[pl.required[0]]}
		}
	}
	for _, i := range pl.extra {
		r := e.grantedBy(i, p, in)
		if r == "" {
			return Verdict{Failed: FailedPermission, Detail: e.names[i]}
		}
	}
	if pl.cond != nil {
		ok, err := e.eval(pl.cond, p, in)
		if err != nil || !ok {
			return Verdict{Failed: FailedCondition, Detail: m.Condition}
		}
	}
	if pl.extraCond != nil {
		ok, err := e.eval(pl.extraCond, p, in)
		if err != nil || !ok {
			return Verdict{Failed: FailedCondition, Detail: pl.extraSrc}
		}
	}
	return v
}

// grantedBy returns the name of a role (or "grant") that gives the
// principal permission i for this call, or "". Scopes narrow: with scopes,
// a permission counts only if it is also a scope.
func (e *Engine) grantedBy(i int, p *policy.Principal, in *Input) string {
	if p.HasScopes && !contains(p.Scopes, e.names[i]) {
		return ""
	}
	if len(e.grants) > 0 {
		if g, ok := e.grants[p.ID]; ok && g.has(i) {
			return "grant"
		}
		if p.SPIFFEID != "" {
			if g, ok := e.grants[p.SPIFFEID]; ok && g.has(i) {
				return "grant"
			}
		}
	}
	for _, name := range p.Roles {
		if r, ok := e.roles[name]; ok && r.bits.has(i) && e.applies(r, p, in) {
			return r.name
		}
	}
	if r := e.firstIn(e.users[p.ID], i, p, in); r != "" {
		return r
	}
	if p.Kind == policy.KindService {
		if r := e.firstIn(e.services[p.ID], i, p, in); r != "" {
			return r
		}
	}
	for _, g := range p.Groups {
		if r := e.firstIn(e.groups[g], i, p, in); r != "" {
			return r
		}
	}
	if p.SPIFFEID != "" {
		if r := e.firstIn(e.spiffe[p.SPIFFEID], i, p, in); r != "" {
			return r
		}
	}
	return ""
}

func (e *Engine) firstIn(s *subject, i int, p *policy.Principal, in *Input) string {
	if s == nil || !s.any.has(i) {
		return ""
	}
	for _, r := range s.roles {
		if r.bits.has(i) && e.applies(r, p, in) {
			return r.name
		}
	}
	return ""
}

func (e *Engine) applies(r *role, p *policy.Principal, in *Input) bool {
	if r.cond == nil {
		return true
	}
	ok, err := e.eval(r.cond, p, in)
	return err == nil && ok
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// eval runs a condition. Any error (a missing field, a type error at run
// time) denies.
func (e *Engine) eval(prg cel.Program, p *policy.Principal, in *Input) (bool, error) {
	out, _, err := prg.Eval(&activation{e: e, p: p, in: in})
	if err != nil {
		return false, err
	}
	b, ok := out.Value().(bool)
	if !ok {
		return false, fmt.Errorf("authz: condition returned %T", out.Value())
	}
	return b, nil
}

// activation resolves the condition variables lazily: a condition that
// never reads principal or context does not pay for building them.
type activation struct {
	e  *Engine
	p  *policy.Principal
	in *Input
}

func (a *activation) ResolveName(name string) (any, bool) {
	switch name {
	case "principal":
		return a.e.celPrincipal(a.p, a.in), true
	case "context":
		return celContext(a.in, a.p), true
	case "request":
		if a.in.Request == nil {
			return nil, false
		}
		return a.in.Request, true
	}
	return nil, false
}

func (a *activation) Parent() interpreter.Activation { return nil }

// celPrincipal is the principal as conditions see it, with its effective
// permissions computed without role conditions (so that a role condition
// cannot recurse into itself).
func (e *Engine) celPrincipal(p *policy.Principal, in *Input) *portcullisv1.Principal {
	out := &portcullisv1.Principal{Id: p.ID, Kind: p.Kind, Scopes: p.Scopes, Tenant: p.Tenant, Groups: p.Groups,
		CredentialKind: p.Credential.String(), Claims: p.Claims}
	out.Roles, out.Permissions = e.rolesAndPermissions(p, false, in)
	return out
}

func celContext(in *Input, p *policy.Principal) *portcullisv1.RequestContext {
	c := &portcullisv1.RequestContext{ClientIp: in.clientIP(), Method: in.Method, Transport: in.Transport, Resource: in.Resource, RequestRate: in.RequestRate}
	if in.Time.IsZero() && in.now != nil {
		in.Time = in.now() // once: every condition of the decision sees the same time
	}
	if !in.Time.IsZero() {
		c.Time = timestamppb.New(in.Time)
	}
	if p != nil {
		c.Mtls, c.SpiffeId = p.MTLS, p.SPIFFEID
	}
	return c
}

// rolesAndPermissions lists every role the principal holds and its
// effective permissions (scopes applied). With conditions, roles whose
// condition fails for this call are left out.
func (e *Engine) rolesAndPermissions(p *policy.Principal, conditions bool, in *Input) (roles, perms []string) {
	bs := make(bitset, e.words)
	add := func(r *role) {
		if contains(roles, r.name) || (conditions && !e.applies(r, p, in)) {
			return
		}
		roles = append(roles, r.name)
		bs.or(r.bits)
	}
	for _, n := range p.Roles {
		if r, ok := e.roles[n]; ok {
			add(r)
		}
	}
	for _, list := range [][]*role{e.users[p.ID].rolesOf(), e.spiffeRoles(p), e.serviceRoles(p)} {
		for _, r := range list {
			add(r)
		}
	}
	for _, g := range p.Groups {
		for _, r := range e.groups[g].rolesOf() {
			add(r)
		}
	}
	for _, subj := range []string{p.ID, p.SPIFFEID} {
		if g, ok := e.grants[subj]; ok && subj != "" {
			bs.or(g)
		}
	}
	perms = e.effective(bs)
	if p.HasScopes {
		kept := perms[:0]
		for _, x := range perms {
			if contains(p.Scopes, x) {
				kept = append(kept, x)
			}
		}
		perms = kept
	}
	sort.Strings(roles)
	return roles, perms
}

func (e *Engine) spiffeRoles(p *policy.Principal) []*role {
	if p.SPIFFEID == "" {
		return nil
	}
	return e.spiffe[p.SPIFFEID].rolesOf()
}

func (e *Engine) serviceRoles(p *policy.Principal) []*role {
	if p.Kind != policy.KindService {
		return nil
	}
	return e.services[p.ID].rolesOf()
}
