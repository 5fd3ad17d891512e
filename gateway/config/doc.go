// Package config reads the gateway's YAML configuration, the file given to
// `portcullis serve --config FILE`, into typed structs and validates all of
// it before anything listens.
//
// Parsing is strict: an unknown key, a value of the wrong type, a bad
// duration, an unsupported enum value, a missing required key or an unsafe
// combination (plaintext on a non-loopback address) is an error. Every error
// is an *Error naming the file, the line and the key path, and Load and Parse
// report all problems they find at once (joined with errors.Join):
//
//	config: gateway.yaml:12: listeners.grpc.adress: unknown field (did you mean "address"?)
//	config: gateway.yaml:7: routes[0].connect_timeout: invalid duration "5 sec"
//
// Secret-bearing settings (rate_limits.redis.password,
// audit.postgres.password, assertion.key, secrets.vault.token and
// secrets.vault.secret_id) hold a reference, env:NAME, file:PATH or
// vault:MOUNT/PATH#FIELD (see gateway/secrets and the secrets block); a
// secret written out is an error that never quotes it, as is a password
// inside audit.postgres.dsn:
//
//	config: gateway.yaml:14: rate_limits.redis.password: a literal secret is not allowed; use env:NAME, file:PATH or vault:PATH#FIELD
//
// Relative file paths (file: references included) are resolved against the directory of the
// configuration file. Omitted keys take the defaults documented on each
// field; a key present with an empty (null) value also takes its default.
// docs/configuration.md documents every key.
//
// YAML handling: the document is parsed with github.com/goccy/go-yaml, whose
// parser supplies positions and rejects syntax errors and duplicate keys. The
// typed decoding is done here, walking the syntax tree against the Go types,
// rather than with go-yaml's Strict decoder: as of v1.19.2 that decoder
// reports duration errors without a position, names Go types instead of key
// paths ("cannot unmarshal string into Go struct field Listener.Plaintext of
// type bool"), picks one of several unknown keys at random, and silently
// truncates 1.5 into an integer field. YAML anchors and aliases are
// supported; tags and merge keys (<<) are not. Top-level keys starting with
// "x-" are ignored, so they can hold anchors for reuse.
package config
