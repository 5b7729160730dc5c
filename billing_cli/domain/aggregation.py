"""Meter aggregation (SPEC 2.7) over per-hour roll-up buckets.

The ledger keeps one `Bucket` per (meter, customer, UTC hour), updated in the same transaction
as the events, so an invoice preview reads O(hours in the period) rows instead of O(events).
That only works if every formula is exact through buckets: a bucket therefore keeps the exact
sum, the count, the event that `last` would pick (greatest (timestamp, seq)) and the event a
pre-aggregated window would keep (greatest seq, i.e. most recently received). `merge` is
associative and commutative, so buckets may be combined in any order and any grouping; the
property tests in tests/test_aggregation.py check this against a plain reference over raw events.

Edge hours (a period or a `meter usage` range not on an hour boundary), late events and
`ledger check` go through `bucket_of` / `aggregate_events` on the raw events instead.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, NamedTuple

from billing_cli.domain.money import DECIMAL_CONTEXT, decimal_str

__all__ = [
    "DAY",
    "FORMULAS",
    "HOUR",
    "WINDOWS",
    "Aggregate",
    "Bucket",
    "EventPoint",
    "add_aggregates",
    "additive_windows",
    "exact_sum",
    "exact_sum_of_texts",
    "aggregate",
    "aggregate_events",
    "billable_quantity",
    "bucket_from_row",
    "bucket_of",
    "bucket_to_row",
    "buckets_of",
    "day_of",
    "hour_of",
    "merge",
    "window_totals",
]

HOUR = 3600
DAY = 86400
FORMULAS = frozenset({"sum", "count", "last"})
WINDOWS: dict[str | None, int | None] = {None: None, "hour": HOUR, "day": DAY}

# Sums stay exact in money's one context (unbounded precision, Inexact trapped).
_add = DECIMAL_CONTEXT.add
_ZERO = Decimal(0)


class EventPoint(NamedTuple):
    """What aggregation needs of one stored event; `seq` is the ledger's insertion order."""

    timestamp: int
    seq: int
    value: Decimal


@dataclass(frozen=True)
class Bucket:
    """Roll-up of the events of one (meter, customer, hour); never empty (empty is None)."""

    count: int
    sum: Decimal
    last_ts: int  # event with the greatest (timestamp, seq): what `last` reports
    last_seq: int
    last_value: Decimal
    recv_seq: int  # event with the greatest seq: what a pre-aggregated window keeps
    recv_ts: int
    recv_value: Decimal


@dataclass(frozen=True)
class Aggregate:
    """Raw aggregate plus the counts `--explain` shows; `value` may be negative (2.7)."""

    value: Decimal
    event_count: int  # events considered, before windowing
    window_count: int | None  # windows holding events (pre-aggregated meters), else None


def add_aggregates(parts: Iterable[Aggregate]) -> Aggregate:
    """Aggregates of different customers added up exactly (a meter's usage as a whole)."""
    value, events, windows, windowed = _ZERO, 0, 0, False
    for part in parts:
        value = _add(value, part.value)
        events += part.event_count
        if part.window_count is not None:
            windows += part.window_count
            windowed = True
    return Aggregate(value, events, windows if windowed else None)


def exact_sum(values: Iterable[Decimal]) -> Decimal:
    """Decimal values added without rounding (the roll-ups' context), for sums across rows."""
    total = _ZERO
    for value in values:
        total = _add(total, value)
    return total


def exact_sum_of_texts(joined: str) -> Decimal:
    """Space-separated decimal texts (the roll-ups' canonical sums) added exactly; whole
    numbers, the usual case, as Python ints, several times faster than Decimal addition."""
    texts = joined.split(" ")
    if "." not in joined and "E" not in joined and "e" not in joined:
        return Decimal(sum(map(int, texts)))
    return exact_sum(map(Decimal, texts))


