# shellcheck shell=bash
# shellcheck source-path=SCRIPTDIR
# The environment of a local stack, for bash: `. scripts/env.sh [dev|test|chaos]`.
#
# Exports everything in local.env, then the stack's ports and the endpoint URLs derived from
# them. Two stacks can run side by side because each has its own ports:
#
#                 dev (make dev / stack-up)    test (make test)          chaos (scripts/chaos.sh)
#   API           DEV_API_PORT=9000            TEST_API_PORT=9001        CHAOS_API_PORT=9002
#   DynamoDB      DEV_DYNAMODB_PORT=8000       TEST_DYNAMODB_PORT=8001   CHAOS_DYNAMODB_PORT=8002
#   SES, Secrets  DEV_SES_PORT=5005            TEST_SES_PORT=5006        CHAOS_SES_PORT=5007
#   Manager, S3
#   (moto)
#   T-Bank        DEV_SANDBOX_PORT=9100        TEST_SANDBOX_PORT=9101    CHAOS_SANDBOX_PORT=9102
#   VK API        DEV_VK_API_PORT=9200         TEST_VK_API_PORT=9201     CHAOS_VK_API_PORT=9202
#   table         energosbyt-local             energosbyt-test           energosbyt-chaos
#
# The test and chaos stacks get API ports of their own (nothing listens there by default), so
# their acquirer sandboxes never post a notification to a running `make dev`. The chaos stack
# keeps DynamoDB on disk (.run/chaos/dynamodb) so that killing it loses nothing acknowledged.
#
# Example, to run one test by hand against `make stack-up STACK=test`:
#   . scripts/env.sh test && cargo test -p tests some_test

_stack_profile="${1:-${STACK:-dev}}"
_stack_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# A variable already set by the caller wins over local.env (`AUTH_MAX_AGE_SECS=0 make dev`),
# except the demo AWS credentials and region, which the stand-ins always get, and the values
# derived from the stack's ports below.
_stack_overrides=()
while IFS= read -r _stack_line; do
    _stack_key="${_stack_line%%=*}"
    [[ "$_stack_key" =~ ^[A-Z][A-Z0-9_]*$ && "$_stack_line" == *=* ]] || continue
    case "$_stack_key" in AWS_ACCESS_KEY_ID | AWS_SECRET_ACCESS_KEY | AWS_REGION) continue ;; esac
    if [[ -n "${!_stack_key+set}" ]]; then
        _stack_overrides+=("$_stack_key=${!_stack_key}")
    fi
done <"$_stack_root/local.env"

set -a
# shellcheck source=../local.env
. "$_stack_root/local.env"
set +a
for _stack_line in "${_stack_overrides[@]}"; do
    export "${_stack_line?}"
done

case "$_stack_profile" in
    dev)
        API_PORT="${DEV_API_PORT:-9000}"
        DYNAMODB_PORT="${DEV_DYNAMODB_PORT:-8000}"
        SES_PORT="${DEV_SES_PORT:-5005}"
        SANDBOX_PORT="${DEV_SANDBOX_PORT:-9100}"
        VK_API_PORT="${DEV_VK_API_PORT:-9200}"
        ;;
    test)
        API_PORT="${TEST_API_PORT:-9001}"
        DYNAMODB_PORT="${TEST_DYNAMODB_PORT:-8001}"
        SES_PORT="${TEST_SES_PORT:-5006}"
        SANDBOX_PORT="${TEST_SANDBOX_PORT:-9101}"
        VK_API_PORT="${TEST_VK_API_PORT:-9201}"
        TABLE_NAME='energosbyt-test'
        ;;
    chaos)
        API_PORT="${CHAOS_API_PORT:-9002}"
        DYNAMODB_PORT="${CHAOS_DYNAMODB_PORT:-8002}"
        SES_PORT="${CHAOS_SES_PORT:-5007}"
        SANDBOX_PORT="${CHAOS_SANDBOX_PORT:-9102}"
        VK_API_PORT="${CHAOS_VK_API_PORT:-9202}"
        TABLE_NAME='energosbyt-chaos'
        ;;
    *)
        echo "scripts/env.sh: unknown stack '$_stack_profile' (dev, test or chaos)" >&2
        # shellcheck disable=SC2317 # reached when the file is run instead of sourced
        return 2 2>/dev/null || exit 2
        ;;
esac

STACK_PROFILE="$_stack_profile"
STACK_ROOT="$_stack_root"
STACK_RUN_DIR="$_stack_root/.run/$_stack_profile"
API_URL="http://127.0.0.1:$API_PORT"
NOTIFICATION_URL="$API_URL/callbacks/tbank"
AWS_ENDPOINT_URL_DYNAMODB="http://127.0.0.1:$DYNAMODB_PORT"
AWS_ENDPOINT_URL_SES="http://127.0.0.1:$SES_PORT"
# moto serves every AWS service on one port: the SES stand-in holds the functions' secret too.
AWS_ENDPOINT_URL_SECRETS_MANAGER="http://127.0.0.1:$SES_PORT"
# And the import bucket of the chunked billing export (scripts/create_bucket.py).
AWS_ENDPOINT_URL_S3="http://127.0.0.1:$SES_PORT"
TBANK_API_URL="http://127.0.0.1:$SANDBOX_PORT/v2"
VK_API_URL="http://127.0.0.1:$VK_API_PORT"
export STACK_PROFILE STACK_ROOT STACK_RUN_DIR TABLE_NAME \
    API_PORT DYNAMODB_PORT SES_PORT SANDBOX_PORT \
    API_URL NOTIFICATION_URL AWS_ENDPOINT_URL_DYNAMODB AWS_ENDPOINT_URL_SES AWS_ENDPOINT_URL_SECRETS_MANAGER AWS_ENDPOINT_URL_S3 \
    TBANK_API_URL VK_API_PORT VK_API_URL
unset _stack_profile _stack_root _stack_overrides _stack_line _stack_key
