from __future__ import annotations

import calendar
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_cli.domain.periods import (
    INTERVALS,
    MAX_INTERVAL_COUNT,
    period_containing,
    period_index,
    periods_in,
    seconds,
    step,
    validate_interval,
)
from billing_cli.errors import InvalidInput


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# Anchors between 1990 and 2200 keep every test grid far from datetime's year-1/9999 limits.
anchors = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2200, 1, 1)).map(
    lambda d: d.replace(microsecond=0, tzinfo=UTC)
)
times = st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2300, 1, 1)).map(
    lambda d: d.replace(tzinfo=UTC)
)
grids = st.sampled_from(INTERVALS).flatmap(
    lambda i: st.tuples(st.just(i), st.integers(1, MAX_INTERVAL_COUNT[i]))
)


# --- validate_interval -------------------------------------------------------------------------


@pytest.mark.parametrize("interval", INTERVALS)
def test_validate_interval_accepts_bounds(interval: str) -> None:
    validate_interval(interval, 1)
    validate_interval(interval, MAX_INTERVAL_COUNT[interval])


@pytest.mark.parametrize(
    ("interval", "count", "named"),
    [
        ("fortnight", 1, "'fortnight'"),
        ("Month", 1, "'Month'"),
        ("month", 0, "0"),
        ("month", 37, "37"),
        ("day", 1096, "1096"),
        ("week", 157, "157"),
        ("year", 4, "4"),
        ("month", -1, "-1"),
        ("month", True, "True"),
        ("month", "1", "'1'"),
    ],
)
def test_validate_interval_rejects(interval: str, count: object, named: str) -> None:
    with pytest.raises(InvalidInput) as info:
        validate_interval(interval, count)  # type: ignore[arg-type]
    assert info.value.exit_code == 4
    assert named in info.value.message
    assert info.value.hint


# --- step -------------------------------------------------------------------------------------


def test_step_from_jan_31_clamps_and_recovers() -> None:
    anchor = utc(2027, 1, 31, 15, 30, 5)
    got = [step(anchor, "month", 1, k) for k in range(5)]
    assert got == [
        utc(2027, 1, 31, 15, 30, 5),
        utc(2027, 2, 28, 15, 30, 5),
        utc(2027, 3, 31, 15, 30, 5),  # not Mar 28: computed from the anchor
        utc(2027, 4, 30, 15, 30, 5),
        utc(2027, 5, 31, 15, 30, 5),
    ]
    assert step(utc(2028, 1, 31), "month", 1, 1) == utc(2028, 2, 29)


def test_step_negative_and_multi_count() -> None:
    anchor = utc(2026, 3, 31, 9)
    assert step(anchor, "month", 1, -1) == utc(2026, 2, 28, 9)
    assert step(anchor, "month", 1, -3) == utc(2025, 12, 31, 9)
    assert step(anchor, "month", 3, 1) == utc(2026, 6, 30, 9)
    assert step(anchor, "month", 3, -1) == utc(2025, 12, 31, 9)
    assert step(anchor, "month", 36, 1) == utc(2029, 3, 31, 9)


def test_step_year_from_leap_day() -> None:
    anchor = utc(2028, 2, 29, 12)
    assert step(anchor, "year", 1, 1) == utc(2029, 2, 28, 12)
    assert step(anchor, "year", 1, 4) == utc(2032, 2, 29, 12)
    assert step(anchor, "year", 2, -1) == utc(2026, 2, 28, 12)


def test_step_day_and_week() -> None:
    anchor = utc(2026, 11, 1, 9)
    assert step(anchor, "day", 1, 1) == utc(2026, 11, 2, 9)
    assert step(anchor, "day", 3, -2) == utc(2026, 10, 26, 9)
    assert step(anchor, "week", 1, 1) == utc(2026, 11, 8, 9)
    assert step(anchor, "week", 2, 3) == utc(2026, 12, 13, 9)


@pytest.mark.parametrize("day", [29, 30, 31])
@pytest.mark.parametrize("year", [2027, 2028])
def test_month_end_anchors_through_february(day: int, year: int) -> None:
    anchor = utc(year, 1, day, 8)
    feb_last = 29 if year == 2028 else 28
    assert step(anchor, "month", 1, 1) == utc(year, 2, min(day, feb_last), 8)
    assert step(anchor, "month", 1, 2) == utc(year, 3, day, 8)
    assert step(anchor, "month", 1, 3) == utc(year, 4, min(day, 30), 8)
    # And backwards into February from a March anchor.
    assert step(utc(year, 3, day, 8), "month", 1, -1) == utc(year, 2, min(day, feb_last), 8)


def test_step_refuses_naive_and_bad_interval() -> None:
    with pytest.raises(ValueError):
        step(datetime(2026, 1, 1), "month", 1, 1)
    with pytest.raises(ValueError):
        step(utc(2026, 1, 1), "fortnight", 1, 1)


def test_step_out_of_range_is_invalid_input() -> None:
    with pytest.raises(InvalidInput):
        step(utc(9999, 6, 1), "year", 1, 1)
    with pytest.raises(InvalidInput):
        step(utc(9999, 6, 1), "day", 1095, 1)