def additive_windows(
    formula: str, hour_sums: Iterable[tuple[int, int, Decimal]], group: str | None, start: int
) -> tuple[Aggregate, dict[int, Aggregate]]:
    """`sum` or `count` of a raw meter over many customers straight from (hour, count, sum)
    rows: both formulas add up across customers and hours, so no per-customer bucket is
    needed. Returns the whole range's aggregate and one per `group` window (keyed by the
    window's start, the range's `start` for a window the range cuts)."""
    if formula not in ("sum", "count"):
        raise ValueError(f"{formula!r} does not add up across customers")
    size = WINDOWS.get(group) if group is not None else None
    counts: dict[int, int] = {}
    sums: dict[int, Decimal] = {}
    for hour, count, total in hour_sums:
        at = start if size is None else max(hour - hour % size, start)
        counts[at] = counts.get(at, 0) + count
        sums[at] = _add(sums.get(at, _ZERO), total)

    def of(count: int, total: Decimal) -> Aggregate:
        return Aggregate(total if formula == "sum" else Decimal(count), count, None)

    windows = {at: of(counts[at], sums[at]) for at in sorted(counts)}
    return of(sum(counts.values()), exact_sum(sums.values())), windows


def hour_of(ts: int) -> int:
    """Start of the UTC hour holding `ts` (Unix time has no leap seconds, so plain flooring)."""
    return ts - ts % HOUR


def day_of(ts: int) -> int:
    """Start of the UTC day holding `ts`."""
    return ts - ts % DAY


# Orders are total (the value breaks ties no real ledger has: equal (timestamp, seq)), so that
# `merge` stays commutative even on inputs a ledger never produces.
def _last_key(b: Bucket) -> tuple[int, int, Decimal]:
    return (b.last_ts, b.last_seq, b.last_value)


def _recv_key(b: Bucket) -> tuple[int, int, Decimal]:
    return (b.recv_seq, b.recv_ts, b.recv_value)


def bucket_of(points: Iterable[EventPoint]) -> Bucket | None:
    """Fold raw events into one bucket; used per inserted event and for partial edge hours."""
    count = 0
    total = _ZERO
    last: tuple[int, int, Decimal] | None = None
    recv: tuple[int, int, Decimal] | None = None
    for ts, seq, value in points:
        count += 1
        total = _add(total, value)
        if last is None or (ts, seq, value) > last:
            last = (ts, seq, value)
        if recv is None or (seq, ts, value) > recv:
            recv = (seq, ts, value)
    if last is None or recv is None:
        return None
    return Bucket(count, total, last[0], last[1], last[2], recv[0], recv[1], recv[2])


def merge(a: Bucket | None, b: Bucket | None) -> Bucket | None:
    """Combine two roll-ups of disjoint event sets (associative, commutative, None is identity)."""
    if a is None:
        return b
    if b is None:
        return a
    last = a if _last_key(a) >= _last_key(b) else b
    recv = a if _recv_key(a) >= _recv_key(b) else b
    return Bucket(
        a.count + b.count,
        _add(a.sum, b.sum),
        last.last_ts,
        last.last_seq,
        last.last_value,
        recv.recv_seq,
        recv.recv_ts,
        recv.recv_value,
    )


def buckets_of(points: Iterable[EventPoint]) -> dict[int, Bucket]:
    """Group raw events into hour buckets, the shape `aggregate` takes."""
    by_hour: dict[int, list[EventPoint]] = {}
    for point in points:
        ts = point.timestamp
        by_hour.setdefault(ts - ts % HOUR, []).append(point)
    out: dict[int, Bucket] = {}
    for hour, group in by_hour.items():
        bucket = bucket_of(group)
        if bucket is not None:
            out[hour] = bucket
    return out


def _check(formula: str, window: str | None) -> None:
    if formula not in FORMULAS:
        raise ValueError(f"unknown aggregation formula {formula!r}")
    if window not in WINDOWS:
        raise ValueError(f"unknown event_time_window {window!r}")


def aggregate(formula: str, window: str | None, hour_buckets: Mapping[int, Bucket]) -> Aggregate:
    """SPEC 2.7 over hour buckets keyed by hour start (Unix seconds).

    Raw meters merge everything. Pre-aggregated meters keep, per UTC hour or day, the most
    recently received event (for a day: the recv event of the hour bucket with the greatest
    recv_seq), then apply the formula to the kept events: `count` counts windows and `last` is
    the kept event with the greatest (timestamp, seq), i.e. the latest window's.
    """
    _check(formula, window)
    buckets = [(hour, b) for hour, b in hour_buckets.items() if b is not None]
    event_count = sum(b.count for _, b in buckets)
    if window is None:
        total = _ZERO
        last: Bucket | None = None
        for _, b in buckets:
            total = _add(total, b.sum)
            if last is None or _last_key(b) > _last_key(last):
                last = b
        if formula == "sum":
            value = total
        elif formula == "count":
            value = Decimal(event_count)
        else:
            value = last.last_value if last is not None else _ZERO
        return Aggregate(value, event_count, None)

    # window start -> the bucket whose recv event the window keeps
    kept: dict[int, Bucket] = {}
    if window == "hour":
        kept = dict(buckets)
    else:
        for hour, b in buckets:
            day = hour - hour % DAY
            prev = kept.get(day)
            if prev is None or _recv_key(b) > _recv_key(prev):
                kept[day] = b
    if formula == "sum":
        value = _ZERO
        for b in kept.values():
            value = _add(value, b.recv_value)
    elif formula == "count":
        value = Decimal(len(kept))
    else:
        latest = max(
            kept.values(), key=lambda b: (b.recv_ts, b.recv_seq, b.recv_value), default=None
        )
        value = latest.recv_value if latest is not None else _ZERO
    return Aggregate(value, event_count, len(kept))


