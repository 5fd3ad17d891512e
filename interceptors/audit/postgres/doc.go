// Package postgres is the PostgreSQL sink of the audit log, its migration,
// its verifier and its reader.
//
// Records go to one table (default "portcullis_audit", configurable, may
// be schema-qualified), one COPY per batch, so that a batch is stored
// whole or not at all. Each gateway replica writes its own hash chain
// (the "chain" column; default: the host name), whose seq continues across
// restarts: the sink reads the chain's last row when it connects. The full
// record is kept in the jsonb column "record"; typed columns repeat what
// review queries filter on, and Verify checks that they agree with it.
//
// The table, created by Migrate (New runs it):
//
//	chain             text        NOT NULL  -- the writer's chain name
//	seq               bigint      NOT NULL  -- PRIMARY KEY (chain, seq)
//	time              timestamptz NOT NULL
//	type              text        NOT NULL  -- call, intent, gap
//	request_id        text        NOT NULL
//	trace_id          text        NOT NULL
//	transport         text        NOT NULL
//	method            text        NOT NULL
//	principal_id      text                  -- NULL without a principal
//	principal_kind    text
//	credential_kind   text
//	credential_id     text
//	client_ip         text        NOT NULL
//	allowed           boolean               -- NULL without a decision
//	failed_requirement text
//	bundle_version    text
//	status            text                  -- NULL except for call records
//	duration_us       bigint
//	record            jsonb       NOT NULL  -- the record, as hashed
//	prev_hash         text        NOT NULL
//	hash              text        NOT NULL
//
// with indexes on (time), (principal_id, time), (method, time) and
// (allowed, time). Strings are stored as valid UTF-8 without NUL (U+FFFD
// instead), as in the record.
package postgres
