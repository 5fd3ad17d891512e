package bundlecli

import (
	"encoding/json"
	"flag"
	"io"
	"sort"
	"time"

	"github.com/portcullis/portcullis/gateway/bundle"
	"github.com/portcullis/portcullis/policy"
)

// change is one method whose access differs between the bundles.
type change struct {
	Method string `json:"method"`
	Old    string `json:"old"`
	New    string `json:"new"`
}

// subjectDiff is the changes of one subject.
type subjectDiff struct {
	Kind    string   `json:"kind"`
	Name    string   `json:"name"`
	Label   string   `json:"label,omitempty"`
	OnlyIn  string   `json:"only_in,omitempty"` // "old" or "new" for a role defined in one bundle
	Changes []change `json:"changes"`
}

// diffReport is the whole result, as printed with --json.
type diffReport struct {
	Old      bundleRef     `json:"old"`
	New      bundleRef     `json:"new"`
	Subjects []subjectDiff `json:"subjects"`
	Summary  struct {
		Subjects int `json:"subjects"`
		Gained   int `json:"gained"`
		Lost     int `json:"lost"`
		Changed  int `json:"changed"`
	} `json:"summary"`
	Audit *auditReport `json:"audit,omitempty"`
}

type bundleRef struct {
	File    string `json:"file"`
	Version string `json:"version"`
}

