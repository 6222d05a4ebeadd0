#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The population test: a seeded customer base imported as the billing export; a sample of its
# customers hand in readings, look their account up, pay, and the bank notifies; every answer is
# checked to the kopeck against an oracle written from the rules (tests/tests/population.rs).
#
#   scripts/population.sh [full|quick]
#
#   full (default)  10 000 accounts, 1 000 customers: several minutes once built
#   quick           300 accounts, 200 customers: what `make test` runs inside cargo test
#
# Starts the test stack (scripts/env.sh test: DynamoDB Local on 8001 in memory, moto on 5006, the
# T-Bank sandbox on 9101, table energosbyt-test; TEST_*_PORT move it), runs the test against it and
# stops the stack however the run ends. Refuses to start while a test stack is up: that stack
# belongs to someone else (a `make test`, a `make stack-up STACK=test`).
#
# Knobs: POPULATION_ACCOUNTS, POPULATION_SAMPLE, POPULATION_SEED (fixed by default: the same seed
# draws the same customers and the same steps), POPULATION_RUN, POPULATION_WORKERS and
# POPULATION_ONLY (replay one customer), described in tests/tests/population.rs. The figures are
# printed at the end; the stand-ins' logs stay in .run/test/.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LOG_TAG=population
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"

size="${1:-full}"
case "$size" in
    full)
        export POPULATION_ACCOUNTS="${POPULATION_ACCOUNTS:-10000}"
        export POPULATION_SAMPLE="${POPULATION_SAMPLE:-1000}"
        ;;
    quick)
        export POPULATION_ACCOUNTS="${POPULATION_ACCOUNTS:-300}"
        export POPULATION_SAMPLE="${POPULATION_SAMPLE:-200}"
        ;;
    *) die "usage: scripts/population.sh [full|quick]" ;;
esac

bash scripts/tools.sh stack
. scripts/env.sh test
. scripts/services.sh

svc_refuse_running "stop it with 'make stack-down STACK=test'" \
    "or move this run with TEST_DYNAMODB_PORT, TEST_SES_PORT and TEST_SANDBOX_PORT"

# Built before the stack starts, so a long compile does not keep the stand-ins waiting.
cargo test -p integration-tests --test population --no-run

trap 'bash scripts/stack.sh down test' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
bash scripts/stack.sh up test

started=$SECONDS
printf '[population] %s run: %s accounts, %s customers; load average %s\n' "$size" \
    "$POPULATION_ACCOUNTS" "$POPULATION_SAMPLE" "$(cut -d' ' -f1-3 /proc/loadavg)" >&2
# The functions' metric lines (CloudWatch embedded format, one per event) would bury the figures.
cargo test -p integration-tests --test population -- --nocapture | grep --line-buffered -v '^{"_aws"'
printf '[population] %s run passed in %d s\n' "$size" "$((SECONDS - started))" >&2
