#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# `make bench`: the figures of BENCHMARKS.md, measured in one run on this machine, release build.
#
#   1. tools (stand-ins, cargo-lambda; wrk from Debian when missing)
#   2. release build of the functions and the benchmark crate (handlers, storm)
#   3. the test stack (scripts/env.sh: DynamoDB 8001, SES 5006, T-Bank 9101, API 9001), seeded
#      with the demo data; stopped however the run ends
#   4. handlers against their baselines (benches/src/bin/bench_handlers.rs), the callback storm,
#      cold starts through a fake runtime API (benches/fake_runtime_api.py), the look-up mix under
#      wrk against `cargo lambda watch --release`, and side by side under that fake runtime: the
#      limit (benches/src/bin/limit_getitem.rs), the limit with the look-up's read, as expressions
#      and in the legacy form (benches/src/bin/limit_query.rs), the Python peer (benches/peer/lookup.py) and
#      every function, cold and warm (benches/side_by_side.py)
#
# The report goes to target/bench/report.md (and the terminal); logs to target/bench/.
# Knobs: BENCH_STACK (test, or dev when the test stack is busy), BENCH_SECTIONS (the report's
# sections to run: "1 2 3 4 5 12 13"), BENCH_LOOKUP_CALLS (2000), BENCH_PAY_CALLS (500),
# BENCH_COLD_RUNS (5), BENCH_WARM_CALLS (500), BENCH_WRK_SECONDS (15), STORM_PAYMENTS (2500),
# STORM_SENDERS (8). BENCH_BEFORE: a directory holding another build's release binaries (the
# functions, bench-handlers, storm), measured in the same run beside this one's, as
# "<name>@before", in sections 1, 2, 3 and 12: a before/after comparison on one machine at one time.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

OUT="$ROOT/target/bench"
REPORT="$OUT/report.md"
FUNCTIONS=(account-lookup pay submit-readings payment-callback reconcile-payments)
LOOKUP_CALLS="${BENCH_LOOKUP_CALLS:-2000}"
PAY_CALLS="${BENCH_PAY_CALLS:-500}"
COLD_RUNS="${BENCH_COLD_RUNS:-5}"
WARM_CALLS="${BENCH_WARM_CALLS:-500}"
SECTIONS=" ${BENCH_SECTIONS:-1 2 3 4 5 12 13} "
BEFORE="${BENCH_BEFORE:-}"
# The Python peer's runtime: the official runtime interface client, boto3 and Powertools' event
# handler, pinned; in its own venv so the stand-ins' boto3 never moves it.
PEER_PIP_SPEC="awslambdaric==4.2.2 boto3==1.44.5 botocore==1.44.5 aws-lambda-powertools==3.37.0"
WRK_SECONDS="${BENCH_WRK_SECONDS:-15}"
# The stand-ins' ports and table (scripts/env.sh); the test stack unless BENCH_STACK=dev.
STACK_NAME="${BENCH_STACK:-test}"

step() { printf '\n==> %s\n' "$*" >&2; }
emit() { printf '%s\n' "$*" | tee -a "$REPORT"; }
die() { printf '[bench] error: %s\n' "$*" >&2; exit 1; }
wants() { [[ "$SECTIONS" == *" $1 "* ]]; }

# The event each function is measured with (the published examples; a scheduled event for
# reconciliation, written at the cold-start step).
event_for() {
    case "${1%@before}" in
        account-lookup | limit-getitem | limit-query | limit-conditions | python-peer) echo events/account-lookup/200-found.json ;;
        pay) echo events/pay/201-created.json ;;
        submit-readings) echo events/submit-readings/200-accepted.json ;;
        payment-callback) echo events/payment-callback/200-confirmed.json ;;
        reconcile-payments) echo "$OUT/scheduled-event.json" ;;
    esac
}

if [[ -n "$BEFORE" ]]; then
    for binary in "${FUNCTIONS[@]}" bench-handlers storm; do
        [[ -x "$BEFORE/$binary" ]] || die "BENCH_BEFORE=$BEFORE holds no $binary"
    done
fi

mkdir -p "$OUT"
: >"$REPORT"
bench_started=$SECONDS

