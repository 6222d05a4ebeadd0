#!/usr/bin/env python3
"""A local stand-in for VK's API method `notifications.sendMessage`, for development and tests.

It answers as VK does (HTTP 200 with `response` or `error`): a form POST to
`/method/notifications.sendMessage` with `user_ids` (comma-separated, at most 100), `message`
(at most 254 characters), `random_id`, `access_token` (must be the token it was started with)
and `v`. The answer lists each user with `status` true, or false and an `error` for users it was
told refuse notifications. A call with more than 100 ids is refused with error 100, as VK does.

A control API lets tests see what was sent and inject faults:
  GET    /stand-in/health           {"ok": true}
  GET    /stand-in/sent             every call taken: {"userIds": [...], "message", "randomId"}
  POST   /stand-in/reset            forget calls, refusing users and faults
  POST   /stand-in/refuse           {"userIds": [...]}: these users have notifications off (error 15)
  POST   /stand-in/faults           {"times": N, "code": 10}: the next N calls fail with that VK error

Python 3.11 standard library only. Binds only the host it is given.

    python3 sandbox/vk_api_stand_in.py --host 127.0.0.1 --port 9201 --token demo-service-token
"""

from __future__ import annotations

import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs

MAX_USER_IDS = 100
MAX_MESSAGE = 254


class State:
    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.sent: list[dict] = []
        self.refusing: set[int] = set()
        self.fault_times = 0
        self.fault_code = 10


def error(code: int, message: str) -> dict:
    return {"error": {"error_code": code, "error_msg": message, "request_params": []}}


def make_handler(state: State):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, fmt: str, *args) -> None:  # quiet: one line per call is enough
            pass

        def answer(self, status: int, body: object) -> None:
            data = json.dumps(body, ensure_ascii=False).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))

        def do_GET(self) -> None:
            if self.path in ("/", "/stand-in/health"):
                self.answer(200, {"ok": True})
            elif self.path == "/stand-in/sent":
                with state.lock:
                    self.answer(200, list(state.sent))
            else:
                self.answer(404, {"error": "not found"})

        def do_POST(self) -> None:
            if self.path == "/method/notifications.sendMessage":
                self.send_message(parse_qs(self.body().decode(), keep_blank_values=True))
                return
            try:
                payload = json.loads(self.body() or b"{}")
            except ValueError:
                self.answer(400, {"error": "not JSON"})
                return
            with state.lock:
                if self.path == "/stand-in/reset":
                    state.reset()
                elif self.path == "/stand-in/refuse":
                    state.refusing.update(int(u) for u in payload.get("userIds", []))
                elif self.path == "/stand-in/faults":
                    state.fault_times = int(payload.get("times", 1))
                    state.fault_code = int(payload.get("code", 10))
                else:
                    self.answer(404, {"error": "not found"})
                    return
            self.answer(200, {"ok": True})

        def send_message(self, form: dict[str, list[str]]) -> None:
            field = lambda name: (form.get(name) or [""])[0]  # noqa: E731
            if field("access_token") != state.token:
                self.answer(200, error(5, "User authorization failed: invalid access_token"))
                return
            try:
                users = [int(u) for u in field("user_ids").split(",") if u]
            except ValueError:
                self.answer(200, error(100, "One of the parameters specified was missing or invalid: user_ids"))
                return
            message = field("message")
            if not users or len(users) > MAX_USER_IDS or not message or len(message) > MAX_MESSAGE:
                self.answer(200, error(100, "One of the parameters specified was missing or invalid"))
                return
            with state.lock:
                if state.fault_times > 0:
                    state.fault_times -= 1
                    self.answer(200, error(state.fault_code, "Injected fault"))
                    return
                state.sent.append({"userIds": users, "message": message, "randomId": field("random_id")})
                refusing = set(state.refusing)
            statuses = []
            for user in users:
                if user in refusing:
                    statuses.append({"user_id": user, "status": False,
                                     "error": {"code": 15, "description": "Access denied: notifications are off"}})
                else:
                    statuses.append({"user_id": user, "status": True})
            self.answer(200, {"response": statuses})

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9201)
    parser.add_argument("--token", required=True, help="the service token calls must carry")
    args = parser.parse_args()
    server = ThreadingHTTPServer((args.host, args.port), make_handler(State(args.token)))
    print(f"VK API stand-in on http://{args.host}:{args.port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