def aggregate_events(formula: str, window: str | None, points: Iterable[EventPoint]) -> Aggregate:
    """The same aggregate straight from raw events (edge hours, late events, `ledger check`)."""
    return aggregate(formula, window, buckets_of(points))


def billable_quantity(agg: Aggregate) -> Decimal:
    """A negative aggregate bills nothing (Stripe); the raw value stays in `explain`."""
    return agg.value if agg.value > 0 else _ZERO


def window_totals(
    formula: str, window: str | None, hour_buckets: Mapping[int, Bucket], group: str
) -> list[tuple[int, Aggregate]]:
    """Stripe's meter event summaries: one aggregate per UTC hour/day (`group`), oldest first.

    Windows without events are omitted. For a day-windowed meter summarised by hour, the day's
    kept event is reported in the hour it belongs to; the day's other hours show their events
    with value 0 (and window_count 0), so that the hourly values add up to the daily ones.
    """
    _check(formula, window)
    size = WINDOWS.get(group)
    if size is None:
        raise ValueError(f"unknown summary window {group!r}")
    meter_size = WINDOWS[window]
    if meter_size is None or meter_size <= size:
        groups: dict[int, dict[int, Bucket]] = {}
        for hour, b in hour_buckets.items():
            if b is not None:
                groups.setdefault(hour - hour % size, {})[hour] = b
        return [(start, aggregate(formula, window, groups[start])) for start in sorted(groups)]

    # Meter window (day) wider than the summary window (hour).
    kept_hour: dict[int, tuple[tuple[int, int, Decimal], int]] = {}
    for hour, b in hour_buckets.items():
        if b is None:
            continue
        day = hour - hour % DAY
        prev = kept_hour.get(day)
        if prev is None or _recv_key(b) > prev[0]:
            kept_hour[day] = (_recv_key(b), hour)
    out: list[tuple[int, Aggregate]] = []
    for hour in sorted(h for h, b in hour_buckets.items() if b is not None):
        b = hour_buckets[hour]
        if kept_hour[hour - hour % DAY][1] == hour:
            agg = aggregate(formula, "hour", {hour: b})
            out.append((hour, Aggregate(agg.value, b.count, 1)))
        else:
            out.append((hour, Aggregate(_ZERO, b.count, 0)))
    return out


def bucket_to_row(b: Bucket) -> dict[str, Any]:
    """Column values for the ledger's bucket table; decimals as canonical text, never REAL."""
    return {
        "count": b.count,
        "sum": decimal_str(b.sum),
        "last_ts": b.last_ts,
        "last_seq": b.last_seq,
        "last_value": decimal_str(b.last_value),
        "recv_seq": b.recv_seq,
        "recv_ts": b.recv_ts,
        "recv_value": decimal_str(b.recv_value),
    }


def _dec(value: object, column: str) -> Decimal:
    if isinstance(value, str):
        return Decimal(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    raise TypeError(f"bucket column {column} must be decimal text, got {type(value).__name__}")


def bucket_from_row(row: Mapping[str, Any]) -> Bucket:
    """Inverse of `bucket_to_row` (extra columns such as meter/customer/hour are ignored)."""
    return Bucket(
        count=int(row["count"]),
        sum=_dec(row["sum"], "sum"),
        last_ts=int(row["last_ts"]),
        last_seq=int(row["last_seq"]),
        last_value=_dec(row["last_value"], "last_value"),
        recv_seq=int(row["recv_seq"]),
        recv_ts=int(row["recv_ts"]),
        recv_value=_dec(row["recv_value"], "recv_value"),
    )
