# shellcheck shell=bash
# log, die and step for every script: `LOG_TAG=<name>; . "$ROOT/scripts/log.sh"`. Messages go to
# stderr, tagged, so a script's own output stays clean.

log() { printf '[%s] %s\n' "${LOG_TAG:-script}" "$*" >&2; }
die() {
    printf '[%s] error: %s\n' "${LOG_TAG:-script}" "$*" >&2
    exit 1
}
step() { printf '\n==> %s\n' "$*" >&2; }
