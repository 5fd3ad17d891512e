package postgres

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/interceptors/audit"
)

// Option configures New.
type Option func(*options)

type options struct {
	table    string
	chain    string
	timeout  time.Duration
	password func() string
}

// WithTable sets the table ("name" or "schema.name", lower-case SQL
// identifiers). Default (and ""): DefaultTable.
func WithTable(name string) Option { return func(o *options) { o.table = name } }

// WithChain names this writer's hash chain. Every replica writing to the
// same table needs its own. Default (and ""): the host name.
func WithChain(name string) Option { return func(o *options) { o.chain = name } }

// WithPassword sets the password of every connection: password is called
// on each connect and reconnect, so that it can return the current value
// of a rotated secret (see gateway/secrets). It is set on the pgx
// configuration, never spliced into the DSN, and replaces a password the
// DSN, $PGPASSWORD or a .pgpass file gives. Default (and nil): those.
func WithPassword(password func() string) Option { return func(o *options) { o.password = password } }

// WithTimeout bounds each batch (connect, COPY). Default (and 0): 10s.
func WithTimeout(d time.Duration) Option { return func(o *options) { o.timeout = d } }

// Sink is an audit.Sink that COPYs each batch into PostgreSQL. It is used
// by one Logger's writer goroutine and is not safe for concurrent use.
type Sink struct {
	o     options
	dsn   string
	t     table
	conn  *pgx.Conn
	chain audit.Chain
	buf   []byte
	rows  [][]any
}

var columns = []string{"chain", "seq", "time", "type", "request_id", "trace_id", "transport", "method",
	"principal_id", "principal_kind", "credential_kind", "credential_id", "client_ip", "allowed",
	"failed_requirement", "bundle_version", "status", "duration_us", "record", "prev_hash", "hash"}

// New connects to dsn (a PostgreSQL URL or key=value string), runs
// Migrate and reads where this writer's chain ends.
func New(ctx context.Context, dsn string, opts ...Option) (*Sink, error) {
	o := options{table: DefaultTable, timeout: 10 * time.Second}
	for _, opt := range opts {
		opt(&o)
	}
	// Zero values mean the defaults, so that unset config fields can be
	// passed through.
	if o.table == "" {
		o.table = DefaultTable
	}
	if o.timeout == 0 {
		o.timeout = 10 * time.Second
	}
	if o.chain == "" {
		h, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("postgres: chain name: %w", err)
		}
		o.chain = h
	}
	if o.timeout <= 0 {
		return nil, fmt.Errorf("postgres: WithTimeout(%v): must be positive", o.timeout)
	}
	t, err := parseTable(o.table)
	if err != nil {
		return nil, err
	}
	s := &Sink{o: o, dsn: dsn, t: t}
	if err := s.connect(ctx, true); err != nil {
		return nil, err
	}
	return s, nil
}

// Name returns "postgres".
func (s *Sink) Name() string { return "postgres" }

// Chain returns the name of the sink's hash chain.
func (s *Sink) Chain() string { return s.o.chain }

// connect opens the connection, migrates if asked, and loads the chain's
// last row: the database, not memory, says where the chain ends.
func (s *Sink) connect(ctx context.Context, migrateToo bool) error {
	conn, err := Connect(ctx, s.dsn, s.o.password)
	if err != nil {
		return err
	}
	if migrateToo {
		if err := migrate(ctx, conn, s.t); err != nil {
			_ = conn.Close(ctx)
			return err
		}
	}
	var c audit.Chain
	var seq int64
	var h string
	err = conn.QueryRow(ctx, `SELECT seq, hash FROM `+s.t.sql()+` WHERE chain = $1 ORDER BY seq DESC LIMIT 1`, s.o.chain).Scan(&seq, &h)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
	case err != nil:
		_ = conn.Close(ctx)
		return fmt.Errorf("postgres: read chain %q: %w", s.o.chain, err)
	default:
		if _, err := hex.Decode(c.Prev[:], []byte(h)); err != nil || len(h) != 64 {
			_ = conn.Close(ctx)
			return fmt.Errorf("postgres: chain %q: last row has a bad hash %q", s.o.chain, h)
		}
		c.Seq = uint64(seq)
	}
	s.conn, s.chain = conn, c
	return nil
}

