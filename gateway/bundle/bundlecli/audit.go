package bundlecli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/portcullis/portcullis/policy"
)

// auditReport weighs a diff against the allowed calls of an audit window.
type auditReport struct {
	Files          []string  `json:"files"`
	Since          string    `json:"since"`
	From           time.Time `json:"from"`
	Records        int       `json:"records"`
	Malformed      int       `json:"malformed"`
	OutsideWindow  int       `json:"outside_window"`
	Allowed        int       `json:"allowed_calls"`
	Unreproducible int       `json:"unreproducible"`
	Denied         []impact  `json:"would_be_denied"`
}

// impact is a real caller that NEW would treat worse than OLD.
type impact struct {
	Principal string `json:"principal"`
	Method    string `json:"method"`
	Calls     int    `json:"calls"`
	Now       string `json:"now"` // deny or conditional
}

// caller is what an audit record says about who called. Only id is
// required; every other field is used when present.
type caller struct {
	id, kind, tenant, spiffe, cred, keyID string
	roles, groups, scopes                 []string
	mtls, bound                           *bool
}

// key identifies the caller: records with equal keys are decided alike.
func (c caller) key() string {
	b := func(p *bool) string {
		if p == nil {
			return "?"
		}
		return fmt.Sprint(*p)
	}
	return fmt.Sprintf("%q %q %q %q %q %q %q %q %q %s %s", c.id, c.kind, c.tenant, c.spiffe, c.cred, c.keyID,
		c.roles, c.groups, c.scopes, b(c.mtls), b(c.bound))
}

// maxAuditLine bounds one audit record.
const maxAuditLine = 1 << 20

// weigh reads the audit files and replays the window's allowed calls.
func weigh(files []string, since time.Duration, reg *policy.Registry, t *openTables, jo, jn *judge) (*auditReport, error) {
	rep := &auditReport{Files: files, Since: since.String(), From: now().Add(-since).UTC(), Denied: []impact{}}
	type key struct {
		c      string
		method string
	}
	counts := map[key]int{}
	callers := map[key]caller{}
	worse := map[impact]int{}
	for _, f := range files {
		err := readAudit(f, func(line []byte) {
			rep.Records++
			c, method, at, ok := parseRecord(line)
			switch {
			case !ok:
				rep.Malformed++
			case at.Before(rep.From) || at.After(now()):
				rep.OutsideWindow++
			case method != "":
				if _, known := reg.Lookup(method); !known {
					return // a method this build does not know: nothing to weigh
				}
				k := key{c.key(), method}
				counts[k]++
				callers[k] = c
			}
		})
		if err != nil {
			return nil, err
		}
	}
	for k, n := range counts {
		m, _ := t.reg.Lookup(k.method)
		rep.Allowed += n
		c := callers[k]
		a, b := replay(jo, c, m), replay(jn, c, m)
		switch {
		case a == denied:
			rep.Unreproducible += n
		case b < a:
			// Records of one principal may differ in what they hold
			// (kind, credential); the report counts per principal.
			worse[impact{Principal: c.id, Method: k.method, Now: b.String()}] += n
		}
	}
	for im, n := range worse {
		im.Calls = n
		rep.Denied = append(rep.Denied, im)
	}
	sort.Slice(rep.Denied, func(i, j int) bool {
		x, y := rep.Denied[i], rep.Denied[j]
		if x.Principal != y.Principal {
			return x.Principal < y.Principal
		}
		if x.Method != y.Method {
			return x.Method < y.Method
		}
		return x.Now < y.Now
	})
	return rep, nil
}

func readAudit(path string, each func([]byte)) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("policy diff: audit: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only: nothing to flush
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), maxAuditLine)
	for sc.Scan() {
		if line := bytes.TrimSpace(sc.Bytes()); len(line) > 0 {
			each(line)
		}
	}
	if err := sc.Err(); err != nil && err != io.EOF {
		return fmt.Errorf("policy diff: audit %s: %w", path, err)
	}
	return nil
}

