"""Writes the starting corpus of every fuzz target into fuzz/seeds/<target>/: the repository's own
API Gateway events (events/), the examples of the unit tests and of the protocols' documentation,
signed where a signature is part of the input with the demo secrets of local.env, by the
protocols' published rules (computed here, independently of the Rust code under test).

Files whose name starts with `regression-` are inputs that once found a fault; they are kept and
never rewritten. Run from the repository root after changing an event or a demo secret:
    python3 fuzz/seeds/make_seeds.py
"""

from __future__ import annotations

import base64
import datetime
import hashlib
import hmac
import json
import shlex
import struct
import urllib.parse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SEEDS = ROOT / "fuzz" / "seeds"
# The instant the targets verify at (fuzz/src/lib.rs `NOW`): the `vk_ts` of the events.
NOW = 1_795_176_000


def local_env() -> dict[str, str]:
    values = {}
    for line in (ROOT / "local.env").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, raw = line.split("=", 1)
            values[key.strip()] = "".join(shlex.split(raw))
    return values


ENV = local_env()


def events(function: str) -> list[dict]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted((ROOT / "events" / function).glob("*.json"))]


def digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:10]


def write(target: str, name: str, data: str | bytes) -> None:
    folder = SEEDS / target
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_bytes(data.encode() if isinstance(data, str) else data)


def clear(target: str) -> None:
    for path in (SEEDS / target).glob("*"):
        if not path.name.startswith("regression-"):
            path.unlink()


# --- T-Bank -------------------------------------------------------------------------------------


def token_text(value) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None or isinstance(value, (dict, list)):
        return None
    return str(value)


def signed_notification(fields: dict) -> str:
    """The body with its Token: root scalars and Password, sorted by key, values joined, SHA-256."""
    pairs = {k: t for k, v in fields.items() if k != "Token" and (t := token_text(v)) is not None}
    pairs["Password"] = ENV["TBANK_PASSWORD"]
    joined = "".join(pairs[k] for k in sorted(pairs))
    return json.dumps({**fields, "Token": hashlib.sha256(joined.encode()).hexdigest()}, ensure_ascii=False)


def notification_seeds() -> None:
    clear("notification")
    for event in events("payment-callback"):
        if event.get("body"):
            write("notification", f"event-{digest(event['body'])}.json", event["body"])
    base = {
        "TerminalKey": ENV["TBANK_TERMINAL_KEY"],
        "OrderId": "0e7e0000000000000000000000000001",
        "Success": True,
        "Status": "CONFIRMED",
        "PaymentId": 7000000001,
        "ErrorCode": "0",
        "Amount": 152037,
        "CardId": 322264,
        "Pan": "220138******0013",
        "ExpDate": "1130",
    }
    write("notification", "confirmed.json", signed_notification(base))
    write("notification", "authorized.json", signed_notification({**base, "Status": "AUTHORIZED"}))
    write(
        "notification",
        "rejected.json",
        signed_notification({**base, "Success": False, "Status": "REJECTED", "ErrorCode": "1051",
                             "Message": "Недостаточно средств", "Details": "Insufficient funds"}),
    )
    write(
        "notification",
        "lenient-types.json",
        signed_notification({**base, "PaymentId": "7000000001", "Success": "true", "ErrorCode": 0,
                             "Amount": "152037", "RebillId": 145919, "DATA": {"Email": "a@b.ru"}}),
    )
    write(
        "notification",
        "receipt.json",
        signed_notification({
            "TerminalKey": ENV["TBANK_TERMINAL_KEY"], "OrderId": "0e7e0000000000000000000000000001",
            "Success": True, "Status": "RECEIPT", "PaymentId": 7000000001, "ErrorCode": "0",
            "ErrorMessage": "", "Amount": 152037, "FiscalNumber": 12, "ShiftNumber": 34,
            "ReceiptDatetime": "2026-11-20T15:21:05+03:00", "FnNumber": "9282000100072197",
            "EcrRegNumber": "0000000001047231", "FiscalDocumentNumber": 64318,
            "FiscalDocumentAttribute": 2918241905, "Type": "Income", "Ofd": "Такском",
            "Url": "https://nalog.gov.ru", "QrCodeUrl": "https://example.ru/qr",
            "Receipt": {"Email": "ivanov@example.ru", "Taxation": "osn", "Items": []},
        }),
    )
    # The bank's published example of the Token algorithm (another password: fails as Mismatch).
    write(
        "notification",
        "bank-token-example.json",
        '{"TerminalKey":"MerchantTerminalKey","Amount":19200,"OrderId":"21090","Description":'
        '"Подарочная карта на 1000 рублей","DATA":{"Phone":"+71234567890","Email":"a@test.com"},'
        '"Token":"0024a00af7c350a3a67ca168ce06502aa72772456662e38696d48b56ee9c97d9"}',
    )
    write("notification", "numbers-as-written.json",
          '{"PaymentId": 5974256058, "Rate": 1.10, "Big": 12345678901234567890123, "Token": null}')
    write("notification", "escapes.json", '{"Description": "Оплата \\"света\\" \\u0026 газа\\n", "alpha": "a", "Zeta": "z"}')


