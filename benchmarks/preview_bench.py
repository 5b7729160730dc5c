"""Preview latency (`invoice upcoming`) for one customer with 10,000 and 1,000,000 events in the
period, in process and through the CLI, beside two baselines: `python -c pass` and a raw-SQL
sum over the same events (what a preview without hourly roll-ups would at least cost).

Targets (issue): p50 at 1,000,000 events ≤ 2 × p50 at 10,000; CLI p50 at 1,000,000 < 300 ms.

    .venv/bin/python benchmarks/preview_bench.py [--sizes 10000,1000000] [--runs 20]
"""

from __future__ import annotations

import argparse
import sqlite3
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _setup import (  # noqa: E402
    PERIOD_START,
    build_ledger,
    percentiles,
    python_startup,
    run_cli,
)

from billing_cli.api import Context  # noqa: E402
from billing_cli.api.invoices import upcoming  # noqa: E402
from billing_cli.clock import from_unix  # noqa: E402

NOW = PERIOD_START + 29 * 86400 + 12 * 3600 + 1234  # late in the period, not on an hour


def raw_sql_sum(db: Path) -> float:
    conn = sqlite3.connect(db)
    try:
        started = time.perf_counter()
        conn.execute(
            "SELECT count(*), sum(CAST(value AS REAL)) FROM meter_events WHERE meter = ?"
            " AND customer = ? AND timestamp >= ? AND timestamp < ?",
            ("mtr_tokens", "cus_00000", PERIOD_START, NOW),
        ).fetchone()
        return (time.perf_counter() - started) * 1000
    finally:
        conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="10000,1000000")
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/billing-bench"))
    args = parser.parse_args()
    args.workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"python -c pass: p50 {python_startup():.0f} ms")
    results = {}
    for size in sizes:
        db = args.workdir / f"preview_{size}.db"
        built = build_ledger(db, customers=1, events=size, import_now=NOW)
        if built:
            print(f"built {db.name}: {size:,} events imported in {built:.1f} s")
        ctx = Context(db=db, now=from_unix(NOW))
        first = upcoming(ctx, customer="cus_00000")  # warm the page cache
        samples = []
        for _ in range(args.runs):
            started = time.perf_counter()
            inv = upcoming(ctx, customer="cus_00000")
            samples.append(time.perf_counter() - started)
        assert inv.lines == first.lines
        run_cli(db, NOW, "invoice", "upcoming", "--customer", "cus_00000", "--json")  # warm-up
        cli = []
        for _ in range(max(5, args.runs // 2)):
            started = time.perf_counter()
            done = run_cli(db, NOW, "invoice", "upcoming", "--customer", "cus_00000", "--json")
            cli.append(time.perf_counter() - started)
            if done.returncode != 0:
                raise SystemExit(done.stderr)
        (p50, p90), (c50, c90) = percentiles(samples), percentiles(cli)
        results[size] = (p50, c50)
        line = inv.lines[0]
        print(
            f"{size:>9,} events: in-process p50 {p50:7.2f} ms p90 {p90:7.2f} ms | "
            f"CLI p50 {c50:6.0f} ms p90 {c90:6.0f} ms | raw SQL sum {raw_sql_sum(db):7.1f} ms | "
            f"quantity {line.quantity_decimal} amount {line.amount}"
        )
    if len(sizes) >= 2:
        small, large = results[min(sizes)], results[max(sizes)]
        ratio = large[0] / small[0]
        print(
            f"ratio p50 {max(sizes):,} / {min(sizes):,}: {ratio:.2f} (target ≤ 2); "
            f"CLI p50 at {max(sizes):,}: {large[1]:.0f} ms (target < 300)"
        )


if __name__ == "__main__":
    main()
