package devcerts

import (
	"fmt"
	"time"
)

// Option configures Generate.
type Option func(*options)

type options struct {
	clients  []string
	hosts    []string
	validity time.Duration
	force    bool
}

// defaultClients are the demo personas created when WithClients is not given.
var defaultClients = []string{"user/teller", "svc/ledger"}

func defaultOptions() options {
	return options{
		clients:  defaultClients,
		validity: 30 * 24 * time.Hour,
	}
}

// WithClients sets the demo client certificates to create. Each name is a
// SPIFFE path below spiffe://portcullis.local/, such as "user/teller" or
// "svc/ledger"; its certificate carries that SPIFFE ID as its only URI SAN and
// is written to client-<last segment>.pem and client-<last segment>-key.pem.
// Last segments must be unique. The default is "user/teller" and "svc/ledger".
// WithClients() with no names creates no persona certificates.
func WithClients(names ...string) Option {
	return func(o *options) { o.clients = append([]string(nil), names...) }
}

// WithHosts adds DNS names or IP addresses to the subject alternative names
// of the gateway and backend server certificates, next to the default
// localhost, 127.0.0.1 and ::1 (for example a container host name).
func WithHosts(hosts ...string) Option {
	return func(o *options) { o.hosts = append(o.hosts, hosts...) }
}

// WithValidity sets how long new certificates are valid. The default is 30
// days. Existing certificates with less than a third of it left are renewed.
func WithValidity(d time.Duration) Option {
	return func(o *options) { o.validity = d }
}

// WithForce regenerates every file, even those that are present and valid.
// By default Generate keeps valid files and only replaces what is missing,
// invalid or close to expiry.
func WithForce() Option {
	return func(o *options) { o.force = true }
}

func (o *options) validate() error {
	if o.validity < time.Hour {
		return fmt.Errorf("devcerts: validity %v is shorter than one hour", o.validity)
	}
	seen := make(map[string]string, len(o.clients))
	for _, name := range o.clients {
		if err := checkSPIFFEPath(name); err != nil {
			return fmt.Errorf("devcerts: client %q: %w", name, err)
		}
		base := lastSegment(name)
		if prev, ok := seen[base]; ok {
			return fmt.Errorf("devcerts: clients %q and %q would share file client-%s.pem", prev, name, base)
		}
		seen[base] = name
	}
	for _, h := range o.hosts {
		if h == "" {
			return fmt.Errorf("devcerts: empty host name")
		}
	}
	return nil
}
