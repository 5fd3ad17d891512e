package policy

import (
	"fmt"
	"sort"
	"sync"
)

// Permission is one entry of the permission catalog.
type Permission struct {
	Name        string
	Description string
	Sensitive   bool
	Internal    bool
	// File is the proto file that declares it.
	File string
}

// Service describes one proto service in a generated table.
type Service struct {
	// Name is the full proto service name, "pkg.Service".
	Name string
	// HTTP reports whether the service has google.api.http bindings and a
	// generated grpc-gateway handler.
	HTTP bool
	// RegisterHTTP registers the service's grpc-gateway handlers. It holds a
	//
	//	func(context.Context, *runtime.ServeMux, grpc.ClientConnInterface) error
	//
	// typed as any so that this package stays free of transport imports;
	// the gateway asserts the type. Nil when HTTP is false.
	RegisterHTTP any
}

// Table is the generated policy of one proto file.
type Table struct {
	// File is the proto source path, e.g. "examples/bank/v1/bank.proto".
	File string
	// Permissions declared by this file's catalog, sorted by name.
	Permissions []Permission
	// Services defined in this file, sorted by name.
	Services []Service
	// Methods of this file's services, sorted by FullMethod.
	Methods []Method
}

var (
	tablesMu sync.Mutex
	tables   []*Table
)

// Register adds a generated table to the process-wide list returned by
// Tables. Generated code calls it from init; it panics on a duplicate file,
// like the protobuf registry.
func Register(t *Table) {
	tablesMu.Lock()
	defer tablesMu.Unlock()
	for _, o := range tables {
		if o.File == t.File {
			panic(fmt.Sprintf("policy: table for %q registered twice", t.File))
		}
	}
	tables = append(tables, t)
}

// Tables returns every registered table, sorted by file.
func Tables() []*Table {
	tablesMu.Lock()
	defer tablesMu.Unlock()
	out := append([]*Table(nil), tables...)
	sort.Slice(out, func(i, j int) bool { return out[i].File < out[j].File })
	return out
}
