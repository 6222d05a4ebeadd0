#!/usr/bin/env python3
"""A stand-in for the Lambda runtime API, to time a function's cold start and warm calls (stdlib only).

For each run it listens on a free loopback port, starts the function (a binary, or any command:
the Python peer under awslambdaric) with AWS_LAMBDA_RUNTIME_API pointing at itself and measures,
on one monotonic clock:

  init           process start -> the first GET /2018-06-01/runtime/invocation/next
  first request  the event handed over -> its POST .../response (or .../error)
  VmHWM          the peak resident set of the process after that first request
  warm calls     with --warm N, the last run's process is then handed N more events in a row,
                 each answered before the next is handed over (a busy instance): the same
                 round trip, event handed over -> response posted, for each; and the CPU time
                 (user + system, all threads, /proc/<pid>/stat) the process used over them

then stops the process. Every run is a fresh process, so every run is a cold start. "Handed
over" is the moment the event's bytes are flushed to the function's connection; "posted" is
the moment the POST's request line and headers are read, before its body: the stand-in's own
parsing is on both sides of every subject alike.

    fake_runtime_api.py --binary target/release/account-lookup \\
        --event events/account-lookup/200-found.json --runs 5 [--warm 500] [--log FILE] [--json FILE]
    fake_runtime_api.py --name peer --command '.tools/peer/bin/python -m awslambdaric lookup.handler' \\
        --env PYTHONPATH=benches/peer --event events/account-lookup/200-found.json --runs 5 --warm 500

Prints one markdown table row (section 4 of BENCHMARKS.md): function, stripped binary size, init
and first request (median, min-max), VmHWM (median), and the HTTP status (or the error) the
function answered. With --json FILE it also appends every figure as one JSON line, for
benches/side_by_side.py.
"""

from __future__ import annotations

import argparse
import collections
import http.server
import json
import os
import shlex
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid

NEXT = "/2018-06-01/runtime/invocation/next"
PREFIX = "/2018-06-01/runtime/invocation/"


class Invocation:
    """One event handed to the function and what came back."""

    def __init__(self, event: bytes) -> None:
        self.event = event
        self.request_id = str(uuid.uuid4())
        self.sent_ns: int | None = None
        self.answered_ns: int | None = None
        self.answer: bytes = b""
        self.error: str | None = None
        # Held while the event is being written: an answer arriving on another connection waits
        # for the "handed over" instant to be recorded.
        self.handing = threading.Lock()

    def round_trip_ms(self) -> float | None:
        if self.sent_ns is None or self.answered_ns is None:
            return None
        return (self.answered_ns - self.sent_ns) / 1e6


class Instance:
    """One process's life: its events in order; written by the server's threads."""

    def __init__(self, events: list[bytes]) -> None:
        self.invocations = [Invocation(event) for event in events]
        self.by_id = {invocation.request_id: invocation for invocation in self.invocations}
        self.pending = collections.deque(self.invocations)
        self.lock = threading.Lock()
        self.first_poll_ns: int | None = None
        self.pid: int | None = None
        self.peak_after_first_kib: int | None = None
        self.cpu_after_first_ms: float | None = None
        self.answered = 0
        self.done = threading.Event()
        self.stop = threading.Event()


