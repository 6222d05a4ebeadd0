#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# `make bench-import`: the billing export's import on the test stack (BENCHMARKS.md section 13).
# A synthetic export of ACCOUNTS (20 000) is imported twice — the second run writes nothing — and
# each run's figures line (accounts/s, DynamoDB requests) and peak memory are printed.
#
#   ACCOUNTS=200000 make bench-import        (test stack up: make stack-up STACK=test)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ACCOUNTS="${ACCOUNTS:-20000}"
cd "$ROOT"
STACK_NAME="${BENCH_IMPORT_STACK:-test}" # `make bench` runs it on the stack it started
# shellcheck source=env.sh
. scripts/env.sh "$STACK_NAME"
curl -sS -o /dev/null "$AWS_ENDPOINT_URL_DYNAMODB/" ||
    { echo "[bench-import] the $STACK_NAME stack is not up: make stack-up STACK=$STACK_NAME" >&2; exit 1; }
cargo build --release -q -p admin
out="$ROOT/target/bench"
mkdir -p "$out"
export_file="$out/export-$ACCOUNTS.jsonl"
# Account numbers of this run's own, so a rerun of the bench imports anew.
first=$((7000000000 + (RANDOM * 32768 + RANDOM) % 2000000000))
target/release/energosbyt-sample-export --accounts "$ACCOUNTS" --first "$first" >"$export_file"
echo "## 13. The billing export's import: $ACCOUNTS accounts, load average $(cut -d' ' -f1-3 /proc/loadavg)"
for run in first again; do
    /usr/bin/time -f "peak memory (VmHWM) %M kB" -o "$out/import-$run.time" \
        target/release/energosbyt-admin import --file "$export_file" 2>"$out/import-$run.log"
    echo "$run: $(tail -n 1 "$out/import-$run.time")"
done
rm -f "$export_file"