// RunDiff runs `portcullis policy diff OLD NEW [--config FILE] [--audit
// FILE...] [--since 720h] [--json]`: for every role and subject named in
// either bundle it prints the methods gained and lost, computed with the
// engine over the policy load returns (for --config's path, "" without
// it); with --audit it replays the allowed calls of the
// window from JSON-lines audit files against NEW and lists the callers
// that would now be denied. Flags may follow the bundles, and the audit
// files may be several (a shell glob). It returns 0 when the diff was
// computed, 1 when an input is invalid, 2 for usage errors.
func RunDiff(args []string, stdout, stderr io.Writer, load PolicyLoader) int {
	errs, out := &printer{w: stderr}, &printer{w: stdout}
	fs := flag.NewFlagSet("policy diff", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var audits listFlag
	fs.Var(&audits, "audit", "JSON-lines audit `FILE` to weigh the diff against (repeatable; more files may follow)")
	since := fs.Duration("since", 720*time.Hour, "audit window: records newer than this")
	asJSON := fs.Bool("json", false, "print JSON")
	cfgPath := ConfigFlag(fs)
	fs.Usage = func() {
		errs.ln("usage: portcullis policy diff OLD NEW [--config FILE] [--audit FILE...] [--since 720h] [--json]")
		fs.PrintDefaults()
	}
	pos, err := parseInterleaved(fs, args)
	if err != nil {
		return 2
	}
	if len(pos) > 2 && len(audits) > 0 {
		audits, pos = append(audits, pos[2:]...), pos[:2] // --audit a.jsonl b.jsonl
	}
	if len(pos) != 2 || *since <= 0 {
		fs.Usage()
		return 2
	}
	reg, err := load(*cfgPath)
	if err != nil {
		errs.ln(err)
		return 1
	}
	old, err := bundle.Load(pos[0], reg)
	if err != nil {
		errs.ln(err)
		return 1
	}
	nw, err := bundle.Load(pos[1], reg)
	if err != nil {
		errs.ln(err)
		return 1
	}
	t, err := newOpenTables(reg)
	if err != nil {
		errs.ln(err)
		return 1
	}
	jo, err := newJudge(t, old)
	if err != nil {
		errs.ln(err)
		return 1
	}
	jn, err := newJudge(t, nw)
	if err != nil {
		errs.ln(err)
		return 1
	}
	rep := diff(t, jo, jn)
	rep.Old, rep.New = bundleRef{pos[0], old.Version}, bundleRef{pos[1], nw.Version}
	if len(audits) > 0 {
		if rep.Audit, err = weigh(audits, *since, reg, t, jo, jn); err != nil {
			errs.ln(err)
			return 1
		}
	}
	if *asJSON {
		js, _ := json.MarshalIndent(rep, "", "  ") // plain structs: cannot fail
		out.ln(string(js))
	} else {
		printDiff(out, rep)
	}
	if out.err != nil {
		return 1
	}
	return 0
}

// diff compares the access of every subject on every method.
func diff(t *openTables, jo, jn *judge) *diffReport {
	rep := &diffReport{Subjects: []subjectDiff{}}
	subs := subjects(jo.b, jn.b)
	sort.Slice(subs, func(i, j int) bool {
		if kindOrder[subs[i].kind] != kindOrder[subs[j].kind] {
			return kindOrder[subs[i].kind] < kindOrder[subs[j].kind]
		}
		return subs[i].name < subs[j].name
	})
	for _, s := range subs {
		d := subjectDiff{Kind: s.kind, Name: s.name}
		if s.kind == "role" {
			_, inOld := jo.b.Roles[s.name]
			_, inNew := jn.b.Roles[s.name]
			switch {
			case !inOld:
				d.OnlyIn = "new"
			case !inNew:
				d.OnlyIn = "old"
			}
		}
		if s.kind == "api_key" {
			d.Label = keyLabel(s.name, jo.b, jn.b)
		}
		for _, m := range t.methods {
			a, b := judgeAccess(jo, s, m), judgeAccess(jn, s, m)
			if a == b {
				continue
			}
			d.Changes = append(d.Changes, change{Method: m.FullMethod, Old: a.String(), New: b.String()})
			switch {
			case a == denied:
				rep.Summary.Gained++
			case b == denied:
				rep.Summary.Lost++
			default:
				rep.Summary.Changed++
			}
		}
		if len(d.Changes) > 0 {
			rep.Subjects = append(rep.Subjects, d)
		}
	}
	rep.Summary.Subjects = len(rep.Subjects)
	return rep
}

func judgeAccess(j *judge, s subject, m *policy.Method) access {
	if m.Public {
		return allowed // even with an unknown or disabled key: the call proceeds as anonymous
	}
	p := probe(s, j.b, m)
	if p == nil {
		return denied
	}
	return j.access(m, p)
}

// keyLabel names an API key's principal, as of the newest bundle that has
// the key.
func keyLabel(id string, bs ...*policy.Bundle) string {
	label := ""
	for _, b := range bs {
		if k, ok := b.APIKeys[id]; ok {
			label = "principal " + k.Principal
			if k.Disabled {
				label += ", disabled"
			}
		}
	}
	return label
}

// printDiff writes the text report:
//
//	role auditor
//	  + /pkg.Svc/Gained
//	  - /pkg.Svc/Lost
//	  ~ /pkg.Svc/Changed (allow → conditional)
func printDiff(w *printer, rep *diffReport) {
	w.f("policy diff %s (%s) → %s (%s)\n", rep.Old.File, rep.Old.Version, rep.New.File, rep.New.Version)
	for _, s := range rep.Subjects {
		head := s.Kind + " " + s.Name
		if s.Label != "" {
			head += " (" + s.Label + ")"
		}
		if s.OnlyIn != "" {
			head += " (only in " + s.OnlyIn + ")"
		}
		w.f("\n%s\n", head)
		for _, c := range s.Changes {
			switch {
			case c.Old == "deny" && c.New == "allow":
				w.f("  + %s\n", c.Method)
			case c.Old == "deny":
				w.f("  + %s (%s)\n", c.Method, c.New)
			case c.New == "deny" && c.Old == "allow":
				w.f("  - %s\n", c.Method)
			case c.New == "deny":
				w.f("  - %s (was %s)\n", c.Method, c.Old)
			default:
				w.f("  ~ %s (%s → %s)\n", c.Method, c.Old, c.New)
			}
		}
	}
	sm := rep.Summary
	if sm.Subjects == 0 {
		w.ln("\nno change in access")
	} else {
		w.f("\n%d subjects changed: %d methods gained, %d lost, %d changed\n", sm.Subjects, sm.Gained, sm.Lost, sm.Changed)
	}
	if rep.Audit != nil {
		printAudit(w, rep.Audit)
	}
}
