"""SQLite vs PostgreSQL in the same run: bulk import, concurrent importers, preview (issue 13).

    .venv/bin/python benchmarks/postgres_bench.py [--events 1000000] [--customers 1000]
                                                  [--importers 4] [--previews 15]
                                                  [--small-events 100000]

For each backend, on the same generated events (Alpaca's metered price, `--customers` subscribed
customers, events spread over November 2026):
1. one `billing event import` of all events into a fresh ledger (a subprocess: start-up,
   validation, hash chain, roll-ups, commits all included);
2. `--importers` concurrent `billing event import`s, each of an equal share of other events,
   into a second fresh ledger: wall time from the first start to the last exit;
3. `billing invoice upcoming` p50/p90 (a subprocess each) on the ledger of step 1, and p50 on
   a ledger holding only `--small-events` of the same events: preview time must stay flat in
   the event count (it reads hourly roll-ups), so the ratio of the two p50s is near 1.
PostgreSQL is a throw-away pgserver cluster (PostgreSQL 16, from the test extra) with
synchronous_commit off, the durability class of the SQLite ledger's WAL with
synchronous=NORMAL (a crash loses at most the last commits, never consistency). Both ledgers
see the same machine, at the same time of day. A script that prints figures, not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks._setup import (  # noqa: E402
    PERIOD_END,
    PERIOD_START,
    ROOT,
    billing_argv,
    build_catalog,
    percentiles,
    run_cli,
)

IMPORT_NOW = PERIOD_END - 3600  # every event received before the period closes


def write_events(path: Path, customers: list[str], first: int, total: int) -> None:
    """`total` events with identifiers e{first}…, spread over the period, round-robin."""
    span = IMPORT_NOW - PERIOD_START
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("event_name,identifier,timestamp,stripe_customer_id,value\n")
        for i in range(first, first + total):
            ts = PERIOD_START + ((i - first) * span) // total
            fh.write(f"tokens,e{i},{ts},{customers[i % len(customers)]},{(i % 97) + 1}\n")


def start_postgres(folder: Path) -> tuple[object, str]:
    import pgserver
    import psycopg

    server = pgserver.get_server(folder / "data", cleanup_mode="delete")
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        conn.execute("ALTER SYSTEM SET synchronous_commit = off")
        conn.execute("SELECT pg_reload_conf()")
    return server, server.get_uri()


def fresh(backend: str, folder: Path, base_uri: str, name: str) -> str:
    if backend == "sqlite":
        return str(folder / f"{name}.db")
    import psycopg

    with psycopg.connect(base_uri, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {name}")  # type: ignore[arg-type]
    return f"{base_uri}&options=-csearch_path%3D{name}"


def env() -> dict[str, str]:
    out = {**os.environ, "PYTHONPATH": str(ROOT)}
    for key in ("BILLING_DB", "BILLING_NOW", "BILLING_DEBUG"):
        out.pop(key, None)
    return out


def timed_imports(db: str, files: list[Path]) -> float:
    """Wall seconds for importing `files` at once, one process each."""
    started = time.perf_counter()
    procs = [
        subprocess.Popen(
            billing_argv(db, IMPORT_NOW, "event", "import", str(f), "--json"),  # type: ignore[arg-type]
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env(),
        )
        for f in files
    ]
    outs = [p.communicate() for p in procs]
    elapsed = time.perf_counter() - started
    for p, (_, err) in zip(procs, outs, strict=True):
        if p.returncode != 0:
            raise SystemExit(f"import failed ({p.returncode}): {err.decode()[-2000:]}")
    return elapsed


def previews(db: str, count: int, customers: int) -> tuple[float, float]:
    """p50 and p90 (ms) of `count` CLI previews, one customer after another."""
    samples = []
    for n in range(count):
        started = time.perf_counter()
        done = run_cli(db, IMPORT_NOW, "invoice", "upcoming", "--customer",  # type: ignore[arg-type]
                       f"cus_{n % customers:05d}", "--json")  # fmt: skip
        samples.append(time.perf_counter() - started)
        if done.returncode != 0:
            raise SystemExit(f"preview failed: {done.stderr[-2000:]}")
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--customers", type=int, default=1000)
    parser.add_argument("--importers", type=int, default=4)
    parser.add_argument("--previews", type=int, default=15)
    parser.add_argument("--small-events", type=int, default=100_000)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="billing-pg-bench-"))
    folder.chmod(0o755)
    server, base = start_postgres(folder)
    share = args.events // args.importers
    try:
        one = folder / "all.csv"
        small = folder / "small.csv"
        parts = [folder / f"part{k}.csv" for k in range(args.importers)]
        print(f"{args.events} events, {args.customers} customers, {args.importers} importers")
        results: dict[str, dict[str, float]] = {}
        for backend in ("sqlite", "postgres"):
            single = fresh(backend, folder, base, "single")
            customers = build_catalog(single, args.customers)  # type: ignore[arg-type]
            if not one.exists():
                write_events(one, customers, 0, args.events)
                write_events(small, customers, 0, args.small_events)
                for k, part in enumerate(parts):
                    write_events(part, customers, args.events + k * share, share)
            t_one = timed_imports(single, [one])
            multi = fresh(backend, folder, base, "multi")
            build_catalog(multi, args.customers)  # type: ignore[arg-type]
            t_many = timed_imports(multi, parts)
            p50, p90 = previews(single, args.previews, args.customers)
            fewer = fresh(backend, folder, base, "small")
            build_catalog(fewer, args.customers)  # type: ignore[arg-type]
            timed_imports(fewer, [small])
            p50_small, _ = previews(fewer, args.previews, args.customers)
            results[backend] = {"one": t_one, "many": t_many, "p50": p50, "p90": p90}
            print(
                f"{backend:8s} import {args.events / t_one:9,.0f} ev/s ({t_one:6.1f} s) | "
                f"{args.importers} importers {share * args.importers / t_many:9,.0f} ev/s "
                f"({t_many:6.1f} s) | preview p50 {p50:5.0f} ms p90 {p90:5.0f} ms | "
                f"p50 at {args.small_events:,} events {p50_small:5.0f} ms "
                f"(ratio {p50 / p50_small:.2f})"
            )
        s, p = results["sqlite"], results["postgres"]
        print(
            f"PostgreSQL / SQLite: single import {s['one'] / p['one']:.2f}x, "
            f"{args.importers} importers {s['many'] / p['many']:.2f}x, "
            f"preview p50 {p['p50'] / s['p50']:.2f}x the time"
        )
    finally:
        server.cleanup()  # type: ignore[attr-defined]
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
