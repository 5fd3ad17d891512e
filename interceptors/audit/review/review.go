package review

import (
	"cmp"
	"iter"
	"maps"
	"slices"
	"time"

	"github.com/portcullis/portcullis/interceptors/audit"
	"github.com/portcullis/portcullis/policy"
)

type set map[string]bool

func (s set) sorted() []string { return slices.Sorted(maps.Keys(s)) }

type principalAcc struct {
	p                Principal
	roles, effective set
	used             set
}

type deniedKey struct{ principal, method string }

type deniedAcc struct {
	d      Denied
	failed set
}

// Review reads the call records from since on and reviews bundle against
// them; reg gives the methods and which permissions are sensitive. It
// stops at the first error of events.
func Review(events iter.Seq2[*audit.Event, error], bundle *policy.Bundle, reg *policy.Registry, since time.Time) (*Report, error) {
	r := &Report{Since: since.UTC(), Until: since.UTC(), Bundle: bundle.Version}
	roleCalls := map[string]int{}
	roleUsed := map[string]set{}
	principals := map[string]*principalAcc{}
	denied := map[deniedKey]*deniedAcc{}
	called := set{}
	keysUsed := set{}
	for e, err := range events {
		if err != nil {
			return nil, err
		}
		if e.Type != audit.TypeCall || e.Time.Before(since) {
			continue
		}
		r.Calls++
		if t := e.Time.UTC(); t.After(r.Until) {
			r.Until = t
		}
		called[e.Method] = true
		if e.Credential.Kind == "api_key" {
			keysUsed[e.Credential.ID] = true
		}
		refused := e.AuthnFailure != "" || (e.Decision.Reason != "" && !e.Decision.Allowed)
		var acc *principalAcc
		if id := e.Principal.ID; id != "" && e.Principal.Kind != policy.KindAnonymous {
			acc = principals[id]
			if acc == nil {
				acc = &principalAcc{p: Principal{ID: id, Kind: e.Principal.Kind}, roles: set{}, effective: set{}, used: set{}}
				principals[id] = acc
			}
			acc.p.Calls++
			if e.Time.After(acc.p.LastSeen) {
				acc.p.LastSeen = e.Time.UTC()
			}
			for _, x := range e.Principal.Roles {
				acc.roles[x] = true
			}
			for _, x := range e.Decision.Effective {
				acc.effective[x] = true
			}
		}
		if refused {
			r.Denied++
			if acc != nil {
				acc.p.Denied++
			}
			recordDenied(denied, e)
			continue
		}
		if !e.Decision.Allowed {
			continue // no decision: gateway-owned or public without authorization
		}
		used := intersect(e.Decision.Required, e.Decision.Effective)
		if acc != nil {
			for _, p := range used {
				acc.used[p] = true
			}
		}
		for _, role := range e.Decision.MatchedRoles {
			roleCalls[role]++
			if roleUsed[role] == nil {
				roleUsed[role] = set{}
			}
			if def := bundle.Roles[role]; def != nil {
				for _, p := range used {
					if slices.Contains(def.Permissions, p) {
						roleUsed[role][p] = true
					}
				}
			}
		}
	}
	sensitive := func(ps []string) []string {
		var out []string
		for _, p := range ps {
			if d, ok := reg.Permission(p); ok && d.Sensitive {
				out = append(out, p)
			}
		}
		return out
	}
	for _, name := range slices.Sorted(maps.Keys(bundle.Roles)) {
		def := bundle.Roles[name]
		ro := Role{Name: name, Permissions: len(def.Permissions), Calls: roleCalls[name], Unused: []string{}}
		for _, p := range slices.Sorted(slices.Values(def.Permissions)) {
			if !roleUsed[name][p] {
				ro.Unused = append(ro.Unused, p)
			}
		}
		ro.Sensitive = sensitive(ro.Unused)
		r.Roles = append(r.Roles, ro)
	}
	addBound(principals, bundle)
	for _, id := range slices.Sorted(maps.Keys(principals)) {
		acc := principals[id]
		p := acc.p
		p.Roles, p.Granted, p.Unused = acc.roles.sorted(), len(acc.effective), []string{}
		for _, perm := range acc.effective.sorted() {
			if !acc.used[perm] {
				p.Unused = append(p.Unused, perm)
			}
		}
		p.Sensitive = sensitive(p.Unused)
		r.Principals = append(r.Principals, p)
	}
	for _, k := range slices.SortedFunc(maps.Keys(denied), func(a, b deniedKey) int {
		return cmp.Or(cmp.Compare(a.principal, b.principal), cmp.Compare(a.method, b.method))
	}) {
		d := denied[k]
		d.d.Failed = d.failed.sorted()
		r.DeniedAttempts = append(r.DeniedAttempts, d.d)
	}
	r.MethodsNeverCalled = []string{}
	for _, m := range reg.Methods() {
		if !called[m] {
			r.MethodsNeverCalled = append(r.MethodsNeverCalled, m)
		}
	}
	r.UnusedCredentials = []Credential{}
	for _, id := range slices.Sorted(maps.Keys(bundle.APIKeys)) {
		if k := bundle.APIKeys[id]; !keysUsed[id] {
			r.UnusedCredentials = append(r.UnusedCredentials, Credential{ID: id, Principal: k.Principal,
				Disabled: k.Disabled, ExpiresAt: k.ExpiresAt.UTC()})
		}
	}
	return r, nil
}

func recordDenied(denied map[deniedKey]*deniedAcc, e *audit.Event) {
	who := e.Principal.ID
	if who == "" {
		who = Unauthenticated
	}
	k := deniedKey{who, e.Method}
	d := denied[k]
	if d == nil {
		d = &deniedAcc{d: Denied{Principal: who, Method: e.Method, First: e.Time.UTC()}, failed: set{}}
		denied[k] = d
	}
	d.d.Count++
	d.d.First = minTime(d.d.First, e.Time.UTC())
	if t := e.Time.UTC(); t.After(d.d.Last) {
		d.d.Last = t
	}
	switch {
	case e.AuthnFailure != "":
		d.failed["authentication"] = true
	case e.Decision.FailedRequirement != "":
		d.failed[e.Decision.FailedRequirement] = true
	default:
		d.failed["unknown"] = true
	}
}

// addBound adds the principals that the bundle binds by id but that made
// no call, with their roles' permissions as granted.
func addBound(principals map[string]*principalAcc, b *policy.Bundle) {
	add := func(id, kind string, roles []string) {
		acc := principals[id]
		if acc == nil {
			acc = &principalAcc{p: Principal{ID: id, Kind: kind}, roles: set{}, effective: set{}, used: set{}}
			principals[id] = acc
		}
		if acc.p.Calls > 0 {
			return // what it held in the window counts
		}
		for _, role := range roles {
			acc.roles[role] = true
			if def := b.Roles[role]; def != nil {
				for _, p := range def.Permissions {
					acc.effective[p] = true
				}
			}
		}
	}
	for _, bd := range b.Bindings {
		for _, u := range bd.Users {
			add(u, policy.KindUser, bd.Roles)
		}
		for _, s := range bd.Services {
			add(s, policy.KindService, bd.Roles)
		}
	}
	for _, id := range slices.Sorted(maps.Keys(b.APIKeys)) {
		k := b.APIKeys[id]
		add(k.Principal, k.Kind, k.Roles)
	}
}

func intersect(a, b []string) []string {
	var out []string
	for _, x := range a {
		if slices.Contains(b, x) {
			out = append(out, x)
		}
	}
	return out
}

func minTime(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
