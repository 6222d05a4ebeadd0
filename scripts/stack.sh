#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The local stand-ins for AWS and the acquirer.
#
#   scripts/stack.sh up     [dev|test]   start what is not running, create the table, verify
#                                        the SES sender
#   scripts/stack.sh seed   [dev|test]   import the demo data (data/demo.json) with the admin CLI
#   scripts/stack.sh down   [dev|test|all]
#   scripts/stack.sh status [dev|test|all]
#
#   dynamodb  Amazon DynamoDB Local 3.x, in memory, through scripts/DynamoDbLoopback.java so it
#             listens on 127.0.0.1 only (the jar itself binds every interface)
#   ses       moto server (SES v1 API; sent mail readable at /moto-api/data.json)
#   sandbox   the T-Bank sandbox (sandbox/tbank_sandbox.py), when present
#
# Ports and the table name per stack: scripts/env.sh. Pids and logs: .run/<stack>/.
# `down` also stops the functions of a `make dev` whose terminal went away (.run/dev/api.pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_PYTHON="$ROOT/.tools/venv/bin/python"
SANDBOX="$ROOT/sandbox/tbank_sandbox.py"
DEMO_DATA="data/demo.json"
# Every service this script (or scripts/dev.sh, for api) may have started, stopped in this order.
SERVICES=(api sandbox ses dynamodb)

die() { printf '[stack] error: %s\n' "$*" >&2; exit 1; }
note() { printf '[%s] %s\n' "$STACK_PROFILE" "$*" >&2; }

load_stack() {
    . "$ROOT/scripts/env.sh" "$1"
    . "$ROOT/scripts/services.sh"
}

# Refuses a port that something other than our own service holds: a second DynamoDB on the
# same port would make the stack talk to a stranger's data.
claim_port() {
    local name="$1" port="$2"
    if port_in_use "$port"; then
        die "port $port (for $name of the $STACK_PROFILE stack) is taken by another program;" \
            "stop it or choose another port (see scripts/env.sh)"
    fi
}

start_dynamodb() {
    local lib
    svc_running dynamodb && return 0
    claim_port dynamodb "$DYNAMODB_PORT"
    lib="$(bash "$ROOT/scripts/tools.sh" lib-dir)"
    [[ -f "$ROOT/.tools/dynamodb-launcher/DynamoDbLoopback.class" ]] ||
        die "the DynamoDB Local launcher is not compiled: run 'make tools'"
    # preferIPv4Stack: a plain IPv4 socket on 127.0.0.1, not an IPv4-mapped IPv6 one.
    svc_start dynamodb java -Djava.net.preferIPv4Stack=true \
        -Djava.library.path="$lib/DynamoDBLocal_lib" \
        -cp "$lib/DynamoDBLocal.jar:$lib/DynamoDBLocal_lib/*:$ROOT/.tools/dynamodb-launcher" \
        DynamoDbLoopback -inMemory -sharedDb -disableTelemetry -port "$DYNAMODB_PORT"
    STARTED+=(dynamodb)
}

start_ses() {
    svc_running ses && return 0
    claim_port ses "$SES_PORT"
    svc_start ses "$ROOT/.tools/venv/bin/moto_server" -H 127.0.0.1 -p "$SES_PORT"
    STARTED+=(ses)
}

start_sandbox() {
    svc_running sandbox && return 0
    if [[ ! -f "$SANDBOX" ]]; then
        note "sandbox/tbank_sandbox.py not found: the acquirer sandbox is not started"
        return 0
    fi
    claim_port sandbox "$SANDBOX_PORT"
    svc_start sandbox python3 "$SANDBOX" --host 127.0.0.1 --port "$SANDBOX_PORT"
    STARTED+=(sandbox)
}

stop_partial_start() {
    local rc=$? service
    ((rc != 0)) || return 0
    for service in "${STARTED[@]}"; do svc_stop "$service"; done
}

up() {
    local started_at=$SECONDS
    [[ -x "$VENV_PYTHON" ]] || die "the stack's tools are missing: run 'make tools'"
    STARTED=()
    # A failed start leaves nothing half-running behind.
    trap stop_partial_start EXIT
    start_dynamodb
    start_ses
    start_sandbox
    wait_http dynamodb "$AWS_ENDPOINT_URL_DYNAMODB/" 60
    wait_http ses "$AWS_ENDPOINT_URL_SES/moto-api/" 30
    if svc_running sandbox; then
        wait_http sandbox "http://127.0.0.1:$SANDBOX_PORT/" 30
    fi
    "$VENV_PYTHON" "$ROOT/scripts/create_table.py"
    "$VENV_PYTHON" "$ROOT/scripts/verify_sender.py"
    trap - EXIT
    note "stack up in $((SECONDS - started_at)) s:" \
        "DynamoDB $AWS_ENDPOINT_URL_DYNAMODB (table $TABLE_NAME), SES $AWS_ENDPOINT_URL_SES," \
        "T-Bank $TBANK_API_URL"
}

seed() {
    if [[ ! -f "$ROOT/$DEMO_DATA" ]]; then
        note "$DEMO_DATA not found: no demo data imported"
        return 0
    fi
    note "importing $DEMO_DATA and data/tariffs.json into $TABLE_NAME"
    (cd "$ROOT" && cargo run -q -p admin --bin energosbyt-admin -- import --file "$DEMO_DATA" --tariffs data/tariffs.json)
}

down() {
    local service
    for service in "${SERVICES[@]}"; do
        svc_stop "$service"
    done
}

status() {
    local service pid port
    for service in "${SERVICES[@]}"; do
        case "$service" in
            api) port="$API_PORT" ;;
            sandbox) port="$SANDBOX_PORT" ;;
            ses) port="$SES_PORT" ;;
            dynamodb) port="$DYNAMODB_PORT" ;;
        esac
        if pid="$(svc_pid "$service")"; then
            printf '%-5s %-9s running  pid %-7s 127.0.0.1:%s\n' "$STACK_PROFILE" "$service" "$pid" "$port"
        else
            printf '%-5s %-9s stopped\n' "$STACK_PROFILE" "$service"
        fi
    done
}

main() {
    local command="${1:-}" profile="${2:-${STACK:-dev}}" stacks
    case "$profile" in
        all) stacks=(dev test) ;;
        dev | test) stacks=("$profile") ;;
        *) die "unknown stack '$profile' (dev, test, all)" ;;
    esac
    case "$command" in
        up | seed)
            [[ "$profile" != all ]] || die "'$command' needs one stack: dev or test"
            load_stack "$profile"
            "$command"
            ;;
        down | status)
            for profile in "${stacks[@]}"; do
                (load_stack "$profile" && "$command")
            done
            ;;
        *) die "usage: scripts/stack.sh up|seed|down|status [dev|test|all]" ;;
    esac
}

main "$@"
