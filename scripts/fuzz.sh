#!/usr/bin/env bash
# Fuzzes every parser of outside input with cargo-fuzz / libFuzzer (targets in fuzz/, see
# fuzz/README.md for what each one asserts).
#
#   scripts/fuzz.sh quick                      every target for FUZZ_QUICK_SECONDS (5) each,
#                                              about a minute with a warm build (`make test`)
#   scripts/fuzz.sh long [SECONDS_PER_TARGET]  every target, 600 s each by default (`make fuzz`)
#   scripts/fuzz.sh run TARGET [ARGS...]       one target with libFuzzer's own arguments; until
#                                              stopped, or once over files given as ARGS (a crash
#                                              artifact reproduces that way)
#   scripts/fuzz.sh build                      only the build
#   scripts/fuzz.sh list                       the targets
#
# Every target starts from its committed seeds (fuzz/seeds/<target>/, including the inputs of
# past findings), mutates with its dictionary (fuzz/dicts/<target>.dict: the protocol's field
# names and JSON's edge cases) and grows its own corpus in fuzz/corpus/<target>/ (git-ignored).
# A crash or a failed property stops that target, writes the input to fuzz/artifacts/<target>/
# and makes the script exit 1 after the other targets ran, printing the artifact and the
# commands that reproduce and minimise it. Logs: .run/fuzz/<target>.log.
#
# cargo-fuzz needs nightly-only compiler flags: the one stable toolchain of these machines
# accepts them with RUSTC_BOOTSTRAP=1 (no second toolchain is downloaded). The build is
# `-s none`, no sanitizer: the fuzzed code is safe Rust (no `unsafe` in the crate), so
# AddressSanitizer would find nothing the panics and overflow checks do not, while it costs
# about 40 % more build time and runs about 6 times fewer inputs per second (measured, see
# fuzz/README.md). Debug assertions and overflow checks are on; 16 codegen units, no LTO. The
# build has its own target directory (fuzz/target): its instrumented flags would otherwise
# rebuild the workspace's.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
export PATH="$ROOT/.tools/cargo/bin:$PATH"
export RUSTC_BOOTSTRAP=1

TARGETS=(notification acquirer_answers vk_launch facebook_signed_request authorization payment_request readings domain_values)
QUICK_SECONDS="${FUZZ_QUICK_SECONDS:-5}"
LONG_SECONDS_DEFAULT=600
BUILD_FLAGS=(-s none -O -a --codegen-units 16)
TRIPLE="$(rustc -vV | sed -n 's/^host: //p')"
BIN_DIR="$ROOT/fuzz/target/$TRIPLE/release"
LOGS="$ROOT/.run/fuzz"

LOG_TAG=fuzz
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"

# Inputs longer than a real one by a margin: each size limit of the parsers is crossed too.
max_len() {
    case "$1" in
        notification | acquirer_answers) echo 4096 ;;
        vk_launch | authorization) echo 4200 ;;
        # A payload of 3100 bytes makes a signed_request just over the 4 KiB credentials limit.
        facebook_signed_request) echo 3100 ;;
        payment_request) echo 2048 ;;
        readings) echo 1024 ;;
        domain_values) echo 256 ;;
        *) die "unknown target $1" ;;
    esac
}

known_target() {
    local t
    for t in "${TARGETS[@]}"; do [[ "$t" == "$1" ]] && return 0; done
    die "unknown target '$1' (scripts/fuzz.sh list)"
}

build() {
    bash scripts/tools.sh fuzz
    local started=$SECONDS
    cargo fuzz build "${BUILD_FLAGS[@]}"
    log "build: $((SECONDS - started)) s"
}

# The libFuzzer arguments every run shares.
common_args() {
    local target="$1"
    mkdir -p "fuzz/artifacts/$target"
    printf '%s\n' "-artifact_prefix=fuzz/artifacts/$target/" "-max_len=$(max_len "$target")" \
        "-dict=fuzz/dicts/$target.dict" -timeout=5 -rss_limit_mb=1024 -print_final_stats=1
}

# Runs one target for $2 seconds; prints a summary line, returns 1 on a finding.
fuzz_for() {
    local target="$1" seconds="$2" log_file="$LOGS/$1.log" status=0
    mkdir -p "fuzz/corpus/$target" "$LOGS"
    local args
    mapfile -t args < <(common_args "$target")
    "$BIN_DIR/$target" "${args[@]}" -max_total_time="$seconds" \
        "fuzz/corpus/$target" "fuzz/seeds/$target" >"$log_file" 2>&1 || status=$?
    local execs speed done_line
    execs="$(sed -n 's/^stat::number_of_executed_units: *//p' "$log_file" | tail -1)"
    speed="$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log_file" | tail -1)"
    done_line="$(grep -E '^#[0-9]+' "$log_file" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+' || true)"
    if ((status == 0)); then
        printf '%-24s %5ss  %10s execs  %7s/s  %s\n' "$target" "$seconds" "${execs:-?}" "${speed:-?}" "$done_line"
        return 0
    fi
    local artifact
    artifact="$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log_file" | tail -1)"
    printf '%-24s FAILED (exit %s)\n' "$target" "$status"
    grep -E "panicked at|^thread '|assertion" "$log_file" | head -5 | sed 's/^/    /' >&2 || true
    if [[ -n "$artifact" ]]; then
        log "input: $artifact"
        log "reproduce: scripts/fuzz.sh run $target $artifact"
        log "minimise:  scripts/fuzz.sh run $target -minimize_crash=1 -runs=100000 $artifact"
    else
        log "no artifact written; see $log_file"
    fi
    return 1
}

# Every target for $1 seconds each; exit 1 when any found something.
fuzz_all() {
    local seconds="$1" failed=() target started=$SECONDS
    build
    log "${#TARGETS[@]} targets, ${seconds} s each; logs in ${LOGS#"$ROOT"/}/"
    for target in "${TARGETS[@]}"; do
        fuzz_for "$target" "$seconds" || failed+=("$target")
    done
    log "fuzzing: $((SECONDS - started)) s in all"
    if ((${#failed[@]} > 0)); then
        die "findings in: ${failed[*]}"
    fi
}

command="${1:-}"
case "$command" in
    quick)
        fuzz_all "$QUICK_SECONDS"
        ;;
    long)
        seconds="${2:-$LONG_SECONDS_DEFAULT}"
        [[ "$seconds" =~ ^[1-9][0-9]*$ ]] || die "seconds per target must be a positive integer, not '$seconds'"
        fuzz_all "$seconds"
        ;;
    run)
        target="${2:-}"
        [[ -n "$target" ]] || die "usage: scripts/fuzz.sh run TARGET [libFuzzer args or input files]"
        known_target "$target"
        shift 2
        build
        mkdir -p "fuzz/corpus/$target"
        mapfile -t args < <(common_args "$target")
        # Files as arguments: run exactly those inputs (reproduce, minimise); otherwise fuzz.
        corpus=("fuzz/corpus/$target" "fuzz/seeds/$target")
        for arg in "$@"; do
            if [[ -f "$arg" ]]; then corpus=(); break; fi
        done
        exec "$BIN_DIR/$target" "${args[@]}" "$@" "${corpus[@]}"
        ;;
    build)
        build
        ;;
    list)
        printf '%s\n' "${TARGETS[@]}"
        ;;
    *)
        sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
