"""Tests of the acquirer sandbox itself: `python3 -m unittest discover sandbox`."""

import json
import threading
import time
import unittest
import urllib.error
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import tbank_sandbox as tb

TERMINAL = "TestTerminal"
PASSWORD = "TestPassword"
NO_PROXY = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


NO_REDIRECT = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())


class Receiver:
    """Our side of the notifications: records each one, answers as told."""

    def __init__(self):
        self.received = []
        self.answers = []  # (status, body) to give, one per request; then 200 "OK"
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):  # noqa: N802
                raw = self.rfile.read(int(self.headers["Content-Length"])).decode("utf-8")
                with receiver.lock:
                    receiver.received.append(raw)
                    status, body = receiver.answers.pop(0) if receiver.answers else (200, "OK")
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/callbacks/tbank"

    def bodies(self, payment_id):
        """What arrived for one payment: deliveries of earlier tests may still be in flight."""
        with self.lock:
            parsed = [tb.parse_json(r) for r in self.received]
        return [b for b in parsed if str(b.get("PaymentId")) == str(payment_id)]


class SandboxTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.sandbox = tb.Sandbox(TERMINAL, PASSWORD, retry_schedule=(0.2, 0.2, 0.2),
                                 receipt_delay=0.05, notify_timeout=2)
        cls.server = tb.make_server(cls.sandbox, "127.0.0.1", 0)
        cls.base = f"http://127.0.0.1:{cls.server.server_address[1]}"
        cls.sandbox.public_url = cls.base
        threading.Thread(target=cls.server.serve_forever, daemon=True).start()
        cls.receiver = Receiver()

    @classmethod
    def tearDownClass(cls):
        cls.server.shutdown()
        cls.server.server_close()
        cls.receiver.server.shutdown()
        cls.receiver.server.server_close()

    def setUp(self):
        self.post("/sandbox/reset", {})
        with self.receiver.lock:
            self.receiver.received.clear()
            self.receiver.answers.clear()

    # ---- plumbing ----

    def post(self, path, body, raw=None):
        data = raw if raw is not None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        request = urllib.request.Request(self.base + path, data=data, method="POST",
                                         headers={"Content-Type": "application/json"})
        with NO_PROXY.open(request, timeout=10) as response:
            return json.loads(response.read())

    def get(self, path):
        with NO_PROXY.open(self.base + path, timeout=10) as response:
            return response.status, response.read().decode("utf-8")

    def call(self, method, body, password=PASSWORD):
        body = dict(body, TerminalKey=body.get("TerminalKey", TERMINAL))
        return self.post(f"/v2/{method}", tb.signed(body, password))

    def init_body(self, order_id="order-1", amount=150005, **extra):
        body = {
            "Amount": amount, "OrderId": order_id,
            "Description": "Оплата электроэнергии, л/с 29614-328-09",
            "PayType": "O", "Language": "ru",
            "NotificationURL": self.receiver.url,
            "SuccessURL": "https://app.example.ru/paid?from=bank",
            "FailURL": "https://app.example.ru/failed",
            "DATA": {"OperationInitiatorType": "0"},
            "Receipt": {
                "Email": "ivanov@example.ru", "Taxation": "osn", "FfdVersion": "1.2",
                "Items": [{"Name": "Оплата электроэнергии, л/с 29614-328-09", "Price": amount,
                           "Quantity": 1, "Amount": amount, "Tax": "vat22",
                           "PaymentMethod": "full_payment", "PaymentObject": "service",
                           "MeasurementUnit": "шт"}],
            },
        }
        body.update(extra)
        return body

    def wait_for(self, predicate, seconds=5.0):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        self.fail("the condition did not come true in time")

    def payment(self, payment_id):
        return json.loads(self.get(f"/sandbox/payments/{payment_id}")[1])

    # ---- the Token ----

    def test_token_matches_the_banks_published_example(self):
        body = {"TerminalKey": "MerchantTerminalKey", "Amount": tb.RawNumber("19200"),
                "OrderId": "21090", "Description": "Подарочная карта на 1000 рублей",
                "DATA": {"Phone": "+71234567890"}, "Receipt": {"Items": []}}
        self.assertEqual(tb.token_of(body, "usaf8fw8fsw21g"),
                         "0024a00af7c350a3a67ca168ce06502aa72772456662e38696d48b56ee9c97d9")

    def test_numbers_are_signed_as_written(self):
        parsed = tb.parse_json('{"PaymentId": 5974256058, "Rate": 1.10, "Ok": true}')
        expected = tb.hashlib.sha256("truepw59742560581.10".encode()).hexdigest()
        self.assertEqual(tb.token_of(parsed, "pw"), expected)

    # ---- the API ----

    def test_init_then_get_state_and_check_order(self):
        answer = self.call("Init", self.init_body())
        self.assertIs(answer["Success"], True)
        self.assertEqual(answer["Status"], "NEW")
        self.assertEqual(answer["Amount"], 150005)
        self.assertIsInstance(answer["PaymentId"], str)
        self.assertTrue(answer["PaymentURL"].startswith(self.base + "/pay/"))

        state = self.call("GetState", {"PaymentId": answer["PaymentId"]})
        self.assertEqual((state["Success"], state["Status"]), (True, "NEW"))

        order = self.call("CheckOrder", {"OrderId": "order-1"})
        self.assertEqual([p["PaymentId"] for p in order["Payments"]], [answer["PaymentId"]])
        self.assertEqual(order["Payments"][0]["Success"], "true")
        self.assertIsInstance(order["Payments"][0]["ErrorCode"], int)

    def test_refusals_carry_the_banks_codes(self):
        bad_token = self.call("Init", self.init_body(), password="wrong")
        self.assertEqual((bad_token["Success"], bad_token["ErrorCode"]), (False, "204"))
        unknown_terminal = self.call("Init", self.init_body(TerminalKey="Other"))
        self.assertEqual(unknown_terminal["ErrorCode"], "205")

        mismatch = self.init_body(amount=1000)
        mismatch["Receipt"]["Items"][0].update(Price=999, Amount=999)
        self.assertEqual(self.call("Init", mismatch)["ErrorCode"], "308")

        no_contact = self.init_body()
        del no_contact["Receipt"]["Email"]
        self.assertEqual(self.call("Init", no_contact)["ErrorCode"], "329")

        no_unit = self.init_body()
        del no_unit["Receipt"]["Items"][0]["MeasurementUnit"]
        self.assertEqual(self.call("Init", no_unit)["ErrorCode"], "9999")

        self.assertEqual(self.call("GetState", {"PaymentId": "42"})["ErrorCode"], "255")
        self.assertEqual(self.sandbox.snapshot(), [])

    def test_a_repeated_order_id_is_refused_while_live_or_paid(self):
        first = self.call("Init", self.init_body("order-2"))
        again = self.call("Init", self.init_body("order-2"))
        self.assertEqual((again["Success"], again["ErrorCode"]), (False, "20"))
        self.post(f"/sandbox/pay/{first['PaymentId']}", {"pan": "2201382000000013"})
        paid = self.call("Init", self.init_body("order-2"))
        self.assertEqual(paid["ErrorCode"], "623")

    def test_a_new_attempt_is_allowed_after_a_failed_one(self):
        first = self.call("Init", self.init_body("order-3"))
        self.post(f"/sandbox/pay/{first['PaymentId']}", {"pan": "2201382000000831"})
        second = self.call("Init", self.init_body("order-3"))
        self.assertIs(second["Success"], True)
        order = self.call("CheckOrder", {"OrderId": "order-3"})
        self.assertEqual([p["Status"] for p in order["Payments"]], ["REJECTED", "NEW"])
        self.assertEqual(order["Payments"][0]["ErrorCode"], 1051)

    # ---- paying and notifications ----

    def test_a_successful_payment_notifies_authorized_confirmed_then_receipt(self):
        pid = self.call("Init", self.init_body("order-4"))["PaymentId"]
        result = self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000013"})
        self.assertEqual(result["Status"], "CONFIRMED")
        self.assertIn("Success=true", result["redirect"])
        self.assertTrue(result["redirect"].startswith("https://app.example.ru/paid?from=bank&"))

        bodies = self.wait_for(lambda: len(self.receiver.bodies(pid)) >= 3 and self.receiver.bodies(pid))
        self.assertEqual([b["Status"] for b in bodies], ["AUTHORIZED", "CONFIRMED", "RECEIPT"])
        for body in bodies:
            self.assertTrue(tb.token_matches(body, PASSWORD), body["Status"])
            self.assertIs(body["Success"], True)
            self.assertEqual(str(body["PaymentId"]), pid)
            self.assertIsInstance(body["PaymentId"], tb.RawNumber)  # a JSON number
            self.assertEqual(body["Amount"], "150005")
        confirmed, receipt = bodies[1], bodies[2]
        self.assertEqual(confirmed["Pan"], "220138******0013")
        self.assertRegex(confirmed["ExpDate"], r"^\d{4}$")
        self.assertRegex(receipt["FnNumber"], r"^\d{16}$")
        self.assertRegex(receipt["EcrRegNumber"], r"^\d{16}$")
        self.assertRegex(str(receipt["FiscalDocumentAttribute"]), r"^\d{10}$")
        self.assertEqual(receipt["Receipt"]["Email"], "ivanov@example.ru")

        state = self.call("GetState", {"PaymentId": pid})
        self.assertEqual(state["Status"], "CONFIRMED")

    def test_the_receipt_notification_echoes_the_receipts_numbers_as_json_numbers(self):
        body = self.init_body("order-4c")
        body["Receipt"]["Items"] = [
            dict(body["Receipt"]["Items"][0], Price=100000, Quantity=1.5, Amount=150000),
            dict(body["Receipt"]["Items"][0], Price=5, Quantity=1, Amount=5),
        ]
        body["Receipt"]["Payments"] = {"Electronic": 150005}
        pid = self.call("Init", body)["PaymentId"]
        self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000013"})
        self.wait_for(lambda: len(self.receiver.bodies(pid)) >= 3)
        refund = dict(body["Receipt"], Items=[dict(body["Receipt"]["Items"][1])], Payments={"Electronic": 5})
        self.call("Cancel", {"PaymentId": pid, "Amount": 5, "Receipt": refund})
        self.wait_for(lambda: len(self.receiver.bodies(pid)) >= 5)

        with self.receiver.lock:
            raws = [r for r in self.receiver.received if str(tb.parse_json(r).get("PaymentId")) == pid]
        receipts = [json.loads(r) for r in raws if json.loads(r)["Status"] == "RECEIPT"]
        self.assertEqual([r["Type"] for r in receipts], ["Income", "IncomeReturn"])
        sale, returned = receipts[0]["Receipt"], receipts[1]["Receipt"]
        self.assertEqual([(i["Price"], i["Quantity"], i["Amount"]) for i in sale["Items"]],
                         [(100000, 1.5, 150000), (5, 1, 5)])
        self.assertEqual(sale["Payments"], {"Electronic": 150005})
        self.assertEqual([(i["Price"], i["Quantity"], i["Amount"]) for i in returned["Items"]], [(5, 1, 5)])
        for receipt in (sale, returned):
            for item in receipt["Items"]:
                for field in ("Price", "Quantity", "Amount"):
                    self.assertNotIsInstance(item[field], str, field)
        self.assertIsInstance(receipts[0]["Amount"], int)
        for raw in raws:
            self.assertTrue(tb.token_matches(tb.parse_json(raw), PASSWORD))
        self.assertEqual(self.payment(pid)["Receipt"]["Items"][0]["Price"], 100000)

    def test_a_receipt_can_leave_out_what_the_banks_documented_example_leaves_out(self):
        omitted = ["SettlePlace", "CalculationPlace", "Ofd"]
        self.assertEqual(self.post("/sandbox/receipt-fields", {"omit": omitted}), {"omit": sorted(omitted)})
        pid = self.call("Init", self.init_body("order-4b"))["PaymentId"]
        self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000013"})
        bodies = self.wait_for(lambda: len(self.receiver.bodies(pid)) >= 3 and self.receiver.bodies(pid))
        receipt = bodies[2]
        self.assertEqual(receipt["Status"], "RECEIPT")
        for field in omitted:
            self.assertNotIn(field, receipt)
        self.assertTrue(tb.token_matches(receipt, PASSWORD), "signed without them")
        self.assertRegex(receipt["FnNumber"], r"^\d{16}$")

        with self.assertRaises(urllib.error.HTTPError) as refused:
            self.post("/sandbox/receipt-fields", {"omit": ["FnNumber"]})
        self.assertEqual(refused.exception.code, 400)
        self.post("/sandbox/reset", {})
        self.assertEqual(self.sandbox.receipt_omit, set(), "a reset puts them back")

    def test_a_declined_card_notifies_rejected_with_the_reason(self):
        pid = self.call("Init", self.init_body("order-5"))["PaymentId"]
        result = self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000831"})
        self.assertEqual(result["Status"], "REJECTED")
        self.assertTrue(result["redirect"].startswith("https://app.example.ru/failed?Success=false"))
        bodies = self.wait_for(lambda: self.receiver.bodies(pid))
        self.assertEqual(bodies[0]["Status"], "REJECTED")
        self.assertIs(bodies[0]["Success"], False)
        self.assertEqual(bodies[0]["ErrorCode"], "1051")

    def test_the_challenge_card_needs_the_passcode(self):
        pid = self.call("Init", self.init_body("order-6"))["PaymentId"]
        waiting = self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000047"})
        self.assertEqual((waiting["result"], waiting["Status"]), ("challenge", "3DS_CHECKING"))
        pid2 = self.call("Init", self.init_body("order-7"))["PaymentId"]
        wrong = self.post(f"/sandbox/pay/{pid2}", {"pan": "2201382000000047", "passcode": "000"})
        self.assertEqual(wrong["Status"], "AUTH_FAIL")
        pid3 = self.call("Init", self.init_body("order-8"))["PaymentId"]
        right = self.post(f"/sandbox/pay/{pid3}", {"pan": "2201382000000047", "passcode": "1qwezxc"})
        self.assertEqual(right["Status"], "CONFIRMED")

    def test_every_test_card_has_its_outcome(self):
        cases = {"2201382000000005": "AUTH_FAIL", "2201382000000021": "AUTH_FAIL",
                 "2200770239097761": "CONFIRMED", "4111111111111111": "REJECTED"}
        for n, (pan, status) in enumerate(cases.items()):
            pid = self.call("Init", self.init_body(f"order-card-{n}"))["PaymentId"]
            self.assertEqual(self.post(f"/sandbox/pay/{pid}", {"pan": pan})["Status"], status, pan)

    def test_anything_but_ok_is_retried_and_recorded(self):
        with self.receiver.lock:
            self.receiver.answers = [(200, "ok"), (500, "oops"), (200, "OK\n")]
        pid = self.call("Init", self.init_body("order-9", NotificationURL=self.receiver.url))["PaymentId"]
        # A declined card: one notification, so every answer above goes to it.
        self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000831"})

        def first_delivered():
            deliveries = self.payment(pid)["Notifications"]
            first = deliveries[0]
            return first if first["delivered"] else None

        first = self.wait_for(first_delivered)
        self.assertEqual(first["status"], "REJECTED")
        # "ok", 500, "OK\n" each failed; then "OK".
        self.assertEqual([a["ok"] for a in first["attempts"]], [False, False, False, True])
        self.assertEqual(first["attempts"][1]["http_status"], 500)

    def test_delivery_gives_up_after_the_schedule(self):
        with self.receiver.lock:
            self.receiver.answers = [(503, "")] * 20
        pid = self.call("Init", self.init_body("order-10"))["PaymentId"]
        self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000831"})
        gave_up = self.wait_for(lambda: self.payment(pid)["Notifications"][0]["state"] == "gave_up")
        self.assertTrue(gave_up)
        self.assertEqual(len(self.payment(pid)["Notifications"][0]["attempts"]), 4)

    def test_notifications_go_only_to_loopback(self):
        pid = self.call("Init", self.init_body("order-11", NotificationURL="https://example.ru/cb"))["PaymentId"]
        self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000831"})
        attempt = self.wait_for(lambda: self.payment(pid)["Notifications"][0]["attempts"])
        self.assertIn("loopback", attempt[0]["error"])

    # ---- cancel and refunds ----

    def test_cancel_a_new_payment_and_refund_a_paid_one(self):
        new = self.call("Init", self.init_body("order-12"))["PaymentId"]
        canceled = self.call("Cancel", {"PaymentId": new})
        self.assertEqual((canceled["Status"], canceled["NewAmount"]), ("CANCELED", 0))

        paid = self.call("Init", self.init_body("order-13", amount=10000))["PaymentId"]
        self.post(f"/sandbox/pay/{paid}", {"pan": "2201382000000013"})
        part = self.call("Cancel", {"PaymentId": paid, "Amount": 2500, "ExternalRequestId": "r-1"})
        self.assertEqual((part["Status"], part["OriginalAmount"], part["NewAmount"]),
                         ("PARTIAL_REFUNDED", 10000, 7500))
        replay = self.call("Cancel", {"PaymentId": paid, "Amount": 2500, "ExternalRequestId": "r-1"})
        self.assertEqual(replay["NewAmount"], 7500)
        rest = self.call("Cancel", {"PaymentId": paid})
        self.assertEqual((rest["Status"], rest["NewAmount"]), ("REFUNDED", 0))
        again = self.call("Cancel", {"PaymentId": paid})
        self.assertEqual(again["ErrorCode"], "8")

        statuses = self.wait_for(lambda: [b["Status"] for b in self.receiver.bodies(paid)
                                          if b["Status"] in
                                          ("PARTIAL_REFUNDED", "REFUNDED")] or None)
        self.assertIn("PARTIAL_REFUNDED", statuses)

    # ---- faults ----

    def test_faults_switch_the_api_answers(self):
        self.post("/sandbox/faults", {"init": "http500"})
        with self.assertRaises(urllib.error.HTTPError) as caught:
            self.call("Init", self.init_body("order-14"))
        self.assertEqual(caught.exception.code, 500)
        self.post("/sandbox/faults", {"init": {"mode": "decline", "code": "1001", "times": 1}})
        self.assertEqual(self.call("Init", self.init_body("order-14"))["ErrorCode"], "1001")
        self.assertIs(self.call("Init", self.init_body("order-14"))["Success"], True)

    def test_a_matched_fault_touches_only_its_own_order(self):
        self.post("/sandbox/faults", {"init": {"mode": "decline", "match": "order-18"}})
        self.assertIs(self.call("Init", self.init_body("order-19"))["Success"], True)
        self.assertEqual(self.call("Init", self.init_body("order-18"))["ErrorCode"], "99")
        self.assertEqual(self.call("Init", self.init_body("order-18"))["ErrorCode"], "99")

    def test_a_timeout_fault_creates_the_payment_but_answers_late(self):
        self.post("/sandbox/faults", {"init": {"mode": "timeout", "delay": 1.5}})
        request = urllib.request.Request(
            self.base + "/v2/Init",
            data=json.dumps(tb.signed(dict(self.init_body("order-15"), TerminalKey=TERMINAL),
                                      PASSWORD)).encode(),
            method="POST", headers={"Content-Type": "application/json"})
        with self.assertRaises(OSError):
            NO_PROXY.open(request, timeout=0.5).read()
        order = self.call("CheckOrder", {"OrderId": "order-15"})
        self.assertEqual([p["Status"] for p in order["Payments"]], ["NEW"])

    # ---- the hosted form ----

    def form_post(self, path, fields):
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(self.base + path, data=data, method="POST")
        try:
            with NO_REDIRECT.open(request, timeout=10) as response:
                return response.status, dict(response.headers), response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()

    def test_the_form_is_labelled_and_redirects_after_the_challenge(self):
        answer = self.call("Init", self.init_body("order-16"))
        status, page = self.get(urllib.parse.urlsplit(answer["PaymentURL"]).path)
        self.assertEqual(status, 200)
        self.assertIn('<html lang="ru">', page)
        for field_id in ("pan", "exp", "cvc"):
            self.assertIn(f'<label for="{field_id}">', page)
            self.assertIn(f'id="{field_id}"', page)
        self.assertIn("Оплатить", page)
        self.assertIn("1\u00a0500,05\u00a0₽", page)
        pid = answer["PaymentId"]

        status, _, page = self.form_post(f"/pay/{pid}", {"pan": "12", "exp": "12/30", "cvc": "123"})
        self.assertEqual(status, 422)
        self.assertIn('role="alert"', page)

        status, _, page = self.form_post(f"/pay/{pid}", {"pan": "2201 3820 0000 0047",
                                                         "exp": "12/30", "cvc": "123"})
        self.assertEqual(status, 200)
        self.assertIn('<label for="passcode">', page)

        status, headers, _ = self.form_post(f"/pay/{pid}/3ds", {"passcode": "1qwezxc"})
        self.assertEqual(status, 303)
        location = headers["Location"]
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(location).query)
        self.assertEqual(query["OrderId"], ["order-16"])
        self.assertEqual(query["PaymentId"], [pid])
        self.assertEqual(query["Success"], ["true"])

    def test_an_expired_form_cannot_be_paid(self):
        pid = self.call("Init", self.init_body("order-17"))["PaymentId"]
        self.post(f"/sandbox/expire/{pid}", {})
        result = self.post(f"/sandbox/pay/{pid}", {"pan": "2201382000000013"})
        self.assertEqual((result["result"], result["Status"]), ("not_payable", "DEADLINE_EXPIRED"))


