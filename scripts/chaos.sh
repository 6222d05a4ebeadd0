#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# Fault injection: money exactly once and no email lost or doubled while the infrastructure fails.
#
#   scripts/chaos.sh [quick|full]
#
#   quick (default)  200 payments, about 800 notifications: about a minute once built
#   full             3000 payments, over 12 000 notifications
#
# Starts the chaos stack (scripts/env.sh chaos: DynamoDB Local on 8002 kept on disk in
# .run/chaos/dynamodb, moto on 5007, the T-Bank sandbox on 9102; nothing listens on its API port
# 9002, so the sandbox's own notifications are missed), runs tests/tests/chaos.rs against it, and
# stops the stack however the run ends. The run fails Init, SIGKILLs and restarts DynamoDB Local in
# the middle of a notification storm, takes the mail service down, then checks every balance,
# ledger, payment and email. The dev and test stacks are never touched.
#
# Knobs: CHAOS_PAYMENTS and the other CHAOS_* variables listed in tests/tests/chaos.rs override the
# size's defaults. The figures are printed at the end; the stand-ins' logs stay in .run/chaos/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LOG_TAG=chaos
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"

size="${1:-quick}"
case "$size" in
    quick) export CHAOS_PAYMENTS="${CHAOS_PAYMENTS:-200}" ;;
    full) export CHAOS_PAYMENTS="${CHAOS_PAYMENTS:-3000}" ;;
    *) die "usage: scripts/chaos.sh [quick|full]" ;;
esac

bash scripts/tools.sh stack
. scripts/env.sh chaos
. scripts/services.sh

svc_refuse_running "another run, or a left-over one to stop with 'scripts/stack.sh down chaos'"

# Built before the stack starts, so a long compile does not keep the stand-ins waiting.
cargo test -p integration-tests --test chaos --no-run

trap 'bash scripts/stack.sh down chaos' EXIT
# A fresh database: what the run checks must be what the run wrote.
rm -rf "$STACK_RUN_DIR/dynamodb"
bash scripts/stack.sh up chaos

started=$SECONDS
# The functions' metric lines (CloudWatch embedded format, one per event) would bury the figures.
cargo test -p integration-tests --test chaos -- --ignored --nocapture | grep --line-buffered -v '^{"_aws"'
printf '[chaos] %s run passed in %d s\n' "$size" "$((SECONDS - started))" >&2
