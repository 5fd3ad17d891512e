# Portcullis. `make help` lists the targets. Every tool is pinned: buf in
# tools/go.mod, the protoc plugins as `tool` lines in go.mod, the rest below.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO        ?= go
BUF       := $(GO) tool -modfile=tools/go.mod buf
BIN       := $(CURDIR)/bin
export PATH := $(BIN):$(PATH)

GRPCURL_VERSION := v1.9.3
GOLANGCI_VERSION := v2.15.0

.PHONY: help
help: ## List the targets.
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z0-9_-]+:.*## / {printf "  %-16s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: thirdparty
thirdparty: ## Copy third-party proto files (google/api) from Go modules into third_party/ (git-ignored).
	./scripts/thirdparty.sh

.PHONY: generate
generate: thirdparty ## Regenerate gen/ from proto/ (buf lint, format check, all plugins).
	$(BUF) lint
	$(BUF) format proto --diff --exit-code
	rm -rf gen
	$(BUF) generate --template buf.gen.bootstrap.yaml
	$(GO) build -o $(BIN)/protoc-gen-portcullis ./policygen/cmd/protoc-gen-portcullis
	$(BUF) generate

.PHONY: checkgenerate
checkgenerate: generate ## Fail when gen/ differs from what `make generate` produces.
	@if [ -n "$$(git status --porcelain --untracked-files=all -- gen)" ]; then \
		echo "checkgenerate: gen/ is out of date; run 'make generate' and commit:"; \
		git status --porcelain --untracked-files=all -- gen; git --no-pager diff --stat -- gen; exit 1; \
	fi
	@echo "checkgenerate: gen/ is up to date"

.PHONY: build
build: ## Build the portcullis binary and the demo backend into bin/.
	$(GO) build -o $(BIN)/ ./cmd/portcullis ./examples/bank/cmd/bank-backend

.PHONY: tools
tools: ## Install the test clients (grpcurl) into bin/.
	@[ -x $(BIN)/grpcurl ] || GOBIN=$(BIN) $(GO) install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)

.PHONY: lint
lint: ## Run go vet and golangci-lint.
	$(GO) vet ./...
	@[ -x $(BIN)/golangci-lint ] || GOBIN=$(BIN) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_VERSION)
	$(BIN)/golangci-lint run ./...

# Packages with lock-free code whose *Concurrent* tests also run without -race.
STRESS_PKGS ?= ./interceptors/ratelimit

.PHONY: test
test: checkgenerate build tools ## Check gen/, then run every test (race detector on).
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 20m ./...
	@# Interleaving tests of lock-free code once more without the race
	@# detector: at full speed they try ~15x more interleavings.
	$(GO) test -count=1 -timeout 5m -run 'Concurrent' $(STRESS_PKGS)

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each (default 10s).
	./scripts/fuzz.sh

.PHONY: bench
bench: ## Run the Go micro-benchmarks (allocations reported).
	$(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

BENCH_PEERS ?= haproxy,nginx,caddy
BENCH_FLAGS ?=

.PHONY: bench-e2e
bench-e2e: ## Side-by-side benchmark: direct, floor, gateway gRPC/REST, HAProxy, nginx, Caddy (writes bench/results/latest.md).
	./bench/run.sh --peers=$(BENCH_PEERS) $(BENCH_FLAGS)

.PHONY: demo
demo: build ## Start the gateway and the bank demo backend with embedded defaults.
	$(BIN)/portcullis demo

.PHONY: clean
clean: ## Remove build output and third-party copies.
	rm -rf $(BIN) third_party
