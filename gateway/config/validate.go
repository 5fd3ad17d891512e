package config

import (
	"crypto/tls"
	"net"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/portcullis/portcullis/gateway/secrets"
	"github.com/portcullis/portcullis/gateway/tlsconfig"
)

// serviceName is a fully qualified proto name: dot-separated identifiers.
var serviceName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$`)

// validator reports problems at key paths, with lines when the Config came
// from a file.
type validator struct {
	src  *source
	errs errorList
}

func (v *validator) add(path, format string, args ...any) {
	line := 0
	if v.src != nil {
		line = v.src.line(path)
	}
	v.errs.add(line, path, format, args...)
}

// Validate checks the whole configuration, including that every referenced
// file exists and that TLS certificates and keys load. Parse and Load call
// it; call it again after changing a Config. It returns all problems found,
// joined with errors.Join.
func (c *Config) Validate() error {
	v := &validator{src: c.src}
	if c.src != nil {
		v.errs.file = c.src.file
	}
	v.listener("listeners.grpc", c.Listeners.GRPC, true)
	v.listener("listeners.http", c.Listeners.HTTP, false)
	v.listener("listeners.admin", c.Listeners.Admin, false)
	v.distinctAddresses(c.Listeners)
	seen := make(map[string]string, len(c.Routes))
	for i := range c.Routes {
		path := index("routes", i)
		v.route(path, &c.Routes[i])
		if s := c.Routes[i].Service; s != "" {
			if prev, dup := seen[s]; dup {
				v.add(path+".service", "duplicate service %q (also in %s)", s, prev)
			} else {
				seen[s] = path
			}
		}
	}
	v.identity(c)
	v.sensitivity(c)
	v.limits(c)
	v.assertion(c)
	v.signatures(c)
	v.tracing(c)
	v.httpsClient("bundle_client", c.BundleClient)
	if c.Identity != nil {
		v.httpsClient("identity.jwks_client", c.Identity.JWKSClient)
	}
	v.secrets(c)
	for i, d := range c.Descriptors {
		path := index("descriptors", i)
		v.file(path+".file", d.File, true)
		v.file(path+".policy", d.Policy, false)
	}
	v.positive("shutdown_timeout", c.ShutdownTimeout)
	v.oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	v.oneOf("log.format", c.Log.Format, "json", "text")
	v.runtime(c.Runtime)
	return v.errs.err()
}

func (v *validator) listener(path string, l *Listener, required bool) {
	if l == nil {
		if required {
			v.add(path, "required")
		}
		return
	}
	host, ok := v.hostPort(path+".address", l.Address, true)
	v.transport(path, l.TLS != nil, l.Plaintext, host, ok)
	if t := l.TLS; t != nil {
		tp := path + ".tls"
		before := len(v.errs.errs)
		v.file(tp+".cert_file", t.CertFile, true)
		v.keyFile(tp+".key_file", t.KeyFile, true)
		v.version(tp+".min_version", t.MinVersion)
		auth, err := tlsconfig.ParseClientAuth(t.ClientAuth)
		switch {
		case err != nil:
			v.add(tp+".client_auth", "invalid value %q: want none, optional or require", t.ClientAuth)
		case auth == tls.NoClientCert && t.ClientCAFile != "":
			v.add(tp+".client_auth", "must be optional or require when client_ca_file is set")
		case auth != tls.NoClientCert && t.ClientCAFile == "":
			v.add(tp+".client_ca_file", "required when client_auth is %s", t.ClientAuth)
		default:
			v.file(tp+".client_ca_file", t.ClientCAFile, false)
		}
		if len(v.errs.errs) == before {
			if _, err := tlsconfig.NewServer(t.Settings()); err != nil {
				v.add(tp, "%w", err)
			}
		}
	}
}

func (v *validator) route(path string, r *Route) {
	if r.Service == "" {
		v.add(path+".service", "required")
	} else if !serviceName.MatchString(r.Service) {
		v.add(path+".service", "invalid service name %q: want a fully qualified proto name such as \"bank.v1.Accounts\"", r.Service)
	}
	host, ok := v.hostPort(path+".backend", r.Backend, false)
	v.transport(path, r.TLS != nil, r.Plaintext, host, ok)
	if t := r.TLS; t != nil {
		tp := path + ".tls"
		before := len(v.errs.errs)
		v.file(tp+".ca_file", t.CAFile, false)
		switch {
		case t.CertFile != "" && t.KeyFile == "":
			v.add(tp+".key_file", "required when cert_file is set")
		case t.CertFile == "" && t.KeyFile != "":
			v.add(tp+".cert_file", "required when key_file is set")
		default:
			v.file(tp+".cert_file", t.CertFile, false)
			v.keyFile(tp+".key_file", t.KeyFile, false)
		}
		v.version(tp+".min_version", t.MinVersion)
		if len(v.errs.errs) == before {
			if _, err := tlsconfig.NewClient(t.Settings()); err != nil {
				v.add(tp, "%w", err)
			}
		}
	}
	v.positive(path+".connect_timeout", r.ConnectTimeout)
	v.positive(path+".timeout", r.Timeout)
	v.size(path+".max_request_bytes", r.MaxRequestBytes)
	v.size(path+".max_response_bytes", r.MaxResponseBytes)
}

// transport checks that exactly one of tls and plaintext is chosen, and
// plaintext only on loopback.
func (v *validator) transport(path string, hasTLS, plaintext bool, host string, hostOK bool) {
	switch {
	case hasTLS && plaintext:
		v.add(path+".plaintext", "not allowed together with tls")
	case !hasTLS && !plaintext:
		v.add(path, "set tls, or plaintext: true on a loopback address")
	case plaintext && hostOK && !loopback(host):
		v.add(path+".plaintext", "only allowed on a loopback address (127.0.0.0/8, ::1 or localhost), not %q", host)
	}
}

// hostPort checks a host:port and returns the host. A listener may leave
// the host empty (all interfaces) and use port 0 (any free port).
func (v *validator) hostPort(path, addr string, listen bool) (string, bool) {
	if addr == "" {
		v.add(path, "required")
		return "", false
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		v.add(path, "invalid address %q: want host:port", addr)
		return "", false
	}
	p, err := strconv.ParseUint(port, 10, 16)
	switch {
	case err != nil:
		v.add(path, "invalid port %q in %q: want a number", port, addr)
		return "", false
	case !listen && (host == "" || p == 0):
		v.add(path, "invalid address %q: want host:port with a host and a non-zero port", addr)
		return "", false
	}
	return host, true
}

func loopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func (v *validator) distinctAddresses(ls Listeners) {
	used := map[string]string{}
	for _, l := range []struct {
		path string
		l    *Listener
	}{{"listeners.grpc", ls.GRPC}, {"listeners.http", ls.HTTP}, {"listeners.admin", ls.Admin}} {
		if l.l == nil || l.l.Address == "" {
			continue
		}
		if _, port, err := net.SplitHostPort(l.l.Address); err == nil && port == "0" {
			continue // each port 0 listener gets its own port
		}
		if prev, dup := used[l.l.Address]; dup {
			v.add(l.path+".address", "%q is already used by %s", l.l.Address, prev)
			continue
		}
		used[l.l.Address] = l.path
	}
}

// file checks that a referenced file exists and is not a directory.
func (v *validator) file(path, name string, required bool) {
	if name == "" {
		if required {
			v.add(path, "required")
		}
		return
	}
	st, err := os.Stat(name)
	switch {
	case err != nil:
		v.add(path, "%w", err)
	case !st.Mode().IsRegular():
		v.add(path, "%s is not a regular file", name)
	}
}

// keyFile is file for a private key: it must also be readable by its
// owner only (mode 0600 or stricter), as file: secrets must.
func (v *validator) keyFile(path, name string, required bool) {
	v.file(path, name, required)
	if name == "" {
		return
	}
	if st, err := os.Stat(name); err == nil && st.Mode().IsRegular() {
		if _, err := secrets.ReadFile(name); err != nil {
			v.add(path, "%s", strings.TrimPrefix(err.Error(), "secrets: "))
		}
	}
}

func (v *validator) version(path, s string) {
	if _, err := tlsconfig.ParseVersion(s); err != nil {
		v.add(path, "invalid value %q: want \"1.2\" or \"1.3\"", s)
	}
}

func (v *validator) positive(path string, d time.Duration) {
	if d <= 0 {
		v.add(path, "must be > 0, got %v", d)
	}
}

func (v *validator) size(path string, n int64) {
	if n < 1 || n > MaxMessageBytes {
		v.add(path, "%d out of range: want 1 to %d (64 MiB)", n, MaxMessageBytes)
	}
}

func (v *validator) oneOf(path, s string, allowed ...string) {
	for _, a := range allowed {
		if s == a {
			return
		}
	}
	v.add(path, "invalid value %q: want %s or %s", s, strings.Join(allowed[:len(allowed)-1], ", "), allowed[len(allowed)-1])
}

func (v *validator) runtime(r Runtime) {
	switch {
	case r.GCPercent == -1 && r.MemoryLimitBytes == 0 && os.Getenv("GOMEMLIMIT") == "":
		v.add("runtime.gc_percent", "-1 (collector off) needs runtime.memory_limit_bytes (or GOMEMLIMIT), or the heap grows without bound")
	case r.GCPercent != 0 && r.GCPercent != -1 && (r.GCPercent < 25 || r.GCPercent > 10000):
		v.add("runtime.gc_percent", "must be 0 (default), -1 (off, with a memory limit) or 25..10000, got %d", r.GCPercent)
	}
	if r.MemoryLimitBytes != 0 && r.MemoryLimitBytes < 16<<20 {
		v.add("runtime.memory_limit_bytes", "must be 0 (none) or at least 16 MiB (16777216), got %d", r.MemoryLimitBytes)
	}
	switch b := r.GCMinHeapBytes; {
	case b != 0 && b != -1 && (b < 4<<20 || b > 16<<30):
		v.add("runtime.gc_min_heap_bytes", "must be 0 (default), -1 (none) or 4 MiB..16 GiB (4194304..17179869184), got %d", b)
	case b > 0 && r.MemoryLimitBytes > 0 && b > r.MemoryLimitBytes/2:
		v.add("runtime.gc_min_heap_bytes", "must be at most half of runtime.memory_limit_bytes (%d), got %d", r.MemoryLimitBytes, b)
	}
}
