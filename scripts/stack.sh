#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The local stand-ins for AWS and the acquirer.
#
#   scripts/stack.sh up     [dev|test|chaos]   start what is not running, create the table,
#                                              verify the SES sender, create the functions' secret
#   scripts/stack.sh seed   [dev|test]         import the demo data (data/demo.json) with the admin CLI
#   scripts/stack.sh down   [dev|test|chaos|all]
#   scripts/stack.sh status [dev|test|chaos|all]
#   scripts/stack.sh kill   chaos dynamodb     SIGKILL DynamoDB Local, as a crash would end it
#   scripts/stack.sh start  chaos dynamodb     start it again on the same files; returns once it
#                                              answers
#
#   dynamodb  Amazon DynamoDB Local 3.x, through scripts/DynamoDbLoopback.java so it listens on
#             127.0.0.1 only (the jar itself binds every interface); in memory, except for the
#             chaos stack (scripts/chaos.sh), which keeps it on disk in .run/chaos/dynamodb so
#             that a SIGKILL loses nothing it acknowledged
#   ses       moto server (SES v1 API; sent mail readable at /moto-api/data.json), also the
#             Secrets Manager stand-in: the secret SECRETS_NAME names, with local.env's demo values
#   sandbox   the T-Bank sandbox (sandbox/tbank_sandbox.py), when present
#   vk-api    the VK API stand-in (sandbox/vk_api_stand_in.py): notifications.sendMessage, records
#             what was sent (GET /stand-in/sent)
#
# Ports and the table name per stack: scripts/env.sh. Pids and logs: .run/<stack>/.
# `down` also stops the functions of a `make dev` whose terminal went away (.run/dev/api.pid).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV_PYTHON="$ROOT/.tools/venv/bin/python"
SANDBOX="$ROOT/sandbox/tbank_sandbox.py"
VK_STAND_IN="$ROOT/sandbox/vk_api_stand_in.py"
DEMO_DATA="data/demo.json"
# Every service this script (or scripts/dev.sh, for api) may have started, stopped in this order.
SERVICES=(api vk-api sandbox ses dynamodb)

LOG_TAG=stack
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"
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
    local -a storage=(-inMemory)
    if [[ "$STACK_PROFILE" == chaos ]]; then
        mkdir -p "$STACK_RUN_DIR/dynamodb"
        storage=(-dbPath "$STACK_RUN_DIR/dynamodb")
    fi
    svc_start dynamodb java -Djava.net.preferIPv4Stack=true \
        -Djava.library.path="$lib/DynamoDBLocal_lib" \
        -cp "$lib/DynamoDBLocal.jar:$lib/DynamoDBLocal_lib/*:$ROOT/.tools/dynamodb-launcher" \
        DynamoDbLoopback "${storage[@]}" -sharedDb -disableTelemetry -port "$DYNAMODB_PORT"
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
    local -a retries=()
    # The fault-injection run plays the bank's re-deliveries itself; the sandbox's own go once to
    # the chaos API port, where nothing listens, instead of thousands of re-sends competing for
    # the CPU with the run.
    [[ "$STACK_PROFILE" != chaos ]] || retries=(--retry-schedule '')
    svc_start sandbox python3 "$SANDBOX" --host 127.0.0.1 --port "$SANDBOX_PORT" "${retries[@]}"
    STARTED+=(sandbox)
}

start_vk_api() {
    svc_running vk-api && return 0
    claim_port vk-api "$VK_API_PORT"
    svc_start vk-api python3 "$VK_STAND_IN" --host 127.0.0.1 --port "$VK_API_PORT" --token "$VK_SERVICE_TOKEN"
    STARTED+=(vk-api)
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
    start_vk_api
    wait_http dynamodb "$AWS_ENDPOINT_URL_DYNAMODB/" 60
    wait_http ses "$AWS_ENDPOINT_URL_SES/moto-api/" 30
    if svc_running sandbox; then
        wait_http sandbox "http://127.0.0.1:$SANDBOX_PORT/" 30
    fi
    wait_http vk-api "$VK_API_URL/stand-in/health" 30
    "$VENV_PYTHON" "$ROOT/scripts/create_table.py"
    "$VENV_PYTHON" "$ROOT/scripts/verify_sender.py"
    "$VENV_PYTHON" "$ROOT/scripts/create_secret.py"
    "$VENV_PYTHON" "$ROOT/scripts/create_bucket.py"
    trap - EXIT
    note "stack up in $((SECONDS - started_at)) s:" \
        "DynamoDB $AWS_ENDPOINT_URL_DYNAMODB (table $TABLE_NAME)," \
        "SES, Secrets Manager and S3 $AWS_ENDPOINT_URL_SES (secret $SECRETS_NAME, bucket $IMPORT_BUCKET)," \
        "T-Bank $TBANK_API_URL, VK API $VK_API_URL"
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

# Only DynamoDB, only on the chaos stack: the fault-injection run crashes and restarts it while
# the other stand-ins keep their state (moto holds the sent mail in memory).
kill_service() {
    [[ "$1" == dynamodb ]] || die "only dynamodb can be killed and restarted"
    svc_running dynamodb || die "DynamoDB of the $STACK_PROFILE stack is not running"
    svc_kill dynamodb
}

start_service() {
    local started_at=$SECONDS
    [[ "$1" == dynamodb ]] || die "only dynamodb can be killed and restarted"
    STARTED=()
    start_dynamodb
    wait_http dynamodb "$AWS_ENDPOINT_URL_DYNAMODB/" 60
    note "dynamodb answering again after $((SECONDS - started_at)) s"
}

status() {
    local service pid port
    for service in "${SERVICES[@]}"; do
        case "$service" in
            api) port="$API_PORT" ;;
            sandbox) port="$SANDBOX_PORT" ;;
            vk-api) port="$VK_API_PORT" ;;
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
        all) stacks=(dev test chaos) ;;
        dev | test | chaos) stacks=("$profile") ;;
        *) die "unknown stack '$profile' (dev, test, chaos, all)" ;;
    esac
    case "$command" in
        up | seed)
            [[ "$profile" != all ]] || die "'$command' needs one stack: dev, test or chaos"
            load_stack "$profile"
            "$command"
            ;;
        kill | start)
            # Never the dev or test stack: their DynamoDB is in memory, and others rely on it.
            [[ "$profile" == chaos ]] || die "'$command' is for the chaos stack only"
            load_stack chaos
            "${command}_service" "${3:-}"
            ;;
        down | status)
            for profile in "${stacks[@]}"; do
                (load_stack "$profile" && "$command")
            done
            ;;
        *) die "usage: scripts/stack.sh up|seed|down|status [dev|test|chaos|all]; kill|start chaos dynamodb" ;;
    esac
}

main "$@"
