"""The billing-period grid of a subscription: half-open periods stepped from one anchor (SPEC 3.3).

Every boundary is `anchor + k × interval`, computed from the anchor and never from the previous
boundary: chaining month steps would drift (Jan 31 → Feb 28 → Mar 28), and two code paths that
reach the same period by different routes must agree on its bounds to the second, or an event
could be billed twice or not at all.
"""

from __future__ import annotations

import calendar
from datetime import datetime, timedelta

from billing_cli.clock import ensure_utc, format_time
from billing_cli.errors import InvalidInput

INTERVALS = ("day", "week", "month", "year")
MAX_INTERVAL_COUNT = {"day": 1095, "week": 156, "month": 36, "year": 3}

_DAYS = {"day": 1, "week": 7}
_MONTHS = {"month": 1, "year": 12}
_ONE_SECOND = timedelta(seconds=1)


def validate_interval(interval: str, interval_count: int) -> None:
    """Reject, at input time, any grid the rest of the program would have to special-case.

    The cap is three years whatever the unit (SPEC 1.2), as in Stripe.
    """
    if interval not in INTERVALS:
        raise InvalidInput(
            f"interval: {interval!r} is not a valid interval",
            hint="use one of day, week, month, year",
        )
    maximum = MAX_INTERVAL_COUNT[interval]
    if isinstance(interval_count, bool) or not isinstance(interval_count, int):
        raise InvalidInput(
            f"interval_count: {interval_count!r} is not a whole number",
            hint=f"use an integer from 1 to {maximum}, e.g. 1",
        )
    if not 1 <= interval_count <= maximum:
        raise InvalidInput(
            f"interval_count: {interval_count!r} is out of range for interval {interval!r}",
            hint=f"use 1 to {maximum} (at most 3 years), e.g. 1",
        )


def _check_interval(interval: str, interval_count: int) -> None:
    # Internal callers pass stored, already validated values: a bad one is a bug, not exit 4.
    if interval not in INTERVALS or isinstance(interval_count, bool) or interval_count < 1:
        raise ValueError(f"invalid billing interval {interval_count!r} × {interval!r}")


def _out_of_range(anchor: datetime, interval: str, interval_count: int, k: int) -> InvalidInput:
    return InvalidInput(
        f"period boundary {k} × {interval_count} {interval} from {format_time(anchor)} "
        "falls outside the supported dates (years 1 to 9999)",
        hint="use times well before the year 9999, e.g. 2026-11-01T09:00:00Z",
    )


def step(anchor: datetime, interval: str, interval_count: int, k: int) -> datetime:
    """Boundary k of the grid; month and year steps keep the anchor's day, clamped to month end.

    k may be negative (boundaries before the anchor, e.g. the full period [anchor − 1 interval,
    anchor) that prorates a short first period, SPEC 1.4).
    """
    anchor = ensure_utc(anchor)
    _check_interval(interval, interval_count)
    if interval in _DAYS:
        try:
            return anchor + timedelta(days=_DAYS[interval] * interval_count * k)
        except OverflowError:
            raise _out_of_range(anchor, interval, interval_count, k) from None
    months = anchor.month - 1 + k * interval_count * _MONTHS[interval]
    year, month = anchor.year + months // 12, months % 12 + 1
    if not 1 <= year <= 9999:
        raise _out_of_range(anchor, interval, interval_count, k)
    day = min(anchor.day, calendar.monthrange(year, month)[1])
    return anchor.replace(year=year, month=month, day=day)


def period_index(anchor: datetime, interval: str, interval_count: int, t: datetime) -> int:
    """The k with step(k) <= t < step(k + 1), by arithmetic rather than by walking the grid.

    Day and week grids divide exactly. Month and year grids estimate k from the calendar-month
    difference, which is off by at most one because the clamped day only moves a boundary within
    its own month; the adjustment loops therefore run at most a couple of times.
    """
    anchor, t = ensure_utc(anchor), ensure_utc(t)
    _check_interval(interval, interval_count)
    if interval in _DAYS:
        return (t - anchor) // timedelta(days=_DAYS[interval] * interval_count)
    unit = interval_count * _MONTHS[interval]
    k = ((t.year - anchor.year) * 12 + (t.month - anchor.month)) // unit
    while step(anchor, interval, interval_count, k) > t:
        k -= 1
    while step(anchor, interval, interval_count, k + 1) <= t:
        k += 1
    return k


def period_containing(
    anchor: datetime, interval: str, interval_count: int, t: datetime
) -> tuple[datetime, datetime]:
    """The grid period [start, end) that t falls in: which cycle an event or `now` belongs to."""
    k = period_index(anchor, interval, interval_count, t)
    return (
        step(anchor, interval, interval_count, k),
        step(anchor, interval, interval_count, k + 1),
    )


def periods_in(
    anchor: datetime,
    interval: str,
    interval_count: int,
    start: datetime,
    end: datetime,
) -> list[tuple[datetime, datetime]]:
    """The grid periods meeting [start, end), each clipped to it; empty when start >= end.

    Clipping is what yields the short first period [start_date, billing_cycle_anchor) of a
    subscription with an explicit future anchor (SPEC 1.4), and a final partial period on an
    immediate cancellation (SPEC 1.5).
    """
    start, end = ensure_utc(start), ensure_utc(end)
    if start >= end:
        return []
    k = period_index(anchor, interval, interval_count, start)
    result: list[tuple[datetime, datetime]] = []
    lower = step(anchor, interval, interval_count, k)
    while lower < end:
        upper = step(anchor, interval, interval_count, k + 1)
        result.append((max(lower, start), min(upper, end)))
        k, lower = k + 1, upper
    return result


def seconds(start: datetime, end: datetime) -> int:
    """Whole seconds of [start, end): the unit of proration, exact and never a float.

    A reversed range is a bug in the caller (a negative proration would credit the customer), so
    it raises rather than returning a negative number.
    """
    start, end = ensure_utc(start), ensure_utc(end)
    if end < start:
        raise ValueError(f"period end {end.isoformat()} is before its start {start.isoformat()}")
    return (end - start) // _ONE_SECOND
