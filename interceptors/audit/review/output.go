package review

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// WriteJSON writes r as indented JSON.
func WriteJSON(w io.Writer, r *Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteText writes r as tables for people. Sensitive permissions are
// marked with "*".
func WriteText(w io.Writer, r *Report) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Access review of bundle %s, %s to %s: %d calls, %d denied\n",
		r.Bundle, stamp(r.Since), stamp(r.Until), r.Calls, r.Denied)

	section(&b, "ROLES (permissions never used through the role are candidates for removal)")
	tw := table(&b, "ROLE", "PERMISSIONS", "CALLS", "UNUSED PERMISSIONS")
	for _, ro := range r.Roles {
		unused := perms(ro.Unused, ro.Sensitive)
		if !ro.Exercised() {
			unused = "never exercised: " + unused
		}
		row(tw, ro.Name, strconv.Itoa(ro.Permissions), strconv.Itoa(ro.Calls), unused)
	}
	_ = tw.Flush() // into a strings.Builder: cannot fail

	section(&b, "PRINCIPALS")
	tw = table(&b, "PRINCIPAL", "KIND", "CALLS", "DENIED", "LAST SEEN", "ROLES", "GRANTED", "UNUSED PERMISSIONS")
	for _, p := range r.Principals {
		row(tw, p.ID, or(p.Kind, "-"), strconv.Itoa(p.Calls), strconv.Itoa(p.Denied), stamp(p.LastSeen),
			or(strings.Join(p.Roles, ","), "-"), strconv.Itoa(p.Granted), perms(p.Unused, p.Sensitive))
	}
	_ = tw.Flush() // into a strings.Builder: cannot fail

	section(&b, "DENIED ATTEMPTS (probing, or a missing grant)")
	if len(r.DeniedAttempts) == 0 {
		b.WriteString("none\n")
	} else {
		tw = table(&b, "PRINCIPAL", "METHOD", "COUNT", "FAILED", "FIRST", "LAST")
		for _, d := range r.DeniedAttempts {
			row(tw, d.Principal, d.Method, strconv.Itoa(d.Count), strings.Join(d.Failed, ","), stamp(d.First), stamp(d.Last))
		}
		_ = tw.Flush() // into a strings.Builder: cannot fail
	}

	section(&b, "METHODS NEVER CALLED")
	list(&b, r.MethodsNeverCalled)

	section(&b, "UNUSED CREDENTIALS (API keys)")
	if len(r.UnusedCredentials) == 0 {
		b.WriteString("none\n")
	} else {
		tw = table(&b, "KEY", "PRINCIPAL", "STATE")
		for _, c := range r.UnusedCredentials {
			state := "active"
			switch {
			case c.Disabled:
				state = "disabled"
			case !c.ExpiresAt.IsZero() && !c.ExpiresAt.After(r.Until):
				state = "expired"
			}
			row(tw, c.ID, c.Principal, state)
		}
		_ = tw.Flush() // into a strings.Builder: cannot fail
	}
	b.WriteString("\n* sensitive permission\n")
	_, err := io.WriteString(w, b.String())
	return err
}

func section(b *strings.Builder, title string) { fmt.Fprintf(b, "\n%s\n", title) }

func table(b *strings.Builder, cols ...string) *tabwriter.Writer {
	tw := tabwriter.NewWriter(b, 0, 4, 2, ' ', 0)
	row(tw, cols...)
	return tw
}

func row(tw *tabwriter.Writer, cols ...string) { _, _ = fmt.Fprintln(tw, strings.Join(cols, "\t")) }

func list(b *strings.Builder, items []string) {
	if len(items) == 0 {
		b.WriteString("none\n")
	}
	for _, it := range items {
		fmt.Fprintf(b, "  %s\n", it)
	}
}

func perms(ps, sensitive []string) string {
	if len(ps) == 0 {
		return "-"
	}
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p
		if slices.Contains(sensitive, p) {
			out[i] += "*"
		}
	}
	return strings.Join(out, " ")
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
