"""Aggregation through hour buckets must equal a plain reference over the raw events (SPEC 2.7)."""

from __future__ import annotations

import random
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_cli.domain.aggregation import (
    DAY,
    HOUR,
    Aggregate,
    Bucket,
    EventPoint,
    aggregate,
    aggregate_events,
    billable_quantity,
    bucket_from_row,
    bucket_of,
    bucket_to_row,
    buckets_of,
    day_of,
    hour_of,
    merge,
    window_totals,
)

BASE = 1_767_225_600  # 2026-01-01T00:00:00Z
FORMULAS = ["sum", "count", "last"]
WINDOWS = [None, "hour", "day"]
SIZES = {"hour": HOUR, "day": DAY}

values = st.builds(
    lambda n, e: Decimal(f"{n}e{e}"),
    st.integers(-(10**15) + 1, 10**15 - 1),
    st.integers(-20, 6),
)
timestamps = st.one_of(
    st.integers(BASE, BASE + 3 * DAY),  # spread over a few days
    st.integers(BASE + DAY - 2, BASE + DAY + 2),  # crowd a day/hour boundary: many ties
)


@st.composite
def event_lists(draw: st.DrawFn, max_size: int = 40) -> list[EventPoint]:
    stamps = draw(st.lists(timestamps, max_size=max_size))
    vals = draw(st.lists(values, min_size=len(stamps), max_size=len(stamps)))
    seqs = draw(st.permutations(range(1, len(stamps) + 1)))
    return [EventPoint(ts, seq * 7, v) for ts, seq, v in zip(stamps, seqs, vals, strict=True)]


