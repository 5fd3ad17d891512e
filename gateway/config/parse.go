package config

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// maxFileBytes bounds the size of a configuration file.
const maxFileBytes = 1 << 20

// Load reads, parses and validates the configuration file at path. Errors
// name path as given.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer func() { _ = f.Close() }() // read-only
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("config: read %s: %w", path, err)
	}
	if len(data) > maxFileBytes {
		return nil, &Error{File: path, Err: fmt.Errorf("larger than %d bytes", maxFileBytes)}
	}
	return Parse(path, data)
}

// Parse parses and validates a configuration document. name is used in
// error messages, and relative paths in the document are resolved against
// filepath.Dir(name). Omitted keys get their defaults, and tls.server_name of
// a route defaults to the host of its backend.
func Parse(name string, data []byte) (*Config, error) {
	errs := &errorList{file: name}
	body, err := parseDocument(data)
	if err != nil {
		var ye yaml.Error
		if errors.As(err, &ye) && ye.GetToken() != nil && ye.GetToken().Position != nil {
			errs.add(ye.GetToken().Position.Line, "", "syntax error: %s", ye.GetMessage())
		} else {
			errs.add(0, "", "%w", err)
		}
		return nil, errs.err()
	}
	cfg := &Config{src: &source{file: name, lines: map[string]int{}}}
	cfg.setDefaults()
	d := &decoder{errs: errs, lines: cfg.src.lines, anchors: map[string]ast.Node{}}
	d.decode(body, reflect.ValueOf(cfg).Elem(), "")
	if err := errs.err(); err != nil {
		return nil, err
	}
	cfg.resolve(filepath.Dir(name))
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	return cfg, nil
}

// parseDocument returns the body of the only document in data (nil if
// empty). go-yaml does not panic on valid input, but a configuration loader
// should not crash the process on a malformed file either, so a panic in the
// parser becomes an error.
func parseDocument(data []byte) (body ast.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml parser failed: %v", r)
		}
	}()
	file, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, err
	}
	for _, doc := range file.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, errors.New("only one YAML document is allowed")
		}
		body = doc.Body
	}
	return body, nil
}

// resolve makes relative file paths relative to dir and fills
// tls.server_name of routes from their backend.
func (c *Config) resolve(dir string) {
	abs := func(p *string) {
		if *p != "" && !filepath.IsAbs(*p) {
			*p = filepath.Join(dir, *p)
		}
	}
	for _, l := range []*Listener{c.Listeners.GRPC, c.Listeners.HTTP, c.Listeners.Admin} {
		if l != nil && l.TLS != nil {
			abs(&l.TLS.CertFile)
			abs(&l.TLS.KeyFile)
			abs(&l.TLS.ClientCAFile)
		}
	}
	for i := range c.Routes {
		t := c.Routes[i].TLS
		if t == nil {
			continue
		}
		abs(&t.CAFile)
		abs(&t.CertFile)
		abs(&t.KeyFile)
		if host, _, err := net.SplitHostPort(c.Routes[i].Backend); err == nil && t.ServerName == "" {
			t.ServerName = host
		}
	}
	for i := range c.Descriptors {
		abs(&c.Descriptors[i].File)
		abs(&c.Descriptors[i].Policy)
	}
	abs(&c.Bundle)
	abs(&c.BundleDir)
	for i := range c.BundleTrustedKeys {
		abs(&c.BundleTrustedKeys[i])
	}
	if c.Assertion != nil {
		abs(&c.Assertion.KeyFile)
	}
	if c.Audit != nil && c.Audit.File != nil {
		abs(&c.Audit.File.Dir)
	}
	for _, hc := range []*HTTPSClient{c.BundleClient, c.jwksClient()} {
		if hc != nil {
			abs(&hc.CAFile)
			abs(&hc.CertFile)
		}
	}
	if c.Identity != nil {
		for i := range c.Identity.Issuers {
			abs(&c.Identity.Issuers[i].JWKSFile)
		}
	}
	c.resolveSecretPaths(dir)
}
