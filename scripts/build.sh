#!/usr/bin/env bash
# Release builds of every function for AWS Lambda (provided.al2023), as `sam deploy` ships them:
#
#   scripts/build.sh            arm64 (Graviton, what template.yaml declares)
#   ARCH=x86_64 scripts/build.sh
#
# Each function folder under functions/ is one package with one binary of the same name; the
# result is target/lambda/<bin>/bootstrap, a stripped static-glibc executable. cargo-lambda links
# with zig, so no cross toolchain is needed besides Rust's own standard library for the target.
#
# When the aarch64 standard library cannot be installed (rustup offline), the build falls back
# to x86_64 and says so loudly: such binaries need `Architectures: [x86_64]` in template.yaml.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

LOG_TAG=build
# shellcheck source=scripts/log.sh
. "$ROOT/scripts/log.sh"

bash scripts/tools.sh lambda
CARGO_LAMBDA="$ROOT/.tools/venv/bin/cargo-lambda"
[[ -x "$CARGO_LAMBDA" ]] || die "cargo-lambda is missing from .tools/venv (run make tools)"
# The zig that came with cargo-lambda's wheel is found as `python3 -m ziglang` in the same venv.
export PATH="$ROOT/.tools/venv/bin:$PATH"

ARCH="${ARCH:-arm64}"
case "$ARCH" in
    arm64 | aarch64) ARCH=arm64 TRIPLE=aarch64-unknown-linux-gnu ;;
    x86_64 | amd64) ARCH=x86_64 TRIPLE=x86_64-unknown-linux-gnu ;;
    *) die "unknown ARCH '$ARCH' (arm64 or x86_64)" ;;
esac

if ! rustup target list --installed 2>/dev/null | grep -qx "$TRIPLE"; then
    log "installing the Rust standard library for $TRIPLE"
    if ! rustup target add "$TRIPLE" >&2; then
        if [[ "$ARCH" == arm64 ]]; then
            log "WARNING: cannot install $TRIPLE (offline?): building x86_64 instead."
            log "WARNING: deploy these binaries only with Architectures: [x86_64] in template.yaml."
            ARCH=x86_64 TRIPLE=x86_64-unknown-linux-gnu
        else
            die "cannot install $TRIPLE"
        fi
    fi
fi

functions=()
for manifest in functions/*/Cargo.toml; do
    functions+=("$(basename "$(dirname "$manifest")")")
done
[[ ${#functions[@]} -gt 0 ]] || die "no function crates under functions/"

packages=()
for name in "${functions[@]}"; do
    packages+=(--package "$name")
done

log "building ${functions[*]} for $ARCH (release: LTO, one codegen unit, stripped)"
started=$SECONDS
"$CARGO_LAMBDA" lambda build --release "--$ARCH" "${packages[@]}"
log "built in $((SECONDS - started)) s"

printf '%-22s %10s  %s\n' function bytes architecture
for name in "${functions[@]}"; do
    bootstrap="target/lambda/$name/bootstrap"
    [[ -f "$bootstrap" ]] || die "$bootstrap was not produced"
    machine="$(file -b "$bootstrap" 2>/dev/null | cut -d, -f2 | sed 's/^ *//')"
    printf '%-22s %10s  %s\n' "$name" "$(stat -c %s "$bootstrap")" "${machine:-$ARCH}"
done
