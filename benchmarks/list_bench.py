"""How soon the first row of a big list appears (issue 16.5: within a second for 1M events).

Builds (or reuses) a ledger of EVENTS events through `billing event import`, then runs
`billing event list --all --nl|--csv|--json` and measures the time from start to the first line
on stdout, and to the last. Not a test: run `python benchmarks/list_bench.py [EVENTS]`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from _setup import CLOSE_AT, billing_argv, build_ledger

WORK = Path(__file__).resolve().parent / "work"


def first_and_last(db: Path, fmt: str) -> tuple[float, float, int]:
    started = time.perf_counter()
    proc = subprocess.Popen(
        billing_argv(db, CLOSE_AT, "event", "list", "--all", fmt), stdout=subprocess.PIPE
    )
    assert proc.stdout is not None
    proc.stdout.readline()
    first = time.perf_counter() - started
    lines = 1 + sum(1 for _ in proc.stdout)
    proc.wait()
    return first, time.perf_counter() - started, lines


def main() -> None:
    events = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    WORK.mkdir(exist_ok=True)
    db = WORK / f"list_{events}.db"
    build_ledger(db, customers=100, events=events, import_now=CLOSE_AT)
    for fmt in ("--nl", "--csv", "--json"):
        first, last, lines = first_and_last(db, fmt)
        print(f"event list --all {fmt}: first line {first:.3f} s, all {lines} lines {last:.1f} s")


if __name__ == "__main__":
    main()
