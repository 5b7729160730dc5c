"""Import throughput: `billing event import` against a raw-SQLite baseline, in the same run.

    .venv/bin/python benchmarks/import_bench.py [--rows 1000000] [--customers 1000] [--shuffle]

Generates N events (random identifiers, Stripe-shaped `stripe_customer_id,value` payloads,
timestamps in the past month), sets up a ledger with one meter and the customers through the
api, and imports the file through the real command (`python -m billing_cli event import`, a
subprocess: start-up, validation, hash chain, roll-ups, commits all included). The baseline is
what a hand-written loader would do: Python's csv module plus `executemany` into a table with
the same columns, the same UNIQUE(identifier) and (meter, customer, timestamp) indexes, WAL,
synchronous=NORMAL, the same page cache and checkpoint settings, and the same batch size, one
transaction per batch. Targets (issue 10.10): import throughput >= 0.8 x the baseline's, in time
order and shuffled, and peak RSS of the import < 150 MiB. CPU seconds are printed beside the
wall times: on a shared machine they show where the time went when the load changes mid-run.

Timestamps come in time order, as a pipeline exporting a month of usage writes them; --shuffle
spreads them randomly instead (every batch then touches ~10,000 random hourly roll-ups: the
worst case for the import, which maintains them, and not for the baseline, which has none).
The import runs with `Ledger.bulk_import_mode` (a 64 MiB page cache, a checkpoint every 50,000
WAL frames), and so does the baseline (--untuned-baseline leaves it SQLite's defaults instead, to
show what the settings are worth). This is a script that prints figures, not a test.

Past its first batch the import runs in two processes (api/import_pipeline.py): the CPU
seconds are both processes', the peak RSS the larger of the two (ru_maxrss of the children).
The baseline is one process, as a hand-written loader would be.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import random
import resource
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NOW = "2026-11-01T09:00:00Z"
NOW_TS = 1_793_523_600
MONTH = 30 * 86400
ALPHABET = string.ascii_letters + string.digits


def generate(path: Path, rows: int, customers: int, shuffle: bool, seed: int) -> None:
    rnd = random.Random(seed)
    stamps = [NOW_TS - rnd.randrange(MONTH) for _ in range(rows)]
    if not shuffle:
        stamps.sort()
    with path.open("w", newline="") as out:
        out.write("event_name,identifier,timestamp,stripe_customer_id,value\n")
        for ts in stamps:
            ident = "evt_" + "".join(rnd.choices(ALPHABET, k=24))
            value = rnd.randrange(1, 5000) if rnd.random() < 0.9 else f"{rnd.random() * 100:.3f}"
            out.write(f"api_tokens,{ident},{ts},cus_{rnd.randrange(customers):05d},{value}\n")


def setup_ledger(db: Path, customers: int) -> None:
    from billing_cli.api import Context, catalog
    from billing_cli.clock import parse_time

    ctx = Context(db, parse_time(NOW))
    catalog.create_meter(ctx, display_name="API tokens", event_name="api_tokens",
                         aggregation="sum", meter_id="mtr_tokens")  # fmt: skip
    for i in range(customers):
        catalog.create_customer(ctx, name=f"Customer {i}", customer_id=f"cus_{i:05d}")


def run_import(db: Path, source: Path) -> tuple[float, float, dict, int]:
    """Wall and CPU seconds, the --json summary, and the peak RSS (KiB) of the import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    cmd = [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", NOW, "event",
           "import", str(source), "--json"]  # fmt: skip
    start, cpu = time.perf_counter(), _cpu(resource.RUSAGE_CHILDREN)
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed, cpu = time.perf_counter() - start, _cpu(resource.RUSAGE_CHILDREN) - cpu
    if done.returncode != 0:
        sys.exit(f"import failed (exit {done.returncode}): {done.stderr}")
    # ru_maxrss of RUSAGE_CHILDREN is the largest of all children waited for: this is the only
    # child this process runs.
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, cpu, json.loads(done.stdout), peak


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


BASELINE_DDL = """
CREATE TABLE meter_events (
    seq INTEGER PRIMARY KEY, identifier TEXT NOT NULL UNIQUE, event_name TEXT NOT NULL,
    meter TEXT NOT NULL, customer TEXT NOT NULL, timestamp INTEGER NOT NULL, value TEXT,
    payload TEXT NOT NULL, received INTEGER NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('accepted', 'late')), hash TEXT NOT NULL
) STRICT;
CREATE INDEX meter_events_usage ON meter_events(meter, customer, timestamp);
"""


