#!/usr/bin/env python3
"""Section 12 of `make bench`: the limit, the Python peer and every function in one table (stdlib only).

Reads the JSON lines benches/fake_runtime_api.py appends with --json (one per function, all
measured under the same stand-in runtime against the same DynamoDB Local) and prints a markdown
table: init median, first request median, warm p50 and p99, the CPU time the process spent per
warm call, stripped binary size and the peak resident set, then each function's ratios to the limit (init, warm p50, size) and the look-up's
warm p50 against the peer's, with the targets the look-up is held to.

    side_by_side.py target/bench/side-by-side.jsonl [--limit limit-getitem] [--same-read limit-query]
        [--conditions limit-conditions] [--peer python-peer]

The look-up's warm p50 is also set against `--same-read`, the limit with the look-up's own read in
place of the limit's: what the look-up adds to its read, apart from what that read costs; and
`--conditions`, that read written without expressions: what DynamoDB Local spends parsing them.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

# What the look-up is held to, against the limit (and the peer for p50).
TARGET_P50 = 1.3
TARGET_INIT = 1.5
TARGET_SIZE = 1.25


def percentile(values: list[float], p: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


class Figures:
    def __init__(self, record: dict) -> None:
        self.name = record["name"]
        self.init = statistics.median(record["init_ms"])
        self.first = statistics.median(record["first_ms"])
        warm = record["warm_ms"]
        self.calls = len(warm)
        self.p50 = statistics.median(warm) if warm else None
        self.p99 = percentile(warm, 99) if warm else None
        self.size = record["size_bytes"] / (1024 * 1024) if record["size_bytes"] is not None else None
        self.peak = record["vmhwm_end_mib"]
        self.cpu = record.get("warm_cpu_ms_per_call")
        self.answered = record["warm_statuses"] or record["statuses"]


def ms(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def ratio(value: float | None, base: float | None) -> str:
    return "—" if value is None or not base else f"{value / base:.2f}×"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("records")
    parser.add_argument("--limit", default="limit-getitem")
    parser.add_argument("--same-read", default="limit-query")
    parser.add_argument("--conditions", default="limit-conditions")
    parser.add_argument("--peer", default="python-peer")
    parser.add_argument("--lookup", default="account-lookup")
    args = parser.parse_args()
    with open(args.records, encoding="utf-8") as f:
        rows = [Figures(json.loads(line)) for line in f if line.strip()]
    named = {row.name: row for row in rows}
    limit, peer, lookup = named.get(args.limit), named.get(args.peer), named.get(args.lookup)
    same_read, conditions = named.get(args.same_read), named.get(args.conditions)
    if limit is None:
        print(f"side_by_side: no record of the limit ({args.limit})", file=sys.stderr)
        return 1

    print(
        "| function | init ms | first request ms | warm p50 ms | warm p99 ms | CPU ms / warm call | stripped MiB | VmHWM MiB "
        "| init / limit | p50 / limit | size / limit | warm calls: answer |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for row in rows:
        print(
            f"| `{row.name}` | {ms(row.init, 1)} | {ms(row.first)} | {ms(row.p50)} | {ms(row.p99)} | {ms(row.cpu)} "
            f"| {ms(row.size)} | {ms(row.peak, 1)} | {ratio(row.init, limit.init)} | {ratio(row.p50, limit.p50)} "
            f"| {ratio(row.size, limit.size)} | {row.calls}: {row.answered} |"
        )
    if lookup is None or lookup.p50 is None or limit.p50 is None:
        return 0
    # The ratios compare the same work only when every one of them found the account and answered
    # its balance: a baseline answering 404 reads no balance and builds no answer.
    different = [
        row for row in (limit, same_read, conditions, peer, lookup) if row is not None and row.answered != "200"
    ]
    if different:
        print()
        for row in different:
            print(f"`{row.name}` answered {row.answered}, not 200 to every call: the ratios would not compare the same work")
        return 1
    print()
    checks = [
        (f"warm p50 ≤ {TARGET_P50}× the limit's", lookup.p50 / limit.p50, lookup.p50 <= TARGET_P50 * limit.p50),
        (f"init ≤ {TARGET_INIT}× the limit's", lookup.init / limit.init, lookup.init <= TARGET_INIT * limit.init),
    ]
    if lookup.size is not None and limit.size is not None:
        checks.append(
            (f"binary ≤ {TARGET_SIZE}× the limit's", lookup.size / limit.size, lookup.size <= TARGET_SIZE * limit.size)
        )
    if peer is not None and peer.p50 is not None:
        checks.append(("warm p50 below the peer's", lookup.p50 / peer.p50, lookup.p50 < peer.p50))
    print(f"`{args.lookup}` against its targets:")
    print()
    for what, value, met in checks:
        print(f"- {what}: {value:.2f}× — {'met' if met else 'not met'}")
    if same_read is not None and same_read.p50 is not None:
        print()
        print(
            f"Its read alone: `{same_read.name}` (the limit making the look-up's read) has a warm p50 "
            f"{same_read.p50 / limit.p50:.2f}× the limit's; the look-up's is {lookup.p50 / same_read.p50:.2f}× "
            f"that: what the look-up adds to its read."
        )
        if conditions is not None and conditions.p50 is not None:
            print(
                f"The same read without expressions (`{conditions.name}`: its partition key as `KeyConditions`): "
                f"{conditions.p50 / limit.p50:.2f}× the limit's, {conditions.p50 / same_read.p50:.2f}× "
                f"`{same_read.name}`'s: what DynamoDB Local spends parsing the read's expressions."
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
