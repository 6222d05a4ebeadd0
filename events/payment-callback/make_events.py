"""Writes the payment-callback events: API Gateway HTTP API v2 events carrying T-Bank notifications,
signed with the demo terminal password of local.env.

The Token is computed here from the bank's published algorithm, independently of the Rust code
under test: the root-level scalar values plus Password, sorted by key, concatenated, SHA-256,
lowercase hex.

Every event is about one payment, which the events test creates before running them:
    OrderId   0e7e0000000000000000000000000001   (our payment id)
    PaymentId 7000000001                         (the bank's)
    Amount    152037 kopecks = 1520.37 roubles

Run from the repository root after changing local.env's TBANK_TERMINAL_KEY / TBANK_PASSWORD:
    python3 events/payment-callback/make_events.py
"""

from __future__ import annotations

import hashlib
import json
import shlex
from pathlib import Path

HERE = Path(__file__).resolve().parent
LOCAL_ENV = HERE.parent.parent / "local.env"

ORDER_ID = "0e7e0000000000000000000000000001"
PAYMENT_ID = 7000000001
AMOUNT = 152037


def local_env() -> dict[str, str]:
    values = {}
    for line in LOCAL_ENV.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, raw = line.split("=", 1)
            values[key.strip()] = "".join(shlex.split(raw))
    return values


def text_of(value) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, str)):
        return str(value)
    return None  # objects, arrays and nulls are not signed


def signed(body: dict, password: str) -> dict:
    pairs = {k: text_of(v) for k, v in body.items() if k != "Token" and text_of(v) is not None}
    pairs["Password"] = password
    joined = "".join(pairs[k] for k in sorted(pairs))
    return {**body, "Token": hashlib.sha256(joined.encode("utf-8")).hexdigest()}


def event(body: dict, request_id: str) -> dict:
    return {
        "version": "2.0",
        "routeKey": "POST /callbacks/tbank",
        "rawPath": "/callbacks/tbank",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "abcdef1234.execute-api.eu-central-1.amazonaws.com",
            "user-agent": "Apache-HttpClient/4.5.13 (Java/17)",
            "x-forwarded-for": "91.194.226.181",
            "x-forwarded-port": "443",
            "x-forwarded-proto": "https",
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdef1234",
            "domainName": "abcdef1234.execute-api.eu-central-1.amazonaws.com",
            "domainPrefix": "abcdef1234",
            "http": {
                "method": "POST",
                "path": "/callbacks/tbank",
                "protocol": "HTTP/1.1",
                "sourceIp": "91.194.226.181",
                "userAgent": "Apache-HttpClient/4.5.13 (Java/17)",
            },
            "requestId": request_id,
            "routeKey": "POST /callbacks/tbank",
            "stage": "$default",
            "time": "20/Nov/2026:12:00:00 +0000",
            "timeEpoch": 1795176000000,
        },
        "body": json.dumps(body, ensure_ascii=False, separators=(",", ":")),
        "isBase64Encoded": False,
    }


def main() -> None:
    env = local_env()
    terminal, password = env["TBANK_TERMINAL_KEY"], env["TBANK_PASSWORD"]
    confirmed = {
        "TerminalKey": terminal, "OrderId": ORDER_ID, "Success": True, "Status": "CONFIRMED",
        "PaymentId": PAYMENT_ID, "ErrorCode": "0", "Amount": AMOUNT, "CardId": 322264,
        "Pan": "220138******0013", "ExpDate": "1130", "DATA": {"OperationInitiatorType": "0"},
    }
    receipt = {
        "TerminalKey": terminal, "OrderId": ORDER_ID, "Success": True, "Status": "RECEIPT",
        "PaymentId": PAYMENT_ID, "ErrorCode": "0", "ErrorMessage": "", "Amount": AMOUNT,
        "FiscalNumber": 12, "ShiftNumber": 34, "ReceiptDatetime": "2026-11-20T15:21:05+03:00",
        "FnNumber": "9282000100072197", "EcrRegNumber": "0000000001047231",
        "FiscalDocumentNumber": 64318, "FiscalDocumentAttribute": 2918241905, "Type": "Income",
        "Ofd": "ООО «Такском»", "Url": "https://nalog.ru", "QrCodeUrl": "https://ofd.example.ru/qr",
        "CalculationPlace": "https://vk.com/app51234567", "CashierName": "",
        "SettlePlace": "https://vk.com/app51234567",
        "Receipt": {
            "Email": "payer@example.ru", "Taxation": "osn", "FfdVersion": "1.2",
            "Items": [{
                "Name": "Оплата электроэнергии, л/с 10000-000-01", "Price": AMOUNT, "Quantity": 1,
                "Amount": AMOUNT, "Tax": "vat22", "PaymentMethod": "full_payment",
                "PaymentObject": "service", "MeasurementUnit": "шт",
            }],
        },
    }
    files = {
        "200-confirmed.json": event(signed(confirmed, password), "Cb7e40000000001="),
        # The same delivery again, as the bank re-sends it: answered OK, credited once.
        "200-duplicate.json": event(signed(confirmed, password), "Cb7e40000000002="),
        "200-receipt.json": event(signed(receipt, password), "Cb7e40000000003="),
        # Signed with a password that is not the terminal's: refused, nothing changes.
        "401-forged-token.json": event(signed({**confirmed, "Amount": AMOUNT * 100}, "guessed-password"),
                                       "Cb7e40000000004="),
    }
    for name, value in files.items():
        (HERE / name).write_text(json.dumps(value, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        print(f"wrote {name}")


if __name__ == "__main__":
    main()
