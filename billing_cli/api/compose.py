"""Ledger-bound invoice composition shared by preview, run, finalize, cancel and `ledger check`.

`invoicing.compose` is pure; this module feeds it: the subscription's catalog, a usage function
bound to the customer and to "events received by", and the late-usage lines pending for the
customer (SPEC 2.6). Using this one path everywhere is what makes the preview equal the final
invoice (SPEC 4.3).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from billing_cli import ids
from billing_cli.api.credits import grant_states, new_transaction_id
from billing_cli.domain import credits, invoicing, parties
from billing_cli.domain.aggregation import Aggregate, EventPoint, aggregate_events
from billing_cli.domain.chain import invoice_hash
from billing_cli.domain.events import LateEvent
from billing_cli.domain.invoicing import Catalog, Invoice, Line, StoredLine, Target
from billing_cli.domain.models import Meter, Subscription, TaxRate
from billing_cli.domain.money import DECIMAL_CONTEXT
from billing_cli.storage.port import LedgerStore

# Sums of event values must stay exact whatever their exponents (as in aggregation.py).
_ZERO = Decimal(0)

BaseUsage = Callable[[Meter, int, int, int], Aggregate]
"""(meter, start, end, received_by) → aggregate for one customer."""


def base_usage(led: LedgerStore, customer: str, *, raw: bool = False) -> BaseUsage:
    """The hourly roll-ups (fast) or, for `ledger check`, the raw events (the source of truth)."""
    if not raw:

        def rolled(meter: Meter, start: int, end: int, received_by: int) -> Aggregate:
            return led.usage(meter, customer, start, end, received_by=received_by)

        return rolled

    def from_events(meter: Meter, start: int, end: int, received_by: int) -> Aggregate:
        points = led.counted_points(meter.id, customer, start, end, received_by)
        return aggregate_events(meter.formula, meter.event_time_window, points)

    return from_events


def tax_rates_for(led: LedgerStore, sub: Subscription) -> list[TaxRate]:
    """The subscription's `default_tax_rates`, in order (rates are never deleted)."""
    rates = [led.get_tax_rate(r) for r in sub.default_tax_rates]
    return [r for r in rates if r is not None]


def catalog_for(led: LedgerStore, sub: Subscription) -> Catalog:
    prices = {i.price: led.get_price(i.price) for i in sub.items}
    products = {p.product: led.get_product(p.product) for p in prices.values() if p}
    meters = {p.meter: led.get_meter(p.meter) for p in prices.values() if p and p.meter}
    return Catalog(prices=prices, products=products, meters=meters)  # type: ignore[arg-type]


# -- late usage (SPEC 2.6) ----------------------------------------------------------------------


def _with_late(
    led: LedgerStore,
    base: BaseUsage,
    meter: Meter,
    customer: str,
    window: tuple[int, int],
    received_by: int,
    late: list[LateEvent],
) -> Aggregate:
    """The original period's aggregate with the resolved late events added."""
    points = [
        EventPoint(e.timestamp, e.seq, _ZERO if e.value is None else e.value)
        for e in late
        if window[0] <= e.timestamp < window[1]
    ]
    if meter.event_time_window is None and meter.formula in ("sum", "count"):
        original = base(meter, window[0], window[1], received_by)
        extra = aggregate_events(meter.formula, None, points)
        return Aggregate(
            DECIMAL_CONTEXT.add(original.value, extra.value),
            original.event_count + extra.event_count,
            None,
        )
    # `last` and pre-aggregated meters need the events themselves to decide which one counts.
    points += led.counted_points(meter.id, customer, window[0], window[1], received_by)
    return aggregate_events(meter.formula, meter.event_time_window, points)


def late_line(
    led: LedgerStore,
    base: BaseUsage,
    customer: str,
    original: StoredLine,
    events: list[LateEvent],
    earlier: list[StoredLine],
) -> Line:
    """One late-usage line for `original`, counting `events` (all resolved so far for it);
    `earlier` are the late lines for it already finalized."""
    line = original.line
    assert line.price is not None and line.meter is not None
    price = led.get_price(line.price)
    meter = led.get_meter(line.meter)
    assert price is not None and meter is not None
    product = led.get_product(price.product)
    assert product is not None
    window_data = line.explain.get("usage_window") or {}
    window = (
        window_data.get("start", line.period_start),
        window_data.get("end", line.period_end),
    )
    recomputed = _with_late(led, base, meter, customer, window, original.finalized_at, events)
    return invoicing.late_usage_line(
        customer=customer,
        original=line,
        original_invoice=original.invoice,
        price=price,
        product=product,
        meter=meter,
        recomputed=recomputed,
        already_invoiced=line.amount + sum(s.line.amount for s in earlier),
        identifiers=[e.identifier for e in events],
    )


