#!/usr/bin/env python3
"""A stand-in for the Lambda runtime API, to time a function binary's cold start (stdlib only).

For each run it listens on a free loopback port, starts the binary with AWS_LAMBDA_RUNTIME_API
pointing at itself and measures, on one monotonic clock:

  init           process start -> the first GET /2018-06-01/runtime/invocation/next
  first request  the event handed over -> its POST .../response (or .../error)
  VmHWM          the peak resident set of the process after that first request

then stops the process. Every run is a fresh process, so every run is a cold start.

    fake_runtime_api.py --binary target/release/account-lookup \\
        --event events/account-lookup/200-found.json --runs 5 [--log FILE]

Prints one markdown table row: function, stripped binary size, init and first request
(median, min-max), VmHWM (median), and the HTTP status (or the error) the function answered.
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

NEXT = "/2018-06-01/runtime/invocation/next"


class Invocation:
    """What one cold start recorded; written by the server thread, read after `done` is set."""

    def __init__(self, event: bytes) -> None:
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.first_poll_ns: int | None = None
        self.event_sent_ns: int | None = None
        self.answered_ns: int | None = None
        self.answer: bytes = b""
        self.error: str | None = None
        self.done = threading.Event()
        self.stop = threading.Event()


def handler_for(invocation: Invocation) -> type[http.server.BaseHTTPRequestHandler]:
    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        # Keep-alive, as the real runtime API: the runtime's client reuses its connection.
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
            pass

        def _reply(self, status: int, body: bytes = b"", headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            self.wfile.flush()

        def do_GET(self) -> None:  # noqa: N802 - stdlib name
            if self.path != NEXT:
                self._reply(404)
                return
            now = time.monotonic_ns()
            if invocation.first_poll_ns is None:
                invocation.first_poll_ns = now
                deadline_ms = int(time.time() * 1000) + 30_000
                headers = {
                    "Content-Type": "application/json",
                    "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                    "Lambda-Runtime-Deadline-Ms": str(deadline_ms),
                    "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-central-1:123456789012:function:bench",
                    "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
                }
                invocation.event_sent_ns = time.monotonic_ns()
                self._reply(200, invocation.event, headers)
                return
            # The next poll after the first request: hold it, as Lambda does while idle.
            invocation.stop.wait(30)

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            now = time.monotonic_ns()
            if self.path.endswith("/response"):
                invocation.answered_ns = now
                invocation.answer = body
            elif self.path.endswith("/error"):
                invocation.answered_ns = now
                invocation.error = body.decode("utf-8", "replace")[:300] or "error"
            else:
                self._reply(404)
                return
            self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
            invocation.done.set()

    return RuntimeApi


class QuietServer(http.server.ThreadingHTTPServer):
    def handle_error(self, request, client_address) -> None:
        # The held poll's connection is reset when the function is stopped: expected, not news.
        if not isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            super().handle_error(request, client_address)


def peak_rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def answer_status(invocation: Invocation) -> str:
    if invocation.error is not None:
        return f"error: {invocation.error}"
    try:
        answer = json.loads(invocation.answer or b"null")
    except json.JSONDecodeError:
        return "unparsable answer"
    if isinstance(answer, dict) and "statusCode" in answer:
        return str(answer["statusCode"])
    return "answered (not an HTTP response)"


def fresh_event(template: dict) -> bytes:
    event = json.loads(json.dumps(template))
    headers = event.get("headers") if isinstance(event, dict) else None
    # A repeated Idempotency-Key would time a replay instead of a payment.
    if isinstance(headers, dict) and "idempotency-key" in headers:
        headers["idempotency-key"] = f"bench-{uuid.uuid4()}"
    return json.dumps(event).encode()


def cold_start(binary: str, template: dict, log) -> tuple[Invocation, int | None]:
    invocation = Invocation(fresh_event(template))
    server = QuietServer(("127.0.0.1", 0), handler_for(invocation))
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    name = os.path.basename(binary)
    env = dict(os.environ)
    env.update(
        {
            "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{server.server_address[1]}",
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        }
    )
    started_ns = time.monotonic_ns()
    process = subprocess.Popen([binary], env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    try:
        if not invocation.done.wait(120):
            invocation.error = "no answer within 120 s"
        if process.poll() is not None and invocation.first_poll_ns is None:
            invocation.error = f"exited with {process.returncode} before polling"
        peak = peak_rss_kib(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        invocation.stop.set()
        server.shutdown()
        server.server_close()
    invocation.first_poll_ns = (invocation.first_poll_ns or started_ns) - started_ns
    return invocation, peak


def spread(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", required=True)
    parser.add_argument("--event", required=True, help="the event JSON file handed to the first invocation")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--log", default=os.devnull, help="where the function's own output goes")
    args = parser.parse_args()
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be between 1 and 100")
    with open(args.event, encoding="utf-8") as f:
        template = json.load(f)

    inits, firsts, peaks, statuses = [], [], [], []
    with open(args.log, "ab") as log:
        for _ in range(args.runs):
            invocation, peak = cold_start(args.binary, template, log)
            if invocation.event_sent_ns is None or invocation.answered_ns is None:
                print(f"{args.binary}: {invocation.error or 'no invocation'}", file=sys.stderr)
                return 1
            inits.append(invocation.first_poll_ns / 1e6)
            firsts.append((invocation.answered_ns - invocation.event_sent_ns) / 1e6)
            if peak is not None:
                peaks.append(peak / 1024)
            statuses.append(answer_status(invocation))

    size_mib = os.path.getsize(args.binary) / (1024 * 1024)
    peak = f"{statistics.median(peaks):.1f}" if peaks else "—"
    answered = ", ".join(sorted(set(statuses)))
    print(
        f"| `{os.path.basename(args.binary)}` | {size_mib:.2f} | {spread(inits)} | {spread(firsts)} | {peak} "
        f"| {os.path.basename(args.event)}: {answered} |"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
