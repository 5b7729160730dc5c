"""Shared ledger builders for the invoice benchmarks (not tests).

Catalog objects are created through the api (fast, in-process); events go through the public
`billing event import` command, the path real pipelines use, so the hourly roll-ups are built
exactly as in production. Built ledgers are cached in the work directory: a second run of a
benchmark measures, it does not rebuild.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from pathlib import Path

from billing_cli.api import Context, catalog, prices, subscriptions
from billing_cli.clock import from_unix, parse_time, to_unix

ROOT = Path(__file__).resolve().parents[1]
PERIOD_START = to_unix(parse_time("2026-11-01T00:00:00Z"))
PERIOD_END = to_unix(parse_time("2026-12-01T00:00:00Z"))
CLOSE_AT = PERIOD_END + 3600  # end of the default 1 h grace: the run finalizes


def billing_argv(db: Path, now: int, *args: str) -> list[str]:
    return [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", str(now), *args]


PYCACHE = Path("/tmp/billing-bench/pycache")


def run_cli(db: Path, now: int, *args: str) -> subprocess.CompletedProcess:
    """The CLI as an installed program runs: with byte-compiled modules (pip compiles them at
    install; this environment sets PYTHONDONTWRITEBYTECODE, so they go to a private cache)."""
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTHONPYCACHEPREFIX": str(PYCACHE)}
    for key in ("BILLING_DB", "BILLING_NOW", "BILLING_DEBUG", "PYTHONDONTWRITEBYTECODE"):
        env.pop(key, None)
    return subprocess.run(billing_argv(db, now, *args), capture_output=True, text=True, env=env)


def build_catalog(db: Path, customers: int) -> list[str]:
    """One metered monthly price (Alpaca's) and `customers` subscribed customers."""
    ctx = Context(db=db, now=from_unix(PERIOD_START))
    catalog.create_meter(
        ctx, display_name="Tokens", event_name="tokens", aggregation="sum", meter_id="mtr_tokens"
    )
    prices.create_price(
        ctx, product_name="Alpaca AI", currency="usd", unit_amount=4, transform_divide_by=100,
        transform_round="up", interval="month", usage_type="metered", meter="mtr_tokens",
        price_id="price_tokens",
    )  # fmt: skip
    ids = []
    for n in range(customers):
        cid = f"cus_{n:05d}"
        catalog.create_customer(ctx, name=cid, invoice_prefix=f"C{n:05d}", customer_id=cid)
        subscriptions.create_subscription(ctx, customer=cid, prices=["price_tokens"])
        ids.append(cid)
    return ids


def write_events_csv(path: Path, customers: list[str], total: int, end: int) -> None:
    """`total` events spread evenly over [PERIOD_START, end), round-robin over customers."""
    span = end - PERIOD_START
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("event_name,identifier,timestamp,stripe_customer_id,value\n")
        for i in range(total):
            ts = PERIOD_START + (i * span) // total
            fh.write(f"tokens,e{i},{ts},{customers[i % len(customers)]},{(i % 97) + 1}\n")


def build_ledger(db: Path, *, customers: int, events: int, import_now: int) -> float:
    """Create (or reuse) a ledger; returns the seconds the event import took (0 if cached)."""
    if db.exists():
        return 0.0
    partial = db.with_suffix(".building")
    for leftover in (partial, Path(f"{partial}-wal"), Path(f"{partial}-shm")):
        leftover.unlink(missing_ok=True)
    ids = build_catalog(partial, customers)
    csv_path = db.with_suffix(".csv")
    write_events_csv(csv_path, ids, events, min(import_now, PERIOD_END))
    started = time.perf_counter()
    result = run_cli(partial, import_now, "event", "import", str(csv_path), "--json")
    elapsed = time.perf_counter() - started
    if result.returncode != 0:
        raise SystemExit(f"event import failed ({result.returncode}): {result.stderr[-2000:]}")
    csv_path.unlink()
    conn = sqlite3.connect(partial)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    shutil.move(partial, db)
    return elapsed


def percentiles(samples: list[float]) -> tuple[float, float]:
    """(p50, p90) in milliseconds."""
    ordered = sorted(samples)
    p90 = ordered[min(len(ordered) - 1, int(round(0.9 * (len(ordered) - 1))))]
    return statistics.median(ordered) * 1000, p90 * 1000


def python_startup(runs: int = 10) -> float:
    """p50 of `python -c pass` (ms): the floor under any CLI timing."""
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        samples.append(time.perf_counter() - started)
    return percentiles(samples)[0]
