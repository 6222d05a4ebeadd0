#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# `make test`: the whole suite, as CI runs it.
#
#   1. tools (stand-ins and linters; fast when already installed)
#   2. cargo fmt --check, cargo clippy -D warnings (also the domain crate without its adapters,
#      and the fuzz crate)
#   3. the test stack on its own ports (scripts/env.sh: DynamoDB 8001, SES 5006, T-Bank 9101,
#      table energosbyt-test), so it runs beside `make dev`
#   4. cargo test --workspace with the environment pointing at the test stack, the browser tests
#      (scripts/web.sh test) and schemathesis against the local API (scripts/api_fuzz.sh quick)
#   5. fault injection on a stack of its own (scripts/chaos.sh quick, 100 payments)
#   6. the template linters (scripts/lint_template.sh), checkov among them
#   7. every fuzz target for a few seconds (scripts/fuzz.sh quick)
#
# The test stack is stopped however the run ends (failure, Ctrl-C, TERM from CI).
# Extra arguments go to cargo test: scripts/test.sh -- --nocapture
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LOG_TAG=test
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"
suite_started=$SECONDS

step "tools"
bash scripts/tools.sh stack lint checkov

step "cargo fmt --all -- --check"
cargo fmt --all -- --check

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "energosbyt without its adapters (what the fuzz targets build)"
cargo clippy -p energosbyt --no-default-features --all-targets -- -D warnings

step "fuzz crate: fmt and clippy"
cargo fmt --manifest-path fuzz/Cargo.toml -- --check
cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings

step "acquirer sandbox's own tests"
python3 -m unittest discover -s sandbox

step "test stack"
(
    . scripts/env.sh test
    . scripts/services.sh
    svc_refuse_running "stop it with 'make stack-down STACK=test' and try again"
    trap 'bash scripts/stack.sh down test' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    bash scripts/stack.sh up test

    step "cargo test --workspace (table $TABLE_NAME, DynamoDB $AWS_ENDPOINT_URL_DYNAMODB)"
    cargo test --workspace "$@"
    step "mini app in the browser (tests/browser)"; bash scripts/web.sh test
    step "API property tests (schemathesis, openapi.yaml)"; bash scripts/api_fuzz.sh quick
)

step "fault injection (scripts/chaos.sh quick, 100 payments)"
CHAOS_PAYMENTS="${CHAOS_PAYMENTS:-100}" bash scripts/chaos.sh quick

step "template lint"
bash scripts/lint_template.sh

step "fuzzing (scripts/fuzz.sh quick: every target 5 s)"
bash scripts/fuzz.sh quick

step "all passed in $((SECONDS - suite_started)) s"
