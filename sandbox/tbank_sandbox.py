#!/usr/bin/env python3
"""A local stand-in for T-Bank's internet acquiring (API v2), for development and tests.

It speaks the bank's protocol: `POST /v2/Init`, `/v2/GetState`, `/v2/CheckOrder`, `/v2/Cancel`,
and for СБП `/v2/GetQr` and `/v2/SbpPayTest`, with Token-signed JSON and the bank's validations (always HTTP 200 with `Success` / `ErrorCode`);
a hosted payment form at `GET /pay/<PaymentId>` that picks the outcome by the bank's test cards,
with a 3-D Secure challenge page; signed notifications to the payment's `NotificationURL`
(AUTHORIZED then CONFIRMED, or REJECTED / AUTH_FAIL, then a fiscal RECEIPT), re-sent on a
compressed schedule until the receiver answers HTTP 200 with the body `OK`; and a redirect to
`SuccessURL` / `FailURL` with the query parameters the bank appends. A СБП link from `GetQr` opens
`GET /sbp/<PaymentId>`, a page playing the customer's bank app (confirm, decline, or leave the
request unanswered), which sends the same notifications as a card payment, without a card.

A control API lets tests drive it without a browser:
  GET  /sandbox/health                  {"ok": true}
  GET  /sandbox/payments[?order_id=..]  every payment, its status history and every delivery attempt
  GET  /sandbox/payments/<PaymentId>    one payment
  POST /sandbox/pay/<PaymentId>         {"pan": "...", "passcode": "...", "exp": "MM/YY", "cvc": "123"}
  POST /sandbox/expire/<PaymentId>      the form's deadline passes now (DEADLINE_EXPIRED)
  POST /sandbox/sbp/<PaymentId>         {"action": "confirm"|"decline"|"ignore"|"expire"}: the bank app
  POST /sandbox/reset                   forget every payment and fault, stop pending deliveries
  GET  /sandbox/faults, POST /sandbox/faults
       {"init": "ok"|"http500"|"timeout"|"decline"|"garbage", "get_state": ..., "check_order": ...,
        "cancel": ..., "get_qr": ...}; a value may also be {"mode": "...", "times": N, "delay": seconds,
        "code": "...", "message": "...", "match": "<OrderId or PaymentId>"}; with "match" the
        fault applies only to that order or payment. "timeout" does the work and answers only after the delay
        (15 s by default), so a client that gave up does not know the payment exists.

Python 3.11 standard library only. Binds only the host it is given; notifications go only to
loopback addresses.

    python3 sandbox/tbank_sandbox.py --host 127.0.0.1 --port 9101
"""

from __future__ import annotations

import argparse
import hashlib
import heapq
import hmac
import html
import ipaddress
import itertools
import json
import logging
import os
import random
import re
import socket
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

log = logging.getLogger("tbank-sandbox")

MOSCOW = timezone(timedelta(hours=3))
DEMO_TERMINAL_KEY = "DemoTerminalKey"
DEMO_PASSWORD = "DemoPassword"
CHALLENGE_PASSCODE = "1qwezxc"
DEFAULT_RETRY_SCHEDULE = (1.0, 2.0, 4.0, 8.0, 16.0, 32.0)

# The RECEIPT requisites the bank's documented example leaves out, and a test may too.
OMITTABLE_RECEIPT_FIELDS = frozenset(
    {"Ofd", "Url", "QrCodeUrl", "CalculationPlace", "CashierName", "SettlePlace"})
DEFAULT_TIMEOUT_FAULT_DELAY = 15.0

# Statuses after which the payer can no longer act on the form.
FINAL_FAILURES = {"REJECTED", "AUTH_FAIL", "CANCELED", "DEADLINE_EXPIRED", "REVERSED"}
PAID = {"AUTHORIZED", "CONFIRMED", "PARTIAL_REFUNDED", "REFUNDED", "PARTIAL_REVERSED"}
PAYABLE = {"NEW", "FORM_SHOWED"}
MERCHANT_LABEL = "Мосэнергосбыт"

TAX_CODES = {"none", "vat0", "vat5", "vat7", "vat10", "vat20", "vat22", "vat105", "vat107",
             "vat110", "vat120", "vat122"}
TAXATIONS = {"osn", "usn_income", "usn_income_outcome", "envd", "esn", "patent"}


# --------------------------------------------------------------------------------------------
# Token
# --------------------------------------------------------------------------------------------

class RawNumber(str):
    """A JSON number kept as the text it was written as (the Token signs that text)."""


class DuplicateKey(ValueError):
    pass


def _pairs_without_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise DuplicateKey(key)
        seen[key] = value
    return seen


def parse_json(text: str):
    """JSON with every number kept as its text and repeated keys refused."""
    return json.loads(text, parse_int=RawNumber, parse_float=RawNumber,
                      parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)),
                      object_pairs_hook=_pairs_without_duplicates)


def as_sent(value):
    """A parsed value ready to send again: each number kept as text (`RawNumber`) a JSON number
    once more, as the bank writes it (a `str` would go out as a JSON string)."""
    if isinstance(value, RawNumber):
        text = str(value)
        return int(text) if re.fullmatch(r"-?\d+", text) else float(text)
    if isinstance(value, dict):
        return {key: as_sent(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_sent(item) for item in value]
    return value


def _scalar_text(value):
    if value is None or isinstance(value, (dict, list)):
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, RawNumber):
        return str(value)
    if isinstance(value, (int, float)):
        return json.dumps(value)
    return str(value)


def token_of(body: dict, password: str) -> str:
    """The bank's Token: root scalars (not Token, not nested), plus Password, sorted by key,
    values concatenated, SHA-256, lowercase hex."""
    pairs = {}
    for key, value in body.items():
        if key in ("Token", "Password"):
            continue
        text = _scalar_text(value)
        if text is not None:
            pairs[key] = text
    pairs["Password"] = password
    joined = "".join(pairs[k] for k in sorted(pairs, key=lambda k: k.encode("utf-8")))
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()


def token_matches(body: dict, password: str) -> bool:
    received = body.get("Token")
    if not isinstance(received, str):
        return False
    return hmac.compare_digest(token_of(body, password).encode(), received.lower().encode())


def signed(body: dict, password: str) -> dict:
    out = dict(body)
    out["Token"] = token_of(body, password)
    return out


# --------------------------------------------------------------------------------------------
# Helpers on values
# --------------------------------------------------------------------------------------------

def mask_pan(pan: str) -> str:
    return pan[:6] + "*" * max(len(pan) - 10, 0) + pan[-4:] if len(pan) >= 10 else "****"


def roubles(kopecks: int) -> str:
    """`150005` → `1 500,05 ₽` as a Russian page prints it."""
    whole, frac = divmod(kopecks, 100)
    grouped = f"{whole:,}".replace(",", "\u00a0")
    return f"{grouped},{frac:02d}\u00a0₽"


def as_int(value) -> int | None:
    if isinstance(value, bool) or not isinstance(value, (RawNumber, int)):
        return None
    text = str(value)
    return int(text) if re.fullmatch(r"-?\d+", text) else None


def as_decimal(value) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, (RawNumber, int, float)):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def now_moscow() -> datetime:
    return datetime.now(MOSCOW)


def iso_moscow(moment: datetime) -> str:
    return moment.astimezone(MOSCOW).strftime("%Y-%m-%dT%H:%M:%S+03:00")


