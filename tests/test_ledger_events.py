"""The events store (billing_cli/ledger/events.py): append with duplicates and conflicts, the hash
chain, the hourly roll-ups against a recomputation from the raw events, usage queries."""

from __future__ import annotations

import json
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_cli.api import Context, catalog
from billing_cli.clock import from_unix
from billing_cli.domain import chain
from billing_cli.domain.aggregation import HOUR, aggregate_events
from billing_cli.domain.event_batch import payload_json
from billing_cli.domain.events import ValidEvent
from billing_cli.storage.sqlite import Ledger
from tests.conftest import undo_credits
from tests.documents import undo_documents

NOW = 1_793_523_600  # 2026-11-01T09:00:00Z
T0 = NOW - 3 * 86400 - NOW % HOUR  # an hour boundary three days earlier


def make_ledger(path: Path, *, window: str | None = None, formula: str = "sum") -> Context:
    """A ledger with meter mtr_m (event name "m") and customers cus_a, cus_b."""
    ctx = Context(path, from_unix(NOW))
    catalog.create_meter(
        ctx, display_name="M", event_name="m", aggregation=formula, meter_id="mtr_m",
        event_time_window=window,
    )  # fmt: skip
    for cid in ("cus_a", "cus_b"):
        catalog.create_customer(ctx, name=cid, customer_id=cid)
    return ctx


def event(
    ident: str,
    ts: int,
    value: str = "1",
    customer: str = "cus_a",
    *,
    status: str = "accepted",
    given_ts: bool = True,
) -> ValidEvent:
    payload = {"stripe_customer_id": customer, "value": value}
    return ValidEvent(
        ident, "m", "mtr_m", customer, Decimal(value), value, ts, payload, 0, given_ts, status
    )


@contextmanager
def ledger(ctx: Context) -> Iterator[Ledger]:
    with ctx.ledger(write=True) as led:
        yield led


def append(ctx: Context, events: list[ValidEvent], received: int = NOW) -> list[tuple[int, str]]:
    with ledger(ctx) as led, led.write():
        return led.append_events(events, received)


def count(ctx: Context, table: str = "meter_events") -> int:
    with ledger(ctx) as led:
        return led.conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]


@pytest.fixture
def ctx(tmp_path: Path) -> Context:
    return make_ledger(tmp_path / "l.db")


# -- canonical encodings -----------------------------------------------------------------------
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=12)


