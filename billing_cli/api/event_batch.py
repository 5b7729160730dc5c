"""A batch of meter events in one transaction, all or none (the v2 meter event stream).

The same rules as `event send` and `event import` (SPEC 2.2 validation, permanent identifier
de-duplication, late events), with the catalog read once for the batch. A batch is applied
whole or not at all: the first event that fails names itself (`events[3]`) and nothing of the
batch is stored, so a client can fix that event and send the batch again; identifiers make the
resend safe for the events that were fine.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from billing_cli import ids
from billing_cli.api.context import Context
from billing_cli.api.events import identifier_conflict, reject_error
from billing_cli.clock import parse_time, to_unix
from billing_cli.domain.events import ValidEvent
from billing_cli.errors import BillingError, InvalidInput
from billing_cli.ingest.event_rows import check_identifier
from billing_cli.ingest.readers import EventInput, Reject
from billing_cli.ingest.validation import Coverage, validate_event

MAX_BATCH = 100


@dataclass(frozen=True)
class BatchEvent:
    event_name: str
    payload: Mapping[str, str]
    identifier: str | None = None  # None: one is generated (Stripe)
    timestamp: str | None = None  # Unix seconds or ISO 8601; None: now


@dataclass(frozen=True)
class BatchResult:
    accepted: int
    duplicates: int
    late: int


def _at(index: int, error: BillingError) -> BillingError:
    """Point the error at the event in the batch: `events[3]` or `events[3].payload[value]`."""
    where = f"events[{index}]"
    error.param = f"{where}.{error.param}" if error.param else where
    error.message = f"{where}: {error.message}"
    return error


def _input(index: int, event: BatchEvent) -> EventInput:
    timestamp = None
    if event.timestamp is not None:
        try:
            timestamp = to_unix(parse_time(event.timestamp, field="timestamp"))
        except InvalidInput as exc:
            exc.param = "timestamp"
            raise _at(index, exc) from None
    identifier = event.identifier
    if identifier is not None and (bad := check_identifier(identifier)) is not None:
        raise _at(index, reject_error(bad))
    return EventInput(
        event.event_name, dict(event.payload), identifier or ids.new_id("evt_"), timestamp, index
    )


@dataclass(frozen=True)
class PreparedBatch:
    """A batch whose events were checked each on its own (timestamps parsed, identifiers
    checked or generated): work that needs no ledger, so a server does it before it queues for
    the write lock, while another request holds it."""

    inputs: list[EventInput]


def prepare_events(events: Sequence[BatchEvent]) -> PreparedBatch:
    """Check each event alone; the first bad one is named (`events[3].timestamp`)."""
    if len(events) > MAX_BATCH:
        raise InvalidInput(f"{len(events)} events in one batch", hint=f"send at most {MAX_BATCH}")
    return PreparedBatch([_input(i, e) for i, e in enumerate(events)])


def send_events(ctx: Context, batch: PreparedBatch) -> BatchResult:
    """Validate every event against the ledger, then store them in one transaction
    (duplicates are no-ops)."""
    inputs = batch.inputs
    now = ctx.now_ts
    with ctx.ledger(write=True) as led, led.write():
        meters = led.meters_by_event_name()
        named = {
            ev.payload.get(meters[ev.event_name].customer_key, "")
            for ev in inputs
            if ev.event_name in meters
        }
        known = set(led.existing_customers(named - {""}))
        coverage = Coverage(led.finalized_periods())
        valid: list[ValidEvent] = []
        for index, ev in enumerate(inputs):
            meter = meters.get(ev.event_name)
            found = validate_event(ev, meter, known.__contains__, now)
            if isinstance(found, Reject):
                raise _at(index, reject_error(found, meter))
            found.identifier = ev.identifier
            if coverage and coverage.covers(found.meter, found.customer, found.timestamp):
                found.status = "late"
            valid.append(found)
        skipped = led.append_events(valid, now)
        for index, kind in skipped:
            if kind == "conflict":
                raise _at(index, identifier_conflict(valid[index].identifier or ""))
    not_stored = {i for i, _ in skipped}
    late = sum(1 for i, v in enumerate(valid) if v.status == "late" and i not in not_stored)
    return BatchResult(len(valid) - len(skipped), len(skipped), late)
