#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# `make dev`: the whole service on this machine, in the foreground until Ctrl-C.
#
#   1. installs the tools it needs into .tools/ (fast when already there)
#   2. starts the dev stack (scripts/stack.sh): DynamoDB Local, SES stand-in, T-Bank sandbox,
#      creates the table from template.yaml, imports data/demo.json
#   3. builds the functions, then serves them with `cargo lambda watch` on 127.0.0.1:$API_PORT,
#      routed by [workspace.metadata.lambda.watch.router] in Cargo.toml so local paths equal the
#      production ones; a code change reloads the function
#   4. prints the API URL and a ready-to-paste curl, then follows the functions' log
#
# Ctrl-C (or `make stack-down`) stops exactly what this run started. A dev stack that was
# already up (`make stack-up`) is reused and left running.
# Extra flags for `cargo lambda watch`: LAMBDA_WATCH_ARGS (e.g. "--release").
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
. scripts/env.sh dev
. scripts/services.sh

FUNCTIONS=(account-lookup pay payment-history payment-receipt resend-receipt submit-readings payment-callback account-reminder)
LOG_TAG=dev
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"

owns_stack=0
follower=""
cleanup() {
    local rc=$?
    trap '' INT TERM
    [[ -z "$follower" ]] || kill "$follower" 2>/dev/null || true
    svc_stop api
    if ((owns_stack)); then
        bash scripts/stack.sh down dev
    fi
    log "stopped"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if svc_running api; then
    log "the functions are already being served (pid $(svc_pid api)): is another 'make dev' running?"
    trap - EXIT
    exit 1
fi

started_at=$SECONDS
bash scripts/tools.sh stack lambda
export PATH="$ROOT/.tools/venv/bin:$PATH"

if svc_running dynamodb && svc_running ses; then
    log "reusing the dev stack that is already up (it stays up after Ctrl-C)"
else
    owns_stack=1
fi
bash scripts/stack.sh up dev
bash scripts/stack.sh seed dev

# Building first means the first request does not wait for a compile, and a compile error shows
# here rather than as a failed request. `cargo lambda watch` runs the same debug build.
log "building the functions"
package_args=()
for function in "${FUNCTIONS[@]}"; do package_args+=(-p "$function"); done
cargo build -q "${package_args[@]}"

if port_in_use "$API_PORT"; then
    log "port $API_PORT is taken by another program; set DEV_API_PORT to use another"
    exit 1
fi
. scripts/web.sh dev # builds and serves the mini app, exports WEB_ORIGIN, prints how to open it
# --disable-cors: cargo-lambda would otherwise answer every preflight for any origin, hiding
# what the functions' own CORS handling (ALLOWED_ORIGINS) does.
# shellcheck disable=SC2086 # LAMBDA_WATCH_ARGS is a list of flags
svc_start api cargo lambda watch -A 127.0.0.1 -P "$API_PORT" --disable-cors ${LAMBDA_WATCH_ARGS:-}
api_pid="$(svc_pid api)"
api_log="$(svc_log_file api)"
tail -n 0 -F "$api_log" &
follower=$!
# A TCP probe: any HTTP request that matches no route is logged by cargo-lambda as an error.
wait_port api "$API_PORT" 120

# Launch parameters signed now with the demo key: fresh for AUTH_MAX_AGE_SECS.
demo_curl="$(cargo run -q -p admin --bin energosbyt-demo -- curl --api-url "$API_URL")"

cat >&2 <<EOF

  The service is running (started in $((SECONDS - started_at)) s).

    API          $API_URL
    DynamoDB     $AWS_ENDPOINT_URL_DYNAMODB   table $TABLE_NAME
    SES          $AWS_ENDPOINT_URL_SES   sent mail: $AWS_ENDPOINT_URL_SES/moto-api/data.json
    T-Bank       $TBANK_API_URL
    logs         $STACK_RUN_DIR/

  Try:
    $demo_curl

  Ctrl-C stops everything this started.

EOF

# Returns when the functions' server ends (make stack-down, a crash) or on Ctrl-C.
wait "$api_pid" || true
