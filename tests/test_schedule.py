"""schedule.py: a subscription's service periods (SPEC 1.4, 1.5, 3.3)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_cli.domain import schedule
from billing_cli.domain.models import Subscription
from billing_cli.domain.periods import MAX_INTERVAL_COUNT


def ts(*args: int) -> int:
    return int(datetime(*args, tzinfo=UTC).timestamp())


def sub(start: int, anchor: int | None = None, interval: str = "month", count: int = 1,
        **kw: object) -> Subscription:  # fmt: skip
    fields: dict = {
        "id": "sub_x", "created": start, "customer": "cus_x", "status": "active",
        "currency": "usd", "interval": interval, "interval_count": count, "start_date": start,
        "billing_cycle_anchor": start if anchor is None else anchor, "trial_end": None,
        "cancel_at_period_end": False, "canceled_at": None, "ended_at": None,
    }  # fmt: skip
    fields.update(kw)
    return Subscription(**fields)


ALPACA = sub(ts(2026, 11, 1, 9))


def test_alpaca_current_period() -> None:
    assert schedule.period(ALPACA, 0) == (ts(2026, 11, 1, 9), ts(2026, 12, 1, 9))
    assert schedule.current_period(ALPACA, ts(2026, 11, 1, 9)) == (
        ts(2026, 11, 1, 9),
        ts(2026, 12, 1, 9),
    )
    assert schedule.current_period(ALPACA, ts(2026, 12, 1, 8, 59, 59))[1] == ts(2026, 12, 1, 9)
    assert schedule.current_period(ALPACA, ts(2026, 12, 1, 9)) == (
        ts(2026, 12, 1, 9),
        ts(2027, 1, 1, 9),
    )
    assert schedule.period(ALPACA, 2) == (ts(2027, 1, 1, 9), ts(2027, 2, 1, 9))


def test_future_anchor_short_first_period() -> None:
    s = sub(ts(2026, 11, 1, 9), ts(2026, 11, 15))
    assert schedule.period(s, 0) == (ts(2026, 11, 1, 9), ts(2026, 11, 15))
    assert schedule.period(s, 1) == (ts(2026, 11, 15), ts(2026, 12, 15))
    assert schedule.period_index(s, ts(2026, 11, 14, 23, 59, 59)) == 0
    assert schedule.period_index(s, ts(2026, 11, 15)) == 1


def test_trial_is_the_first_period() -> None:
    start, trial_end = ts(2026, 11, 1, 9), ts(2026, 11, 15, 9)
    s = sub(start, trial_end, trial_end=trial_end, status="trialing")
    assert schedule.current_period(s, start) == (start, trial_end)
    assert schedule.effective_status(s, start) == "trialing"
    assert schedule.effective_status(s, trial_end) == "active"
    assert schedule.current_period(s, trial_end) == (trial_end, ts(2026, 12, 15, 9))


def test_long_trial_on_a_monthly_price() -> None:
    """A 60-day trial puts the anchor two months out; the first period is the whole trial."""
    start, trial_end = ts(2026, 11, 1), ts(2026, 12, 31)
    s = sub(start, trial_end, trial_end=trial_end)
    assert schedule.period(s, 0) == (start, trial_end)
    assert schedule.period(s, 1) == (trial_end, ts(2027, 1, 31))
    assert schedule.period(s, 2) == (ts(2027, 1, 31), ts(2027, 2, 28))


def test_before_start_is_period_zero() -> None:
    assert schedule.period_index(ALPACA, ts(2020, 1, 1)) == 0


@pytest.mark.parametrize(
    ("year", "day", "expected"),
    [
        # leap year 2028: February has 29 days
        (2028, 31, [(1, 31), (2, 29), (3, 31), (4, 30), (5, 31)]),
        (2028, 30, [(1, 30), (2, 29), (3, 30), (4, 30), (5, 30)]),
        (2028, 29, [(1, 29), (2, 29), (3, 29), (4, 29), (5, 29)]),
        # non-leap 2027: February has 28
        (2027, 31, [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31)]),
        (2027, 30, [(1, 30), (2, 28), (3, 30), (4, 30), (5, 30)]),
        (2027, 29, [(1, 29), (2, 28), (3, 29), (4, 29), (5, 29)]),
    ],
)
def test_month_end_anchors_through_february(year: int, day: int, expected: list) -> None:
    s = sub(ts(year, 1, day, 12, 30))
    bounds = [schedule.period(s, k) for k in range(4)]
    starts = [datetime.fromtimestamp(b[0], UTC) for b in bounds] + [
        datetime.fromtimestamp(bounds[-1][1], UTC)
    ]
    assert [(d.month, d.day) for d in starts] == expected
    assert all((d.year, d.hour, d.minute) == (year, 12, 30) for d in starts)
    for k, (start, end) in enumerate(bounds):
        assert schedule.period_index(s, start) == k
        assert schedule.period_index(s, end - 1) == k


def test_short_period_before_a_month_end_anchor() -> None:
    """Start mid-January, anchor on the 31st: [Jan 10, Jan 31), then Feb 29 (2028)."""
    s = sub(ts(2028, 1, 10), ts(2028, 1, 31))
    assert [schedule.period(s, k) for k in range(3)] == [
        (ts(2028, 1, 10), ts(2028, 1, 31)),
        (ts(2028, 1, 31), ts(2028, 2, 29)),
        (ts(2028, 2, 29), ts(2028, 3, 31)),
    ]


def test_yearly_anchor_on_leap_day() -> None:
    s = sub(ts(2028, 2, 29), interval="year")
    assert [schedule.period(s, k)[1] for k in range(4)] == [
        ts(2029, 2, 28), ts(2030, 2, 28), ts(2031, 2, 28), ts(2032, 2, 29),
    ]  # fmt: skip


def test_week_and_day_grids() -> None:
    s = sub(ts(2026, 11, 1), interval="week", count=2)
    assert schedule.period(s, 1) == (ts(2026, 11, 15), ts(2026, 11, 29))
    d = sub(ts(2026, 11, 1), ts(2026, 11, 1, 12), interval="day")
    assert schedule.period(d, 0) == (ts(2026, 11, 1), ts(2026, 11, 1, 12))
    assert schedule.period(d, 1) == (ts(2026, 11, 1, 12), ts(2026, 11, 2, 12))


def test_cancellation_cuts_the_last_period() -> None:
    ended = replace(
        ALPACA, status="canceled", ended_at=ts(2026, 12, 10), canceled_at=ts(2026, 12, 10)
    )
    assert schedule.cut(ended, schedule.period(ended, 1)) == (ts(2026, 12, 1, 9), ts(2026, 12, 10))
    assert schedule.cut(ended, schedule.period(ended, 2)) is None
    assert schedule.current_period(ended, ts(2027, 6, 1)) == (ts(2026, 12, 1, 9), ts(2026, 12, 10))
    assert schedule.effective_status(ended, ts(2027, 6, 1)) == "canceled"
    assert schedule.ended_periods(ended, ts(2027, 6, 1)) == [
        (ts(2026, 11, 1, 9), ts(2026, 12, 1, 9)),
        (ts(2026, 12, 1, 9), ts(2026, 12, 10)),
    ]


def test_cancel_at_period_end_takes_effect_by_time() -> None:
    end = ts(2026, 12, 1, 9)
    s = replace(ALPACA, cancel_at_period_end=True, ended_at=end, canceled_at=ts(2026, 11, 5))
    assert schedule.effective_status(s, end - 1) == "active"
    assert schedule.effective_status(s, end) == "canceled"
    assert schedule.ended_periods(s, ts(2030, 1, 1)) == [(ts(2026, 11, 1, 9), end)]


def test_ended_periods_of_a_live_subscription() -> None:
    assert schedule.ended_periods(ALPACA, ts(2026, 12, 1, 8)) == []
    assert schedule.ended_periods(ALPACA, ts(2027, 1, 1, 9)) == [
        (ts(2026, 11, 1, 9), ts(2026, 12, 1, 9)),
        (ts(2026, 12, 1, 9), ts(2027, 1, 1, 9)),
    ]


# -- properties ----------------------------------------------------------------------------
intervals = st.sampled_from(["day", "week", "month", "year"]).flatmap(
    lambda i: st.tuples(st.just(i), st.integers(1, MAX_INTERVAL_COUNT[i]))
)
starts = st.integers(ts(1990, 1, 1), ts(2200, 1, 1))


@settings(max_examples=200, deadline=None)
@given(start=starts, anchor_offset=st.integers(0, 800 * 86400), grid=intervals,
       trial=st.booleans())  # fmt: skip
def test_periods_tile_time(start: int, anchor_offset: int, grid, trial: bool) -> None:
    interval, count = grid
    anchor = start + anchor_offset
    s = sub(start, anchor, interval, count, trial_end=anchor if trial and anchor_offset else None)
    previous_end = start
    for k in range(6):
        lo, hi = schedule.period(s, k)
        assert lo == previous_end  # no gap, no overlap
        assert lo < hi
        assert schedule.period_index(s, lo) == k
        assert schedule.period_index(s, hi - 1) == k
        assert schedule.current_period(s, lo) == (lo, hi)
        previous_end = hi
    assert schedule.period(s, 0)[0] == start
    if anchor > start:
        assert schedule.period(s, 0)[1] == anchor


@settings(max_examples=100, deadline=None)
@given(start=starts, grid=intervals, offset=st.integers(0, 10**9))
def test_every_instant_is_in_exactly_its_period(start: int, grid, offset: int) -> None:
    interval, count = grid
    s = sub(start, interval=interval, count=count)
    t = start + offset
    k = schedule.period_index(s, t)
    lo, hi = schedule.period(s, k)
    assert lo <= t < hi


@settings(max_examples=100, deadline=None)
@given(start=starts, grid=intervals, ended_after=st.integers(1, 3 * 366 * 86400),
       now_after=st.integers(0, 4 * 366 * 86400))  # fmt: skip
def test_ended_periods_stop_at_the_end(start: int, grid, ended_after: int, now_after: int) -> None:
    interval, count = grid
    ended_at = start + ended_after
    s = sub(start, interval=interval, count=count, ended_at=ended_at, status="canceled")
    done = schedule.ended_periods(s, start + now_after)
    for (_, a_end), (b_start, _) in zip(done, done[1:], strict=False):
        assert a_end == b_start
    assert all(hi <= ended_at and hi <= start + now_after for _, hi in done)
    if start + now_after >= ended_at:
        assert done and done[-1][1] == ended_at
    lo, hi = schedule.current_period(s, start + now_after)
    assert lo < hi <= ended_at


def test_boundaries_are_computed_from_the_anchor() -> None:
    """Stepping from the anchor, not from the previous end: no drift after a short February."""
    s = sub(ts(2027, 1, 31))
    assert [schedule.period(s, k)[1] for k in (0, 1, 2, 11)] == [
        ts(2027, 2, 28), ts(2027, 3, 31), ts(2027, 4, 30), ts(2028, 1, 31),
    ]  # fmt: skip