step "tools"
bash scripts/tools.sh stack lambda
export PATH="$ROOT/.tools/venv/bin:$PATH"
if ! command -v wrk >/dev/null; then
    if [[ "$(id -u)" == 0 ]]; then
        apt-get install -y -qq wrk >/dev/null
    else
        sudo apt-get install -y -qq wrk >/dev/null
    fi
fi
if wants 12 && [[ ! -f .tools/stamps/peer || "$(cat .tools/stamps/peer)" != "$PEER_PIP_SPEC" ]]; then
    rm -rf .tools/peer
    command -v python3.11 >/dev/null || die "the Python peer runs on Python 3.11 (python3.11 not found)"
    python3.11 -m venv .tools/peer
    # shellcheck disable=SC2086 # the spec is a list of requirement strings
    .tools/peer/bin/pip install --quiet --disable-pip-version-check $PEER_PIP_SPEC
    mkdir -p .tools/stamps && printf '%s' "$PEER_PIP_SPEC" >.tools/stamps/peer
fi

step "release build"
package_args=()
for function in "${FUNCTIONS[@]}"; do package_args+=(-p "$function"); done
# The functions alone first, so their binaries carry exactly the features a deployment builds.
cargo build --release "${package_args[@]}" --bins
cargo build --release -p benches

emit "# make bench — $(date -u '+%Y-%m-%d %H:%M UTC')"
emit ""
emit "- machine: $(nproc) cores, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)," \
    "$(free -g | awk '/^Mem:/ {print $2 " GiB RAM, " $7 " GiB available"}')"
emit "- load average at start: $(cut -d' ' -f1-3 /proc/loadavg); $(uname -sr); $(rustc --version)"
emit "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"

. scripts/env.sh "$STACK_NAME"
. scripts/services.sh
for service in dynamodb ses sandbox api; do
    if svc_running "$service"; then
        die "a $STACK_NAME stack is already running ($service), probably another 'make test' or 'make bench';" \
            "stop it with 'make stack-down STACK=$STACK_NAME' or wait for it, and try again" \
            "(BENCH_STACK=dev runs on the dev stack's ports instead)"
    fi
done
trap 'bash scripts/stack.sh down "$STACK_NAME"' EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "$STACK_NAME stack, seeded with the demo data"
bash scripts/stack.sh up "$STACK_NAME"
bash scripts/stack.sh seed "$STACK_NAME"

# What reconciliation is woken with (EventBridge's scheduled event).
cat >"$OUT/scheduled-event.json" <<'EOF'
{"version": "0", "id": "bench", "detail-type": "Scheduled Event", "source": "aws.events",
 "account": "123456789012", "time": "2026-11-20T12:00:00Z", "region": "eu-central-1",
 "resources": ["arn:aws:events:eu-central-1:123456789012:rule/reconcile-payments"], "detail": {}}
EOF

# One in-process handler bench of this build, then of the earlier one (BENCH_BEFORE) when given.
# The functions' metric lines (CloudWatch EMF, on stdout) are not part of the report.
handlers() {
    target/release/bench-handlers "$@" 2>>"$OUT/handlers.log" | grep -v '^{' | tee -a "$REPORT"
    if [[ -n "$BEFORE" ]]; then
        emit ""
        emit "Before ($BEFORE):"
        emit ""
        "$BEFORE/bench-handlers" "$@" 2>>"$OUT/handlers.log" | grep -v '^{' | tee -a "$REPORT"
    fi
}

if wants 1; then
    step "look-up handler against a bare GetItem ($LOOKUP_CALLS calls each)"
    emit ""
    emit "## 1. Look-up handler vs bare GetItem (in-process, DynamoDB Local)"
    emit ""
    handlers lookup --calls "$LOOKUP_CALLS"
fi

if wants 2; then
    step "pay handler against the sandbox's Init alone ($PAY_CALLS calls each)"
    emit ""
    emit "## 2. Pay handler vs the sandbox Init alone (in-process)"
    emit ""
    handlers pay --calls "$PAY_CALLS"
fi