def acquirer_answer_seeds() -> None:
    clear("acquirer_answers")
    write("acquirer_answers", "init.json",
          '{"Success":true,"ErrorCode":"0","TerminalKey":"DemoTerminalKey","Status":"NEW",'
          '"PaymentId":"3093639567","OrderId":"0e7e0000000000000000000000000001","Amount":152037,'
          '"PaymentURL":"https://securepay.tinkoff.ru/new/fU1ppgqa"}')
    write("acquirer_answers", "get-state.json",
          '{"Success":true,"ErrorCode":"0","Message":"OK","TerminalKey":"DemoTerminalKey",'
          '"Status":"CONFIRMED","PaymentId":"3093639567","OrderId":"21090","Amount":152037}')
    write("acquirer_answers", "check-order.json",
          '{"TerminalKey":"T","OrderId":"o-1","Success":true,"ErrorCode":"0","Payments":['
          '{"PaymentId":"13660","Amount":1000,"Status":"REJECTED","RRN":"1","Success":"false",'
          '"ErrorCode":1051,"Message":"Недостаточно средств"},'
          '{"PaymentId":5974256058,"Amount":"1000","Status":"CONFIRMED","Success":"true","ErrorCode":0}]}')
    write("acquirer_answers", "cancel.json",
          '{"Success":true,"ErrorCode":"0","TerminalKey":"T","Status":"REFUNDED","PaymentId":"3093639567",'
          '"OrderId":"21090","OriginalAmount":152037,"NewAmount":0}')
    write("acquirer_answers", "refusal.json",
          '{"Success":false,"ErrorCode":"204","Message":"Неверный токен","Details":"Проверьте пару TerminalKey/SecretKey"}')


# --- VK and Facebook ----------------------------------------------------------------------------

VK_UNRESERVED = "-._~"


def vk_sign(params: list[tuple[str, str]], secret: str) -> str:
    """VK's sign: `vk_*` pairs sorted by key, RFC 3986-encoded, HMAC-SHA256, base64url unpadded."""
    signed = sorted((k, v) for k, v in params if k.startswith("vk_"))
    canonical = "&".join(
        f"{urllib.parse.quote(k, safe=VK_UNRESERVED)}={urllib.parse.quote(v, safe=VK_UNRESERVED)}" for k, v in signed
    )
    digest = hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def vk_query(params: list[tuple[str, str]], secret: str | None = None) -> str:
    sign = vk_sign(params, secret or ENV["VK_APP_SECRET"])
    return urllib.parse.urlencode(params + [("sign", sign)], quote_via=urllib.parse.quote)


