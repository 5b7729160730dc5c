"""Use cases of meter events (billing_cli/api/events.py): send, late classification, cancel,
list, meter usage."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from billing_cli.api import Context, catalog
from billing_cli.api import events as api
from billing_cli.clock import format_time, from_unix
from billing_cli.domain.aggregation import DAY, HOUR
from billing_cli.errors import Conflict, InvalidInput, NotFound, UsageError
from tests.backends import ledger_exists
from tests.test_ledger_events import NOW, T0, ledger, make_ledger

pytestmark = pytest.mark.both_backends


def at(ts: int) -> str:
    return format_time(ts)


@pytest.fixture
def ctx(db: Path | str) -> Context:
    return make_ledger(db)


def send(ctx: Context, ident: str, ts: int, value: str = "1", customer: str = "cus_a"):
    return api.send_event(
        ctx, event_name="m", customer=customer, value=value, identifier=ident, timestamp=at(ts)
    )


def finalize_invoice(
    ctx: Context, invoice: str, customer: str, start: int, end: int, *, finalize: bool = True,
    late_identifiers: list[str] | None = None,
) -> None:  # fmt: skip
    """A stored invoice with one metered line for mtr_m over [start, end) (and optionally a
    late-usage line counting `late_identifiers`), then finalized as `invoice run` would."""
    with ledger(ctx) as led, led.write():
        led.conn.execute(
            "INSERT INTO invoices (id, created, customer, status, billing_reason, currency,"
            " period_start, period_end, subtotal, total, amount_due, computed_at)"
            " VALUES (?, ?, ?, 'draft', 'subscription_cycle', 'usd', ?, ?, 0, 0, 0, ?)",
            (invoice, NOW, customer, start, end, NOW),
        )
        lines = [("subscription", start, end, "{}")]
        if late_identifiers is not None:
            lines.append(("late_usage", start, end, json.dumps({"identifiers": late_identifiers})))
        for n, (kind, s, e, explain) in enumerate(lines):
            led.conn.execute(
                "INSERT INTO invoice_lines (id, invoice, position, type, meter, description,"
                " period_start, period_end, quantity_decimal, quantity, amount, explain)"
                " VALUES (?, ?, ?, ?, 'mtr_m', 'M', ?, ?, '0', 0, 0, ?)",
                (f"il_{invoice}_{n}", invoice, n, kind, s, e, explain),
            )
        if finalize:
            led.conn.execute(
                "UPDATE invoices SET status = 'open', finalized_at = ?, number = ? WHERE id = ?",
                (NOW, f"N-{invoice}", invoice),
            )


# -- send ----------------------------------------------------------------------------------------
def test_send_stores_once_duplicate_is_a_no_op_and_conflict_changes_nothing(ctx: Context) -> None:
    first = send(ctx, "e1", T0, "2.5")
    assert not first.duplicate
    assert first.event.payload == {"stripe_customer_id": "cus_a", "value": "2.5"}
    assert (first.event.status, first.event.received, first.event.seq) == ("accepted", NOW, 1)
    again = send(ctx, "e1", T0, "2.5")
    assert again.duplicate and again.event == first.event
    with pytest.raises(Conflict, match="identifier_conflict"):
        send(ctx, "e1", T0, "3")
    with pytest.raises(Conflict, match="identifier_conflict"):
        send(ctx, "e1", T0 + 1, "2.5")
    assert [e.identifier for e in api.list_events(ctx)] == ["e1"]


def test_send_without_timestamp_uses_now_and_matches_duplicates_without_it(ctx: Context) -> None:
    sent = api.send_event(ctx, event_name="m", payload=["stripe_customer_id=cus_a", "value=1"],
                          identifier="x")  # fmt: skip
    assert sent.event.timestamp == NOW
    later = Context(ctx.db, from_unix(NOW + 60))
    again = api.send_event(later, event_name="m", payload=["stripe_customer_id=cus_a", "value=1"],
                           identifier="x")  # fmt: skip
    assert again.duplicate


def test_send_generates_an_identifier(ctx: Context) -> None:
    a = api.send_event(ctx, event_name="m", customer="cus_a", value="1")
    b = api.send_event(ctx, event_name="m", customer="cus_a", value="1")
    assert a.event.identifier.startswith("evt_") and a.event.identifier != b.event.identifier


def test_short_form_fills_the_meters_own_keys(db: Path | str) -> None:
    ctx = make_ledger(db)
    catalog.create_meter(ctx, display_name="C", event_name="calls", aggregation="count",
                         customer_key="account", value_key="n", meter_id="mtr_calls")  # fmt: skip
    sent = api.send_event(ctx, event_name="calls", customer="cus_b", identifier="c1")
    assert sent.event.payload == {"account": "cus_b"} and sent.event.value is None
    sent = api.send_event(ctx, event_name="calls", customer="cus_b", value="9", identifier="c2")
    assert sent.event.payload == {"account": "cus_b", "n": "9"}


@pytest.mark.parametrize(
    ("kwargs", "code"),
    [
        ({"event_name": "nope", "customer": "cus_a", "value": "1"}, "no_meter"),
        ({"event_name": "m", "customer": "cus_zz", "value": "1"}, "meter_event_customer_not_found"),
        ({"event_name": "m", "customer": "cus_a"}, "meter_event_value_not_found"),
        ({"event_name": "m", "customer": "cus_a", "value": "1e3"}, "meter_event_invalid_value"),
        ({"event_name": "m", "customer": "cus_a", "value": "1234567890123456"},
         "meter_event_invalid_value"),
        ({"event_name": "m", "payload": ["value=1"]}, "meter_event_no_customer_defined"),
        ({"event_name": "m", "customer": "cus_a", "value": "1",
          "timestamp": at(NOW + 301)}, "timestamp_in_future"),
        ({"event_name": "m", "customer": "cus_a", "value": "1", "identifier": "a b"},
         "invalid_identifier"),
    ],
)  # fmt: skip
def test_send_refuses_invalid_events_with_their_reason_code(
    ctx: Context, kwargs: dict, code: str
) -> None:
    with pytest.raises(InvalidInput, match=f"^{code}: "):
        api.send_event(ctx, **kwargs)
    assert list(api.list_events(ctx)) == []


def test_send_five_minutes_ahead_is_accepted(ctx: Context) -> None:
    assert send(ctx, "soon", NOW + 300).event.timestamp == NOW + 300


def test_send_usage_errors(ctx: Context) -> None:
    with pytest.raises(UsageError):
        api.send_event(ctx, event_name="m", payload=["value=1"], customer="cus_a")
    with pytest.raises(UsageError):
        api.send_event(ctx, event_name="m")


def test_send_without_a_ledger_refuses_and_creates_nothing(db: Path | str) -> None:
    ctx = Context(db, from_unix(NOW))
    with pytest.raises(InvalidInput, match="^no_meter: "):
        api.send_event(ctx, event_name="m", customer="cus_a", value="1")
    assert not ledger_exists(ctx.db)


def test_archived_meter_refuses_events(ctx: Context) -> None:
    catalog.set_meter_status(ctx, "mtr_m", active=False)
    with pytest.raises(InvalidInput, match="^archived_meter: "):
        send(ctx, "e", T0)


# -- late events (SPEC 2.6) ----------------------------------------------------------------------
def test_events_in_a_finalized_period_are_late(ctx: Context) -> None:
    finalize_invoice(ctx, "in_1", "cus_a", T0, T0 + DAY)
    finalize_invoice(ctx, "in_2", "cus_a", T0 + DAY, T0 + 2 * DAY, finalize=False)  # a draft
    assert send(ctx, "inside", T0 + 5).event.status == "late"
    assert send(ctx, "at_end", T0 + DAY).event.status == "accepted"
    assert send(ctx, "before", T0 - 1).event.status == "accepted"
    assert send(ctx, "other_customer", T0 + 5, customer="cus_b").event.status == "accepted"
    usage = api.meter_usage(ctx, "mtr_m", customer="cus_a", start=at(T0), end=at(T0 + DAY))
    assert usage.windows[0].aggregate.event_count == 0


# -- cancel (SPEC 2.4) ---------------------------------------------------------------------------
def test_cancel_stops_counting_twice_is_a_no_op(ctx: Context) -> None:
    send(ctx, "a", T0, "5")
    send(ctx, "b", T0 + 1, "7")
    done = api.cancel_event(ctx, event_name="m", identifier="a")
    assert done.event.cancelled and not done.already
    assert api.cancel_event(ctx, event_name="m", identifier="a").already
    usage = api.meter_usage(ctx, "m", customer="cus_a", start=at(T0), end=at(T0 + HOUR))
    assert usage.windows[0].aggregate.value == 7
    with ledger(ctx) as led:
        assert led.verify_rollups() is None
        assert led.conn.execute("SELECT count(*) FROM meter_event_adjustments").fetchone()[0] == 1


def test_cancel_unknown_or_other_event_name_is_not_found(ctx: Context) -> None:
    send(ctx, "a", T0)
    with pytest.raises(NotFound):
        api.cancel_event(ctx, event_name="m", identifier="zz")
    with pytest.raises(NotFound):
        api.cancel_event(ctx, event_name="other", identifier="a")


def test_cancel_is_refused_once_a_finalized_invoice_billed_the_event(ctx: Context) -> None:
    send(ctx, "billed", T0 + 5)
    send(ctx, "draft_only", T0 + DAY + 5)
    finalize_invoice(ctx, "in_1", "cus_a", T0, T0 + DAY)
    finalize_invoice(ctx, "in_2", "cus_a", T0 + DAY, T0 + 2 * DAY, finalize=False)
    with pytest.raises(Conflict, match="in_1") as err:
        api.cancel_event(ctx, event_name="m", identifier="billed")
    assert "credit note" in (err.value.hint or "")
    assert api.cancel_event(ctx, event_name="m", identifier="draft_only").event.cancelled


def test_late_events_are_cancellable_until_a_finalized_late_line_counts_them(ctx: Context) -> None:
    finalize_invoice(ctx, "in_1", "cus_a", T0, T0 + DAY)
    send(ctx, "late1", T0 + 5)
    send(ctx, "late2", T0 + 6)
    finalize_invoice(ctx, "in_2", "cus_a", T0 + DAY, T0 + 2 * DAY, late_identifiers=["late1"])
    with pytest.raises(Conflict, match="in_2"):
        api.cancel_event(ctx, event_name="m", identifier="late1")
    assert api.cancel_event(ctx, event_name="m", identifier="late2").event.cancelled


# -- list ----------------------------------------------------------------------------------------
def test_list_filters(ctx: Context) -> None:
    send(ctx, "a1", T0)
    send(ctx, "b1", T0 + 10, customer="cus_b")
    send(ctx, "a2", T0 + 20)
    # newest received first, as Stripe lists
    assert [e.identifier for e in api.list_events(ctx)] == ["a2", "b1", "a1"]
    assert [e.identifier for e in api.list_events(ctx, customer="cus_a")] == ["a2", "a1"]
    assert [e.identifier for e in api.list_events(ctx, meter="m", start=at(T0 + 10))] == [
        "a2", "b1"
    ]  # fmt: skip
    assert [e.identifier for e in api.list_events(ctx, end=at(T0 + 20))] == ["b1", "a1"]
    with pytest.raises(NotFound):
        api.list_events(ctx, meter="mtr_nope")
    with pytest.raises(NotFound):
        api.list_events(ctx, customer="cus_nope")


def test_list_by_invoice_gives_the_events_it_billed(ctx: Context) -> None:
    send(ctx, "in_period", T0 + 5)
    send(ctx, "after", T0 + DAY + 5)
    send(ctx, "other", T0 + 6, customer="cus_b")
    send(ctx, "cancelled", T0 + 7)
    api.cancel_event(ctx, event_name="m", identifier="cancelled")
    finalize_invoice(ctx, "in_1", "cus_a", T0, T0 + DAY)
    send(ctx, "late", T0 + 8)
    finalize_invoice(ctx, "in_2", "cus_a", T0 + DAY, T0 + 2 * DAY, late_identifiers=["late"])
    assert [e.identifier for e in api.list_events(ctx, invoice="in_1")] == ["in_period"]
    assert [e.identifier for e in api.list_events(ctx, invoice="in_2")] == ["late", "after"]
    with pytest.raises(NotFound):
        api.list_events(ctx, invoice="in_nope")


# -- meter usage (SPEC 2.7) ----------------------------------------------------------------------
def test_meter_usage_totals_and_windows(ctx: Context) -> None:
    send(ctx, "h0", T0 + 10, "1")
    send(ctx, "h0b", T0 + 20, "2")
    send(ctx, "h1", T0 + HOUR + 1, "4")
    send(ctx, "d1", T0 + DAY + 1, "-10")
    total = api.meter_usage(ctx, "mtr_m", customer="cus_a", start=at(T0), end=at(T0 + 2 * DAY))
    assert [(w.start, w.end, w.aggregate.value) for w in total.windows] == [
        (T0, T0 + 2 * DAY, -3)
    ]  # fmt: skip
    hours = api.meter_usage(ctx, "mtr_m", customer="cus_a", start=at(T0 + 60),
                            end=at(T0 + 2 * HOUR), window="hour")  # fmt: skip
    # The first hour's events lie before the start minute; windows without events are omitted.
    got = [(w.start, w.end, w.aggregate.value, w.aggregate.event_count) for w in hours.windows]
    assert got == [(T0 + HOUR, T0 + 2 * HOUR, 4, 1)]
    days = api.meter_usage(ctx, "m", customer="cus_a", start=at(T0), end=at(T0 + 3 * DAY),
                           window="day")  # fmt: skip
    day2 = T0 - T0 % DAY + DAY
    assert [(w.start, w.end, w.aggregate.value) for w in days.windows] == [
        (T0, day2, 7), (day2, day2 + DAY, -10)  # the first day is cut at --start
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("start", "end", "window", "error"),
    [
        (T0 + 1, T0 + HOUR, None, InvalidInput),
        (T0, T0 + HOUR + 30, None, InvalidInput),
        (T0, T0, None, InvalidInput),
        (T0, T0 + HOUR, "week", InvalidInput),
    ],
)
def test_meter_usage_refuses_bad_ranges(
    ctx: Context, start: int, end: int, window: str | None, error: type
) -> None:
    with pytest.raises(error):
        api.meter_usage(ctx, "m", customer="cus_a", start=at(start), end=at(end), window=window)


def test_meter_usage_unknown_meter_or_customer(ctx: Context) -> None:
    with pytest.raises(NotFound):
        api.meter_usage(ctx, "mtr_x", customer="cus_a", start=at(T0), end=at(T0 + HOUR))
    with pytest.raises(NotFound):
        api.meter_usage(ctx, "m", customer="cus_x", start=at(T0), end=at(T0 + HOUR))