@given(anchors, grids, st.integers(-400, 400))
def test_step_keeps_day_clamped_and_time(anchor: datetime, grid: tuple[str, int], k: int) -> None:
    interval, count = grid
    b = step(anchor, interval, count, k)
    assert b.tzinfo is UTC
    assert b.time() == anchor.time()
    if interval in ("month", "year"):
        last = calendar.monthrange(b.year, b.month)[1]
        assert b.day == min(anchor.day, last)
        months = (b.year - anchor.year) * 12 + b.month - anchor.month
        assert months == k * count * (12 if interval == "year" else 1)
    else:
        days = 7 if interval == "week" else 1
        assert b - anchor == timedelta(days=days * count * k)


# --- period_index / period_containing / periods_in --------------------------------------------


@given(anchors, grids, times)
def test_period_containing_contains_t(anchor: datetime, grid: tuple[str, int], t: datetime) -> None:
    interval, count = grid
    k = period_index(anchor, interval, count, t)
    start, end = period_containing(anchor, interval, count, t)
    assert start == step(anchor, interval, count, k)
    assert end == step(anchor, interval, count, k + 1)
    assert start <= t < end


@given(anchors, grids, st.integers(-50, 50))
def test_boundaries_belong_to_the_period_they_start(
    anchor: datetime, grid: tuple[str, int], k: int
) -> None:
    interval, count = grid
    b = step(anchor, interval, count, k)
    assert period_index(anchor, interval, count, b) == k
    assert period_index(anchor, interval, count, b - timedelta(seconds=1)) == k - 1


@settings(max_examples=60)
@given(anchors, grids, times, st.integers(1, 200))
def test_periods_tile_without_gap_or_overlap(
    anchor: datetime, grid: tuple[str, int], start: datetime, n: int
) -> None:
    interval, count = grid
    first, _ = period_containing(anchor, interval, count, start)
    k0 = period_index(anchor, interval, count, start)
    # n whole periods from the one containing `start`: each one ends where the next begins.
    end = step(anchor, interval, count, k0 + n)
    got = periods_in(anchor, interval, count, first, end)
    assert len(got) == n
    assert got[0][0] == first and got[-1][1] == end
    for (s1, e1), (s2, e2) in zip(got, got[1:], strict=False):
        assert s1 < e1 == s2 < e2
    assert sum(seconds(s, e) for s, e in got) == seconds(first, end)


@settings(max_examples=60)
@given(anchors, grids, times, st.integers(0, 3 * 366 * 86400))
def test_periods_in_clips_to_range(
    anchor: datetime, grid: tuple[str, int], start: datetime, length: int
) -> None:
    interval, count = grid
    end = start + timedelta(seconds=length)
    got = periods_in(anchor, interval, count, start, end)
    if length == 0:
        assert got == []
        return
    assert got[0][0] == start and got[-1][1] == end
    for (_, e1), (s2, _) in zip(got, got[1:], strict=False):
        assert e1 == s2
    for s, e in got:
        assert s < e
        assert period_containing(anchor, interval, count, s)[1] >= e


def test_period_index_before_anchor_and_far_away() -> None:
    anchor = utc(2026, 1, 31)
    assert period_index(anchor, "month", 1, utc(2026, 1, 30)) == -1
    assert period_index(anchor, "month", 1, utc(2025, 12, 31)) == -1
    assert period_index(anchor, "month", 1, utc(2025, 12, 30, 23, 59, 59)) == -2
    assert period_index(anchor, "month", 1, utc(2026, 3, 30)) == 1  # [Feb 28, Mar 31)
    assert period_index(anchor, "month", 1, utc(2126, 1, 31)) == 1200
    assert period_index(anchor, "day", 1, utc(2126, 1, 31)) == 36524
    assert period_index(anchor, "week", 2, utc(2025, 12, 31)) == -3


def test_period_containing_example() -> None:
    anchor = utc(2026, 1, 31, 9)
    assert period_containing(anchor, "month", 1, utc(2026, 3, 15)) == (
        utc(2026, 2, 28, 9),
        utc(2026, 3, 31, 9),
    )


def test_short_first_period_before_explicit_anchor() -> None:
    # SPEC 1.4: start 2026-11-10, explicit anchor 2026-12-01 → first period [start, anchor).
    start_date, anchor = utc(2026, 11, 10, 14), utc(2026, 12, 1)
    got = periods_in(anchor, "month", 1, start_date, utc(2027, 2, 1))
    assert got == [
        (start_date, anchor),
        (utc(2026, 12, 1), utc(2027, 1, 1)),
        (utc(2027, 1, 1), utc(2027, 2, 1)),
    ]
    full_start, full_end = period_containing(anchor, "month", 1, start_date)
    assert (full_start, full_end) == (utc(2026, 11, 1), anchor)
    assert seconds(start_date, anchor) == (21 * 24 - 14) * 3600
    assert seconds(full_start, full_end) == 30 * 86400


def test_periods_in_empty_and_single() -> None:
    anchor = utc(2026, 1, 1)
    assert periods_in(anchor, "month", 1, utc(2026, 2, 1), utc(2026, 2, 1)) == []
    assert periods_in(anchor, "month", 1, utc(2026, 3, 1), utc(2026, 2, 1)) == []
    assert periods_in(anchor, "month", 1, utc(2026, 2, 3), utc(2026, 2, 5)) == [
        (utc(2026, 2, 3), utc(2026, 2, 5))
    ]


def test_seconds() -> None:
    assert seconds(utc(2026, 2, 1), utc(2026, 3, 1)) == 28 * 86400
    assert seconds(utc(2026, 2, 1), utc(2026, 2, 1)) == 0
    with pytest.raises(ValueError):
        seconds(utc(2026, 3, 1), utc(2026, 2, 1))