def vk_launches() -> dict[str, str]:
    launches = {}
    for event in events("account-lookup") + events("pay"):
        header = (event.get("headers") or {}).get("authorization") or ""
        if header.startswith("VK "):
            launches[f"event-{digest(header)}"] = header[3:]
    base = [
        ("vk_access_token_settings", ""), ("vk_app_id", ENV["VK_APP_ID"]), ("vk_are_notifications_enabled", "0"),
        ("vk_is_app_user", "1"), ("vk_is_favorite", "0"), ("vk_language", "ru"), ("vk_platform", "desktop_web"),
        ("vk_ref", "other"), ("vk_ts", str(NOW - 600)), ("vk_user_id", "494075"),
    ]
    launches["fresh-desktop"] = vk_query(base)
    launches["from-a-community"] = "?" + vk_query(base + [("vk_group_id", "172817284"), ("vk_viewer_group_role", "admin")])
    launches["cyrillic-and-commas"] = vk_query(
        [(k, "friends,photos" if k == "vk_access_token_settings" else v) for k, v in base]
        + [("vk_new_feature", "Мир, труд май")]
    )
    launches["other-app"] = vk_query([(k, "6736218" if k == "vk_app_id" else v) for k, v in base])
    launches["stale"] = vk_query([(k, str(NOW - 7200) if k == "vk_ts" else v) for k, v in base])
    # VK's published example (another app, no vk_ts).
    launches["vk-published"] = (
        "vk_user_id=494075&vk_app_id=6736218&vk_is_app_user=1&vk_are_notifications_enabled=1&vk_language=ru"
        "&vk_access_token_settings=&vk_platform=android&sign=htQFduJpLxz7ribXRZpDFUH-XEUhC9rBPTJkjUFEkRA"
    )
    return launches


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def facebook_request(payload: bytes, secret: str | None = None) -> str:
    body = b64url(payload)
    signature = hmac.new((secret or ENV["FB_APP_SECRET"]).encode(), body.encode(), hashlib.sha256).digest()
    return f"{b64url(signature)}.{body}"


def facebook_payloads() -> dict[str, bytes]:
    tab = {"algorithm": "HMAC-SHA256", "issued_at": NOW - 30, "user_id": "100012345678",
           "page": {"id": "104857600213579", "liked": False, "admin": False}, "user": {"country": "ru", "locale": "ru_RU"}}
    anonymous = {k: v for k, v in tab.items() if k != "user_id"}
    return {
        "tab": json.dumps(tab).encode(),
        "anonymous-visitor": json.dumps(anonymous).encode(),
        "numeric-ids": json.dumps({**tab, "user_id": 100012345678, "page": {"id": 42}}).encode(),
        "with-expiry": json.dumps({**tab, "expires": NOW + 3600, "oauth_token": "EAAB"}).encode(),
        "never-expires": json.dumps({**tab, "expires": 0}).encode(),
    }


def auth_seeds() -> None:
    clear("vk_launch")
    clear("facebook_signed_request")
    clear("authorization")
    for name, query in vk_launches().items():
        write("vk_launch", name, query)
        write("authorization", f"vk-{name}", b"\x00VK " + query.encode())
        write("authorization", f"vk-resigned-{name}", b"\x01" + query.encode())
        write("authorization", f"bearer-resigned-{name}", b"\x02" + query.encode())
    for name, payload in facebook_payloads().items():
        write("facebook_signed_request", f"payload-{name}.json", payload)
        write("facebook_signed_request", f"signed-{name}", facebook_request(payload))
        write("authorization", f"fb-{name}", b"\x00FB " + facebook_request(payload).encode())
        write("authorization", f"fb-signed-{name}.json", b"\x03" + payload)
    # Facebook's PHP SDK fixture (another secret, padded segments, issued in 1970).
    write("facebook_signed_request", "php-sdk-fixture",
          "6Hi26ECjkj347belC0O8b8H5lwiIz5eA6V9VVjTg-HU=.eyJhbGdvcml0aG0iOiJITUFDLVNIQTI1NiIsImlzc3VlZF9hdCI6"
          "MzIxLCJvYXV0aF90b2tlbiI6ImZvb190b2tlbiIsInVzZXJfaWQiOiIxMjMiLCJwYWdlIjp7ImlkIjoiNDIiLCJsaWtlZCI6dHJ1"
          "ZSwiYWRtaW4iOmZhbHNlfX0=")
    write("authorization", "basic", b"\x00Basic dXNlcjpwYXNz")


