"""Meter events: send one, list, cancel, and summarise usage (SPEC 2.1-2.4, 2.7).

`event import` lives in `api.event_import`; both go through the same validation
(`validation.validate_event`) and the same ledger append (`LedgerStore.append_events`), so an event
behaves alike however it arrives.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass

from billing_cli import ids
from billing_cli.api.catalog import require_customer, require_meter
from billing_cli.api.context import Context
from billing_cli.clock import parse_duration, parse_time, to_unix
from billing_cli.domain.aggregation import (
    DAY,
    HOUR,
    Aggregate,
    Bucket,
    add_aggregates,
    additive_windows,
    aggregate,
    window_totals,
)
from billing_cli.domain.events import StoredEvent
from billing_cli.domain.models import Meter
from billing_cli.errors import Conflict, InvalidInput, NotFound, UsageError
from billing_cli.ingest.event_rows import check_identifier
from billing_cli.ingest.readers import EventInput, Reject
from billing_cli.ingest.validation import (
    MAX_EVENT_AGE_SECONDS,
    Coverage,
    payload_from_pairs,
    validate_event,
)
from billing_cli.storage.port import LedgerStore

WINDOWS = ("hour", "day")

_HINTS = {
    "no_meter": "`billing meter list` shows the meters and their event names",
    "archived_meter": "reactivate the meter (`billing meter reactivate ID`) or use another",
    "meter_event_no_customer_defined": "give the meter's customer key, or --customer C",
    "meter_event_customer_not_found": "`billing customer list` shows the customers",
    "meter_event_value_not_found": "give the meter's value key, or --value V",
    "meter_event_invalid_value": "a plain decimal with at most 15 significant digits, e.g. 12.5",
    "timestamp_in_future": "timestamps may be at most 5 minutes after now",
    "timestamp_too_far_in_past": "events may be at most 35 days old, as in Stripe; for a"
    " deliberate back-fill give a wider window, e.g. --max-age 400d",
}


def parse_max_age(text: str | None) -> int:
    """`--max-age` (`400d`, `36h`): how far before now an event's timestamp may lie, in seconds;
    default 35 days (Stripe's window, `timestamp_too_far_in_past` beyond it)."""
    if text is None:
        return MAX_EVENT_AGE_SECONDS
    return int(parse_duration(text, field="--max-age").total_seconds())


def reject_param(code: str, meter: Meter | None) -> str | None:
    """The event field a SPEC 2.2 reason points at, named as Stripe's parameters are."""
    if code in ("no_meter", "archived_meter"):
        return "event_name"
    if code in ("meter_event_no_customer_defined", "meter_event_customer_not_found"):
        return f"payload[{meter.customer_key if meter else 'stripe_customer_id'}]"
    if code in ("meter_event_value_not_found", "meter_event_invalid_value"):
        return f"payload[{meter.value_key if meter else 'value'}]"
    if code in ("timestamp_in_future", "timestamp_too_far_in_past", "invalid_timestamp"):
        return "timestamp"
    if code == "invalid_identifier":
        return "identifier"
    return None


def reject_error(reject: Reject, meter: Meter | None = None) -> InvalidInput:
    """A SPEC 2.2 failure of a single event as the exit-4 error; the message starts with the
    reason code so scripts can match on it as they do on an import's reject report (the code
    is also the error's `code`, as Stripe names these failures)."""
    error = InvalidInput(f"{reject.code}: {reject.message}", _HINTS.get(reject.code))
    error.code = reject.code
    error.param = reject_param(reject.code, meter)
    return error


def identifier_conflict(identifier: str) -> Conflict:
    error = Conflict(
        f"identifier_conflict: an event with identifier {identifier!r} exists with another "
        "event_name, payload or timestamp; it is never overwritten",
        hint="send the correction under a new identifier, or cancel the old event",
    )
    error.code = "identifier_conflict"
    error.param = "identifier"
    return error


def _time(text: str | None, field: str) -> int | None:
    return None if text is None else to_unix(parse_time(text, field=field))


@dataclass(frozen=True)
class SentEvent:
    event: StoredEvent
    duplicate: bool  # an identical event was already stored: nothing changed (SPEC 2.3)


def send_event(
    ctx: Context,
    *,
    event_name: str,
    payload: list[str] | Mapping[str, str] | None = None,
    customer: str | None = None,
    value: str | None = None,
    identifier: str | None = None,
    timestamp: str | None = None,
    max_age: str | None = None,
) -> SentEvent:
    """`event send`: validate (exit 4), then store once; a duplicate is a no-op, a conflict
    (same identifier, other content) is exit 5 and changes nothing. `payload` is the CLI's
    `K=V` pairs or, from the HTTP API, the payload itself; `max_age` widens (or narrows) the
    35-day window for old timestamps."""
    if payload and (customer is not None or value is not None):
        raise UsageError(
            "--payload cannot be combined with --customer/--value",
            hint="give either --payload K=V … or --customer C --value V",
        )
    if not payload and customer is None:
        raise UsageError(
            "the event needs a payload", hint="give --payload K=V … or --customer C --value V"
        )
    if isinstance(payload, Mapping):
        pairs: dict[str, str] | None = dict(payload)
    else:
        pairs = payload_from_pairs(payload) if payload else None
    ts = _time(timestamp, "--timestamp")
    oldest = parse_max_age(max_age)
    if identifier is not None and (bad := check_identifier(identifier)) is not None:
        raise reject_error(bad)
    ident = identifier or ids.new_id("evt_")
    now = ctx.now_ts
    if not ctx.ledger_exists():  # no ledger yet: no meter can match, and nothing is created
        raise reject_error(Reject("no_meter", f"no meter has event_name {event_name!r}"))
    with ctx.ledger(write=True) as led, led.write():
        meter = led.get_meter_by_event_name(event_name)
        if pairs is None:
            pairs = _short_form(meter, customer or "", value)
        found = validate_event(
            EventInput(event_name, pairs, ident, ts, 0),
            meter,
            lambda c: bool(led.existing_customers([c])),
            now,
            oldest,
        )
        if isinstance(found, Reject):
            raise reject_error(found, meter)
        found.identifier = ident
        if Coverage(led.finalized_periods(found.meter, found.customer)).covers(
            found.meter, found.customer, found.timestamp
        ):
            found.status = "late"
        skipped = led.append_events([found], now)
        if skipped and skipped[0][1] == "conflict":
            raise identifier_conflict(ident)
        event = led.get_event(ident)
    assert event is not None
    return SentEvent(event, duplicate=bool(skipped))


def _short_form(meter: Meter | None, customer: str, value: str | None) -> dict[str, str]:
    """`--customer C --value V` fills the meter's own payload keys (SPEC 5)."""
    customer_key = meter.customer_key if meter else "stripe_customer_id"
    value_key = meter.value_key if meter else "value"
    pairs = {customer_key: customer}
    if value is not None:
        pairs[value_key] = value
    return pairs


# -- list ----------------------------------------------------------------------------------


def list_events(
    ctx: Context,
    *,
    customer: str | None = None,
    meter: str | None = None,
    start: str | None = None,
    end: str | None = None,
    invoice: str | None = None,
    starting_after: str | None = None,
) -> Iterator[StoredEvent]:
    """Events newest received first, filtered; `invoice` selects the events it billed. The
    arguments are checked now (a bad one raises before anything is printed); the events are
    then streamed from one read transaction, so the first arrives at once whatever the count."""
    start_ts, end_ts = _time(start, "--start"), _time(end, "--end")
    stack = ExitStack()
    try:
        led = stack.enter_context(ctx.ledger(write=False))
        stack.enter_context(led.read())
        meter_id = require_meter(led, meter).id if meter is not None else None
        if customer is not None:
            require_customer(led, customer)
        after = None
        if starting_after is not None:
            cursor = led.get_event(starting_after)
            if cursor is None:
                raise NotFound(
                    f"--starting-after {starting_after!r}: no event with that identifier",
                    hint="give the identifier of the last event of the previous page",
                )
            after = cursor.seq
        if invoice is None:
            found: Iterable[StoredEvent] = led.list_events(
                customer=customer,
                meter=meter_id,
                start=start_ts,
                end=end_ts,
                newest_first=True,
                before_seq=after,
            )
        else:
            billed = led.invoice_events(invoice)
            if billed is None:
                raise NotFound(f"no invoice {invoice!r}", hint="`billing invoice list` shows them")
            found = [
                e
                for e in sorted(billed, key=lambda e: e.seq, reverse=True)
                if (customer is None or e.customer == customer)
                and (meter_id is None or e.meter == meter_id)
                and (start_ts is None or e.timestamp >= start_ts)
                and (end_ts is None or e.timestamp < end_ts)
                and (after is None or e.seq < after)
            ]
    except BaseException:
        stack.close()
        raise

    def stream() -> Iterator[StoredEvent]:
        with stack:
            yield from found

    return stream()


# -- cancel --------------------------------------------------------------------------------


@dataclass(frozen=True)
class CancelledEvent:
    event: StoredEvent
    already: bool  # it was cancelled before: nothing changed


def cancel_event(ctx: Context, *, event_name: str, identifier: str) -> CancelledEvent:
    """SPEC 2.4: the event stops counting, unless a finalized invoice already billed it."""
    with ctx.ledger(write=False) as led, led.write():
        event = led.get_event(identifier)
        if event is None or event.event_name != event_name:
            raise NotFound(
                f"no event with event_name {event_name!r} and identifier {identifier!r}",
                hint="`billing event list` shows the events",
            )
        if event.cancelled:
            return CancelledEvent(event, already=True)
        billed_by = led.billing_invoice(event)
        if billed_by is not None:
            raise Conflict(
                f"event {identifier!r} is billed by the finalized invoice {billed_by}; "
                "it can no longer be cancelled",
                hint="issue a credit note for it instead (finalized invoices never change)",
            )
        led.cancel_event(event, ctx.now_ts)
        cancelled = led.get_event(identifier)
    assert cancelled is not None
    return CancelledEvent(cancelled, already=False)


# -- meter usage (SPEC 2.7) ----------------------------------------------------------------


@dataclass(frozen=True)
class UsageWindow:
    start: int
    end: int
    aggregate: Aggregate


@dataclass(frozen=True)
class UsageSummary:
    meter: Meter
    customer: str | None  # None: every customer (the dashboard's meter page)
    start: int
    end: int
    windows: list[UsageWindow]  # one for the whole range, or one per hour/day with events
    total: Aggregate  # the whole range, as `meter usage` without --window reports it
    unit: str  # what the values count, for charts' axes (see meter_unit)


def meter_unit(led: LedgerStore, meter: Meter) -> str:
    """The unit a chart labels its axis with: Stripe keeps units on products (`unit_label`), so
    the label shared by the products priced on this meter; else "events" for a count meter;
    else the meter's display name."""
    labels = set()
    for price in led.list_prices():
        if price.meter == meter.id:
            product = led.get_product(price.product)
            labels.add(product.unit_label if product is not None else None)
    if len(labels) == 1 and (label := labels.pop()):
        return label
    return "events" if meter.formula == "count" else meter.display_name


def _windows(
    meter: Meter, buckets: dict[int, Bucket], start: int, end: int, window: str | None
) -> tuple[Aggregate, list[UsageWindow]]:
    formula, meter_window = meter.formula, meter.event_time_window
    total = aggregate(formula, meter_window, buckets)
    if window is None:
        return total, [UsageWindow(start, end, total)]
    size = HOUR if window == "hour" else DAY
    return total, [
        UsageWindow(max(at, start), min(at + size, end), agg)
        for at, agg in window_totals(formula, meter_window, buckets, window)
    ]


def _sum_over_customers(
    per_customer: list[tuple[Aggregate, list[UsageWindow]]],
) -> tuple[Aggregate, list[UsageWindow]]:
    """Each customer's aggregate added up, window by window: a meter's usage as a whole. For a
    `last` meter that is the sum of every customer's last value, what their invoices bill."""
    totals = [total for total, _ in per_customer]
    by_start: dict[int, list[UsageWindow]] = {}
    for _, windows in per_customer:
        for w in windows:
            by_start.setdefault(w.start, []).append(w)
    merged = [
        UsageWindow(found[0].start, found[0].end, add_aggregates([w.aggregate for w in found]))
        for _, found in sorted(by_start.items())
    ]
    return add_aggregates(totals), merged


def meter_usage(
    ctx: Context,
    meter: str,
    *,
    customer: str | None,
    start: str,
    end: str,
    window: str | None = None,
) -> UsageSummary:
    """Stripe's meter event summaries: the aggregate over [start, end), or per UTC window, of
    one customer (or, with customer None, of every customer added up)."""
    start_ts, end_ts = _time(start, "--start"), _time(end, "--end")
    assert start_ts is not None and end_ts is not None
    for field, ts in (("--start", start_ts), ("--end", end_ts)):
        if ts % 60:
            raise InvalidInput(
                f"{field} {ts} is not on a minute boundary",
                hint="meter summaries take whole minutes, e.g. 2026-11-01T09:00:00Z",
            )
    if end_ts <= start_ts:
        raise InvalidInput(f"--end {end} is not after --start {start}")
    if window is not None and window not in WINDOWS:
        raise InvalidInput(f"--window {window!r} is not one of hour, day")
    with ctx.ledger(write=False) as led, led.read():
        found = require_meter(led, meter)
        if customer is None and found.formula != "last" and found.event_time_window is None:
            # Sums and counts add up across customers: straight from the roll-up rows.
            rows = led.meter_hour_sums(found.id, start_ts, end_ts, received_by=ctx.now_ts)
            if rows is not None:
                total, by_start = additive_windows(found.formula, rows, window, start_ts)
                size = HOUR if window == "hour" else DAY
                windows = [
                    UsageWindow(at, min(at - at % size + size, end_ts), agg)
                    for at, agg in by_start.items()
                ]
                if window is None:
                    windows = [UsageWindow(start_ts, end_ts, total)]
                return UsageSummary(found, None, start_ts, end_ts, windows, total,
                                    meter_unit(led, found))  # fmt: skip
        if customer is not None:
            require_customer(led, customer)
            by_customer = {
                customer: led.usage_buckets(
                    found.id, customer, start_ts, end_ts, received_by=ctx.now_ts
                )
            }
        else:
            by_customer = led.meter_usage_buckets(
                found.id, start_ts, end_ts, received_by=ctx.now_ts
            )
        unit = meter_unit(led, found)
    per_customer = [_windows(found, b, start_ts, end_ts, window) for b in by_customer.values()]
    if customer is not None:
        total, windows = per_customer[0]
    else:
        total, windows = _sum_over_customers(per_customer)
        if window is None:
            windows = [UsageWindow(start_ts, end_ts, total)]
    return UsageSummary(found, customer, start_ts, end_ts, windows, total, unit)
