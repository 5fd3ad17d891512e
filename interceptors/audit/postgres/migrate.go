package postgres

import (
	"context"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
)

// DefaultTable is the table name used without WithTable.
const DefaultTable = "portcullis_audit"

var identRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// table is a validated, possibly schema-qualified table name.
type table struct {
	ident pgx.Identifier
	base  string // the table name without schema, for index names
}

func parseTable(name string) (table, error) {
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return table{}, fmt.Errorf("postgres: table %q: at most schema.table", name)
	}
	for _, p := range parts {
		if !identRE.MatchString(p) {
			return table{}, fmt.Errorf("postgres: table %q: %q is not a lower-case SQL identifier", name, p)
		}
	}
	return table{ident: pgx.Identifier(parts), base: parts[len(parts)-1]}, nil
}

func (t table) sql() string { return t.ident.Sanitize() }

// Migrate creates the audit table and its indexes if they do not exist.
// It is idempotent and safe to run from several replicas at once (it
// takes a transaction-scoped advisory lock).
func Migrate(ctx context.Context, conn *pgx.Conn, name string) error {
	t, err := parseTable(name)
	if err != nil {
		return err
	}
	return migrate(ctx, conn, t)
}

func migrate(ctx context.Context, conn *pgx.Conn, t table) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate %s: %w", t.sql(), err)
	}
	defer func() { _ = tx.Rollback(ctx) }()
	stmts := []string{
		`SELECT pg_advisory_xact_lock(hashtext('portcullis_audit_migrate:' || $1))`,
		`CREATE TABLE IF NOT EXISTS ` + t.sql() + ` (
			chain              text        NOT NULL,
			seq                bigint      NOT NULL,
			time               timestamptz NOT NULL,
			type               text        NOT NULL,
			request_id         text        NOT NULL,
			trace_id           text        NOT NULL,
			transport          text        NOT NULL,
			method             text        NOT NULL,
			principal_id       text,
			principal_kind     text,
			credential_kind    text,
			credential_id      text,
			client_ip          text        NOT NULL,
			allowed            boolean,
			failed_requirement text,
			bundle_version     text,
			status             text,
			duration_us        bigint,
			record             jsonb       NOT NULL,
			prev_hash          text        NOT NULL,
			hash               text        NOT NULL,
			PRIMARY KEY (chain, seq))`,
		`COMMENT ON TABLE ` + t.sql() + ` IS 'Portcullis audit log, record schema v1 (hash-chained per chain)'`,
		index(t, "time", "time"),
		index(t, "principal_time", "principal_id, time"),
		index(t, "method_time", "method, time"),
		index(t, "allowed_time", "allowed, time"),
	}
	for i, q := range stmts {
		var args []any
		if i == 0 {
			args = []any{t.sql()}
		}
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("postgres: migrate %s: %w", t.sql(), err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: migrate %s: %w", t.sql(), err)
	}
	return nil
}

func index(t table, suffix, cols string) string {
	name := pgx.Identifier{t.base + "_" + suffix + "_idx"}.Sanitize()
	return `CREATE INDEX IF NOT EXISTS ` + name + ` ON ` + t.sql() + ` (` + cols + `)`
}