@given(st.dictionaries(text, text, max_size=6))
def test_payload_json_is_json_dumps_sorted_compact(payload: dict[str, str]) -> None:
    expected = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert payload_json(payload) == expected


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.text(st.characters(min_codepoint=33, exclude_categories=("Cs", "Z", "C")),
                    min_size=1, max_size=20),
            text,
            st.sampled_from(["accepted", "late"]),
        ),
        min_size=1, max_size=8, unique_by=lambda t: t[0],
    )
)  # fmt: skip
def test_stored_hashes_are_chain_link_of_the_fields(rows: list[tuple[str, str, str]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ctx = make_ledger(Path(tmp) / "l.db")
        events = []
        for ident, extra, status in rows:
            e = event(ident, T0, status=status)
            e.payload = {**e.payload, "x": extra} if extra else e.payload
            events.append(e)
        append(ctx, events)
        with ledger(ctx) as led:
            assert led.verify_event_chain() is None
            stored = led.conn.execute(
                "SELECT seq, identifier, event_name, meter, customer, timestamp, value, payload,"
                " received, status, hash FROM meter_events ORDER BY seq"
            ).fetchall()
    previous = chain.GENESIS
    for row in stored:
        assert row[9] in ("accepted", "late")
        previous_expected = chain.link(previous, tuple(row)[:10])
        assert row[10] == previous_expected
        previous = row[10]


def test_chain_names_the_first_edited_row(ctx: Context) -> None:
    append(ctx, [event(f"e{i}", T0 + i) for i in range(5)])
    with ledger(ctx) as led:
        led.conn.execute("DROP TRIGGER meter_events_no_update")
        led.conn.execute("UPDATE meter_events SET value = '9' WHERE identifier = 'e2'")
        problem = led.verify_event_chain()
    assert problem is not None and "meter_events seq 3 (e2)" in problem


def test_chain_covers_adjustments(ctx: Context) -> None:
    append(ctx, [event("e1", T0), event("e2", T0 + 1)])
    with ledger(ctx) as led, led.write():
        for ident in ("e1", "e2"):
            stored = led.get_event(ident)
            assert stored is not None
            led.cancel_event(stored, NOW)
    with ledger(ctx) as led:
        assert led.verify_event_chain() is None
        led.conn.execute("DROP TRIGGER meter_event_adjustments_no_update")
        led.conn.execute("UPDATE meter_event_adjustments SET created = 1 WHERE seq = 2")
        problem = led.verify_event_chain()
    assert problem is not None and "meter_event_adjustments seq 2 (e2)" in problem


# -- duplicates and conflicts (SPEC 2.3) ---------------------------------------------------------
def test_duplicates_and_conflicts_against_the_ledger_and_within_a_batch(ctx: Context) -> None:
    assert append(ctx, [event("a", T0), event("b", T0 + 1)]) == []
    batch = [
        event("a", T0),  # duplicate of the stored a
        event("b", T0 + 1, "2"),  # conflict: other value
        event("c", T0 + 2),  # new
        event("c", T0 + 2),  # duplicate of the c just before it
        event("c", T0 + 3),  # conflict with that c: other timestamp
        event("a", T0 + 99, given_ts=False),  # no timestamp given: matches on name + payload
    ]
    assert append(ctx, batch) == [(0, "duplicate"), (1, "conflict"), (3, "duplicate"),
                                  (4, "conflict"), (5, "duplicate")]  # fmt: skip
    assert count(ctx) == 3
    with ledger(ctx) as led:
        assert [e.identifier for e in led.list_events()] == ["a", "b", "c"]
        assert [e.seq for e in led.list_events()] == [1, 2, 3]
        assert led.verify_event_chain() is None
        assert led.verify_rollups() is None


def test_a_batch_after_duplicates_still_inserts_new_rows(ctx: Context) -> None:
    append(ctx, [event(f"e{i}", T0 + i) for i in range(3)])
    assert append(ctx, [event(f"e{i}", T0 + i) for i in range(6)]) == [
        (0, "duplicate"), (1, "duplicate"), (2, "duplicate")
    ]  # fmt: skip
    assert append(ctx, [event("e9", T0 + 9)]) == []  # the slow path is taken, and still works
    assert count(ctx) == 7


def test_an_empty_batch_does_nothing(ctx: Context) -> None:
    assert append(ctx, []) == []
    with ledger(ctx) as led:
        assert led.max_received() is None


# -- roll-ups and usage (SPEC 2.7) ---------------------------------------------------------------
def raw_usage(led: Ledger, formula: str, window: str | None, start: int, end: int) -> tuple:
    points = led.counted_points("mtr_m", "cus_a", start, end)
    agg = aggregate_events(formula, window, points)
    return agg.value, agg.event_count, agg.window_count


operations = st.lists(
    st.one_of(
        st.tuples(
            st.just("send"),
            st.integers(0, 3 * 86400 - 1),  # offset from T0: three UTC days
            st.sampled_from(["1", "2.5", "-3", "0.001", "7"]),
            st.sampled_from(["cus_a", "cus_b"]),
            st.booleans(),  # late
        ),
        st.tuples(st.just("cancel"), st.integers(0, 40)),
    ),
    min_size=1,
    max_size=40,
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    ops=operations,
    meter=st.sampled_from([("sum", None), ("count", None), ("last", None), ("sum", "hour"),
                           ("last", "day"), ("count", "day")]),
    ranges=st.lists(st.tuples(st.integers(-3600, 3 * 86400 + 3600),
                              st.integers(0, 3 * 86400)), min_size=1, max_size=4),
)  # fmt: skip
def test_rollups_equal_a_raw_recomputation_after_random_inserts_and_cancels(
    ops: list[tuple], meter: tuple[str, str | None], ranges: list[tuple[int, int]]
) -> None:
    formula, window = meter
    with tempfile.TemporaryDirectory() as tmp:
        ctx = make_ledger(Path(tmp) / "l.db", window=window, formula=formula)
        sent: list[str] = []
        with ledger(ctx) as led:
            m = led.get_meter("mtr_m")
            assert m is not None
            for n, op in enumerate(ops):
                with led.write():
                    if op[0] == "send":
                        _, offset, value, customer, late = op
                        status = "late" if late else "accepted"
                        e = event(f"e{n}", T0 + offset, value, customer, status=status)
                        if formula == "count":
                            e.value, e.value_text = Decimal(0), None
                        led.append_events([e], NOW)
                        sent.append(e.identifier or "")
                    elif sent:
                        stored = led.get_event(sent[op[1] % len(sent)])
                        if stored is not None and not stored.cancelled:
                            led.cancel_event(stored, NOW)
            assert led.verify_rollups() is None
            for a, length in ranges:
                start, end = T0 + a, T0 + a + length
                got = led.usage(m, "cus_a", start, end, received_by=NOW)
                assert (got.value, got.event_count, got.window_count) == raw_usage(
                    led, formula, window, start, end
                )


@pytest.mark.parametrize(
    ("edit", "named"),
    [
        ("UPDATE usage_hourly SET sum = '7' WHERE hour = :t0", "cus_a, hour {t0}"),
        ("DELETE FROM usage_hourly WHERE hour = :t0 + 3600", "cus_b, hour {t1}"),
        ("INSERT INTO usage_hourly SELECT meter, customer, hour + 7200, count, sum, last_ts,"
         " last_seq, last_value, recv_ts, recv_seq, recv_value FROM usage_hourly"
         " WHERE hour = :t0", "cus_a, hour {t2}"),
    ],
)  # fmt: skip
def test_verify_rollups_names_the_first_bucket_that_differs(
    ctx: Context, edit: str, named: str
) -> None:
    append(ctx, [event("a", T0, "1"), event("b", T0 + HOUR, "2", "cus_b"), event("c", T0 + 1)])
    with ledger(ctx) as led:
        assert led.verify_rollups() is None
        led.conn.execute(edit, {"t0": T0})
        problem = led.verify_rollups()
    assert problem is not None
    assert named.format(t0=T0, t1=T0 + HOUR, t2=T0 + 2 * HOUR) in problem


def test_usage_reads_roll_ups_for_whole_hours_and_raw_events_at_the_edges(ctx: Context) -> None:
    append(ctx, [event("in", T0 + 10), event("edge", T0 + HOUR + 5, "4"), event("out", T0 - 1)])
    with ledger(ctx) as led:
        m = led.get_meter("mtr_m")
        assert m is not None
        # Corrupt the whole hour's roll-up: a query that uses it sees the corruption.
        led.conn.execute("UPDATE usage_hourly SET sum = '100' WHERE hour = ?", (T0,))
        assert led.usage(m, "cus_a", T0, T0 + HOUR, received_by=NOW).value == 100
        # [T0 + 1, …) starts inside the hour, so that hour comes from the raw events.
        assert led.usage(m, "cus_a", T0 + 1, T0 + 2 * HOUR, received_by=NOW).value == 5
        assert led.usage(m, "cus_a", T0 + HOUR, T0 + HOUR + 5, received_by=NOW).value == 0
        assert led.usage(m, "cus_a", T0 + HOUR, T0 + HOUR + 6, received_by=NOW).value == 4
        assert led.usage(m, "cus_a", T0, T0, received_by=NOW).event_count == 0


def test_usage_counts_only_events_received_by(ctx: Context) -> None:
    append(ctx, [event("early", T0 + 1, "1")], received=NOW - 100)
    append(ctx, [event("later", T0 + 2, "10")], received=NOW)
    with ledger(ctx) as led:
        m = led.get_meter("mtr_m")
        assert m is not None
        assert led.max_received() == NOW
        assert led.usage(m, "cus_a", T0, T0 + HOUR, received_by=NOW).value == 11
        assert led.usage(m, "cus_a", T0, T0 + HOUR, received_by=NOW - 1).value == 1
        assert led.usage(m, "cus_a", T0, T0 + HOUR, received_by=NOW - 101).event_count == 0


def test_late_events_enter_no_roll_up(ctx: Context) -> None:
    append(ctx, [event("late", T0, "5", status="late"), event("ok", T0, "1")])
    with ledger(ctx) as led:
        m = led.get_meter("mtr_m")
        assert m is not None
        assert led.usage(m, "cus_a", T0, T0 + HOUR, received_by=NOW).value == 1
        assert led.verify_rollups() is None


def test_the_watermark_migration_initialises_from_existing_events(tmp_path: Path) -> None:
    """Migration 3 on a ledger that already holds events records their latest receipt."""
    ctx = make_ledger(tmp_path / "l.db")
    append(ctx, [event("a", T0)], received=NOW - 5)
    conn = sqlite3.connect(tmp_path / "l.db")
    undo_credits(conn)
    undo_documents(conn)
    conn.execute("DROP TABLE event_watermark")
    conn.execute("DROP TABLE invoice_chain")  # migration 4's, so the file is truly version 2
    conn.execute("DROP TABLE idempotency_keys")  # and migration 8's
    conn.execute("PRAGMA user_version = 2")
    conn.commit()
    conn.close()
    with ledger(ctx) as led:
        assert led.max_received() == NOW - 5


def test_now_is_an_aware_utc_datetime() -> None:
    assert from_unix(NOW) == datetime(2026, 11, 1, 9, tzinfo=UTC)
