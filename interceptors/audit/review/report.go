package review

import "time"

// Unauthenticated is the principal of denied calls made without one.
const Unauthenticated = "(unauthenticated)"

// Report is an access review of one window. Lists are sorted, so that
// equal logs give equal reports.
type Report struct {
	// Since and Until bound the window; Until is the newest record's time
	// (Since when there is none).
	Since time.Time `json:"since"`
	Until time.Time `json:"until"`
	// Bundle is the reviewed bundle's version.
	Bundle string `json:"bundle"`
	// Calls counts the call records in the window; Denied those refused by
	// authentication or authorization.
	Calls  int `json:"calls"`
	Denied int `json:"denied"`
	// Roles has one entry per role of the bundle.
	Roles []Role `json:"roles"`
	// Principals has every principal seen in the window or bound in the
	// bundle by id (users, services, API key owners).
	Principals []Principal `json:"principals"`
	// DeniedAttempts groups denied calls by principal and method.
	DeniedAttempts []Denied `json:"denied_attempts"`
	// MethodsNeverCalled are the registry's methods without any call.
	MethodsNeverCalled []string `json:"methods_never_called"`
	// UnusedCredentials are the bundle's API keys never used.
	UnusedCredentials []Credential `json:"unused_credentials"`
}

// Role is the review of one role.
type Role struct {
	Name string `json:"name"`
	// Permissions is how many permissions the role grants.
	Permissions int `json:"permissions"`
	// Calls counts allowed calls that the role granted.
	Calls int `json:"calls"`
	// Unused are the role's permissions that it never granted to a call.
	Unused []string `json:"unused"`
	// Sensitive are the sensitive permissions among Unused.
	Sensitive []string `json:"sensitive,omitempty"`
}

// Exercised reports whether the role granted any call.
func (r *Role) Exercised() bool { return r.Calls > 0 }

// Principal is the review of one principal.
type Principal struct {
	ID   string `json:"id"`
	Kind string `json:"kind,omitempty"`
	// Calls and Denied count the principal's calls in the window.
	Calls  int `json:"calls"`
	Denied int `json:"denied"`
	// LastSeen is the time of its last call (zero: none).
	LastSeen time.Time `json:"last_seen,omitzero"`
	// Roles it held in the window (or is bound to, when never seen).
	Roles []string `json:"roles"`
	// Granted is how many permissions it held: its effective permissions
	// in the window, or its roles' when never seen.
	Granted int `json:"granted"`
	// Unused are granted permissions it never used; Sensitive those of
	// them that are sensitive.
	Unused    []string `json:"unused"`
	Sensitive []string `json:"sensitive,omitempty"`
}

// Denied is a group of denied calls of one principal to one method.
type Denied struct {
	Principal string `json:"principal"`
	Method    string `json:"method"`
	Count     int    `json:"count"`
	// Failed are the distinct failed requirements ("authentication" when
	// authentication refused the call).
	Failed []string  `json:"failed"`
	First  time.Time `json:"first"`
	Last   time.Time `json:"last"`
}

// Credential is an API key of the bundle.
type Credential struct {
	ID        string    `json:"id"`
	Principal string    `json:"principal"`
	Disabled  bool      `json:"disabled,omitempty"`
	ExpiresAt time.Time `json:"expires_at,omitzero"`
}