if wants 3; then
    step "the callback storm"
    emit ""
    emit "## 3. Callback storm (benches/src/bin/storm.rs)"
    emit ""
    # One storm: its figures, and the discrepancies it found (on stderr) when the exactly-once
    # check fails. The earlier build's goes first, so that this one's meets the fuller table.
    storm() {
        local binary="$1" name="$2" rc=0
        emit '```text'
        STORM_PAYMENTS="${STORM_PAYMENTS:-2500}" STORM_SENDERS="${STORM_SENDERS:-8}" \
            "$binary" >"$OUT/$name.txt" 2>"$OUT/$name.log" || rc=$?
        grep -v '^{' "$OUT/$name.txt" | tee -a "$REPORT"
        grep -E '^(WRONG|Error)' "$OUT/$name.log" | head -n 20 | tee -a "$REPORT" || true
        emit '```'
        if ((rc != 0)); then
            emit ""
            emit "**The storm's exactly-once check FAILED (exit $rc); see the lines above.**"
        fi
    }
    # DynamoDB Local's JVM answers a first storm after its start ~20 % slower than the next ones
    # (BENCHMARKS §3): a small storm first, not reported, so both builds meet a warm stand-in.
    STORM_PAYMENTS=500 target/release/storm >"$OUT/storm-warm-up.txt" 2>"$OUT/storm-warm-up.log" ||
        die "the warm-up storm failed: see $OUT/storm-warm-up.log"
    emit "After a warm-up storm of 500 payments (not reported)."
    emit ""
    if [[ -n "$BEFORE" ]]; then
        emit "Before ($BEFORE):"
        emit ""
        storm "$BEFORE/storm" storm-before
        emit ""
        emit "This build:"
        emit ""
    fi
    storm target/release/storm storm
fi

if wants 4; then
    step "cold starts through a fake runtime API ($COLD_RUNS per function)"
    emit ""
    emit "## 4. Per function: binary, cold start, first request, memory"
    emit ""
    emit "| binary | stripped size MiB | init ms, median (min–max) | first request ms, median (min–max) | VmHWM MiB | event: answer |"
    emit "|---|---:|---:|---:|---:|---|"
    # The published events carry fixed launch timestamps: the freshness check is off for them only.
    for function in "${FUNCTIONS[@]}"; do
        AUTH_MAX_AGE_SECS=0 python3 benches/fake_runtime_api.py --binary "target/release/$function" \
            --event "$(event_for "$function")" --runs "$COLD_RUNS" --log "$OUT/cold-$function.log" | tee -a "$REPORT"
    done
fi

if wants 5; then
    step "the look-up mix under wrk against cargo lambda watch --release"
    launch="$(target/release/bench-handlers launch --user 700002)"
    lua="$OUT/lookup_mix.lua"
    # Five demo accounts and one number nobody has (a typo: 404), round robin.
    cat >"$lua" <<EOF
local paths = {"/accounts/10000-000-01", "/accounts/10000-000-02", "/accounts/10000-000-03",
               "/accounts/10000-000-04", "/accounts/10000-000-05", "/accounts/99999-999-99"}
local i = 0
wrk.headers["Authorization"] = "VK $launch"
wrk.headers["Origin"] = "http://127.0.0.1:5173"
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
EOF
    # The throttle still counts every request (one UpdateItem), it just never refuses here.
    export THROTTLE_USER_PER_MINUTE=1000000000 THROTTLE_IP_PER_MINUTE=1000000000 THROTTLE_PAGE_PER_MINUTE=1000000000
    export THROTTLE_USER_ACCOUNTS_PER_DAY=1000000000 THROTTLE_IP_ACCOUNTS_PER_DAY=1000000000 THROTTLE_PAGE_ACCOUNTS_PER_DAY=1000000000
    svc_start api cargo lambda watch -A 127.0.0.1 -P "$API_PORT" --disable-cors --release
    wait_port api "$API_PORT" 120
    # The first request per function builds it (release, LTO): wait for a real answer.
    status=""
    for _ in $(seq 1 300); do
        status="$(curl -s -o /dev/null -w '%{http_code}' --max-time 600 -H "Authorization: VK $launch" \
            "$API_URL/accounts/10000-000-01" || true)"
        [[ "$status" == 200 ]] && break
        sleep 2
    done
    [[ "$status" == 200 ]] || die "the look-up under cargo lambda watch answered '$status'; see $(svc_log_file api)"
    emit ""
    emit "## 5. Local API under wrk (cargo lambda watch --release, look-up mix: 5 accounts + 1 unknown)"
    emit ""
    emit "| connections | requests/s | p50 ms | p99 ms | non-2xx (the 404s) | requests |"
    emit "|---:|---:|---:|---:|---:|---:|"
    wrk -t1 -c1 -d3s -s "$lua" "$API_URL" >/dev/null
    for connections in 1 8 32; do
        threads=$((connections < 2 ? 1 : 2))
        wrk -t"$threads" -c"$connections" -d"${WRK_SECONDS}s" --latency -s "$lua" "$API_URL" >"$OUT/wrk-c$connections.txt"
        awk -v c="$connections" '
            function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
            /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) }
            /requests in/ { total = $1 } /Non-2xx/ { non2xx = $NF } /^Requests\/sec/ { rps = $2 }
            END { printf "| %d | %.0f | %.2f | %.2f | %d | %d |\n", c, rps, p50, p99, non2xx, total }
        ' "$OUT/wrk-c$connections.txt" | tee -a "$REPORT"
    done
    svc_stop api
