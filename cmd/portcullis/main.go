// Command portcullis is the Portcullis gateway.
//
//	portcullis serve --config FILE     run the gateway
//	portcullis demo                    run the gateway and the bank demo backend
//	portcullis dev certs DIR           create a local development CA and certificates
//	portcullis policy …                inspect, test, diff and sign policy
//	portcullis audit verify|review     check and review the audit log
//	portcullis version                 print the version
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/signal"
	"syscall"

	"github.com/portcullis/portcullis"
	"github.com/portcullis/portcullis/gateway"
	"github.com/portcullis/portcullis/gateway/config"
	"github.com/portcullis/portcullis/gateway/devcerts"
	_ "github.com/portcullis/portcullis/gen/examples/bank/v1" // compiled-in policy tables
	"github.com/portcullis/portcullis/policygen"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

const usage = `usage: portcullis <command> [flags]

commands:
  serve --config FILE   run the gateway with a YAML configuration
  demo                  run the gateway and the bank demo backend with embedded defaults
  dev certs DIR         create a local CA and certificates for the demo and tests
  dev sign ...          sign one REST request (RFC 9421) for curl -H @FILE
  policy show           list the compiled-in method policies (--method M for one, --json)
  policy catalog        print the JSON permission catalog
  policy explain|validate|test|diff|sign|keygen|hash-key   policy tooling (docs/bundle.md)
  audit verify FILE...  check the audit log's hash chains
  audit review          unused permissions, unexercised roles, denied attempts (docs/audit.md)
  version               print the version
`

func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch args[0] {
	case "serve":
		return runServe(args[1:], stderr)
	case "demo":
		return runDemo(args[1:], stdout, stderr)
	case "dev":
		return runDev(args[1:], stdout, stderr)
	case "policy":
		return runPolicy(args[1:], stdout, stderr)
	case "audit":
		return runAudit(args[1:], stdout, stderr)
	case "version", "--version":
		fmt.Fprintln(stdout, "portcullis", policygen.Version)
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "portcullis: unknown command %q\n\n%s", args[0], usage)
	return 2
}

func runServe(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "YAML configuration file (required)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "portcullis serve: --config FILE is required")
		return 2
	}
	cfg, err := config.Load(*path)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	log := newLogger(cfg.Log, stderr)
	gw, err := gateway.New(cfg, gateway.WithLogger(log), gateway.WithOpenAPI(portcullis.OpenAPI))
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	applyRuntime(cfg.Runtime, log)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := gw.Run(ctx); err != nil {
		log.Error("gateway stopped with an error", "err", err)
		return 1
	}
	return 0
}

// applyRuntime applies the runtime block (garbage collector target and
// heap floor, memory limit) to this process and logs what is in force.
func applyRuntime(r config.Runtime, log *slog.Logger) {
	s := config.ApplyRuntime(r)
	var limit any = s.MemoryLimit
	if s.MemoryLimit == math.MaxInt64 {
		limit = "none"
	}
	log.Info("go runtime", "gc_percent", s.GCPercent, "memory_limit_bytes", limit, "gc_min_heap_bytes", s.MinHeapBytes)
}

func newLogger(c config.Log, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: c.SlogLevel()}
	if c.Format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func runDev(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 && args[0] == "sign" {
		return runDevSign(args[1:], stdout, stderr)
	}
	if len(args) < 2 || args[0] != "certs" {
		fmt.Fprintln(stderr, "usage: portcullis dev certs [--force] DIR")
		return 2
	}
	fs := flag.NewFlagSet("dev certs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	force := fs.Bool("force", false, "regenerate even if valid files exist")
	if err := fs.Parse(args[1:]); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fmt.Fprintln(stderr, "usage: portcullis dev certs [--force] DIR")
		return 2
	}
	opts := []devcerts.Option{devcerts.WithClients(demoClients...)}
	if *force {
		opts = append(opts, devcerts.WithForce())
	}
	files, err := devcerts.Generate(fs.Arg(0), opts...)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "development certificates in %s (CA: %s)\n", files.Dir, files.CA.Cert)
	return 0
}

// demoClients are the client certificates `dev certs` and `demo` create.
var demoClients = []string{"user/teller", "svc/ledger"}
