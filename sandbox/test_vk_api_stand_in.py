"""The VK API stand-in answers as VK's notifications.sendMessage does: per-user statuses, error 100
past 100 ids, error 5 for another token, injected faults once, and it records what it took."""

from __future__ import annotations

import json
import threading
import unittest
import urllib.parse
import urllib.request
from http.server import ThreadingHTTPServer

import vk_api_stand_in as stand_in

TOKEN = "test-token"


class StandInTest(unittest.TestCase):
    def setUp(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), stand_in.make_handler(stand_in.State(TOKEN)))
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"

    def tearDown(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def post(self, path: str, data: bytes, content_type: str) -> object:
        request = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": content_type})
        with urllib.request.urlopen(request) as answer:
            return json.loads(answer.read())

    def send(self, users: list[int], token: str = TOKEN) -> object:
        form = urllib.parse.urlencode({"user_ids": ",".join(map(str, users)), "message": "Пора", "access_token": token, "v": "5.199"})
        return self.post("/method/notifications.sendMessage", form.encode(), "application/x-www-form-urlencoded")

    def sent(self) -> object:
        with urllib.request.urlopen(self.base + "/stand-in/sent") as answer:
            return json.loads(answer.read())

    def test_given_users_when_sent_then_each_has_a_status_and_the_call_is_recorded(self) -> None:
        self.post("/stand-in/refuse", json.dumps({"userIds": [2]}).encode(), "application/json")
        answer = self.send([1, 2])
        self.assertEqual(answer["response"][0], {"user_id": 1, "status": True})
        self.assertEqual(answer["response"][1]["error"]["code"], 15)
        self.assertEqual([call["userIds"] for call in self.sent()], [[1, 2]])

    def test_given_101_users_or_another_token_when_sent_then_vk_s_error_and_nothing_recorded(self) -> None:
        self.assertEqual(self.send(list(range(1, 102)))["error"]["error_code"], 100)
        self.assertEqual(self.send([1], token="other")["error"]["error_code"], 5)
        self.assertEqual(self.sent(), [])

    def test_given_a_fault_once_when_sent_twice_then_the_second_call_is_taken(self) -> None:
        self.post("/stand-in/faults", json.dumps({"times": 1, "code": 6}).encode(), "application/json")
        self.assertEqual(self.send([7])["error"]["error_code"], 6)
        self.assertTrue(self.send([7])["response"][0]["status"])


if __name__ == "__main__":
    unittest.main()
