"""`api.events.meter_usage` with customer=None (the dashboard's "all customers"): every
customer's usage added up, equal to adding each customer's `billing meter usage`, whichever
path answers (the summed roll-up rows for sum/count, per-customer buckets otherwise)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from billing_cli.api import Context
from billing_cli.api import events as api
from billing_cli.clock import format_time, from_unix
from billing_cli.domain.aggregation import DAY, HOUR
from tests.test_ledger_events import NOW, T0, make_ledger

SENT = [("cus_a", T0 + 10, "1.5"), ("cus_a", T0 + HOUR + 5, "2"), ("cus_b", T0 + 20, "0.25"),
        ("cus_b", T0 + DAY + 7, "1000000000000"), ("cus_a", T0 + DAY + 3 * HOUR, "-4"),
        ("cus_b", T0 + 2 * DAY + 1, "7")]  # fmt: skip


pytestmark = pytest.mark.both_backends


def _ledger(db: Path, formula: str, window: str | None) -> Context:
    ctx = make_ledger(db, formula=formula, window=window)
    for n, (customer, ts, value) in enumerate(SENT):
        api.send_event(ctx, event_name="m", customer=customer, value=value, identifier=f"e{n}",
                       timestamp=format_time(ts))  # fmt: skip
    return ctx


def _each_added(ctx: Context, start: int, end: int, window: str | None) -> tuple[Decimal, dict]:
    total, by_start = Decimal(0), {}
    for customer in ("cus_a", "cus_b"):
        one = api.meter_usage(ctx, "mtr_m", customer=customer, start=format_time(start),
                              end=format_time(end), window=window)  # fmt: skip
        total += one.total.value
        for w in one.windows:
            by_start[w.start] = by_start.get(w.start, Decimal(0)) + w.aggregate.value
    return total, by_start


@pytest.mark.parametrize("formula", ["sum", "count", "last"])
@pytest.mark.parametrize("meter_window", [None, "hour", "day"])
@pytest.mark.parametrize(("start", "end"), [(T0, T0 + 3 * DAY), (T0 + 60, T0 + 3 * DAY - 120)])
@pytest.mark.parametrize("window", [None, "hour", "day"])
def test_all_customers_equal_each_customer_added(
    db: Path, formula: str, meter_window: str | None, start: int, end: int,
    window: str | None,
) -> None:  # fmt: skip
    ctx = _ledger(db, formula, meter_window)
    every = api.meter_usage(ctx, "mtr_m", customer=None, start=format_time(start),
                            end=format_time(end), window=window)  # fmt: skip
    total, by_start = _each_added(ctx, start, end, window)
    assert every.customer is None
    assert every.total.value == total
    if window is not None:
        assert {w.start: w.aggregate.value for w in every.windows} == by_start
        assert all(start <= w.start < w.end <= end for w in every.windows)


def test_a_back_dated_clock_counts_only_what_was_received_by_then(db: Path) -> None:
    ctx = _ledger(db, "sum", None)
    earlier = Context(ctx.db, from_unix(NOW - 1))  # before any event was received
    every = api.meter_usage(earlier, "mtr_m", customer=None, start=format_time(T0),
                            end=format_time(T0 + 3 * DAY), window="day")  # fmt: skip
    assert every.total.value == 0 and every.windows == []