if __name__ == "__main__":
    unittest.main()


class SbpTest(SandboxTest):
    """СБП: GetQr, the bank-app page and SbpPayTest send what a card payment sends, without a card."""

    def qr(self, order_id, **extra):
        pid = self.call("Init", self.init_body(order_id))["PaymentId"]
        return pid, self.call("GetQr", dict({"PaymentId": int(pid), "DataType": "PAYLOAD"}, **extra))

    def test_get_qr_answers_the_same_link_of_the_page_playing_the_bank_app(self):
        pid, answer = self.qr("sbp-1")
        self.assertIs(answer["Success"], True)
        self.assertEqual(answer["PaymentId"], pid)
        self.assertEqual(answer["OrderId"], "sbp-1")
        self.assertEqual(answer["Data"], f"{self.base}/sbp/{pid}")
        self.assertEqual(self.call("GetQr", {"PaymentId": pid})["Data"], answer["Data"], "asked again")
        self.assertEqual(self.payment(pid)["Status"], "FORM_SHOWED")
        self.assertTrue(self.call("GetQr", {"PaymentId": pid, "DataType": "IMAGE"})["Data"].startswith("<svg"))
        self.assertEqual(self.call("GetQr", {"PaymentId": pid, "DataType": "PNG"})["ErrorCode"], "9999")
        status, page_text = self.get(f"/sbp/{pid}")
        self.assertEqual(status, 200)
        for label in ("Подтвердить оплату", "Отклонить", "Не отвечать", "1\xa0500,05"):
            self.assertIn(label, page_text)

    def test_a_confirmed_sbp_payment_notifies_like_a_card_one_without_a_card(self):
        pid, _ = self.qr("sbp-2")
        form = urllib.parse.urlencode({"action": "confirm"}).encode()
        with NO_PROXY.open(urllib.request.Request(f"{self.base}/sbp/{pid}", data=form, method="POST"),
                           timeout=10) as response:
            self.assertIn("Оплата прошла", response.read().decode("utf-8"))
        bodies = self.wait_for(lambda: len(self.receiver.bodies(pid)) >= 3 and self.receiver.bodies(pid))
        self.assertEqual([b["Status"] for b in bodies], ["AUTHORIZED", "CONFIRMED", "RECEIPT"])
        for body in bodies:
            self.assertTrue(tb.token_matches(body, PASSWORD), body["Status"])
            self.assertNotIn("Pan", body)
            self.assertNotIn("CardId", body)

    def test_declined_ignored_and_expired_requests(self):
        pid, _ = self.qr("sbp-3")
        self.assertEqual(self.post(f"/sandbox/sbp/{pid}", {"action": "ignore"})["Status"], "FORM_SHOWED")
        self.assertEqual(self.post(f"/sandbox/sbp/{pid}", {"action": "decline"})["Status"], "REJECTED")
        bodies = self.wait_for(lambda: self.receiver.bodies(pid))
        self.assertEqual(bodies[0]["Status"], "REJECTED")
        self.assertIs(bodies[0]["Success"], False)
        with self.assertRaises(urllib.error.HTTPError) as caught:
            self.post(f"/sandbox/sbp/{pid}", {"action": "confirm"})
        self.assertEqual(caught.exception.code, 409)

        late, _ = self.qr("sbp-4")
        self.assertIs(self.call("SbpPayTest", {"PaymentId": late, "IsDeadlineExpired": True})["Success"], True)
        self.assertEqual(self.payment(late)["Status"], "DEADLINE_EXPIRED")
        self.assertEqual(self.wait_for(lambda: self.receiver.bodies(late))[0]["Status"], "DEADLINE_EXPIRED")

    def test_sbp_pay_test_pays_only_a_payment_with_a_link(self):
        pid = self.call("Init", self.init_body("sbp-5"))["PaymentId"]
        self.assertEqual(self.call("SbpPayTest", {"PaymentId": pid})["ErrorCode"], "8")
        self.call("GetQr", {"PaymentId": pid})
        self.assertIs(self.call("SbpPayTest", {"PaymentId": pid})["Success"], True)
        self.assertEqual(self.payment(pid)["Status"], "CONFIRMED")
        self.assertEqual(self.call("GetQr", {"PaymentId": pid})["ErrorCode"], "8", "a paid payment has no link")

    def test_get_qr_faults_like_the_other_methods(self):
        pid = self.call("Init", self.init_body("sbp-6"))["PaymentId"]
        self.post("/sandbox/faults", {"get_qr": {"mode": "http500", "times": 1, "match": pid}})
        with self.assertRaises(urllib.error.HTTPError) as caught:
            self.call("GetQr", {"PaymentId": pid})
        self.assertEqual(caught.exception.code, 500)
        self.assertIs(self.call("GetQr", {"PaymentId": pid})["Success"], True)
