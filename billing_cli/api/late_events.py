"""Late events (SPEC 2.6): list them, and resolve them into the customer's next invoice.

An event is classified late when it is received (by the events store): its timestamp lies in a
period a finalized invoice already billed. It counts nowhere until resolved. Resolving appends a
`resolve` adjustment naming the finalized invoice whose period the event belongs to; from then
on the customer's next invoice carries a late-usage line for that period (see
`api.compose.pending_late_lines`), until an invoice that carries it is finalized.
"""

from __future__ import annotations

from dataclasses import dataclass

from billing_cli.api.catalog import require_customer
from billing_cli.api.context import Context
from billing_cli.domain.events import LateEvent, StoredEvent
from billing_cli.errors import InvalidInput
from billing_cli.storage.port import LedgerStore

RESOLUTIONS = ("next-invoice",)


@dataclass(frozen=True)
class Resolution:
    event: StoredEvent
    original_invoice: str  # the finalized invoice whose period holds the event
    original_number: str


def _stored(led: LedgerStore, event: LateEvent) -> StoredEvent:
    found = led.get_event(event.identifier)
    assert found is not None
    return found


def late_events(ctx: Context, *, customer: str | None = None) -> list[StoredEvent]:
    """Late events not cancelled and not resolved yet, oldest received first."""
    with ctx.ledger(write=False) as led, led.read():
        if customer is not None:
            require_customer(led, customer)
        return [_stored(led, e) for e in led.late_events(customer) if e.resolved_invoice is None]


@dataclass(frozen=True)
class WaitingEvent:
    """A pending late event and why it waits: the finalized invoice that billed its period."""

    event: StoredEvent
    original_invoice: str | None  # None only when that invoice was deleted behind our back
    original_number: str | None


def pending_late_events(ctx: Context, *, customer: str | None = None) -> list[WaitingEvent]:
    """`late_events` with, for each, the invoice whose finalization made it late."""
    with ctx.ledger(write=False) as led, led.read():
        if customer is not None:
            require_customer(led, customer)
        waiting = []
        for event in led.late_events(customer):
            if event.resolved_invoice is not None:
                continue
            line = led.covering_line(event.customer, event.meter, event.timestamp)
            waiting.append(
                WaitingEvent(
                    _stored(led, event),
                    None if line is None else line.invoice,
                    None if line is None else line.number,
                )
            )
        return waiting


def resolve_late_events(
    ctx: Context, *, resolve: str, customer: str | None = None
) -> list[Resolution]:
    """`--resolve next-invoice`: every pending late event goes to its customer's next invoice
    as a late-usage line naming the original period (beyond Stripe, which drops them)."""
    if resolve not in RESOLUTIONS:
        raise InvalidInput(
            f"--resolve {resolve!r} is not supported", hint="use --resolve next-invoice"
        )
    now = ctx.now_ts
    done: list[Resolution] = []
    with ctx.ledger(write=False) as led, led.write():  # an existing ledger only
        if customer is not None:
            require_customer(led, customer)
        for event in led.late_events(customer):
            if event.resolved_invoice is not None:
                continue
            original = led.covering_line(event.customer, event.meter, event.timestamp)
            if original is None:  # its invoice was deleted behind our back: leave it pending
                continue
            led.add_resolution(event.identifier, original.invoice, now)
            done.append(Resolution(_stored(led, event), original.invoice, original.number))
    return done
