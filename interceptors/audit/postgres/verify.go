package postgres

import (
	"context"
	"encoding/hex"
	"fmt"
	"iter"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/portcullis/portcullis/interceptors/audit"
)

// Verify checks every chain of the table: seqs from 1 without gaps, each
// prev_hash the previous hash, each record's hash, and the typed columns
// against the record. It stops at the first broken link; a Break's File
// is "<table>#<chain>" and its Line the row's seq. Records counts the rows
// verified; Segments the chains. The error is for failed queries.
func Verify(ctx context.Context, conn *pgx.Conn, name string) (audit.Report, error) {
	var r audit.Report
	t, err := parseTable(name)
	if err != nil {
		return r, err
	}
	rows, err := conn.Query(ctx, `SELECT DISTINCT chain FROM `+t.sql()+` ORDER BY chain`)
	if err != nil {
		return r, fmt.Errorf("postgres: verify %s: %w", t.sql(), err)
	}
	chains, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return r, fmt.Errorf("postgres: verify %s: %w", t.sql(), err)
	}
	for _, chain := range chains {
		r.Segments++
		if err := verifyChain(ctx, conn, t, chain, &r); err != nil || r.Broken != nil {
			return r, err
		}
	}
	return r, nil
}

func verifyChain(ctx context.Context, conn *pgx.Conn, t table, chain string, r *audit.Report) error {
	rows, err := conn.Query(ctx, `SELECT seq, record::text, type, request_id, method, principal_id, allowed, status, prev_hash, hash
		FROM `+t.sql()+` WHERE chain = $1 ORDER BY seq`, chain)
	if err != nil {
		return fmt.Errorf("postgres: verify %s: %w", t.sql(), err)
	}
	defer rows.Close()
	where := t.sql() + "#" + chain
	var prev [32]byte
	expect := uint64(1)
	for rows.Next() {
		var (
			seq                        int64
			record, typ, reqID, method string
			principal, status          *string
			allowed                    *bool
			prevCol, hashCol           string
		)
		if err := rows.Scan(&seq, &record, &typ, &reqID, &method, &principal, &allowed, &status, &prevCol, &hashCol); err != nil {
			return fmt.Errorf("postgres: verify %s: %w", t.sql(), err)
		}
		brk := func(why audit.Reason, format string, args ...any) {
			r.Broken = &audit.Break{Position: audit.Position{File: where, Line: int(seq)}, Seq: uint64(seq),
				Reason: why, Detail: fmt.Sprintf(format, args...)}
		}
		l, err := audit.ParseLink([]byte(record))
		switch {
		case err != nil:
			brk(audit.ReasonMalformed, "%v", err)
		case !l.Valid:
			brk(audit.ReasonHashMismatch, "record does not match its hash")
		case l.Seq != uint64(seq):
			brk(audit.ReasonHashMismatch, "seq column %d, record says %d", seq, l.Seq)
		case uint64(seq) > expect:
			brk(audit.ReasonSeqGap, "expected seq %d: %d row(s) missing", expect, uint64(seq)-expect)
		case l.Prev != prev && expect > 1:
			brk(audit.ReasonBrokenLink, "prev_hash does not match the previous row (modified and re-hashed?)")
		case expect == 1 && l.Prev != [32]byte{}:
			brk(audit.ReasonBrokenLink, "first row does not start the chain")
		case prevCol != hex.EncodeToString(l.Prev[:]) || hashCol != hex.EncodeToString(l.Hash[:]):
			brk(audit.ReasonHashMismatch, "prev_hash or hash column differs from the record")
		default:
			if col := mismatch(record, typ, reqID, method, principal, allowed, status); col != "" {
				brk(audit.ReasonHashMismatch, "column %s differs from the record", col)
			}
		}
		if r.Broken != nil {
			return nil
		}
		r.Records++
		prev = l.Hash
		expect++
	}
	return rows.Err()
}

// mismatch names the first typed column that disagrees with the record.
func mismatch(record, typ, reqID, method string, principal *string, allowed *bool, status *string) string {
	e, err := audit.DecodeEvent([]byte(record))
	if err != nil {
		return "record"
	}
	switch {
	case typ != e.Type:
		return "type"
	case reqID != clean(e.RequestID):
		return "request_id"
	case method != clean(e.Method):
		return "method"
	case (principal == nil) != (e.Principal.ID == "" && e.Principal.Kind == "") || (principal != nil && *principal != clean(e.Principal.ID)):
		return "principal_id"
	case (allowed == nil) == (e.Decision.Reason != "" || e.Decision.BundleVersion != "" || e.Decision.Allowed) ||
		(allowed != nil && *allowed != e.Decision.Allowed):
		return "allowed"
	case (status == nil) != (e.Type != audit.TypeCall) || (status != nil && *status != clean(e.Status.Code)):
		return "status"
	}
	return ""
}

// Read yields the call records of the table from since on, in time order,
// for reviews. At the first error it yields (nil, err) and stops.
func Read(ctx context.Context, conn *pgx.Conn, name string, since time.Time) iter.Seq2[*audit.Event, error] {
	return func(yield func(*audit.Event, error) bool) {
		t, err := parseTable(name)
		if err != nil {
			yield(nil, err)
			return
		}
		rows, err := conn.Query(ctx, `SELECT record::text FROM `+t.sql()+` WHERE type = 'call' AND time >= $1 ORDER BY time, chain, seq`, since)
		if err != nil {
			yield(nil, fmt.Errorf("postgres: read %s: %w", t.sql(), err))
			return
		}
		defer rows.Close()
		for rows.Next() {
			var rec string
			if err := rows.Scan(&rec); err != nil {
				yield(nil, fmt.Errorf("postgres: read %s: %w", t.sql(), err))
				return
			}
			e, err := audit.DecodeEvent([]byte(rec))
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(e, nil) {
				return
			}
		}
		if err := rows.Err(); err != nil {
			yield(nil, fmt.Errorf("postgres: read %s: %w", t.sql(), err))
		}
	}
}
