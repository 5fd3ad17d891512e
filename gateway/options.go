package gateway

import (
	"log/slog"

	"google.golang.org/grpc"

	"github.com/portcullis/portcullis/policy"
)

// Option configures a Gateway.
type Option func(*options)

type options struct {
	log     *slog.Logger
	tables  []*policy.Table
	openAPI []byte
	stages  []Stage
}

// Stage is one pair of interceptors placed in the chain's identity and
// policy slots (after method resolution, before the director), in the order
// given. Both fields are required.
//
// The chain reads incoming metadata through policy.IncomingValue and the
// proxy forwards policy.Incoming: a stage that changes the call's incoming
// metadata must store the new map with policy.WithIncoming, not
// metadata.NewIncomingContext, or later stages and the backend keep seeing
// the metadata as it was.
type Stage struct {
	Name   string
	Unary  grpc.UnaryServerInterceptor
	Stream grpc.StreamServerInterceptor
}

func defaultOptions() options {
	return options{log: slog.Default(), tables: policy.Tables()}
}

// WithLogger sets the logger. Default slog.Default().
func WithLogger(l *slog.Logger) Option { return func(o *options) { o.log = l } }

// WithTables sets the compiled policy tables. Default policy.Tables(), every
// table linked into the binary.
func WithTables(t ...*policy.Table) Option { return func(o *options) { o.tables = t } }

// WithOpenAPI sets the OpenAPI document served at /openapi.json on the HTTP
// listener. Default none (404).
func WithOpenAPI(doc []byte) Option { return func(o *options) { o.openAPI = doc } }

// WithStages replaces the authentication slot's deny-by-default gate with
// the given stages (authentication, authorization, rate limit, audit).
func WithStages(s ...Stage) Option { return func(o *options) { o.stages = s } }