def reference(formula: str, window: str | None, events: list[EventPoint]) -> tuple:
    """Straight from SPEC 2.7, with exact Fractions; returns (value, event_count, window_count)."""
    points = events
    window_count = None
    if window is not None:
        groups: dict[int, list[EventPoint]] = {}
        for e in events:
            groups.setdefault(e.timestamp // SIZES[window], []).append(e)
        points = [max(g, key=lambda e: e.seq) for g in groups.values()]
        window_count = len(points)
    if formula == "sum":
        value = sum((Fraction(p.value) for p in points), Fraction(0))
    elif formula == "count":
        value = Fraction(len(points))
    else:
        value = Fraction(max(points, key=lambda p: (p.timestamp, p.seq)).value) if points else 0
    return value, len(events), window_count


def random_buckets(events: list[EventPoint], rnd: random.Random) -> dict[int, Bucket]:
    """Hour buckets built the messy way: random chunks, merged in a random tree shape."""
    by_hour: dict[int, list[EventPoint]] = {}
    for e in events:
        by_hour.setdefault(hour_of(e.timestamp), []).append(e)
    out: dict[int, Bucket] = {}
    hours = list(by_hour)
    rnd.shuffle(hours)
    for hour in hours:
        group = by_hour[hour][:]
        rnd.shuffle(group)
        cuts = sorted(rnd.sample(range(1, len(group)), rnd.randint(0, len(group) - 1)))
        chunks = [group[i:j] for i, j in zip([0, *cuts], [*cuts, len(group)], strict=True)]
        parts: list[Bucket | None] = [bucket_of(c) for c in chunks] + [None] * rnd.randint(0, 2)
        while len(parts) > 1:
            a = parts.pop(rnd.randrange(len(parts)))
            b = parts.pop(rnd.randrange(len(parts)))
            parts.append(merge(a, b) if rnd.random() < 0.5 else merge(b, a))
        assert parts[0] is not None
        out[hour] = parts[0]
    return out


def as_tuple(agg: Aggregate) -> tuple:
    return Fraction(agg.value), agg.event_count, agg.window_count


@settings(max_examples=150, deadline=None)
@given(events=event_lists(), rnd=st.randoms(use_true_random=False))
def test_buckets_equal_reference_for_every_formula_and_window(
    events: list[EventPoint], rnd: random.Random
) -> None:
    buckets = random_buckets(events, rnd)
    for formula in FORMULAS:
        for window in WINDOWS:
            expected = reference(formula, window, events)
            assert as_tuple(aggregate(formula, window, buckets)) == expected, (formula, window)
            assert as_tuple(aggregate_events(formula, window, events)) == expected


def test_last_ties_go_to_the_latest_received() -> None:
    events = [
        EventPoint(BASE + 10, 5, Decimal("1")),
        EventPoint(BASE + 10, 9, Decimal("2")),  # same timestamp, received later: wins
        EventPoint(BASE + 10, 7, Decimal("3")),
        EventPoint(BASE + 5, 99, Decimal("4")),  # received last but earlier timestamp
    ]
    assert aggregate_events("last", None, events).value == Decimal("2")
    # Hour window keeps the most recently *received* event, whatever its timestamp.
    assert aggregate_events("last", "hour", events).value == Decimal("4")
    assert aggregate_events("sum", "hour", events) == Aggregate(Decimal("4"), 4, 1)


def test_pre_aggregated_day_keeps_latest_received_per_day() -> None:
    events = [
        EventPoint(BASE + 100, 1, Decimal("10")),
        EventPoint(BASE + 5 * HOUR, 3, Decimal("30")),
        EventPoint(BASE + 2 * HOUR, 4, Decimal("40")),  # day 1 keeps this (greatest seq)
        EventPoint(BASE + DAY + 1, 2, Decimal("7")),  # day 2 keeps this
    ]
    assert aggregate_events("sum", "day", events) == Aggregate(Decimal("47"), 4, 2)
    assert aggregate_events("count", "day", events) == Aggregate(Decimal("2"), 4, 2)
    assert aggregate_events("last", "day", events).value == Decimal("7")
    assert aggregate_events("sum", "hour", events) == Aggregate(Decimal("87"), 4, 4)


def test_empty_and_negative() -> None:
    for formula in FORMULAS:
        for window in WINDOWS:
            assert aggregate(formula, window, {}) == Aggregate(
                Decimal(0), 0, None if window is None else 0
            )
    agg = aggregate_events("sum", None, [EventPoint(BASE, 1, Decimal("-2.5"))])
    assert agg.value == Decimal("-2.5")
    assert billable_quantity(agg) == 0
    assert billable_quantity(Aggregate(Decimal("1.5"), 1, None)) == Decimal("1.5")
    assert bucket_of([]) is None
    assert merge(None, None) is None


def test_sums_stay_exact_beyond_sixty_digits() -> None:
    events = [
        EventPoint(BASE, 1, Decimal("999999999999999")),
        EventPoint(BASE, 2, Decimal("0." + "0" * 80 + "1")),
        EventPoint(BASE + DAY, 3, Decimal("-999999999999999")),
    ]
    assert aggregate_events("sum", None, events).value == Decimal("0." + "0" * 80 + "1")


def test_bad_formula_or_window_is_a_programming_error() -> None:
    with pytest.raises(ValueError):
        aggregate("avg", None, {})
    with pytest.raises(ValueError):
        aggregate("sum", "week", {})


buckets = st.builds(
    lambda evs: bucket_of(evs), event_lists(max_size=6).filter(lambda evs: len(evs) > 0)
)


@settings(max_examples=100, deadline=None)
@given(a=buckets, b=buckets, c=buckets)
def test_merge_is_associative_and_commutative(a: Bucket, b: Bucket, c: Bucket) -> None:
    assert merge(merge(a, b), c) == merge(a, merge(b, c))
    assert merge(a, b) == merge(b, a)
    assert merge(a, None) == a == merge(None, a)


@settings(max_examples=100, deadline=None)
@given(b=buckets)
def test_row_round_trip(b: Bucket) -> None:
    row = bucket_to_row(b)
    assert all(isinstance(row[k], str) for k in ("sum", "last_value", "recv_value"))
    assert "e" not in row["sum"].lower()
    back = bucket_from_row({**row, "meter": "mtr_x", "hour": 0})
    assert back == b
    assert Fraction(back.sum) == Fraction(b.sum)


@settings(max_examples=100, deadline=None)
@given(events=event_lists())
def test_window_totals_match_reference_per_window(events: list[EventPoint]) -> None:
    hb = buckets_of(events)
    for formula in FORMULAS:
        for window in WINDOWS:
            for group in ("hour", "day"):
                got = window_totals(formula, window, hb, group)
                size = SIZES[group]
                starts = sorted({e.timestamp - e.timestamp % size for e in events})
                assert [s for s, _ in got] == starts
                for start, agg in got:
                    inside = [e for e in events if start <= e.timestamp < start + size]
                    if window == "day" and group == "hour":
                        day_events = [e for e in events if day_of(e.timestamp) == day_of(start)]
                        kept = max(day_events, key=lambda e: e.seq)
                        kept_here = [kept] if hour_of(kept.timestamp) == start else []
                        value, _, _ = reference(formula, None, kept_here)
                        expected = (value, len(inside), len(kept_here))
                    else:
                        expected = reference(formula, window, inside)
                    assert as_tuple(agg) == expected, (formula, window, group)
                if formula != "last" and events:
                    whole = reference(formula, window, events)[0]
                    assert sum((Fraction(a.value) for _, a in got), Fraction(0)) == whole


def test_hour_and_day_floor() -> None:
    assert hour_of(BASE + 3599) == BASE
    assert hour_of(BASE + 3600) == BASE + 3600
    assert day_of(BASE + DAY - 1) == BASE