def handler_for(instance: Instance) -> type[http.server.BaseHTTPRequestHandler]:
    class RuntimeApi(http.server.BaseHTTPRequestHandler):
        # Keep-alive, as the real runtime API: the runtime's client reuses its connection.
        protocol_version = "HTTP/1.1"
        # Headers and body leave in two writes: with Nagle's algorithm the body can wait for the
        # client's delayed ACK of the headers (40 ms on Linux), as awslambdaric's client showed.
        disable_nagle_algorithm = True

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
            with instance.lock:
                if instance.first_poll_ns is None:
                    instance.first_poll_ns = time.monotonic_ns()
                invocation = instance.pending.popleft() if instance.pending else None
            if invocation is None:
                # Every event is answered: hold the poll, as Lambda does while idle.
                instance.stop.wait(30)
                return
            headers = {
                "Content-Type": "application/json",
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 30_000),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:eu-central-1:123456789012:function:bench",
                "Lambda-Runtime-Trace-Id": "Root=1-00000000-000000000000000000000000;Sampled=0",
            }
            with invocation.handing:
                self._reply(200, invocation.event, headers)
                invocation.sent_ns = time.monotonic_ns()

        def do_POST(self) -> None:  # noqa: N802 - stdlib name
            now = time.monotonic_ns()
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            request_id, _, kind = self.path.removeprefix(PREFIX).partition("/")
            invocation = instance.by_id.get(request_id)
            if invocation is None or kind not in ("response", "error"):
                self._reply(404)
                return
            with invocation.handing:
                invocation.answered_ns = now
            if kind == "response":
                invocation.answer = body
            else:
                invocation.error = body.decode("utf-8", "replace")[:300] or "error"
            with instance.lock:
                instance.answered += 1
                first = instance.answered == 1
                finished = instance.answered == len(instance.invocations)
            if first and instance.pid is not None:
                # Before the next event is handed over, so warm calls do not move it.
                instance.peak_after_first_kib = peak_rss_kib(instance.pid)
                instance.cpu_after_first_ms = cpu_ms(instance.pid)
            self._reply(202, b'{"status":"OK"}', {"Content-Type": "application/json"})
            if finished:
                instance.done.set()

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