// parseRecord reads the fields it needs from one record and ignores the
// rest. ok is false for a line that is not a JSON object or lacks a time,
// a principal id or a decision; method is "" for a denied call (nothing to
// lose).
func parseRecord(line []byte) (c caller, method string, at time.Time, ok bool) {
	var rec map[string]json.RawMessage
	if json.Unmarshal(line, &rec) != nil {
		return c, "", at, false
	}
	var p map[string]json.RawMessage
	var d struct {
		Allowed *bool `json:"allowed"`
	}
	if json.Unmarshal(rec["principal"], &p) != nil || json.Unmarshal(rec["decision"], &d) != nil || d.Allowed == nil {
		return c, "", at, false
	}
	if at, ok = recordTime(rec["time"]); !ok {
		return c, "", at, false
	}
	c.id = str(p["id"])
	if c.id == "" {
		return c, "", at, false
	}
	c.kind, c.tenant, c.spiffe, c.keyID = str(p["kind"]), str(p["tenant"]), str(p["spiffe_id"]), str(p["credential_id"])
	c.roles, c.groups, c.scopes = strs(p["roles"]), strs(p["groups"]), strs(p["scopes"])
	c.mtls, c.bound = boolean(p["mtls"]), boolean(p["bound"])
	c.cred = str(p["credential"])
	var obj struct{ Kind, ID string }
	if c.cred == "" && json.Unmarshal(p["credential"], &obj) == nil { // {"credential": {"kind": …, "id": …}}
		c.cred = obj.Kind
		if c.keyID == "" {
			c.keyID = obj.ID
		}
	}
	if !*d.Allowed {
		return c, "", at, true
	}
	return c, str(rec["method"]), at, true
}

// recordTime reads an RFC 3339 string or a Unix time in seconds.
func recordTime(raw json.RawMessage) (time.Time, bool) {
	if s := str(raw); s != "" {
		t, err := time.Parse(time.RFC3339Nano, s)
		return t, err == nil
	}
	var sec float64
	if json.Unmarshal(raw, &sec) == nil && sec > 0 {
		return time.Unix(0, int64(sec*1e9)), true
	}
	return time.Time{}, false
}

func str(raw json.RawMessage) string {
	var s string
	_ = json.Unmarshal(raw, &s)
	return s
}

func strs(raw json.RawMessage) []string {
	var ss []string
	_ = json.Unmarshal(raw, &ss)
	return ss
}

func boolean(raw json.RawMessage) *bool {
	var b bool
	if json.Unmarshal(raw, &b) != nil {
		return nil
	}
	return &b
}

// replay decides a recorded caller's call under one bundle. A call made
// with an API key the bundle knows takes the key's roles from the bundle;
// facts the record lacks are taken as satisfied.
func replay(j *judge, c caller, m *policy.Method) access {
	if c.cred == "api_key" && c.keyID != "" {
		if _, ok := j.b.APIKeys[c.keyID]; ok {
			return judgeAccess(j, subject{kind: "api_key", name: c.keyID}, m)
		}
	}
	p := &policy.Principal{ID: c.id, Kind: c.kind, Roles: c.roles, Groups: c.groups, Tenant: c.tenant, SPIFFEID: c.spiffe,
		Credential: firstCredential(m.Credentials), MTLS: true, Bound: true, Scopes: m.Scopes}
	if k, ok := policy.ParseCredential(c.cred); ok {
		p.Credential = k
	}
	if len(c.scopes) > 0 {
		p.Scopes, p.HasScopes = c.scopes, true
	}
	if c.mtls != nil {
		p.MTLS = *c.mtls
	}
	if c.bound != nil {
		p.Bound = *c.bound
	}
	if p.Kind != policy.KindUser && p.Kind != policy.KindService {
		p.Kind = policy.KindUser
		for _, s := range subjects(j.b) {
			if s.kind == "service" && s.name == c.id {
				p.Kind = policy.KindService
			}
		}
	}
	return j.access(m, p)
}

func printAudit(w *printer, a *auditReport) {
	w.f("\naudit: %d records in %d files (malformed: %d, outside the window: %d); %d allowed calls since %s (%s)\n",
		a.Records, len(a.Files), a.Malformed, a.OutsideWindow, a.Allowed, a.From.Format(time.RFC3339), a.Since)
	if len(a.Denied) == 0 {
		w.ln("no caller of the window would now be denied")
	} else {
		w.ln("callers of the window who would now be denied:")
		tw := tabwriter.NewWriter(w.w, 2, 4, 2, ' ', 0)
		tp := &printer{w: tw}
		tp.ln("  PRINCIPAL\tMETHOD\tCALLS\tNOW")
		for _, d := range a.Denied {
			tp.f("  %s\t%s\t%d\t%s\n", d.Principal, d.Method, d.Calls, d.Now)
		}
		if err := errors.Join(tp.err, tw.Flush()); err != nil && w.err == nil {
			w.err = err
		}
	}
	if a.Unreproducible > 0 {
		w.f("allowed calls not weighed: %d (OLD does not allow them from what their records hold, e.g. token roles that are not recorded)\n", a.Unreproducible)
	}
}
