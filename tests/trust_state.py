"""What a ledger holds, in a form two ledgers can be compared by (tests/test_concurrency.py,
tests/test_crash.py, benchmarks/soak.py), and the `billing` command as a real process.

Ids are random and receipt order depends on who got the lock first, so the state leaves out
invoice and line ids and event `seq`: two ledgers are "the same" when they hold the same events
(content and receipt time), the same roll-ups, the same invoices (customer, number, period,
status, amounts, each line) and the same invoice chain, customer by customer.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from billing_cli.api import Context, catalog, subscriptions
from billing_cli.api import prices as prices_api
from billing_cli.storage.port import open_store
from tests.backends import is_postgres

ROOT = Path(__file__).resolve().parents[1]


def build_catalog(
    ctx: Context, customers: int, *, unit_amount_decimal: str, seat_amount: int, seats: int
) -> None:
    """A token meter, a metered and a licensed price, and `customers` subscribed customers
    (every third one also holds `seats` seats): cus_00…, invoice prefixes C00…"""
    catalog.create_meter(ctx, display_name="Tokens", event_name="api_tokens",
                         aggregation="sum", meter_id="mtr_tokens")  # fmt: skip
    prices_api.create_price(ctx, product_name="API", currency="usd",
                            unit_amount_decimal=unit_amount_decimal, interval="month",
                            usage_type="metered", meter="mtr_tokens",
                            price_id="price_tokens")  # fmt: skip
    prices_api.create_price(ctx, product_name="Seats", currency="usd", unit_amount=seat_amount,
                            interval="month", usage_type="licensed",
                            price_id="price_seats")  # fmt: skip
    width = len(str(customers - 1))
    for i in range(customers):
        cid = f"cus_{i:0{width}d}"
        catalog.create_customer(ctx, name=cid, customer_id=cid, invoice_prefix=f"C{i:0{width}d}")
        prices = ["price_tokens", f"price_seats:{seats}"] if i % 3 == 0 else ["price_tokens"]
        subscriptions.create_subscription(ctx, customer=cid, prices=prices)


def billing_argv(db: Path | str, now: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "billing_cli", "--db", str(db), "--now", now, *args]


def environment(**extra: str) -> dict[str, str]:
    """The outer environment minus BILLING_* (the default busy timeout applies), plus `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BILLING_")}
    env["PYTHONPATH"] = str(ROOT)
    env.update(extra)
    return env


def start(db: Path | str, now: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        billing_argv(db, now, *args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environment(),
    )


def ledger_state(db: Path | str) -> dict[str, Any]:
    if is_postgres(db):
        import psycopg

        with psycopg.connect(str(db)) as pg:
            return _state(pg)
    conn = sqlite3.connect(db)
    try:
        return _state(conn)
    finally:
        conn.close()


def _state(conn: Any) -> dict[str, Any]:  # noqa: ANN401 - an sqlite3 or psycopg connection
    q = conn.execute
    key = {
        r[0]: tuple(r[1:])
        for r in q("SELECT id, customer, billing_reason, period_start, period_end FROM invoices")
    }
    lines: dict[str, list[tuple]] = {}
    for row in q(
        "SELECT invoice, type, price, description, period_start, period_end, quantity_decimal,"
        " unit_amount_decimal, amount FROM invoice_lines ORDER BY invoice, position"
    ):
        lines.setdefault(row[0], []).append(tuple(row[1:]))
    invoices = sorted(
        (*key[r[0]], *r[1:], tuple(lines.get(r[0], [])))
        for r in q(
            "SELECT id, status, number, currency, subtotal, total, starting_balance,"
            " ending_balance, amount_due, amount_paid, finalized_at, paid_at, voided_at,"
            " marked_uncollectible_at FROM invoices"
        )
    )
    chain = sorted(
        (*key.get(r[0], (r[0],)), *r[1:])
        for r in q("SELECT invoice, status, at, amount_paid FROM invoice_chain")
    )
    return {
        "events": sorted(
            q(
                "SELECT identifier, event_name, meter, customer, timestamp, value, payload,"
                " received, status FROM meter_events"
            ).fetchall()
        ),
        "adjustments": sorted(
            q("SELECT type, identifier, created FROM meter_event_adjustments").fetchall()
        ),
        "rollups": q(
            "SELECT meter, customer, hour, count, sum FROM usage_hourly"
            " ORDER BY meter, customer, hour"
        ).fetchall(),
        "invoices": invoices,
        "invoice_chain": chain,
        "customers": q(
            "SELECT id, next_invoice_sequence, balance FROM customers ORDER BY id"
        ).fetchall(),
    }


def gapless(state: dict[str, Any]) -> bool:
    """Every customer's invoice numbers run 1, 2, 3, … and its next sequence follows them."""
    numbers: dict[str, list[int]] = {}
    for inv in state["invoices"]:
        customer, number = inv[0], inv[5]
        if number is not None:
            numbers.setdefault(customer, []).append(int(number.rpartition("-")[2]))
    following = {cid: seq for cid, seq, _ in state["customers"]}
    return all(
        sorted(seqs) == list(range(1, len(seqs) + 1)) and following[cid] == len(seqs) + 1
        for cid, seqs in numbers.items()
    )


def assert_event_chain_and_rollups_whole(db: Path | str) -> None:
    """The event hash chain links up and the hourly roll-ups equal the raw events."""
    with open_store(db, create=False) as led:
        assert led.verify_event_chain() is None
        assert led.verify_rollups() is None
