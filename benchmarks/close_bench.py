"""Month-end close: `invoice run` for 1,000 customers holding 1,000,000 events in all, creating
and finalizing 1,000 invoices in one run, beside a raw-SQL baseline (one GROUP BY over the same
events). Each measurement runs on a fresh copy of the prepared ledger.

Target (issue): < 30 s.

    .venv/bin/python benchmarks/close_bench.py [--customers 1000] [--events 1000000]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import CLOSE_AT, PERIOD_END, PERIOD_START, build_ledger, run_cli  # noqa: E402


def raw_group_by(db: Path) -> float:
    conn = sqlite3.connect(db)
    try:
        started = time.perf_counter()
        conn.execute(
            "SELECT customer, count(*), sum(CAST(value AS REAL)) FROM meter_events"
            " WHERE timestamp >= ? AND timestamp < ? GROUP BY customer",
            (PERIOD_START, PERIOD_END),
        ).fetchall()
        return time.perf_counter() - started
    finally:
        conn.close()


def fresh_copy(db: Path, name: str) -> Path:
    copy = db.with_name(name)
    for suffix in ("", "-wal", "-shm"):
        Path(f"{copy}{suffix}").unlink(missing_ok=True)
    shutil.copy(db, copy)
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/billing-bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    db = args.workdir / f"close_{args.customers}_{args.events}.db"
    built = build_ledger(db, customers=args.customers, events=args.events, import_now=PERIOD_END)
    if built:
        print(f"built {db.name}: {args.events:,} events imported in {built:.1f} s")
    print(f"raw SQL GROUP BY customer over all events: {raw_group_by(db):.2f} s")

    work = fresh_copy(db, "close_run.db")
    started = time.perf_counter()
    done = run_cli(work, CLOSE_AT, "invoice", "run", "--json")
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(done.stderr)
    result = json.loads(done.stdout)
    print(
        f"invoice run (CLI, create + finalize): {elapsed:.2f} s for "
        f"{len(result['created'])} created, {len(result['finalized'])} finalized (target < 30 s)"
    )

    work = fresh_copy(db, "close_run.db")
    drafts = run_cli(work, PERIOD_END + 60, "invoice", "run", "--json")
    started = time.perf_counter()
    final = run_cli(work, CLOSE_AT, "invoice", "run", "--json")
    elapsed = time.perf_counter() - started
    if drafts.returncode or final.returncode:
        raise SystemExit(drafts.stderr + final.stderr)
    print(
        f"invoice run (CLI, recompute + finalize {len(json.loads(final.stdout)['finalized'])} "
        f"drafts): {elapsed:.2f} s"
    )
    started = time.perf_counter()
    check = run_cli(work, CLOSE_AT, "ledger", "check", "--json")
    print(
        f"ledger check (raw events, all invoices): {time.perf_counter() - started:.2f} s, "
        f"ok={json.loads(check.stdout)['ok'] if check.stdout else check.stderr}"
    )
    for suffix in ("", "-wal", "-shm"):
        Path(f"{work}{suffix}").unlink(missing_ok=True)


if __name__ == "__main__":
    main()