# What `Ledger.bulk_import_mode` sets for the import, and so for the baseline (same settings)
# unless --untuned-baseline.
IMPORT_PRAGMAS = ("cache_size = -65536", "wal_autocheckpoint = 50000")


def run_baseline(db: Path, source: Path, batch_size: int, tuned: bool) -> tuple[float, float, int]:
    """csv + executemany, one transaction per batch; the ledger's journal settings. Wall and
    CPU seconds, rows."""
    start, cpu = time.perf_counter(), _cpu(resource.RUSAGE_SELF)
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    for pragma in IMPORT_PRAGMAS if tuned else ():
        conn.execute(f"PRAGMA {pragma}")
    conn.executescript(BASELINE_DDL)
    sql = (
        "INSERT INTO meter_events (identifier, event_name, meter, customer, timestamp, value,"
        " payload, received, status, hash) VALUES (?,?,?,?,?,?,?,?,?,?)"
    )
    rows = 0
    with source.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        next(reader)
        batch: list[tuple] = []
        for name, ident, ts, customer, value in reader:
            payload = json.dumps({"stripe_customer_id": customer, "value": value})
            batch.append((ident, name, "mtr_tokens", customer, int(ts), value, payload, NOW_TS,
                          "accepted", ""))  # fmt: skip
            if len(batch) == batch_size:
                conn.execute("BEGIN IMMEDIATE")
                conn.executemany(sql, batch)
                conn.execute("COMMIT")
                rows += len(batch)
                batch = []
        if batch:
            conn.execute("BEGIN IMMEDIATE")
            conn.executemany(sql, batch)
            conn.execute("COMMIT")
            rows += len(batch)
    conn.close()
    return time.perf_counter() - start, _cpu(resource.RUSAGE_SELF) - cpu, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=10_000, help="baseline batch size")
    parser.add_argument("--shuffle", action="store_true", help="timestamps in random order")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--untuned-baseline",
        action="store_true",
        help="leave the baseline SQLite's default page cache and checkpoint settings",
    )
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        work = Path(tmp)
        source = work / "events.csv"
        generate(source, args.rows, args.customers, args.shuffle, args.seed)
        db = work / "billing.db"
        setup_ledger(db, args.customers)
        load = os.getloadavg()
        import_s, import_cpu, summary, rss_kib = run_import(db, source)
        base_s, base_cpu, base_rows = run_baseline(
            work / "baseline.db", source, args.batch, not args.untuned_baseline
        )
        load_after = os.getloadavg()

    if summary["accepted"] != args.rows or base_rows != args.rows:
        sys.exit(f"row counts differ: import {summary}, baseline {base_rows}")
    import_rate, base_rate = args.rows / import_s, args.rows / base_s
    ratio, rss_mib = import_rate / base_rate, rss_kib / 1024
    print(
        f"rows: {args.rows:,} ({args.customers} customers, timestamps "
        f"{'shuffled' if args.shuffle else 'in time order'}, batches of {args.batch:,})"
    )
    print(
        f"machine: {platform.machine()} {os.cpu_count()} CPUs, Python "
        f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}, load average "
        f"{load[0]:.2f} before / {load_after[0]:.2f} after"
    )
    print(
        f"billing event import: {import_s:7.2f} s  {import_rate:10,.0f} events/s"
        f"  ({import_cpu:.1f} CPU s)"
    )
    tuned = " with SQLite's default settings" if args.untuned_baseline else ""
    print(
        f"baseline (csv + executemany{tuned}): {base_s:7.2f} s  {base_rate:10,.0f} events/s"
        f"  ({base_cpu:.1f} CPU s)"
    )
    print(f"ratio import / baseline: {ratio:.2f} (target >= 0.80)")
    print(f"CPU ratio baseline / import: {base_cpu / import_cpu:.2f}")
    print(f"peak RSS of the import: {rss_mib:.1f} MiB (target < 150 MiB)")
    ok = ratio >= 0.8 and rss_mib < 150
    print("targets met" if ok else "TARGETS NOT MET")


if __name__ == "__main__":
    main()
