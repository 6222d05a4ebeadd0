#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The API from openapi.yaml, property-tested with schemathesis against the functions on the test
# stack: no 5xx and no answer outside the document (status, content type, headers, body schema),
# credentials checked (requests without or with broken ones must get the documented 401).
#
#   scripts/api_fuzz.sh quick   (inside make test's test-stack block) a bounded run: every phase
#                               (examples, coverage, fuzzing, stateful), few examples per operation
#   scripts/api_fuzz.sh long    the same with many more examples and a longer stateful phase
#
# Expects the test stack (make stack-up STACK=test, or scripts/test.sh): seeds it with the demo
# data, builds the functions, runs them under `cargo lambda watch` on the test API port, runs
# schemathesis (tests/api/schemathesis.toml, hooks in tests/api/hooks.py), stops what it started.
# Reports (JUnit, NDJSON, HAR) land in .run/test/api-fuzz/<mode>/; a failure shows there with a
# curl line to reproduce it. SCHEMATHESIS_SEED=<n> repeats a run's generated data.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LOG_TAG=api-fuzz
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"

mode="${1:-}"
case "$mode" in
    quick)
        max_examples=12
        ;;
    long)
        max_examples=400
        ;;
    *)
        log "usage: scripts/api_fuzz.sh quick|long"
        exit 2
        ;;
esac

# shellcheck source=scripts/env.sh
. scripts/env.sh test
# shellcheck source=scripts/services.sh
. scripts/services.sh
# Generated requests come fast and from one user and one address: the limits are not under test
# here (tests/tests/enumeration.rs and crowd.rs are), but every 429 the document lists is still
# checked if met.
export THROTTLE_USER_PER_MINUTE=1000000 THROTTLE_IP_PER_MINUTE=1000000 THROTTLE_PAGE_PER_MINUTE=1000000
export THROTTLE_USER_ACCOUNTS_PER_DAY=1000000 THROTTLE_IP_ACCOUNTS_PER_DAY=1000000 THROTTLE_PAGE_ACCOUNTS_PER_DAY=1000000
# The origin the document's preflight example uses, so preflights reach their 204.
export ALLOWED_ORIGINS="http://127.0.0.1:5173"
# Schemathesis's and Hypothesis's own state stays under .run/ (git-ignored), where the
# functions' file watcher does not see it: a write in the work tree would restart them.
report_dir="$STACK_RUN_DIR/api-fuzz/$mode"
export HYPOTHESIS_STORAGE_DIRECTORY="$STACK_RUN_DIR/api-fuzz/hypothesis"

bash scripts/tools.sh schemathesis lambda
export PATH="$ROOT/.tools/venv/bin:$PATH"
if svc_running api; then
    log "a test api is already running; stop it with 'make stack-down STACK=test'"
    exit 1
fi
if ! svc_running dynamodb; then
    log "the test stack is not running: start it with 'make stack-up STACK=test'"
    exit 1
fi
trap 'svc_stop api' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/stack.sh seed test
cargo build -q -p account-lookup -p pay -p payment-history -p payment-receipt -p resend-receipt -p account-reminder -p submit-readings -p payment-callback -p facebook-tab -p admin
svc_start api cargo lambda watch -A 127.0.0.1 -P "$API_PORT" --disable-cors
wait_port api "$API_PORT" 120
# The watcher starts each function on its first request: start them all now, so the run's
# first requests are not the ones that wait for a process to come up.
python3 scripts/warm_functions.py "$API_URL"

# The hooks' VK signer is checked against the service's own at load time.
VK_LAUNCH_REFERENCE="$(cargo run -q -p admin --bin energosbyt-demo -- vk-launch)"
export VK_LAUNCH_REFERENCE

mkdir -p "$report_dir"
started=$SECONDS
seed_args=()
[[ -z "${SCHEMATHESIS_SEED:-}" ]] || seed_args=(--seed "$SCHEMATHESIS_SEED")
# Every check but `unsupported_method`: a method a route does not list never reaches a function,
# here (the router of Cargo.toml) as deployed (the HTTP API's routes); the gateway answers 404.
# (Response times are not asserted either: tests/api/schemathesis.toml.)
status=0
.tools/schemathesis/bin/schemathesis --config-file tests/api/schemathesis.toml run openapi.yaml \
    --checks all --exclude-checks unsupported_method --max-examples "$max_examples" \
    --report junit,ndjson,har --report-dir "$report_dir" \
    --no-color "${seed_args[@]}" \
    2>&1 | tee "$report_dir/output.txt" || status=$?
log "schemathesis ($mode) finished in $((SECONDS - started)) s with status $status;" \
    "output and reports in ${report_dir#"$ROOT"/}/"
exit "$status"
