package bundlecli

import (
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"

	"github.com/portcullis/portcullis/policy"
)

// now is the clock of the audit window and API key expiry; tests pin it.
var now = time.Now

// parseInterleaved parses flags that may come before, between or after
// the positional arguments (`policy diff OLD NEW --json`), which
// flag.FlagSet alone does not allow. It returns the positional arguments.
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		rest := fs.Args()
		if len(rest) == 0 {
			return pos, nil
		}
		if rest[0] == "--" {
			return append(pos, rest[1:]...), nil
		}
		pos = append(pos, rest[0])
		args = rest[1:]
	}
}

// printer writes formatted output and keeps the first write error, so
// that a report is a list of calls with one error check at the end.
type printer struct {
	w   io.Writer
	err error
}

func (p *printer) f(format string, args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintf(p.w, format, args...)
	}
}

func (p *printer) ln(args ...any) {
	if p.err == nil {
		_, p.err = fmt.Fprintln(p.w, args...)
	}
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// locator turns YAML paths ("$.cases[2].method") into "file:line" for
// error messages.
type locator struct {
	name string
	tree *ast.File
}

func newLocator(name string, data []byte) *locator {
	tree, _ := parser.ParseBytes(data, 0)
	return &locator{name: name, tree: tree}
}

// at returns "file:line" for path, or "file" when the line is unknown.
func (l *locator) at(path string) string {
	if l.tree != nil {
		if p, err := yaml.PathString(path); err == nil {
			if n, err := p.FilterFile(l.tree); err == nil && n != nil && n.GetToken() != nil {
				return fmt.Sprintf("%s:%d", l.name, n.GetToken().Position.Line)
			}
		}
	}
	return l.name
}

// errorf formats a problem at path: "file:line: item: message".
func (l *locator) errorf(path, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %s", l.at(path), strings.TrimPrefix(path, "$."), fmt.Sprintf(format, args...))
}

// PolicyLoader returns the policy the tools evaluate: the one a gateway
// with the configuration at path enforces ("": no configuration, the
// compiled-in policy with the built-in class defaults). The command line
// passes gateway.EffectivePolicy over config.Load.
type PolicyLoader func(path string) (*policy.Registry, error)

// ConfigFlag defines --config, the path a PolicyLoader takes, on fs; the
// policy commands outside this package (show) use it too.
func ConfigFlag(fs *flag.FlagSet) *string {
	return fs.String("config", "", "gateway configuration `FILE` whose descriptor sets and sensitivity classes apply, as the gateway applies them (default: none; the restricted class's default still applies)")
}