def pending_late_lines(led: LedgerStore, customer: str, as_of: int, base: BaseUsage) -> list[Line]:
    """Late-usage lines the customer's next invoice carries: one per original line that has
    resolved late events no finalized late-usage line has counted yet."""

    def due(events: list[LateEvent]) -> list[LateEvent]:
        return [e for e in events if e.resolved_at is not None and e.resolved_at <= as_of]

    # Only events resolved since the customer's last finalization can be pending: that
    # invoice carried every one resolved by then. The lookups below are for those alone, so a
    # preview costs the same after ten thousand invoiced late events as after none.
    since = led.last_finalized_at(customer)
    candidates = due(led.resolved_late_events(customer, since=since))
    originals: dict[str, StoredLine] = {}
    for event in candidates:
        original = led.covering_line(customer, event.meter, event.timestamp)
        if original is not None and original.line.id is not None:
            originals.setdefault(original.line.id, original)
    lines = []
    for line_id, original in sorted(
        originals.items(), key=lambda kv: (kv[1].line.period_start, kv[0])
    ):
        line = original.line
        events = [
            e
            for e in due(led.resolved_late_events(customer, original_invoice=original.invoice))
            if e.meter == line.meter and line.period_start <= e.timestamp < line.period_end
        ]
        earlier = led.finalized_late_lines(customer, original_line=line_id)
        counted = {i for stored in earlier for i in stored.line.explain["identifiers"]}
        if all(e.identifier in counted for e in events):
            continue
        lines.append(late_line(led, base, customer, original, events, earlier))
    return lines


# -- composing, finalizing ----------------------------------------------------------------------


def compose_for(
    led: LedgerStore,
    sub: Subscription,
    target: Target,
    *,
    as_of: int,
    invoice_id: str | None = None,
    created: int | None = None,
) -> Invoice:
    """The invoice for `target` from the events received by `as_of`, with the customer's
    current balance and pending late lines; line ids are fresh unless this is a preview."""
    customer = led.get_customer(sub.customer)
    assert customer is not None
    base = base_usage(led, sub.customer)

    def usage(meter: Meter, start: int, end: int) -> Aggregate:
        return base(meter, start, end, as_of)

    inv = invoicing.compose(
        sub,
        target,
        catalog_for(led, sub),
        usage,
        computed_at=as_of,
        starting_balance=customer.balance,
        late_lines=pending_late_lines(led, sub.customer, as_of, base),
        credit_grants=grant_states(led, sub.customer),
        invoice_id=invoice_id,
        created=created,
        tax_rates=tax_rates_for(led, sub),
    )
    if invoice_id is None:
        return inv
    return replace(inv, lines=tuple(replace(li, id=ids.new_id("il_")) for li in inv.lines))


def finalize_draft(led: LedgerStore, draft: Invoice, now: int) -> Invoice:
    """Apply billing credits for good (each pretax credit becomes a `credits_applied` debit,
    each line's tax recomputed on what is left), number it, carry the customer's balance in and
    out, freeze seller and buyer as they stand now, hash it, mark it open; an invoice with
    nothing to pay (amount due 0: a zero total, or one credits or the customer's balance cover)
    is marked paid at once, as Stripe does, with `paid_at` its finalization."""
    customer = led.get_customer(draft.customer)
    assert customer is not None
    assert draft.id is not None
    # The credits are taken again here, from the grants as they stand inside this write
    # transaction, whatever the draft showed when it was computed.
    inv = invoicing.apply_credits(draft, grant_states(led, draft.customer), at=now)
    inv = replace(inv, lines=credits.with_transaction_ids(inv.lines, new_transaction_id))
    if inv.total_pretax_credit_amounts or draft.total_pretax_credit_amounts:
        led.replace_draft(inv)
    led.mark_credit_position(draft.id)
    number = led.take_invoice_number(draft.customer)
    inv = invoicing.finalized(
        inv,
        number=number,
        finalized_at=now,
        starting_balance=customer.balance,
        parties=parties.snapshot(led.get_account(), customer),
    )
    inv = replace(inv, hash=invoice_hash(inv))
    led.mark_finalized(inv)
    led.append_credit_transactions(
        credits.applied_debits(
            draft.id, inv.lines, customer=inv.customer, currency=inv.currency, at=now
        )
    )
    assert inv.ending_balance is not None
    led.set_customer_balance(inv.customer, inv.ending_balance)
    if inv.amount_due == 0:
        led.set_invoice_status(inv.id or "", "open", "paid", paid_at=now, amount_paid=0)
        inv = replace(inv, status="paid", paid_at=now, amount_paid=0)
    return inv


def issue_create_invoice(led: LedgerStore, sub: Subscription, now: int) -> Invoice | None:
    """The `subscription_create` invoice for licensed items, finalized at once (Stripe's
    behaviour: the first period is billed in advance when the subscription starts)."""
    target = invoicing.create_target(sub, catalog_for(led, sub))
    if target is None:
        return None
    draft = compose_for(led, sub, target, as_of=now, invoice_id=ids.new_id("in_"), created=now)
    if not led.insert_invoice(draft):
        return None
    return finalize_draft(led, draft, now)
