// Package secrets keeps secrets out of the gateway's config: every
// secret-bearing setting (signing keys, client certificate keys for JWKS
// over HTTPS, Redis and PostgreSQL passwords, HMAC keys) holds a
// reference, resolved at start-up and kept fresh afterwards:
//
//	env:NAME                  the environment variable NAME
//	file:PATH                 the file PATH (mode 0600 or stricter)
//	vault:MOUNT/PATH#FIELD    field FIELD of HashiCorp Vault KV v2 secret PATH
//
// The config loader calls CheckLiteral on each such setting, so that a
// secret written out in the config is refused with a message that says
// how to reference it:
//
//	redis.password: a literal secret is not allowed; use env:NAME, file:PATH or vault:PATH#FIELD
//
// and resolves the references with a Resolver:
//
//	r, err := secrets.New(secrets.Config{Vault: &secrets.VaultConfig{
//		Address:  "https://vault.internal:8200",
//		RoleID:   "portcullis",
//		SecretID: "file:/run/secrets/vault-secret-id",
//	}})
//	...
//	defer r.Close()
//	pw, err := r.Resolve(ctx, cfg.Redis.Password) // "vault:secret/portcullis/redis#password"
//	...
//	redis.NewClient(&redis.Options{CredentialsProvider: func() (string, string) {
//		return "", pw.Value() // the current value, refreshed in the background
//	}})
//
// # Files
//
// A secret file is refused unless only its owner may access it (no mode
// bit in 0o077; the error says "chmod 600 PATH"), it is a regular file, and
// it is at most 1 MiB. Symbolic links are followed (Kubernetes secret
// volumes are links; give them defaultMode 0400) and the final file is
// checked, on the opened file itself. One trailing newline is dropped.
// File secrets are re-read every Config.FileRefreshInterval.
//
// # Vault
//
// vault: references use the official github.com/hashicorp/vault/api
// client, with a token (VaultConfig.Token, by default env:VAULT_TOKEN; a
// file: reference suits a Vault Agent sink) or AppRole login (RoleID and
// SecretID). The token is renewed at two thirds of its TTL and replaced by
// a new login when renewal fails or nears the token's maximum TTL; a read
// refused with 403 logs in again once. Each secret is re-read at two
// thirds of its lease, or every VaultConfig.RefreshInterval when it has
// none (KV v2 secrets have none). A failed refresh keeps the last value.
//
// # Never shown
//
// A Secret prints, logs and encodes as "[secret]" (fmt with any verb,
// String, GoString, slog, encoding/json, encoding.TextMarshaler); only
// Value returns it. Errors and log records name the reference
// (Secret.Ref), never a value, and CheckLiteral never quotes the literal
// it refuses.
package secrets