fi

if wants 12; then
    step "side by side under the fake runtime: the limit, the Python peer, the functions ($COLD_RUNS cold starts, $WARM_CALLS warm calls each)"
    records="$OUT/side-by-side.jsonl"
    : >"$records"
    (
        # Every warm call must be served, not refused: the throttle's budgets are lifted for this
        # step only (its counter is still written on every call). The published events carry
        # fixed launch timestamps, so the freshness check is off as in section 4.
        export AUTH_MAX_AGE_SECS=0
        export THROTTLE_USER_PER_MINUTE=1000000000 THROTTLE_IP_PER_MINUTE=1000000000 THROTTLE_PAGE_PER_MINUTE=1000000000
        export THROTTLE_USER_ACCOUNTS_PER_DAY=1000000000 THROTTLE_IP_ACCOUNTS_PER_DAY=1000000000 THROTTLE_PAGE_ACCOUNTS_PER_DAY=1000000000
        # side <name> <fake runtime's arguments...>: one subject, recorded, unless WARMING (a round
        # that only warms DynamoDB Local's JIT for every operation the subjects make: run alone,
        # this step would meet a cold stand-in with its first subjects and a warm one with the rest).
        side() {
            local name="$1" json="$records" runs="$COLD_RUNS" warm="$WARM_CALLS"
            shift
            if [[ -n "${WARMING:-}" ]]; then json=/dev/null runs=1 warm=1000; fi
            : >"$OUT/side-$name.log"
            python3 benches/fake_runtime_api.py --name "$name" --event "$(event_for "$name")" --runs "$runs" \
                --warm "$warm" --log "$OUT/side-$name.log" --json "$json" "$@" >/dev/null
        }
        subjects() {
            side limit-getitem --binary target/release/limit-getitem
            side limit-query --binary target/release/limit-query
            side limit-conditions --binary target/release/limit-query --env LIMIT_QUERY_FORM=conditions
            # Lambda's Python runtime writes no bytecode next to the handler (its code is read-only).
            side python-peer --command "$ROOT/.tools/peer/bin/python -m awslambdaric lookup.handler" \
                --env "PYTHONPATH=$ROOT/benches/peer" --env PYTHONDONTWRITEBYTECODE=1
            for function in "${FUNCTIONS[@]}"; do
                side "$function" --binary "target/release/$function"
                if [[ -n "$BEFORE" ]]; then
                    side "$function@before" --binary "$BEFORE/$function"
                fi
            done
        }
        WARMING=1 subjects
        subjects
    )
    emit ""
    emit "## 12. Side by side under one runtime: the limit, the Python peer and the functions"
    emit ""
    emit "$COLD_RUNS cold starts each under benches/fake_runtime_api.py, then $WARM_CALLS warm calls in a row to the last" \
        "process (round trip: event handed over -> response posted); medians of the cold starts, percentiles" \
        "of the warm calls; ratios to the limit (benches/src/bin/limit_getitem.rs); \`limit-query\` is the limit" \
        "making the look-up's read (benches/src/bin/limit_query.rs), \`limit-conditions\` the same read in" \
        "DynamoDB's legacy form (no expressions)."
    emit ""
    python3 benches/side_by_side.py "$records" | tee -a "$REPORT"
fi

if wants 13; then
    step "the billing export's import, streamed and batched (section 13)"
    emit ""
    BENCH_IMPORT_STACK="$STACK_NAME" bash scripts/bench_import.sh | tee -a "$REPORT"
fi

emit ""
emit "Total: $((SECONDS - bench_started)) s. Raw outputs and logs: target/bench/."
