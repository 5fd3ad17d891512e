package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestDemoWalkthrough runs `portcullis demo` as a newcomer would and pastes
// every call it prints into a shell (grpcurl and curl, the real clients):
// public calls succeed, unauthenticated calls are refused, each persona's
// "allowed" call is allowed and its "denied" call refused, the unknown
// method fails, and the "Inspect" commands work.
func TestDemoWalkthrough(t *testing.T) {
	grpcurl := grpcurlPath(t)
	if _, err := exec.LookPath("curl"); err != nil {
		t.Skip("curl not installed (apt-get install curl)")
	}
	dir := t.TempDir()
	p, err := startProc("portcullis", dir, "demo", "--dir", filepath.Join(dir, "demo"),
		"--grpc", "127.0.0.1:0", "--http", "127.0.0.1:0", "--admin", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if code, err := p.stop(10 * time.Second); err != nil || code != 0 {
			t.Errorf("portcullis demo: exit %d, %v, want a clean stop on SIGTERM\n%s", code, err, p.out)
		}
	})
	var out []string
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if out = p.out.lines(); len(out) > 0 && strings.Contains(out[len(out)-1], " policy explain --config ") {
			break
		}
		if p.exited() || time.Now().After(deadline) {
			t.Fatalf("portcullis demo printed no walkthrough:\n%s", p.out)
		}
	}
	// grpcurl as `make tools` installs it; the portcullis commands name
	// the demo's own binary.
	env := append(os.Environ(), "PATH="+filepath.Dir(grpcurl)+":"+os.Getenv("PATH"))

	section, ran := "", 0
	for _, line := range out {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "":
			continue
		case !strings.HasPrefix(line, "  "): // a heading
			section = trimmed
			continue
		case !strings.HasPrefix(section, "Public") && !strings.HasPrefix(section, "Without") && !strings.HasPrefix(section, "Unknown") &&
			!strings.HasPrefix(section, "Inspect") && !strings.HasPrefix(trimmed, "allowed") && !strings.HasPrefix(trimmed, "denied"):
			continue // the banner: addresses, directories, install hints
		}
		verdict, cmd := expectation(section, trimmed)
		if verdict == "" {
			continue
		}
		ran++
		t.Run(strings.Fields(section)[0]+"/"+shortName(cmd), func(t *testing.T) {
			runDemoCall(t, env, verdict, cmd)
		})
	}
	if ran < 27 {
		t.Errorf("ran %d printed calls, want every one (at least 27)", ran)
	}
}

// expectation returns what a printed line promises and the command alone.
func expectation(section, line string) (verdict, cmd string) {
	cmd = line
	for _, v := range []string{"allowed", "denied"} {
		if rest, ok := strings.CutPrefix(line, v); ok {
			verdict, cmd = v, strings.TrimSpace(rest)
		}
	}
	note := ""
	if i := strings.LastIndex(cmd, "   ("); i > 0 {
		cmd, note = strings.TrimSpace(cmd[:i]), cmd[i:]
	}
	switch {
	case strings.Contains(note, "balance not zero"):
		return "precondition", cmd // allowed: the bank itself refuses
	case verdict != "":
		return verdict, cmd
	case strings.HasPrefix(section, "Public"), strings.HasPrefix(section, "Inspect"):
		return "allowed", cmd
	case strings.HasPrefix(section, "Without"):
		return "unauthenticated", cmd
	case strings.HasPrefix(section, "Unknown"):
		return "notfound", cmd
	}
	return "", ""
}

var wordRE = regexp.MustCompile(`[A-Za-z]+$`)

// shortName names a call after its tool and the last word of its target
// (URL or method), e.g. "grpcurl-GetAccount", "curl-transfers".
func shortName(cmd string) string {
	f := strings.Fields(cmd)
	target := f[len(f)-1]
	for _, w := range f[1:] {
		if strings.Contains(w, "://") || strings.Contains(w, "Service/") {
			target = w
		}
	}
	return filepath.Base(f[0]) + "-" + wordRE.FindString(strings.Trim(target, `'"`))
}

// runDemoCall runs one printed command with bash and checks the outcome: for
// curl the HTTP status (appended with -w), for grpcurl the exit status and
// the gRPC code it prints, for anything else the exit status.
func runDemoCall(t *testing.T, env []string, verdict, cmd string) {
	t.Helper()
	isCurl := strings.HasPrefix(cmd, "curl ") && !strings.Contains(cmd, "|")
	line := cmd
	if isCurl {
		line += ` -o /dev/null -w ' HTTP=%{http_code}'`
	}
	c := exec.Command("bash", "-c", line) // the signed call uses process substitution
	c.Env = env
	outb, err := c.CombinedOutput()
	out := string(outb)
	if isCurl {
		code := out[strings.LastIndex(out, "HTTP=")+5:]
		want := map[string][]string{"allowed": {"200"}, "denied": {"401", "403"}, "unauthenticated": {"401"}, "notfound": {"404"},
			"precondition": {"400"}}[verdict] // precondition: allowed, and the bank itself refuses (FailedPrecondition)
		for _, w := range want {
			if code == w {
				return
			}
		}
		t.Errorf("%s\n= HTTP %s (%s), want %v (%s)", cmd, code, out, want, verdict)
		return
	}
	switch verdict {
	case "allowed":
		if err != nil {
			t.Errorf("%s\n= %v:\n%s\nwant success", cmd, err, out)
		}
	case "denied":
		if err == nil || !strings.Contains(out, "PermissionDenied") && !strings.Contains(out, "Unauthenticated") {
			t.Errorf("%s\n= %v:\n%s\nwant PermissionDenied or Unauthenticated", cmd, err, out)
		}
	case "unauthenticated":
		if err == nil || !strings.Contains(out, "Unauthenticated") {
			t.Errorf("%s\n= %v:\n%s\nwant Unauthenticated", cmd, err, out)
		}
	case "precondition":
		if err == nil || !strings.Contains(out, "FailedPrecondition") {
			t.Errorf("%s\n= %v:\n%s\nwant FailedPrecondition from the bank", cmd, err, out)
		}
	default:
		t.Errorf("%s: no expectation %q for a non-curl command", cmd, verdict)
	}
}