// Connect opens one connection to dsn, with the password password returns
// (nil: the DSN's own), as the sink connects (WithPassword): for readers
// such as Read and Verify. pgx's errors do not repeat a password in the
// DSN.
func Connect(ctx context.Context, dsn string, password func() string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if password != nil {
		cfg.Password = password()
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return conn, nil
}

// Write COPYs entries in one statement. On error the connection is
// dropped; the next Write reconnects and continues the chain from the
// database (a batch whose commit was lost in transit is then stored
// twice, under new seqs: at least once, never a broken chain).
func (s *Sink) Write(entries []*audit.Entry) error {
	ctx, cancel := context.WithTimeout(context.Background(), s.o.timeout)
	defer cancel()
	if s.conn == nil {
		if err := s.connect(ctx, false); err != nil {
			return err
		}
	}
	type link struct {
		end        int
		seq        uint64
		prev, hash [32]byte
	}
	c := s.chain
	buf := s.buf[:0]
	links := make([]link, 0, len(entries))
	for _, en := range entries {
		prev := c.Prev
		buf = c.Append(buf, en)
		links = append(links, link{end: len(buf), seq: c.Seq, prev: prev, hash: c.Prev})
	}
	s.buf = buf
	rows := s.rows[:0]
	start := 0
	for i, en := range entries {
		l := links[i]
		rows = append(rows, row(s.o.chain, l.seq, en.Event, json.RawMessage(buf[start:l.end]), l.prev, l.hash))
		start = l.end
	}
	s.rows = rows
	if _, err := s.conn.CopyFrom(ctx, s.t.ident, columns, pgx.CopyFromRows(rows)); err != nil {
		_ = s.conn.Close(context.Background())
		s.conn = nil
		return fmt.Errorf("postgres: copy into %s: %w", s.t.sql(), err)
	}
	s.chain = c
	clear(s.rows)
	return nil
}

func row(chain string, seq uint64, e *audit.Event, record json.RawMessage, prev, hash [32]byte) []any {
	var principalID, principalKind, credKind, credID, failed, bundle, status, duration, allowed any
	if e.Principal.ID != "" || e.Principal.Kind != "" {
		principalID, principalKind = clean(e.Principal.ID), clean(e.Principal.Kind)
	}
	if e.Credential.Kind != "" {
		credKind, credID = clean(e.Credential.Kind), clean(e.Credential.ID)
	}
	if d := e.Decision; d.Reason != "" || d.BundleVersion != "" || d.Allowed {
		allowed, failed, bundle = d.Allowed, clean(d.FailedRequirement), clean(d.BundleVersion)
	}
	if e.Type == audit.TypeCall {
		status, duration = clean(e.Status.Code), e.DurationMicros
	}
	return []any{clean(chain), int64(seq), e.Time, e.Type, clean(e.RequestID), clean(e.TraceID), clean(e.Transport),
		clean(e.Method), principalID, principalKind, credKind, credID, clean(e.ClientIP), allowed, failed, bundle,
		status, duration, record, hex.EncodeToString(prev[:]), hex.EncodeToString(hash[:])}
}

// clean makes s storable in a text column the way the record stores it:
// valid UTF-8, NUL as U+FFFD.
func clean(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// Sync does nothing: a COPY is durable once it returns (with PostgreSQL's
// default synchronous_commit).
func (s *Sink) Sync() error { return nil }

// Close closes the connection.
func (s *Sink) Close() error {
	if s.conn == nil {
		return nil
	}
	err := s.conn.Close(context.Background())
	s.conn = nil
	return err
}
