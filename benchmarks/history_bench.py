"""Preview and close must stay flat in history length (issue 10.7), in-process through the api.

    .venv/bin/python benchmarks/history_bench.py [--late 10000] [--runs 15]

Two pairs of ledgers, each a short history against a long one, same shape otherwise:
- a daily metered subscription 30 days old vs 3 years old (1,095 periods, every one invoiced):
  `invoice upcoming` and an `invoice run` that finalizes the newest day;
- a monthly subscription with no late events vs one with `--late` events that arrived after
  their month was finalized, were resolved onto the next invoice, and are invoiced already:
  `invoice upcoming` and an `invoice run` that finalizes the next month.
Prints p50 per case and the long/short ratio (flat is ~1). A script, not a test
(tests/test_hot_paths.py checks the behaviour).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from billing_cli.api import (  # noqa: E402  # noqa: E402
    Context,
    catalog,
    event_import,
    invoices,
    late_events,
    prices,
    subscriptions,
)
from billing_cli.clock import from_unix, parse_time, to_unix  # noqa: E402

DAY = 86400
NOW = to_unix(parse_time("2029-11-01T12:00:00Z"))


def _ctx(db: Path, ts: int) -> Context:
    return Context(db=str(db), now=from_unix(ts))


def _catalog(db: Path, interval: str, start: int) -> None:
    ctx = _ctx(db, start)
    catalog.create_meter(
        ctx, display_name="T", event_name="tokens", aggregation="sum", meter_id="mtr_t"
    )
    prices.create_price(
        ctx, product_name="Tokens", currency="usd", unit_amount=3, interval=interval,
        usage_type="metered", meter="mtr_t", price_id="price_t",
    )  # fmt: skip
    catalog.create_customer(ctx, name="c", invoice_prefix="CUS", customer_id="cus_1")
    subscriptions.create_subscription(
        ctx, customer="cus_1", prices=["price_t"], backdate_start_date=from_unix(start)
    )


def _import(db: Path, now: int, rows: list[tuple[str, int, str]]) -> None:
    text = "event_name,identifier,timestamp,stripe_customer_id,value\n" + "".join(
        f"tokens,{ident},{ts},cus_1,{value}\n" for ident, ts, value in rows
    )
    import io

    event_import.import_events(_ctx(db, now), io.BytesIO(text.encode()), "csv")


def daily_ledger(db: Path, days: int) -> None:
    start = NOW - days * DAY - 3 * 3600
    _catalog(db, "day", start)
    _import(db, NOW - 3 * 3600, [(f"e{d}", start + d * DAY + 60, "5") for d in range(days)])
    invoices.run(_ctx(db, NOW - 2 * 3600))  # every ended day invoiced and finalized


def late_ledger(db: Path, late: int) -> None:
    start = to_unix(parse_time("2028-11-01T00:00:00Z"))
    _catalog(db, "month", start)
    months = [
        to_unix(parse_time(f"{2028 + (10 + m) // 12}-{(10 + m) % 12 + 1:02d}-01"))
        for m in range(13)
    ]
    _import(db, months[1], [(f"m{m}", months[m] + 3600, "7") for m in range(12)])
    for m in range(1, 12):  # each month closed, then late events for it resolved and invoiced
        invoices.run(_ctx(db, months[m] + 7200))
        per = late // 10 if m <= 10 else 0
        if per:
            now = months[m] + 3 * 3600
            _import(db, now, [(f"l{m}_{i}", months[m - 1] + 60 + i, "1") for i in range(per)])
            late_events.resolve_late_events(_ctx(db, now), resolve="next-invoice")
    invoices.run(_ctx(db, months[12] - 10 * DAY))  # nothing due: drafts none


def _p50(fn: Callable[[], object], runs: int) -> float:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def _close(db: Path, now: int, runs: int) -> float:
    """An `invoice run` that creates and finalizes, each time on a fresh copy."""
    samples = []
    for _ in range(runs):
        copy = db.with_name(db.stem + "-run.db")
        shutil.copy(db, copy)
        started = time.perf_counter()
        invoices.run(_ctx(copy, now))
        samples.append(time.perf_counter() - started)
        copy.unlink()
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--late", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="billing-history-"))
    print(f"{'case':44} {'short p50 ms':>13} {'long p50 ms':>12} {'ratio':>6}")
    short, long_ = work / "daily30.db", work / "daily1095.db"
    daily_ledger(short, 30)
    daily_ledger(long_, 1095)
    close_at = NOW + DAY
    for name, measure in (
        ("daily sub, 30 d vs 3 y: invoice upcoming", lambda db: _p50(
            lambda: invoices.upcoming(_ctx(db, NOW), customer="cus_1"), args.runs)),
        ("daily sub, 30 d vs 3 y: invoice run", lambda db: _close(db, close_at, args.runs)),
    ):  # fmt: skip
        a, b = measure(short), measure(long_)
        print(f"{name:44} {a:13.1f} {b:12.1f} {b / a:6.2f}")
    none, many = work / "late0.db", work / "late.db"
    late_ledger(none, 0)
    late_ledger(many, args.late)
    preview_at = to_unix(parse_time("2029-10-20T00:00:00Z"))
    run_at = to_unix(parse_time("2029-11-01T02:00:00Z"))
    for name, measure in (
        (f"0 vs {args.late} resolved late: invoice upcoming", lambda db: _p50(
            lambda: invoices.upcoming(_ctx(db, preview_at), customer="cus_1"), args.runs)),
        (f"0 vs {args.late} resolved late: invoice run", lambda db: _close(db, run_at, args.runs)),
    ):  # fmt: skip
        a, b = measure(none), measure(many)
        print(f"{name:44} {a:13.1f} {b:12.1f} {b / a:6.2f}")


if __name__ == "__main__":
    main()