# --- request bodies and values ------------------------------------------------------------------


def payment_request_seeds() -> None:
    clear("payment_request")
    bodies = {e["body"] for e in events("pay") if e.get("body")}
    bodies |= {
        '{"account":"1000000001","amount":1520.37,"email":"ivanov@example.ru","readingsId":"2026-11-5f3a9c1e-8e7d6c5b4a39"}',
        '{"email":"a@B.ru","amount":"1500,50","account":"10000 000 01","readingsId":null}',
        '{"account":"10000-000-01","amount":"5","amount":"500","email":"a@b.ru"}',
        '{"account":"10000-000-01","amount":"0.99","email":"a@b.ru","comission":"0"}',
    }
    for i, body in enumerate(sorted(bodies)):
        write("payment_request", f"body-{i:02}.json", body)


def readings_header(zone_set: int, digits: int | None, lasts: list[tuple[int, int] | None], today: datetime.date,
                    hour: int = 9, automatic: bool = False, window: tuple[int, int] | None = None) -> bytes:
    """The target's 24-byte meter header (see fuzz_targets/readings.rs)."""
    flags = (1 if automatic else 0) | (4 if window else 0)
    out = bytes([zone_set, 0 if digits is None else digits + 1, flags, *(window or (0, 0))])
    for last in (lasts + [None, None, None])[:3]:
        out += struct.pack("<IB", *(last or (0, 255)))
    days = (today - datetime.date(2020, 1, 1)).days
    return out + struct.pack("<H", days) + bytes([hour, 0])


def readings_seeds() -> None:
    clear("readings")
    today = datetime.date(2026, 11, 20)
    two_zone = readings_header(1, 5, [(18_000, 7), (7_300, 7)], today)
    for event in events("submit-readings"):
        body = event.get("body")
        if body:
            write("readings", f"two-zone-{digest(body)}", two_zone + body.encode())
    write("readings", "rollover-confirmed", readings_header(0, 5, [(99_990, 8)], today)
          + b'{"values": {"T1": 12}, "confirmRollover": true}')
    write("readings", "three-zone-own-window", readings_header(2, None, [(5_000, 20), (3_000, 20), (4_000, 20)],
                                                               today, window=(20, 26))
          + b'{"values": {"T3": 4100.0, "T1": 5100, "T2": 3100}}')
    write("readings", "automatic", readings_header(1, 6, [(25_000, 7), (9_900, 7)], today, automatic=True)
          + b'{"values": {"T1": 25300, "T2": 9950}}')


def domain_value_seeds() -> None:
    clear("domain_values")
    values = ["10000-000-01", "1000000003", "29614 328 09", " 29614 - 328 - 09 ", "2961432809\u00a0", "12345-678",
              "1520.37", "1500,50", "-0.01", "500000.00", "1e3", "999999999999999.99",
              "ivanov@example.ru", "a@B.ru", "0e7e0000000000000000000000000001", "2026-11-5f3a9c1e-8e7d6c5b4a39"]
    for i, value in enumerate(values):
        write("domain_values", f"value-{i:02}", value)


if __name__ == "__main__":
    notification_seeds()
    acquirer_answer_seeds()
    auth_seeds()
    payment_request_seeds()
    readings_seeds()
    domain_value_seeds()
