# The project's commands. Everything they need is installed into .tools/ (git-ignored) on first
# use; runtime state, logs and pid files go to .run/. Prerequisites: a Rust toolchain, Java 17,
# Node 20 + npm, Python 3.11, curl.
#
#   make dev            the service on 127.0.0.1:9000 with every stand-in, until Ctrl-C
#   make test           the whole suite, what CI runs: lints, tests, browser, schemathesis, chaos, fuzz
#   make stack-up       only the stand-ins (STACK=dev by default, or STACK=test)
#   make stack-down     stop them (STACK=dev|test|all)
#   make stack-status   what is running, with pids and ports
#   make tools          install or update the local tools (idempotent)
#   make lint-template  sam validate --lint, cfn-lint and checkov on template.yaml
#   make chaos          fault injection on a stack of its own (SIZE=quick|full); see scripts/chaos.sh
#   make population     10 000 accounts, 1 000 customers checked against the oracle; see scripts/population.sh
#   make fuzz           every fuzz target for FUZZ_SECONDS (600) each; see fuzz/README.md
#   make api-fuzz       schemathesis, long run, against the local API on the test stack (make stack-up STACK=test)
#   make bench          release-build benchmarks on the test stack (the import too); figures in BENCHMARKS.md
#   make bench-import   the billing export's import, twice (ACCOUNTS=20000; test stack up)
#   make build          release arm64 bootstraps of every function in target/lambda/ (docs/deploy.md)
#
# Ports and other settings: scripts/env.sh and local.env.

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

STACK ?= dev
SIZE ?= quick
FUZZ_SECONDS ?= 600

.PHONY: help dev test tools stack-up stack-down stack-status lint-template bench bench-import build chaos population api-fuzz fuzz

help:
	@sed -n 's/^#   make /  make /p' $(firstword $(MAKEFILE_LIST))

dev:
	@bash scripts/dev.sh

test:
	@bash scripts/test.sh

tools:
	@bash scripts/tools.sh

# The dev stack is seeded with the demo data; the test stack stays empty for the tests to fill.
stack-up:
	@bash scripts/tools.sh stack
	@bash scripts/stack.sh up $(STACK)
	@if [[ "$(STACK)" == dev ]]; then bash scripts/stack.sh seed dev; fi

stack-down:
	@bash scripts/stack.sh down $(STACK)

stack-status:
	@bash scripts/stack.sh status $(STACK)

lint-template:
	@bash scripts/tools.sh lint checkov
	@bash scripts/lint_template.sh

# DynamoDB Local killed mid-storm, the mail service down, Init failing; `make test` runs a small one.
chaos:
	@bash scripts/chaos.sh $(SIZE)

# Every answer of a realistic customer base against the oracle, on the test stack, started and
# stopped here; `make test` runs a few hundred accounts inside cargo test.
population:
	@bash scripts/population.sh full

# Not part of `make test`, which runs each target for 5 s.
fuzz:
	@bash scripts/fuzz.sh long $(FUZZ_SECONDS)

# A few minutes; `make test` runs the quick one.
api-fuzz:
	@bash scripts/api_fuzz.sh long

# Not part of `make test`: several minutes, and the figures depend on the machine.
bench:
	@bash scripts/bench.sh

bench-import:
	@bash scripts/bench_import.sh

# What `sam deploy` ships: target/lambda/<function>/bootstrap, arm64 (ARCH=x86_64 for the other).
build:
	@bash scripts/build.sh
