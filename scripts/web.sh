#!/usr/bin/env bash
# shellcheck source-path=SCRIPTDIR
# The mini app (web/): build, serve, browser tests.
#
#   scripts/web.sh build [dev|test]   build web/ against that stack's API into web/dist/<stack>
#   . scripts/web.sh dev              (from scripts/dev.sh, sourced) build, serve on 127.0.0.1:5173
#                                     until the caller exits, export WEB_ORIGIN for the functions,
#                                     print how to open the page as VK and as Facebook would
#   scripts/web.sh test [file...]     (inside make test's test-stack block) seed the demo data,
#                                     build, serve on WEB_TEST_PORT (5174), run the functions under
#                                     `cargo lambda watch` on the test API port, run every
#                                     tests/browser/*.test.mjs (or the files named), stop what it
#                                     started
#
# The page has to come from an origin the API allows (ALLOWED_ORIGINS) and the acquirer's form
# returns to SUCCESS_URL / FAIL_URL: both are set here for the port the page is served on.

_web_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

_web_log() { printf '[web] %s\n' "$*" >&2; }

# build <stack>: VITE_API_URL is the API the page calls (the stack's API_URL).
_web_build() {
    local profile="$1"
    _web_log "building the mini app for the $profile stack (API $API_URL)"
    (cd "$_web_root/web" && VITE_API_URL="$API_URL" npx --no-install vite build --logLevel warn \
        --outDir "dist/$profile" --emptyOutDir)
}

# The way a customer opens the page: VK appends fresh launch parameters; Facebook POSTs a
# signed_request to the tab endpoint. Both are signed now and stay valid for AUTH_MAX_AGE_SECS.
_web_dev() {
    export WEB_PORT="${WEB_PORT:-5173}"
    export WEB_ORIGIN="${WEB_ORIGIN:-http://127.0.0.1:$WEB_PORT}"
    bash "$_web_root/scripts/tools.sh" web
    _web_build dev
    if port_in_use "$WEB_PORT"; then
        _web_log "port $WEB_PORT is taken: the page is not served (set WEB_PORT)"
        return 0
    fi
    svc_start web node "$_web_root/web/serve.mjs" --dir dist/dev --port "$WEB_PORT" --parent "$$"
    wait_port web "$WEB_PORT" 20
    local launch signed
    launch="$(cargo run -q -p admin --bin energosbyt-demo -- vk-launch)"
    signed="$(cargo run -q -p admin --bin energosbyt-demo -- fb-signed-request)"
    # A page that POSTs like Facebook does, for opening the tab in a desktop browser.
    cat >"$_web_root/web/dist/dev/facebook-tab.html" <<HTML
<!doctype html><html lang="ru"><head><meta charset="utf-8"><title>Facebook tab (local)</title></head>
<body onload="document.forms[0].submit()"><form method="post" action="$API_URL/facebook/tab">
<input type="hidden" name="signed_request" value="$signed"><button>Open the tab</button></form></body></html>
HTML
    cat >&2 <<TEXT

  The mini app (signed now, valid for ${AUTH_MAX_AGE_SECS:-3600} s):
    as VK opens it        $WEB_ORIGIN/?$launch
    as the Facebook tab   $WEB_ORIGIN/facebook-tab.html   (POSTs a signed_request to $API_URL/facebook/tab)

TEXT
}

_web_test() {
    . "$_web_root/scripts/env.sh" test
    . "$_web_root/scripts/services.sh"
    cd "$_web_root"
    export WEB_PORT="${WEB_TEST_PORT:-5174}"
    export WEB_ORIGIN="http://127.0.0.1:$WEB_PORT"
    export ALLOWED_ORIGINS="$WEB_ORIGIN"
    export SUCCESS_URL="$WEB_ORIGIN/#/return" FAIL_URL="$WEB_ORIGIN/#/return"
    # The browser tests check the screens, not the limits: one user polls and looks up a lot.
    export THROTTLE_USER_PER_MINUTE=100000 THROTTLE_IP_PER_MINUTE=100000 THROTTLE_PAGE_PER_MINUTE=100000
    export THROTTLE_USER_ACCOUNTS_PER_DAY=100000 THROTTLE_IP_ACCOUNTS_PER_DAY=100000 THROTTLE_PAGE_ACCOUNTS_PER_DAY=100000
    export SCREENSHOTS_DIR="$_web_root/.run/test/screenshots"
    bash scripts/tools.sh web lambda
    export PATH="$_web_root/.tools/venv/bin:$PATH"
    for service in web api; do
        if svc_running "$service"; then
            _web_log "a test $service is already running; stop it with 'make stack-down STACK=test'"
            return 1
        fi
    done
    trap 'svc_stop web; svc_stop api' EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM

    bash scripts/stack.sh seed test
    _web_build test
    cargo build -q -p account-lookup -p pay -p payment-history -p payment-receipt -p resend-receipt -p account-reminder -p submit-readings -p payment-callback -p facebook-tab -p admin
    svc_start web node web/serve.mjs --dir dist/test --port "$WEB_PORT" --parent "$$"
    svc_start api cargo lambda watch -A 127.0.0.1 -P "$API_PORT" --disable-cors
    wait_port web "$WEB_PORT" 20
    wait_port api "$API_PORT" 120
    python3 scripts/warm_functions.py "$API_URL"
    local files=("$@") file failed=0
    [[ ${#files[@]} -gt 0 ]] || files=(tests/browser/*.test.mjs)
    export VK_LAUNCH_USER_BASE="$RANDOM"
    for file in "${files[@]}"; do
        node "$file" || failed=1
    done
    return "$failed"
}

# Debian's chromium for the browser tests (playwright-core drives it; nothing is downloaded by
# playwright), and web/node_modules exactly as package-lock.json says; stamped like tools.sh.
_web_tools() {
    local stamps="$_web_root/.tools/stamps" spec
    if ! command -v chromium >/dev/null; then
        _web_log "installing chromium (Debian)"
        # A fresh machine has no package lists yet: update them first.
        local sudo=""
        [[ "$(id -u)" == 0 ]] || sudo="sudo"
        $sudo apt-get update -qq >/dev/null
        DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
    fi
    spec="$(sha256sum "$_web_root/web/package-lock.json" | cut -d' ' -f1)"
    if [[ -d "$_web_root/web/node_modules" && -f "$stamps/web" && "$(cat "$stamps/web")" == "$spec" ]]; then
        return 0
    fi
    _web_log "installing web/node_modules (npm ci)"
    (cd "$_web_root/web" && npm ci --no-audit --no-fund --loglevel=error)
    mkdir -p "$stamps" && printf '%s' "$spec" >"$stamps/web"
}

case "${1:-}" in
    tools)
        set -euo pipefail
        _web_tools
        ;;
    build)
        set -euo pipefail
        . "$_web_root/scripts/env.sh" "${2:-dev}"
        _web_build "${2:-dev}"
        ;;
    dev) _web_dev ;;
    test)
        set -euo pipefail
        _web_test "${@:2}"
        ;;
    *)
        _web_log "usage: scripts/web.sh build [dev|test] | test [file...]  (dev: sourced from scripts/dev.sh)"
        exit 2
        ;;
esac