def cpu_ms(pid: int) -> float | None:
    """User and system CPU time the process has used so far, all its threads (10 ms ticks)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # utime and stime: fields 14 and 15 of proc(5), counted after the command name.
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def answer_status(invocation: Invocation) -> str:
    if invocation.error is not None:
        return f"error: {invocation.error}"
    if invocation.answered_ns is None:
        return "no answer"
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


def run_instance(
    command: list[str], name: str, extra_env: dict[str, str], events: list[bytes], log
) -> tuple[Instance, int | None, float | None, str | None]:
    """Starts one process, hands it `events` one after another, stops it; returns what it saw."""
    instance = Instance(events)
    server = QuietServer(("127.0.0.1", 0), handler_for(instance))
    server.daemon_threads = True
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    env = dict(os.environ)
    # As Lambda sets them; AWS_DEFAULT_REGION too, which boto3 reads and the Rust SDK ignores.
    env.setdefault("AWS_DEFAULT_REGION", env.get("AWS_REGION", "eu-central-1"))
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
    env.update(extra_env)
    failure = None
    started_ns = time.monotonic_ns()
    process = subprocess.Popen(command, env=env, stdout=log, stderr=log, stdin=subprocess.DEVNULL)
    instance.pid = process.pid
    try:
        # Two minutes for the start and the first answer, then a second per further event.
        if not instance.done.wait(120 + len(events)):
            failure = f"{instance.answered} of {len(events)} events answered in time"
        if process.poll() is not None and instance.first_poll_ns is None:
            failure = f"exited with {process.returncode} before polling"
        peak_end = peak_rss_kib(process.pid)
        cpu_end = cpu_ms(process.pid)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        instance.stop.set()
        server.shutdown()
        server.server_close()
    if instance.first_poll_ns is not None:
        instance.first_poll_ns -= started_ns
    return instance, peak_end, cpu_end, failure


def spread(values: list[float]) -> str:
    if not values:
        return "—"
    return f"{statistics.median(values):.1f} ({min(values):.1f}–{max(values):.1f})"


def percentile(values: list[float], p: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def tally(statuses: list[str]) -> str:
    counted = collections.Counter(statuses)
    if len(counted) == 1:
        return next(iter(counted))
    return ", ".join(f"{status} ×{count}" for status, count in counted.most_common())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--binary", help="a function's executable (its size is reported)")
    what.add_argument("--command", help="any command line that runs a Lambda runtime client (split as a shell would)")
    parser.add_argument("--name", help="the name to report (default: the binary's or the command's first word)")
    parser.add_argument("--event", required=True, help="the event JSON file handed to every invocation")
    parser.add_argument("--runs", type=int, default=5, help="cold starts, each a fresh process")
    parser.add_argument("--warm", type=int, default=0, help="warm events handed to the last run's process")
    parser.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="set for the function only")
    parser.add_argument("--log", default=os.devnull, help="where the function's own output goes")
    parser.add_argument("--json", help="append every figure to this file as one JSON line")
    args = parser.parse_args()
    if not 1 <= args.runs <= 100:
        parser.error("--runs must be between 1 and 100")
    if not 0 <= args.warm <= 100_000:
        parser.error("--warm must be between 0 and 100000")
    extra_env = {}
    for pair in args.env:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            parser.error(f"--env {pair!r}: expected KEY=VALUE")
        extra_env[key] = value
    command = [args.binary] if args.binary else shlex.split(args.command)
    name = args.name or os.path.basename(command[0])
    with open(args.event, encoding="utf-8") as f:
        template = json.load(f)

    inits, firsts, peaks, statuses, warm, warm_statuses = [], [], [], [], [], []
    peak_end = cpu_end = cpu_first = None
    with open(args.log, "ab") as log:
        for run in range(args.runs):
            last = run == args.runs - 1
            count = 1 + (args.warm if last else 0)
            instance, peak_end, cpu_end, failure = run_instance(
                command, name, extra_env, [fresh_event(template) for _ in range(count)], log
            )
            first = instance.invocations[0]
            if instance.first_poll_ns is None or first.round_trip_ms() is None:
                print(f"{name}: {failure or 'no invocation'}", file=sys.stderr)
                return 1
            if failure:
                print(f"{name}: {failure}", file=sys.stderr)
                return 1
            inits.append(instance.first_poll_ns / 1e6)
            firsts.append(first.round_trip_ms())
            if instance.peak_after_first_kib is not None:
                peaks.append(instance.peak_after_first_kib / 1024)
            statuses.append(answer_status(first))
            cpu_first = instance.cpu_after_first_ms
            for invocation in instance.invocations[1:]:
                warm.append(invocation.round_trip_ms())
                warm_statuses.append(answer_status(invocation))

    size = os.path.getsize(args.binary) if args.binary else None
    size_text = f"{size / (1024 * 1024):.2f}" if size is not None else "—"
    peak = f"{statistics.median(peaks):.1f}" if peaks else "—"
    print(
        f"| `{name}` | {size_text} | {spread(inits)} | {spread(firsts)} | {peak} "
        f"| {os.path.basename(args.event)}: {tally(statuses)} |"
    )
    if warm:
        print(
            f"  {name}: {len(warm)} warm calls, p50 {statistics.median(warm):.2f} ms, "
            f"p99 {percentile(warm, 99):.2f} ms; answers: {tally(warm_statuses)}",
            file=sys.stderr,
        )
    if args.json:
        record = {
            "name": name,
            "size_bytes": size,
            "event": os.path.basename(args.event),
            "init_ms": inits,
            "first_ms": firsts,
            "vmhwm_first_mib": peaks,
            "vmhwm_end_mib": peak_end / 1024 if peak_end is not None and warm else None,
            "statuses": tally(statuses),
            "warm_ms": warm,
            # CPU the process used over the warm calls, per call: what it spends itself, not waiting.
            "warm_cpu_ms_per_call": (cpu_end - cpu_first) / len(warm)
            if warm and cpu_end is not None and cpu_first is not None
            else None,
            "warm_statuses": tally(warm_statuses) if warm else None,
        }
        with open(args.json, "a", encoding="utf-8") as out:
            out.write(json.dumps(record) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