def is_loopback_url(url: str) -> bool:
    try:
        parsed = urllib.parse.urlsplit(url)
    except ValueError:
        return False
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        return False
    try:
        return ipaddress.ip_address(parsed.hostname).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(parsed.hostname, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


class BankError(Exception):
    """A refusal the bank answers with `Success: false`."""

    def __init__(self, code: str, message: str, details: str = ""):
        super().__init__(f"{code} {message}")
        self.code = code
        self.message = message
        self.details = details


def bad_params(details: str) -> BankError:
    # The bank answers malformed requests with 9999 «Неверные параметры.» and says what in Details.
    return BankError("9999", "Неверные параметры.", details)


# --------------------------------------------------------------------------------------------
# State
# --------------------------------------------------------------------------------------------

@dataclass
class Attempt:
    at: str
    http_status: int | None
    answer: str
    ok: bool
    error: str | None = None


@dataclass
class Delivery:
    id: int
    payment_id: int
    status: str
    url: str
    body: dict
    generation: int
    attempts: list[Attempt] = field(default_factory=list)
    state: str = "pending"  # pending → delivered | gave_up

    def snapshot(self) -> dict:
        return {
            "id": self.id,
            "status": self.status,
            "url": self.url,
            "state": self.state,
            "delivered": self.state == "delivered",
            "attempts": [a.__dict__ for a in self.attempts],
            "body": self.body,
        }


@dataclass
class Payment:
    payment_id: int
    terminal_key: str
    order_id: str
    amount: int
    description: str
    notification_url: str | None
    success_url: str | None
    fail_url: str | None
    due: datetime
    data: dict
    receipt: dict | None
    created: str
    status: str = "NEW"
    history: list[dict] = field(default_factory=list)
    pan: str | None = None
    exp_date: str | None = None
    card_id: int | None = None
    # A СБП link was issued (`GetQr`): the bank-app page may pay it.
    sbp: bool = False
    error_code: str = "0"
    message: str = ""
    remaining: int = 0
    cancels: dict = field(default_factory=dict)  # ExternalRequestId → answer
    deliveries: list[Delivery] = field(default_factory=list)

    def move(self, status: str):
        self.status = status
        self.history.append({"status": status, "at": iso_moscow(now_moscow())})

    def snapshot(self) -> dict:
        return {
            "PaymentId": str(self.payment_id),
            "OrderId": self.order_id,
            "Amount": self.amount,
            "Status": self.status,
            "ErrorCode": self.error_code,
            "Message": self.message,
            "Description": self.description,
            "NotificationURL": self.notification_url,
            "SuccessURL": self.success_url,
            "FailURL": self.fail_url,
            "RedirectDueDate": iso_moscow(self.due),
            "DATA": self.data,
            "Receipt": as_sent(self.receipt),
            "Pan": self.pan,
            "ExpDate": self.exp_date,
            "CardId": self.card_id,
            "Sbp": self.sbp,
            "RemainingAmount": self.remaining,
            "History": self.history,
            "Notifications": [d.snapshot() for d in self.deliveries],
        }


@dataclass(frozen=True)
class CardOutcome:
    kind: str  # success | rejected | auth_fail
    three_ds: str | None = None  # frictionless | challenge | None
    code: str = "0"
    message: str = ""


TEST_CARDS = {
    "2201382000000013": CardOutcome("success", "frictionless"),
    "2201382000000047": CardOutcome("success", "challenge"),
    "2201382000000005": CardOutcome("auth_fail", "frictionless", "101",
                                    "Эмитент отклонил аутентификацию 3-D Secure"),
    "2201382000000021": CardOutcome("auth_fail", "frictionless", "101",
                                    "Аутентификация 3-D Secure не пройдена"),
    "2201382000000831": CardOutcome("rejected", "frictionless", "1051",
                                    "Недостаточно средств на карте"),
    "2200770239097761": CardOutcome("success", None),
}
UNKNOWN_CARD = CardOutcome("rejected", None, "99", "Операция отклонена банком-эмитентом")
EXPIRED_CARD = CardOutcome("rejected", None, "1054", "Истёк срок действия карты")
WRONG_PASSCODE = CardOutcome("auth_fail", "challenge", "101", "Неверный код подтверждения 3-D Secure")


@dataclass
class FormResult:
    """What the form shows next: a 3-DS challenge, an input error, or the end (redirect)."""
    kind: str  # challenge | invalid | done | not_payable
    payment: Payment
    error: str | None = None
    redirect: str | None = None


class Notifier:
    """Delivers signed notifications from background threads; re-sends on any answer but
    HTTP 200 with the body `OK`, on a bounded schedule."""

    def __init__(self, retry_schedule, timeout: float, lock: threading.RLock):
        self.retry_schedule = tuple(retry_schedule)
        self.timeout = timeout
        self.lock = lock
        self.generation = 0
        self._heap: list = []
        self._seq = itertools.count()
        self._wake = threading.Condition()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        threading.Thread(target=self._retry_loop, name="notification-retries", daemon=True).start()

    def reset(self):
        with self._wake:
            self.generation += 1
            self._heap.clear()
            self._wake.notify_all()

    def send_in_order(self, chain: list[tuple[float, Delivery]]):
        """First attempts in order (each after its pause); failures go to the retry schedule."""

        def run():
            for pause, delivery in chain:
                if pause:
                    time.sleep(pause)
                if delivery.generation != self.generation:
                    return
                self._attempt(delivery)

        threading.Thread(target=run, name="notification-chain", daemon=True).start()

    def _attempt(self, delivery: Delivery):
        if delivery.generation != self.generation or delivery.state != "pending":
            return
        text = json.dumps(delivery.body, ensure_ascii=False)
        status, answer, error = None, "", None
        if not is_loopback_url(delivery.url):
            error = "not sent: this sandbox delivers only to loopback addresses"
        else:
            request = urllib.request.Request(delivery.url, data=text.encode("utf-8"), method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with self._opener.open(request, timeout=self.timeout) as response:
                    status = response.status
                    answer = response.read(4096).decode("utf-8", "replace")
            except urllib.error.HTTPError as e:
                status = e.code
                answer = e.read(4096).decode("utf-8", "replace")
            except (OSError, ValueError) as e:
                error = f"{type(e).__name__}: {e}"
        ok = status == 200 and answer == "OK"
        with self.lock:
            delivery.attempts.append(Attempt(iso_moscow(now_moscow()), status, answer[:200], ok, error))
            tries = len(delivery.attempts)
            if ok:
                delivery.state = "delivered"
            elif tries > len(self.retry_schedule):
                delivery.state = "gave_up"
        log.info("notification %s for payment %s, attempt %d: %s", delivery.status,
                 delivery.payment_id, tries,
                 "delivered" if ok else f"failed (HTTP {status}, {error or repr(answer[:40])})")
        if not ok and delivery.state == "pending":
            due = time.monotonic() + self.retry_schedule[tries - 1]
            with self._wake:
                heapq.heappush(self._heap, (due, next(self._seq), delivery))
                self._wake.notify_all()

    def _retry_loop(self):
        while True:
            with self._wake:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._wake.wait(timeout)
                _, _, delivery = heapq.heappop(self._heap)
            threading.Thread(target=self._attempt, args=(delivery,), daemon=True).start()


class Sandbox:
    def __init__(self, terminal_key: str, password: str, public_url: str = "http://127.0.0.1:9101",
                 retry_schedule=DEFAULT_RETRY_SCHEDULE, receipt_delay: float = 0.3,
                 notify_timeout: float = 10.0, payment_id_start: int = 5_000_000_001,
                 merchant_name: str = "Мосэнергосбыт (песочница)",
                 settle_place: str = "https://pay.example.ru"):
        self.terminal_key = terminal_key
        self.password = password
        self.public_url = public_url.rstrip("/")
        self.receipt_delay = receipt_delay
        self.merchant_name = merchant_name
        self.settle_place = settle_place
        self.lock = threading.RLock()
        self.notifier = Notifier(retry_schedule, notify_timeout, self.lock)
        # Identifiers keep counting across resets: the bank never reuses a PaymentId, and a
        # late delivery from before a reset must not pass for a new payment's.
        self._ids = itertools.count(payment_id_start)
        self._delivery_ids = itertools.count(1)
        self._card_ids = itertools.count(70_000_001)
        self._reset_state()

    def _reset_state(self):
        self.payments: dict[int, Payment] = {}
        self.orders: dict[str, list[int]] = {}
        self.faults: dict[str, dict] = {}
        # Requisites left out of RECEIPT notifications, as the bank's documented example does.
        self.receipt_omit: set[str] = set()
        self._fiscal = {"shift": 1, "in_shift": 0, "fd": 1200}
        self._rng = random.Random(20260101)

    def reset(self):
        with self.lock:
            self.notifier.reset()
            self._reset_state()

    # ---- faults ------------------------------------------------------------------------------

    def set_faults(self, body: dict) -> dict:
        with self.lock:
            for key, value in body.items():
                if key not in ("init", "get_state", "check_order", "cancel", "get_qr"):
                    raise ValueError(f"unknown operation {key!r}")
                spec = {"mode": value} if isinstance(value, str) else dict(value)
                if spec.get("mode") not in ("ok", "http500", "timeout", "decline", "garbage"):
                    raise ValueError(f"unknown fault {spec.get('mode')!r}")
                if spec["mode"] == "ok":
                    self.faults.pop(key, None)
                else:
                    self.faults[key] = spec
            return dict(self.faults)

    def set_receipt_fields(self, body: dict) -> dict:
        """Leaves the named optional requisites out of every RECEIPT notification from now on
        (`{"omit": []}` puts them back)."""
        omit = body.get("omit", [])
        if not isinstance(omit, list) or any(field not in OMITTABLE_RECEIPT_FIELDS for field in omit):
            raise ValueError(f"omit: a list of {sorted(OMITTABLE_RECEIPT_FIELDS)}")
        with self.lock:
            self.receipt_omit = set(omit)
            return {"omit": sorted(self.receipt_omit)}

    def take_fault(self, operation: str, body) -> dict | None:
        """The fault for this call, if one is switched on. A fault with `match` applies only to
        calls whose OrderId or PaymentId is that value, so tests running side by side do not
        trip over each other's faults."""
        with self.lock:
            spec = self.faults.get(operation)
            if spec is None:
                return None
            if "match" in spec:
                ids = {str(body.get(k)) for k in ("OrderId", "PaymentId")} if isinstance(body, dict) else set()
                if str(spec["match"]) not in ids:
                    return None
            if "times" in spec:
                spec["times"] = int(spec["times"]) - 1
                if spec["times"] <= 0:
                    self.faults.pop(operation, None)
            return dict(spec)

    # ---- the API -----------------------------------------------------------------------------

    def authenticate(self, body) -> None:
        if not isinstance(body, dict):
            raise bad_params("Тело запроса должно быть объектом JSON.")
        key = body.get("TerminalKey")
        if not isinstance(key, str) or not key:
            raise bad_params("Поле TerminalKey не должно быть пустым.")
        if key != self.terminal_key:
            raise BankError("205", "Терминал не найден.", "Неверный TerminalKey.")
        if not token_matches(body, self.password):
            raise BankError("204", "Неверный токен. Проверьте пару TerminalKey/SecretKey.")

    def init(self, body: dict) -> dict:
        amount = as_int(body.get("Amount"))
        if amount is None or amount <= 0:
            raise bad_params("Поле Amount должно быть положительным целым числом копеек.")
        order_id = body.get("OrderId")
        if isinstance(order_id, RawNumber):
            order_id = str(order_id)
        if not isinstance(order_id, str) or not order_id or len(order_id) > 36:
            raise bad_params("Поле OrderId должно содержать от 1 до 36 символов.")
        description = body.get("Description") or ""
        if not isinstance(description, str) or len(description) > 140:
            raise bad_params("Поле Description не должно быть длиннее 140 символов.")
        pay_type = body.get("PayType", "O")
        if pay_type not in ("O", "T"):
            raise bad_params("Поле PayType принимает значения O или T.")
        urls = {}
        for name in ("NotificationURL", "SuccessURL", "FailURL"):
            url = body.get(name)
            if url is not None and (not isinstance(url, str)
                                    or not re.match(r"^https?://", url)):
                raise bad_params(f"Поле {name} должно быть адресом http(s).")
            urls[name] = url
        data = body.get("DATA") or {}
        if not isinstance(data, dict) or len(data) > 20 or not all(
                isinstance(v, str) for v in data.values()):
            raise bad_params("Поле DATA — не более 20 пар строк.")
        due = self._due_date(body.get("RedirectDueDate"))
        receipt = body.get("Receipt")
        self._check_receipt(receipt, amount)

        with self.lock:
            for earlier in (self.payments[i] for i in self.orders.get(order_id, [])):
                if earlier.status in PAID:
                    raise BankError("623", "Заказ уже оплачен.",
                                    f"Заказ {order_id} оплачен платежом {earlier.payment_id}.")
                if earlier.status not in FINAL_FAILURES:
                    raise BankError("20", "Повторный OrderId.",
                                    f"По заказу {order_id} уже есть платёж {earlier.payment_id}.")
            payment = Payment(
                payment_id=next(self._ids), terminal_key=self.terminal_key, order_id=order_id,
                amount=amount, description=description, notification_url=urls["NotificationURL"],
                success_url=urls["SuccessURL"], fail_url=urls["FailURL"], due=due,
                data=dict(data), receipt=receipt, created=iso_moscow(now_moscow()))
            payment.move("NEW")
            self.payments[payment.payment_id] = payment
            self.orders.setdefault(order_id, []).append(payment.payment_id)
        log.info("Init: order %s, %d kopecks → payment %s", order_id, amount, payment.payment_id)
        return {
            "Success": True, "ErrorCode": "0", "TerminalKey": self.terminal_key,
            "Status": "NEW", "PaymentId": str(payment.payment_id), "OrderId": order_id,
            "Amount": amount, "PaymentURL": f"{self.public_url}/pay/{payment.payment_id}",
        }

    @staticmethod
    def _due_date(value) -> datetime:
        now = now_moscow()
        if value is None:
            return now + timedelta(hours=24)
        if not isinstance(value, str) or not re.fullmatch(
                r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}", value):
            raise bad_params("Поле RedirectDueDate в формате YYYY-MM-DDTHH:MM:SS+03:00.")
        try:
            due = datetime.fromisoformat(value)
        except ValueError:
            raise bad_params("Поле RedirectDueDate — несуществующая дата.") from None
        if not (now + timedelta(seconds=50) <= due <= now + timedelta(days=90, minutes=1)):
            raise bad_params("RedirectDueDate — от 1 минуты до 90 дней от текущего момента.")
        return due

    @staticmethod
    def _check_receipt(receipt, amount: int, required: bool = True) -> None:
        if receipt is None:
            if required:
                raise bad_params("К терминалу подключена онлайн-касса: поле Receipt обязательно.")
            return
        if not isinstance(receipt, dict):
            raise bad_params("Поле Receipt должно быть объектом.")
        if not receipt.get("Email") and not receipt.get("Phone"):
            raise BankError("329", "Не передан телефон или электронная почта покупателя.",
                            "В чеке должно быть поле Email или Phone.")
        if receipt.get("Taxation") not in TAXATIONS:
            raise bad_params("Поле Receipt.Taxation: недопустимое значение.")
        ffd_12 = receipt.get("FfdVersion") == "1.2"
        items = receipt.get("Items")
        if not isinstance(items, list) or not items:
            raise bad_params("В чеке должна быть хотя бы одна позиция.")
        total = 0
        for item in items:
            if not isinstance(item, dict):
                raise bad_params("Позиция чека должна быть объектом.")
            name = item.get("Name")
            if not isinstance(name, str) or not name or len(name) > 128:
                raise bad_params("Поле Items.Name — от 1 до 128 символов.")
            price, item_amount = as_int(item.get("Price")), as_int(item.get("Amount"))
            quantity = as_decimal(item.get("Quantity"))
            if price is None or item_amount is None or quantity is None or quantity <= 0:
                raise bad_params("Поля Items.Price, Quantity, Amount обязательны.")
            if item.get("Tax") not in TAX_CODES:
                raise bad_params(f"Поле Items.Tax: недопустимое значение {item.get('Tax')!r}.")
            if ffd_12 and not item.get("MeasurementUnit"):
                raise bad_params("Для ФФД 1.2 поле Items.MeasurementUnit обязательно.")
            if Decimal(price) * quantity != Decimal(item_amount):
                raise BankError("308", "Сумма позиции не равна цене, умноженной на количество.",
                                f"Позиция {name!r}.")
            total += item_amount
        if total != amount:
            raise BankError("308", "Сумма позиций в чеке не равна сумме платежа.",
                            f"Позиции: {total}, платёж: {amount}.")
        payments = receipt.get("Payments")
        if isinstance(payments, dict):
            paid = sum(as_int(v) or 0 for v in payments.values() if as_int(v) is not None)
            if paid != amount:
                raise BankError("334", "Сумма оплат в чеке не равна сумме платежа.",
                                f"Оплаты: {paid}, платёж: {amount}.")

    def _payment(self, body: dict) -> Payment:
        pid = as_int(body.get("PaymentId"))
        if pid is None and isinstance(body.get("PaymentId"), str) and body["PaymentId"].isdigit():
            pid = int(body["PaymentId"])
        if pid is None:
            raise bad_params("Поле PaymentId обязательно.")
        payment = self.payments.get(pid)
        if payment is None:
            raise BankError("255", "Платёж не найден.", f"PaymentId {pid}.")
        return payment

    def get_state(self, body: dict) -> dict:
        with self.lock:
            payment = self._payment(body)
            self._expire_if_due(payment)
            return {
                "Success": True, "ErrorCode": "0", "Message": "OK",
                "TerminalKey": self.terminal_key, "Status": payment.status,
                "PaymentId": str(payment.payment_id), "OrderId": payment.order_id,
                "Amount": payment.amount,
            }

    def get_qr(self, body: dict) -> dict:
        """The СБП link (`PAYLOAD`) or a picture standing in for its QR (`IMAGE`; the standard
        library draws no QR codes). Asking again for the same payment answers the same link."""
        data_type = body.get("DataType", "PAYLOAD")
        if data_type not in ("PAYLOAD", "IMAGE"):
            raise bad_params("Поле DataType принимает значения PAYLOAD или IMAGE.")
        with self.lock:
            payment = self._payment(body)
            self._expire_if_due(payment)
            if payment.status not in PAYABLE:
                raise BankError("8", "Неверный статус транзакции.",
                                f"Платёж {payment.payment_id} в статусе {payment.status}.")
            payment.sbp = True
            if payment.status == "NEW":
                payment.move("FORM_SHOWED")
            link = self.sbp_link(payment)
        log.info("GetQr: payment %s, %s", payment.payment_id, data_type)
        data = link if data_type == "PAYLOAD" else (
            '<svg xmlns="http://www.w3.org/2000/svg" width="64" height="64" viewBox="0 0 64 64">'
            '<rect width="64" height="64" fill="#fff"/><text x="8" y="36">QR</text></svg>')
        return {"Success": True, "ErrorCode": "0", "TerminalKey": self.terminal_key,
                "OrderId": payment.order_id, "PaymentId": str(payment.payment_id), "Data": data}

    def sbp_link(self, payment: Payment) -> str:
        # The bank's link is https://qr.nspk.ru/…, opened by the customer's bank app; here it
        # opens the page that plays that app.
        return f"{self.public_url}/sbp/{payment.payment_id}"

    def sbp_pay_test(self, body: dict) -> dict:
        """The bank's test method: the customer's bank pays the QR, or rejects it, or lets it
        expire (`IsRejected`, `IsDeadlineExpired`)."""
        rejected = body.get("IsRejected") is True
        expired = body.get("IsDeadlineExpired") is True
        if rejected and expired:
            raise bad_params("IsRejected и IsDeadlineExpired не передаются вместе.")
        with self.lock:
            payment = self._payment(body)
            if not payment.sbp:
                raise BankError("8", "Неверный статус транзакции.", "QR для платежа не сформирован.")
            result = self.answer_sbp(payment.payment_id,
                                     "decline" if rejected else "expire" if expired else "confirm")
        if result.kind == "not_payable":
            raise BankError("8", "Неверный статус транзакции.",
                            f"Платёж {payment.payment_id} в статусе {payment.status}.")
        return {"Success": True, "ErrorCode": "0", "TerminalKey": self.terminal_key,
                "PaymentId": str(payment.payment_id), "OrderId": payment.order_id}

    def answer_sbp(self, payment_id: int, action: str) -> FormResult:
        """What the customer does in their bank app: `confirm` pays (AUTHORIZED, CONFIRMED,
        RECEIPT), `decline` refuses (REJECTED), `expire` lets the time run out
        (DEADLINE_EXPIRED), `ignore` does nothing at all."""
        if action not in ("confirm", "decline", "ignore", "expire"):
            raise ValueError("action: confirm, decline, ignore or expire")
        with self.lock:
            payment = self.payments[payment_id]
            self._expire_if_due(payment)
            if not payment.sbp or payment.status not in PAYABLE:
                return FormResult("not_payable", payment)
            if action == "ignore":
                log.info("payment %s: the СБП request left unanswered", payment.payment_id)
                return FormResult("done", payment)
            if action == "expire":
                payment.error_code, payment.message = "3012", "Срок оплаты по QR-коду истёк"
                payment.move("DEADLINE_EXPIRED")
                delivery = self._status_delivery(payment, "DEADLINE_EXPIRED")
                self.notifier.send_in_order([(0.0, delivery)] if delivery else [])
                return FormResult("done", payment, redirect=self._redirect_url(payment))
            outcome = (CardOutcome("success") if action == "confirm" else
                       CardOutcome("rejected", None, "3015", "Покупатель отклонил оплату в приложении банка"))
            return self._finish(payment, outcome)

    def check_order(self, body: dict) -> dict:
        order_id = body.get("OrderId")
        if isinstance(order_id, RawNumber):
            order_id = str(order_id)
        if not isinstance(order_id, str) or not order_id:
            raise bad_params("Поле OrderId обязательно.")
        with self.lock:
            found = []
            for pid in self.orders.get(order_id, []):
                p = self.payments[pid]
                self._expire_if_due(p)
                failed = p.status in FINAL_FAILURES
                # As the bank does: inside Payments, Success is a string and ErrorCode a number.
                found.append({
                    "PaymentId": str(p.payment_id), "Amount": p.amount, "Status": p.status,
                    "RRN": str(100_000_000_000 + p.payment_id % 1_000_000_000),
                    "Success": "false" if failed else "true",
                    "ErrorCode": int(p.error_code) if p.error_code.isdigit() else 0,
                    "Message": p.message or ("OK" if not failed else ""),
                })
        # An order the bank never saw: no payments (unconfirmed: the bank may answer an error).
        return {
            "Success": True, "ErrorCode": "0", "Message": "OK", "Details": "",
            "TerminalKey": self.terminal_key, "OrderId": order_id, "Payments": found,
        }

    def cancel(self, body: dict) -> dict:
        with self.lock:
            payment = self._payment(body)
            external_id = body.get("ExternalRequestId")
            if isinstance(external_id, str) and external_id in payment.cancels:
                return payment.cancels[external_id]
            self._expire_if_due(payment)
            requested = body.get("Amount")
            amount = None if requested is None else as_int(requested)
            if requested is not None and (amount is None or amount <= 0):
                raise bad_params("Поле Amount должно быть положительным целым числом копеек.")
            original = payment.amount
            if payment.status in PAYABLE or payment.status in ("3DS_CHECKING",):
                if amount is not None and amount != payment.amount:
                    raise bad_params("Новый платёж отменяется только целиком.")
                payment.move("CANCELED")
                new_amount, notify = 0, "CANCELED"
            elif payment.status in ("CONFIRMED", "PARTIAL_REFUNDED"):
                amount = payment.remaining if amount is None else amount
                if amount > payment.remaining:
                    raise bad_params(
                        f"Сумма возврата {amount} больше остатка {payment.remaining}.")
                if body.get("Receipt") is not None:
                    self._check_receipt(body.get("Receipt"), amount)
                payment.remaining -= amount
                new_amount = payment.remaining
                notify = "REFUNDED" if payment.remaining == 0 else "PARTIAL_REFUNDED"
                payment.move("REFUNDING")
                payment.move(notify)
            elif payment.status == "AUTHORIZED":
                payment.move("REVERSING")
                payment.move("REVERSED")
                new_amount, notify = 0, "REVERSED"
            else:
                raise BankError("8", "Неверный статус транзакции.",
                                f"Платёж в статусе {payment.status} нельзя отменить.")
            answer = {
                "Success": True, "ErrorCode": "0", "TerminalKey": self.terminal_key,
                "Status": payment.status, "PaymentId": str(payment.payment_id),
                "OrderId": payment.order_id, "OriginalAmount": original, "NewAmount": new_amount,
            }
            if isinstance(external_id, str):
                payment.cancels[external_id] = answer
            # A refund notification carries the sum given back so far, all refunds together
            # (unconfirmed: the bank does not document whether it sends this, the last refund's
            # sum or the remaining sum; the callback reads it the same way, so a duplicate can
            # never give money back twice).
            refunded = original - payment.remaining if notify in ("REFUNDED", "PARTIAL_REFUNDED") else original
            chain = [(0.0, self._status_delivery(payment, notify, amount=refunded))]
            refund_receipt = body.get("Receipt")
            if notify in ("REFUNDED", "PARTIAL_REFUNDED") and isinstance(refund_receipt, dict):
                chain.append((self.receipt_delay, self._receipt_delivery(
                    payment, amount, refund_receipt, refund=True)))
            chain = [(pause, d) for pause, d in chain if d is not None]
        log.info("Cancel: payment %s → %s", payment.payment_id, payment.status)
        self.notifier.send_in_order(chain)
        return answer

    # ---- the form ----------------------------------------------------------------------------

    def _expire_if_due(self, payment: Payment):
        if payment.status in PAYABLE and now_moscow() > payment.due:
            payment.move("DEADLINE_EXPIRED")

    def expire(self, payment_id: int) -> Payment:
        with self.lock:
            payment = self.payments[payment_id]
            if payment.status in PAYABLE:
                payment.due = now_moscow() - timedelta(seconds=1)
                self._expire_if_due(payment)
            return payment

    def show_form(self, payment_id: int) -> Payment | None:
        with self.lock:
            payment = self.payments.get(payment_id)
            if payment is None:
                return None
            self._expire_if_due(payment)
            if payment.status == "NEW":
                payment.move("FORM_SHOWED")
            return payment

    def submit_card(self, payment_id: int, pan: str, exp: str, cvc: str) -> FormResult:
        pan = re.sub(r"[\s-]", "", pan or "")
        with self.lock:
            payment = self.payments[payment_id]
            self._expire_if_due(payment)
            if payment.status not in PAYABLE:
                return FormResult("not_payable", payment)
            if not re.fullmatch(r"\d{16,19}", pan):
                return FormResult("invalid", payment, "Номер карты — от 16 до 19 цифр.")
            match = re.fullmatch(r"\s*(\d{2})\s*/?\s*(\d{2})\s*", exp or "")
            if not match or not 1 <= int(match.group(1)) <= 12:
                return FormResult("invalid", payment, "Срок действия — в виде ММ/ГГ, например 12/30.")
            if not re.fullmatch(r"\d{3}", (cvc or "").strip()):
                return FormResult("invalid", payment, "CVC — три цифры с обратной стороны карты.")
            month, year = int(match.group(1)), 2000 + int(match.group(2))
            today = now_moscow()
            outcome = TEST_CARDS.get(pan, UNKNOWN_CARD)
            if (year, month) < (today.year, today.month):
                outcome = EXPIRED_CARD
            payment.pan = mask_pan(pan)
            payment.exp_date = f"{month:02d}{year % 100:02d}"
            payment.card_id = next(self._card_ids)
            payment.move("AUTHORIZING")
            log.info("card %s for payment %s", payment.pan, payment.payment_id)
            if outcome.three_ds:
                payment.move("3DS_CHECKING")
            if outcome.three_ds == "challenge":
                return FormResult("challenge", payment)
            if outcome.three_ds:
                payment.move("3DS_CHECKED")
            return self._finish(payment, outcome)

    def submit_passcode(self, payment_id: int, passcode: str) -> FormResult:
        with self.lock:
            payment = self.payments[payment_id]
            if payment.status != "3DS_CHECKING":
                return FormResult("not_payable", payment)
            if (passcode or "").strip() != CHALLENGE_PASSCODE:
                return self._finish(payment, WRONG_PASSCODE)
            payment.move("3DS_CHECKED")
            return self._finish(payment, TEST_CARDS["2201382000000047"])

    def _finish(self, payment: Payment, outcome: CardOutcome) -> FormResult:
        chain: list[tuple[float, Delivery | None]] = []
        if outcome.kind == "success":
            payment.move("AUTHORIZED")
            chain.append((0.0, self._status_delivery(payment, "AUTHORIZED")))
            payment.move("CONFIRMING")
            payment.move("CONFIRMED")
            payment.remaining = payment.amount
            chain.append((0.0, self._status_delivery(payment, "CONFIRMED")))
            if payment.receipt:
                chain.append((self.receipt_delay,
                              self._receipt_delivery(payment, payment.amount, payment.receipt)))
        else:
            status = "AUTH_FAIL" if outcome.kind == "auth_fail" else "REJECTED"
            payment.error_code, payment.message = outcome.code, outcome.message
            payment.move(status)
            chain.append((0.0, self._status_delivery(payment, status)))
        log.info("payment %s: %s", payment.payment_id, payment.status)
        self.notifier.send_in_order([(p, d) for p, d in chain if d is not None])
        return FormResult("done", payment, redirect=self._redirect_url(payment))

    def _redirect_url(self, payment: Payment) -> str:
        success = payment.status == "CONFIRMED"
        target = payment.success_url if success else payment.fail_url
        if not target:
            return f"/pay/{payment.payment_id}/result"
        # The query the bank appends to SuccessURL / FailURL.
        params = {
            "Success": "true" if success else "false",
            "ErrorCode": payment.error_code,
            "Message": "None" if success else payment.message,
            "Details": "",
            "Amount": str(payment.amount),
            "MerchantEmail": "support@example.ru",
            "MerchantName": self.merchant_name,
            "OrderId": payment.order_id,
            "PaymentId": str(payment.payment_id),
            "TranDate": now_moscow().strftime("%d.%m.%Y %H:%M:%S") if success else "",
            "BackUrl": self.settle_place,
            "CompanyName": self.merchant_name,
            "EmailReq": "support@example.ru",
            "PhonesReq": "",
        }
        joiner = "&" if "?" in target else "?"
        return target + joiner + urllib.parse.urlencode(params)

    # ---- notifications -----------------------------------------------------------------------

    def _status_delivery(self, payment: Payment, status: str, amount: int | None = None):
        if not payment.notification_url:
            return None
        success = status not in ("REJECTED", "AUTH_FAIL", "DEADLINE_EXPIRED")
        body = {
            "TerminalKey": self.terminal_key,
            "OrderId": payment.order_id,
            "Success": success,
            "Status": status,
            "PaymentId": payment.payment_id,
            "ErrorCode": "0" if success else payment.error_code,
            "Amount": payment.amount if amount is None else amount,
        }
        if payment.card_id is not None:
            body.update({"CardId": payment.card_id, "Pan": payment.pan, "ExpDate": payment.exp_date})
        if not success:
            body.update({"Message": payment.message, "Details": ""})
        if payment.data:
            body["DATA"] = payment.data
        return self._delivery(payment, status, signed(body, self.password))

    def _receipt_delivery(self, payment: Payment, amount: int, receipt: dict, refund=False):
        if not payment.notification_url:
            return None
        moment = now_moscow()
        self._fiscal["in_shift"] += 1
        self._fiscal["fd"] += 1
        fn_number = "7284440500123456"
        fd, fpd = self._fiscal["fd"], self._rng.randint(1_000_000_000, 4_294_967_295)
        qr = (f"t={moment.strftime('%Y%m%dT%H%M%S')}&s={amount // 100}.{amount % 100:02d}"
              f"&fn={fn_number}&i={fd}&fp={fpd}&n={2 if refund else 1}")
        body = {
            "TerminalKey": self.terminal_key,
            "OrderId": payment.order_id,
            "Success": True,
            "Status": "RECEIPT",
            "PaymentId": payment.payment_id,
            "ErrorCode": "0",
            "ErrorMessage": "",
            "Amount": amount,
            "FiscalNumber": self._fiscal["in_shift"],
            "ShiftNumber": self._fiscal["shift"],
            "ReceiptDatetime": iso_moscow(moment),
            "FnNumber": fn_number,
            "EcrRegNumber": "0007123456018832",
            "FiscalDocumentNumber": fd,
            "FiscalDocumentAttribute": fpd,
            "Type": "IncomeReturn" if refund else "Income",
            "Ofd": "ООО «Оператор фискальных данных» (песочница)",
            "Url": "https://ofd.example.ru",
            "QrCodeUrl": "https://ofd.example.ru/qr?" + urllib.parse.quote(qr, safe="=&"),
            "CalculationPlace": self.settle_place,
            "CashierName": "",
            "SettlePlace": self.settle_place,
            # The receipt as Init (or Cancel) sent it, its numbers JSON numbers as the bank echoes them.
            "Receipt": as_sent(receipt),
        }
        for field in self.receipt_omit:
            body.pop(field, None)
        return self._delivery(payment, "RECEIPT", signed(body, self.password))

    def _delivery(self, payment: Payment, status: str, body: dict) -> Delivery:
        delivery = Delivery(next(self._delivery_ids), payment.payment_id, status,
                            payment.notification_url, body, self.notifier.generation)
        payment.deliveries.append(delivery)
        return delivery

    # ---- control -----------------------------------------------------------------------------

    def snapshot(self, order_id: str | None = None) -> list[dict]:
        with self.lock:
            return [p.snapshot() for p in self.payments.values()
                    if order_id is None or p.order_id == order_id]

    def pay_for_tests(self, payment_id: int, body: dict) -> dict:
        """What a payer does on the form, in one call."""
        if payment_id not in self.payments:
            raise KeyError(payment_id)
        self.show_form(payment_id)
        result = self.submit_card(payment_id, str(body.get("pan", "")),
                                  str(body.get("exp", "12/30")), str(body.get("cvc", "123")))
        if result.kind == "challenge" and body.get("passcode") is not None:
            result = self.submit_passcode(payment_id, str(body["passcode"]))
        return {
            "result": result.kind,
            "error": result.error,
            "Status": result.payment.status,
            "PaymentId": str(payment_id),
            "redirect": result.redirect,
        }


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------

STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;background:#f4f5f7;
color:#1d1d1f;margin:0;padding:1rem;line-height:1.5}
main{max-width:26rem;margin:2rem auto;background:#fff;border-radius:12px;padding:1.5rem;
box-shadow:0 1px 4px rgba(0,0,0,.12)}
h1{font-size:1.4rem;margin-top:0}
label{display:block;font-weight:600;margin-top:1rem}
input{font-size:1.1rem;padding:.6rem;width:100%;box-sizing:border-box;border:1px solid #767676;
border-radius:8px}
input:focus,button:focus{outline:3px solid #1f6feb;outline-offset:2px}
.hint{color:#555;font-size:.9rem;margin:.2rem 0 0}
.row{display:flex;gap:1rem}.row>div{flex:1}
button{margin-top:1.5rem;width:100%;font-size:1.1rem;padding:.8rem;border:0;border-radius:8px;
background:#ffdd2d;color:#1d1d1f;font-weight:700;cursor:pointer}
.error{background:#fdecea;border:1px solid #b3261e;color:#8c1d18;padding:.6rem;border-radius:8px}
.sandbox{background:#fff8e1;padding:.5rem;border-radius:8px;font-size:.9rem}
dl{display:grid;grid-template-columns:auto 1fr;gap:.3rem 1rem}dt{color:#555}dd{margin:0}
table{border-collapse:collapse;font-size:.85rem}td,th{border:1px solid #ccc;padding:.2rem .4rem;
text-align:left}
"""


def page(title: str, body: str) -> str:
    return (
        "<!doctype html>\n<html lang=\"ru\"><head><meta charset=\"utf-8\">"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<title>{html.escape(title)} — тестовая платёжная форма</title>"
        f"<style>{STYLE}</style></head><body><main>{body}</main></body></html>"
    )


def payment_summary(payment: Payment) -> str:
    return (
        "<dl>"
        f"<dt>Сумма</dt><dd><strong>{roubles(payment.amount)}</strong></dd>"
        f"<dt>Назначение</dt><dd>{html.escape(payment.description or '—')}</dd>"
        "</dl>"
    )


def card_form_page(payment: Payment, error: str | None = None) -> str:
    cards = "".join(
        f"<tr><td>{pan}</td><td>{html.escape(label)}</td></tr>" for pan, label in (
            ("2201382000000013", "успех, 3-D Secure без запроса кода"),
            ("2201382000000047", f"успех, 3-D Secure с кодом {CHALLENGE_PASSCODE}"),
            ("2201382000000005", "отказ: эмитент отклонил аутентификацию"),
            ("2201382000000021", "отказ: аутентификация не пройдена"),
            ("2201382000000831", "отказ: недостаточно средств"),
            ("2200770239097761", "успех без 3-D Secure"),
        ))
    error_block = (f'<p class="error" role="alert" id="form-error">{html.escape(error)}</p>'
                   if error else "")
    pan_described = ' aria-invalid="true" aria-describedby="form-error pan-hint"' if error \
        else ' aria-describedby="pan-hint"'
    return page("Оплата картой", f"""
<h1>Оплата картой</h1>
<p class="sandbox">Тестовая форма: деньги не списываются, настоящие карты не принимаются.</p>
{payment_summary(payment)}
{error_block}
<form method="post" action="/pay/{payment.payment_id}" novalidate>
  <label for="pan">Номер карты</label>
  <input id="pan" name="pan" inputmode="numeric" autocomplete="cc-number" maxlength="23"
         required{pan_described}>
  <p class="hint" id="pan-hint">16–19 цифр, можно с пробелами</p>
  <div class="row">
    <div><label for="exp">Срок действия</label>
      <input id="exp" name="exp" inputmode="numeric" autocomplete="cc-exp" placeholder="ММ/ГГ"
             maxlength="5" required aria-describedby="exp-hint">
      <p class="hint" id="exp-hint">ММ/ГГ</p></div>
    <div><label for="cvc">CVC</label>
      <input id="cvc" name="cvc" inputmode="numeric" autocomplete="cc-csc" maxlength="3"
             required aria-describedby="cvc-hint">
      <p class="hint" id="cvc-hint">3 цифры на обороте</p></div>
  </div>
  <button type="submit">Оплатить {roubles(payment.amount)}</button>
</form>
<details style="margin-top:1rem"><summary>Тестовые карты</summary><table>
<tr><th scope="col">Номер</th><th scope="col">Результат</th></tr>{cards}</table></details>
""")


def challenge_page(payment: Payment, error: str | None = None) -> str:
    error_block = f'<p class="error" role="alert">{html.escape(error)}</p>' if error else ""
    return page("Подтверждение платежа", f"""
<h1>Подтверждение платежа</h1>
<p>Банк, выпустивший карту {html.escape(payment.pan or '')}, просит подтвердить оплату.</p>
{payment_summary(payment)}
{error_block}
<form method="post" action="/pay/{payment.payment_id}/3ds" novalidate>
  <label for="passcode">Код подтверждения</label>
  <input id="passcode" name="passcode" autocomplete="one-time-code" required
         aria-describedby="passcode-hint">
  <p class="hint" id="passcode-hint">Тестовый код: {CHALLENGE_PASSCODE}</p>
  <button type="submit">Подтвердить</button>
</form>
""")


def result_page(payment: Payment) -> str:
    if payment.status in PAID:
        heading, text = "Оплата прошла", "Деньги списаны. Можно вернуться в приложение."
    elif payment.status == "DEADLINE_EXPIRED":
        heading, text = "Срок оплаты истёк", "Начните оплату заново в приложении."
    elif payment.status in FINAL_FAILURES:
        heading = "Оплата не прошла"
        text = payment.message or "Платёж отменён."
    else:
        heading, text = "Платёж обрабатывается", "Обновите страницу через несколько секунд."
    return page(heading, f"""
<h1>{html.escape(heading)}</h1>
<p role="status">{html.escape(text)}</p>
{payment_summary(payment)}
""")


def bank_app_page(payment: Payment, note: str | None = None) -> str:
    note_block = f'<p class="sandbox" role="status">{html.escape(note)}</p>' if note else ""
    return page("Оплата через СБП", f"""
<h1>Приложение вашего банка</h1>
<p class="sandbox">Тестовое «приложение банка» для СБП: деньги не списываются.</p>
<p>Получатель: {html.escape(MERCHANT_LABEL)}. Подтвердите оплату через Систему быстрых платежей.</p>
{payment_summary(payment)}
{note_block}
<form method="post" action="/sbp/{payment.payment_id}">
  <button type="submit" name="action" value="confirm">Подтвердить оплату {roubles(payment.amount)}</button>
  <button type="submit" name="action" value="decline" style="background:#e8e8ed">Отклонить</button>
  <button type="submit" name="action" value="ignore" style="background:#e8e8ed">Не отвечать</button>
</form>
""")


def not_found_page() -> str:
    return page("Платёж не найден", "<h1>Платёж не найден</h1><p>Проверьте ссылку на оплату.</p>")


# --------------------------------------------------------------------------------------------
# HTTP
# --------------------------------------------------------------------------------------------

API_METHODS = {"Init": "init", "GetState": "get_state", "CheckOrder": "check_order",
               "Cancel": "cancel", "GetQr": "get_qr", "SbpPayTest": "sbp_pay_test"}
MAX_BODY = 1 << 20


def make_handler(sandbox: Sandbox):
    class Handler(BaseHTTPRequestHandler):
        server_version = "tbank-sandbox/1"
        protocol_version = "HTTP/1.0"

        def log_message(self, fmt, *args):  # noqa: N802 - the stdlib's name
            log.debug("%s %s", self.address_string(), fmt % args)

        # ---- plumbing ----

        def _read_body(self) -> bytes:
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY:
                raise ValueError("body too large")
            return self.rfile.read(length) if length > 0 else b""

        def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, status: int, value):
            self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"),
                       "application/json; charset=utf-8")

        def _html(self, status: int, text: str):
            self._send(status, text.encode("utf-8"), "text/html; charset=utf-8")

        def _redirect(self, location: str):
            self._send(303, b"", "text/plain", {"Location": location})

        def _form(self) -> dict:
            fields = urllib.parse.parse_qs(self._read_body().decode("utf-8", "replace"))
            return {k: v[0] for k, v in fields.items()}

        # ---- routes ----

        def do_GET(self):  # noqa: N802
            path, _, query = self.path.partition("?")
            args = {k: v[0] for k, v in urllib.parse.parse_qs(query).items()}
            if path == "/sandbox/health":
                return self._json(200, {"ok": True})
            if path == "/sandbox/payments":
                return self._json(200, {"payments": sandbox.snapshot(args.get("order_id"))})
            if m := re.fullmatch(r"/sandbox/payments/(\d+)", path):
                found = [p for p in sandbox.snapshot() if p["PaymentId"] == m.group(1)]
                return self._json(200 if found else 404, found[0] if found else {"error": "no such payment"})
            if path == "/sandbox/faults":
                return self._json(200, sandbox.faults)
            if m := re.fullmatch(r"/sbp/(\d+)", path):
                payment = sandbox.payments.get(int(m.group(1)))
                if payment is None or not payment.sbp:
                    return self._html(404, not_found_page())
                with sandbox.lock:
                    sandbox._expire_if_due(payment)
                if payment.status in PAYABLE:
                    return self._html(200, bank_app_page(payment))
                return self._html(200, result_page(payment))
            if m := re.fullmatch(r"/pay/(\d+)(/3ds|/result)?", path):
                payment = sandbox.show_form(int(m.group(1)))
                if payment is None:
                    return self._html(404, not_found_page())
                if payment.status in PAYABLE and m.group(2) is None:
                    return self._html(200, card_form_page(payment))
                if payment.status == "3DS_CHECKING":
                    return self._html(200, challenge_page(payment))
                return self._html(200, result_page(payment))
            self._json(404, {"error": "not found"})

        def do_POST(self):  # noqa: N802
            path = self.path.partition("?")[0]
            try:
                if m := re.fullmatch(r"/v2/(\w+)", path):
                    return self._api(m.group(1))
                if m := re.fullmatch(r"/pay/(\d+)(/3ds)?", path):
                    return self._pay_form(int(m.group(1)), bool(m.group(2)))
                if m := re.fullmatch(r"/sbp/(\d+)", path):
                    return self._bank_app(int(m.group(1)))
                if path.startswith("/sandbox/"):
                    return self._control(path)
            except ValueError as e:
                return self._json(400, {"error": str(e)})
            self._json(404, {"error": "not found"})

        def _api(self, method: str):
            operation = API_METHODS.get(method)
            if operation is None:
                return self._json(200, {"Success": False, "ErrorCode": "9999",
                                        "Message": "Метод не поддерживается песочницей.",
                                        "Details": method})
            raw = self._read_body().decode("utf-8", "replace")
            try:
                body, parse_error = parse_json(raw), None
            except ValueError as e:
                body, parse_error = None, e
            fault = sandbox.take_fault(operation, body)
            mode = fault and fault.get("mode")
            if mode == "http500":
                return self._send(500, b"Internal Server Error", "text/plain")
            if mode == "garbage":
                return self._send(200, b"<html>502 Bad Gateway</html>", "text/html")
            if mode == "decline":
                return self._json(200, {"Success": False,
                                        "ErrorCode": str(fault.get("code", "99")),
                                        "Message": fault.get("message", "Операция отклонена."),
                                        "Details": "Отказ включён в песочнице."})
            try:
                if parse_error is not None:
                    raise parse_error
                sandbox.authenticate(body)
                answer = getattr(sandbox, operation)(body)
            except DuplicateKey as e:
                answer = self._failure(bad_params(f"Поле {e} повторяется."))
            except BankError as e:
                answer = self._failure(e)
            except ValueError:
                answer = self._failure(bad_params("Тело запроса — не JSON."))
            except Exception:  # noqa: BLE001 - a sandbox fault must still answer like the bank
                log.exception("%s failed inside the sandbox", method)
                answer = {"Success": False, "ErrorCode": "9999",
                          "Message": "Внутренняя ошибка системы.", "Details": ""}
            if mode == "timeout":
                time.sleep(float(fault.get("delay", DEFAULT_TIMEOUT_FAULT_DELAY)))
            try:
                self._json(200, answer)
            except OSError:
                log.info("%s: the client left before the answer", method)

        @staticmethod
        def _failure(e: BankError) -> dict:
            log.info("refused: %s %s", e.code, e.message)
            return {"Success": False, "ErrorCode": e.code, "Message": e.message,
                    "Details": e.details}

        def _pay_form(self, payment_id: int, passcode_step: bool):
            if payment_id not in sandbox.payments:
                return self._html(404, not_found_page())
            fields = self._form()
            if passcode_step:
                result = sandbox.submit_passcode(payment_id, fields.get("passcode", ""))
            else:
                result = sandbox.submit_card(payment_id, fields.get("pan", ""),
                                             fields.get("exp", ""), fields.get("cvc", ""))
            if result.kind == "invalid":
                return self._html(422, card_form_page(result.payment, result.error))
            if result.kind == "challenge":
                return self._html(200, challenge_page(result.payment))
            if result.kind == "not_payable":
                return self._html(409, result_page(result.payment))
            self._redirect(result.redirect)

        def _bank_app(self, payment_id: int):
            if payment_id not in sandbox.payments:
                return self._html(404, not_found_page())
            result = sandbox.answer_sbp(payment_id, self._form().get("action", ""))
            if result.kind == "not_payable":
                return self._html(409, result_page(result.payment))
            if result.payment.status in PAYABLE:
                return self._html(200, bank_app_page(result.payment,
                                                     "Запрос оставлен без ответа: оплата не проведена."))
            return self._html(200, result_page(result.payment))

        def _control(self, path: str):
            raw = self._read_body().decode("utf-8", "replace")
            body = json.loads(raw) if raw.strip() else {}
            if not isinstance(body, dict):
                raise ValueError("a JSON object is expected")
            if path == "/sandbox/reset":
                sandbox.reset()
                return self._json(200, {"ok": True})
            if path == "/sandbox/faults":
                return self._json(200, sandbox.set_faults(body))
            if path == "/sandbox/receipt-fields":
                return self._json(200, sandbox.set_receipt_fields(body))
            if m := re.fullmatch(r"/sandbox/pay/(\d+)", path):
                try:
                    return self._json(200, sandbox.pay_for_tests(int(m.group(1)), body))
                except KeyError:
                    return self._json(404, {"error": "no such payment"})
            if m := re.fullmatch(r"/sandbox/sbp/(\d+)", path):
                try:
                    result = sandbox.answer_sbp(int(m.group(1)), str(body.get("action", "")))
                except KeyError:
                    return self._json(404, {"error": "no such payment"})
                return self._json(200 if result.kind == "done" else 409,
                                  {"result": result.kind, "Status": result.payment.status,
                                   "PaymentId": m.group(1)})
            if m := re.fullmatch(r"/sandbox/expire/(\d+)", path):
                try:
                    payment = sandbox.expire(int(m.group(1)))
                except KeyError:
                    return self._json(404, {"error": "no such payment"})
                return self._json(200, {"PaymentId": str(payment.payment_id),
                                        "Status": payment.status})
            self._json(404, {"error": "not found"})

    return Handler


def make_server(sandbox: Sandbox, host: str, port: int) -> ThreadingHTTPServer:
    server = ThreadingHTTPServer((host, port), make_handler(sandbox))
    server.daemon_threads = True
    return server


def parse_schedule(text: str) -> tuple[float, ...]:
    try:
        schedule = tuple(float(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError("seconds separated by commas, e.g. 1,2,4,8") from None
    if any(s < 0 for s in schedule) or len(schedule) > 50:
        raise argparse.ArgumentTypeError("at most 50 non-negative delays")
    return schedule


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="A local stand-in for T-Bank's acquiring API v2.")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=9101, help="port (0 picks a free one)")
    parser.add_argument("--terminal-key",
                        default=os.environ.get("TBANK_TERMINAL_KEY") or DEMO_TERMINAL_KEY)
    parser.add_argument("--password", default=os.environ.get("TBANK_PASSWORD") or DEMO_PASSWORD)
    parser.add_argument("--public-url", help="base of PaymentURL (default http://HOST:PORT)")
    parser.add_argument("--retry-schedule", type=parse_schedule, default=DEFAULT_RETRY_SCHEDULE,
                        help="seconds before each re-send of an undelivered notification "
                             "(default 1,2,4,8,16,32; the bank re-sends hourly for 24 h)")
    parser.add_argument("--receipt-delay", type=float, default=0.3,
                        help="seconds between CONFIRMED and the RECEIPT notification")
    parser.add_argument("--notify-timeout", type=float, default=10.0,
                        help="seconds to wait for the receiver's answer (the bank waits 10)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)

    logging.basicConfig(stream=sys.stderr, level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    sandbox = Sandbox(args.terminal_key, args.password, retry_schedule=args.retry_schedule,
                      receipt_delay=args.receipt_delay, notify_timeout=args.notify_timeout)
    server = make_server(sandbox, args.host, args.port)
    host, port = server.server_address[:2]
    shown_host = f"[{host}]" if ":" in host else host
    sandbox.public_url = (args.public_url or f"http://{shown_host}:{port}").rstrip("/")
    log.info("terminal %s", args.terminal_key)
    print(f"tbank-sandbox listening on http://{shown_host}:{port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
