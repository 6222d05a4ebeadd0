"""Schemathesis hooks for the mini-app API (loaded through `hooks` in tests/api/schemathesis.toml).

Every operation with a `security` requirement gets an `Authorization` header minted for that very
request: VK launch parameters and Facebook `signed_request`s, in turn, each signed with the demo
secrets of local.env and dated now, so a run of any length never meets the `AUTH_MAX_AGE_SECS`
freshness limit. Schemathesis's own `ignored_auth` check then drops or breaks the header and
expects the documented 401.

The signing follows VK's and Facebook's published algorithms independently of the Rust signer;
`scripts/api_fuzz.sh` passes one launch query minted by `energosbyt-demo vk-launch` as
`VK_LAUNCH_REFERENCE`, and loading this file fails unless both agree on its signature.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import os
import sys
import threading
import time
import urllib.parse
import uuid

import schemathesis

# The acquirer sandbox's notification signer: the bank's side, written apart from the service's.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "sandbox"))
from tbank_sandbox import token_of  # noqa: E402


def _env(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise RuntimeError(f"{name} is not set: load the stack's environment (scripts/env.sh test)")
    return value


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _hmac_sha256(secret: str, message: bytes) -> bytes:
    return hmac.new(secret.encode(), message, hashlib.sha256).digest()


def vk_sign(params: dict[str, str], secret: str) -> str:
    """VK's `sign`: HMAC-SHA256 over the `vk_*` pairs sorted by key, each percent-encoded with
    only RFC 3986 unreserved characters kept, base64url without padding."""
    signed = sorted((k, v) for k, v in params.items() if k.startswith("vk_"))
    canonical = "&".join(f"{urllib.parse.quote(k, safe='-._~')}={urllib.parse.quote(v, safe='-._~')}" for k, v in signed)
    return _b64url(_hmac_sha256(secret, canonical.encode()))


def vk_launch(user_id: int, ts: int) -> str:
    params = {
        "vk_access_token_settings": "",
        "vk_app_id": _env("VK_APP_ID"),
        "vk_are_notifications_enabled": "0",
        "vk_is_app_user": "1",
        "vk_is_favorite": "0",
        "vk_language": "ru",
        "vk_platform": "desktop_web",
        "vk_ref": "other",
        "vk_ts": str(ts),
        "vk_user_id": str(user_id),
    }
    query = urllib.parse.urlencode(params, safe="-._~", quote_via=urllib.parse.quote)
    return f"{query}&sign={vk_sign(params, _env('VK_APP_SECRET'))}"


def fb_signed_request(user_id: int, issued_at: int) -> str:
    payload = {
        "algorithm": "HMAC-SHA256",
        "issued_at": issued_at,
        "user_id": str(user_id),
        "page": {"id": _env("FB_PAGE_ID"), "liked": True, "admin": False},
    }
    body = _b64url(json.dumps(payload, separators=(",", ":")).encode())
    return f"{_b64url(_hmac_sha256(_env('FB_APP_SECRET'), body.encode()))}.{body}"


def _check_against_reference() -> None:
    """The Rust signer's launch query must carry the signature this file computes for it."""
    reference = os.environ.get("VK_LAUNCH_REFERENCE")
    if not reference:
        return
    pairs = urllib.parse.parse_qsl(reference, keep_blank_values=True)
    params = {k: v for k, v in pairs if k != "sign"}
    claimed = dict(pairs).get("sign")
    if claimed != vk_sign(params, _env("VK_APP_SECRET")):
        raise RuntimeError("tests/api/hooks.py signs VK launch parameters differently from energosbyt-demo")


_check_against_reference()

# One VK user and one Facebook user for the whole run, so that a payment created in a run can be
# read back by its creator (GET /payments/{id} answers 404 to anyone else). A per-run base keeps
# runs apart in a stack that is not emptied between them.
_USER = int(os.environ.get("API_FUZZ_USER", "0")) or (int(time.time()) % 1_000_000_000) + 1
_turn = itertools.count()
_turn_lock = threading.Lock()


@schemathesis.auth(refresh_interval=None, retry_on=[])
class MiniAppLaunch:
    """Fresh credentials for every request. The payment operations always go as the run's VK user,
    since a payment is shown only to the caller that created it (`vk:<id>` and `fb:<id>` are
    different callers); the account and readings operations take VK and Facebook in turn."""

    def get(self, case, context):
        now = int(time.time())
        if not context.operation.path.startswith("/payments"):
            with _turn_lock:
                turn = next(_turn)
            if turn % 2:
                return f"FB {fb_signed_request(_USER, now)}"
        return f"VK {vk_launch(_USER, now)}"

    def set(self, case, data, context):
        case.headers = case.headers or {}
        case.headers["Authorization"] = data


# The local emulator (`cargo lambda watch`) answers 500 by itself, before any function runs, to
# two requests API Gateway carries: a body that is not UTF-8 under a JSON or text content type
# (API Gateway hands it over base64-encoded) and a header value with bytes outside ASCII (it
# cannot serialise the event). The handlers' answers to both are checked in
# tests/tests/contract.rs (`bytes_the_local_emulator_cannot_carry_are_refused_by_the_handlers`);
# here such a body is sent as its lossy UTF-8 decoding (still not JSON), and such a header value
# is left out of the run.
def _emulator_carries_headers(headers) -> bool:
    for value in (headers or {}).values():
        if isinstance(value, bytes):
            try:
                value.decode("ascii")
            except UnicodeDecodeError:
                return False
        elif isinstance(value, str) and not value.isascii():
            return False
    return True


@schemathesis.hook
def filter_case(context, case):
    return _emulator_carries_headers(case.headers)


@schemathesis.hook
def map_case(context, case):
    _positive_payment_is_new_intent(case)
    _sign_positive_callers(case)
    body = case.body
    media = (case.media_type or "").lower()
    textual = media.startswith("text/") or media.startswith("application/json")
    if textual and isinstance(body, (bytes, bytearray)):
        try:
            bytes(body).decode("utf-8")
        except UnicodeDecodeError:
            case.body = bytes(body).decode("utf-8", errors="replace").encode("utf-8")
    return case


def _positive_payment_is_new_intent(case, positive: bool | None = None) -> None:
    """A positive payment case stands for a new payment intent, which the generator alone cannot
    make: a well-formed `readingsId` must also name this account's current submission (else the
    documented 400 `invalid-readings-id`), so positive payments go without one; and its key must
    be its own (else the documented 422 for a key met with another body). Negative cases keep
    whatever they carry."""
    if case.operation.path != "/payments" or case.method.upper() != "POST":
        return
    if positive is None:
        positive = case.meta is not None and case.meta.generation.mode.is_positive
    if not positive:
        return
    if isinstance(case.body, dict):
        case.body.pop("readingsId", None)
    if case.headers and "Idempotency-Key" in case.headers:
        # One key is one payment intent: a generated key ("0") met again with another body is
        # the documented 422. A positive case is a new intent, so its key is made its own.
        key = str(case.headers["Idempotency-Key"])[:95]
        case.headers["Idempotency-Key"] = f"{key}-{uuid.uuid4().hex}"


@schemathesis.hook
def before_add_examples(context, examples):
    # Explicit examples are positive cases that bypass `map_case`.
    for case in examples:
        _positive_payment_is_new_intent(case, positive=True)


def _sign_positive_callers(case) -> None:
    """Positive cases of the two operations authenticated inside their body are signed as their
    real callers sign them, so they reach the logic behind the signature check: a notification
    as our terminal, with the terminal password's Token; the Facebook tab's form with a fresh
    signed_request. Negative cases stay unsigned garbage, answered 4xx as documented."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or not isinstance(case.body, dict):
        return
    if case.operation.path == "/callbacks/tbank":
        # The bank writes kopecks as an integer literal and the service reads integer text only;
        # JSON Schema's `integer` also admits 4748.0, which no bank sends.
        for name, value in case.body.items():
            if isinstance(value, float) and value.is_integer():
                case.body[name] = int(value)
        case.body["TerminalKey"] = _env("TBANK_TERMINAL_KEY")
        case.body["Token"] = token_of(case.body, _env("TBANK_PASSWORD"))
    elif case.operation.path == "/facebook/tab" and case.method.upper() == "POST":
        case.body["signed_request"] = fb_signed_request(_USER, int(time.time()))
