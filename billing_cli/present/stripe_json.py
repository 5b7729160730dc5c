"""Domain records → Stripe-shaped dicts, the one shape behind `--json`, tables and CSV.

Decimals are emitted as strings (as Stripe does for `*_decimal` fields) so no JSON reader can
turn a unit price into a float.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing_cli.domain import schedule
from billing_cli.domain.aggregation import Aggregate
from billing_cli.domain.events import StoredEvent
from billing_cli.domain.models import (
    Account,
    Customer,
    Meter,
    Price,
    Product,
    Subscription,
    TaxRate,
    Tier,
)
from billing_cli.domain.money import decimal_str
from billing_cli.domain.parties import address_data


def _whole(value: Decimal | None) -> int | None:
    if value is None or value != value.to_integral_value():
        return None
    return int(value)


def _dstr(value: Decimal | None) -> str | None:
    return None if value is None else decimal_str(value)


def meter_dict(m: Meter) -> dict:
    return {
        "id": m.id,
        "object": "billing.meter",
        "created": m.created,
        "customer_mapping": {"event_payload_key": m.customer_key, "type": "by_id"},
        "default_aggregation": {"formula": m.formula},
        "display_name": m.display_name,
        "event_name": m.event_name,
        "event_time_window": m.event_time_window,
        "livemode": False,
        "status": m.status,
        "updated": m.updated,
        "value_settings": {"event_payload_key": m.value_key},
    }


def product_dict(p: Product) -> dict:
    return {
        "id": p.id,
        "object": "product",
        "active": p.active,
        "created": p.created,
        "description": p.description,
        "livemode": False,
        "metadata": p.metadata,
        "name": p.name,
        "type": "service",
        "unit_label": p.unit_label,
    }


def tier_dict(t: Tier) -> dict:
    return {
        "flat_amount": _whole(t.flat_amount_decimal),
        "flat_amount_decimal": _dstr(t.flat_amount_decimal),
        "unit_amount": _whole(t.unit_amount_decimal),
        "unit_amount_decimal": _dstr(t.unit_amount_decimal),
        "up_to": t.up_to,
    }


def price_dict(p: Price) -> dict:
    transform = None
    if p.transform_divide_by is not None:
        transform = {"divide_by": p.transform_divide_by, "round": p.transform_round}
    return {
        "id": p.id,
        "object": "price",
        "active": p.active,
        "billing_scheme": p.billing_scheme,
        "created": p.created,
        "currency": p.currency,
        "livemode": False,
        "lookup_key": p.lookup_key,
        "metadata": p.metadata,
        "nickname": p.nickname,
        "product": p.product,
        "recurring": {
            "interval": p.interval,
            "interval_count": p.interval_count,
            "meter": p.meter,
            "usage_type": p.usage_type,
        },
        "tiers": [tier_dict(t) for t in p.tiers] if p.billing_scheme == "tiered" else None,
        "tiers_mode": p.tiers_mode,
        "transform_quantity": transform,
        "type": "recurring",
        "unit_amount": _whole(p.unit_amount_decimal),
        "unit_amount_decimal": _dstr(p.unit_amount_decimal),
    }


def customer_dict(c: Customer) -> dict:
    return {
        "id": c.id,
        "object": "customer",
        "balance": c.balance,
        "created": c.created,
        "currency": c.currency,
        "email": c.email,
        "invoice_prefix": c.invoice_prefix,
        "livemode": False,
        "metadata": c.metadata,
        "name": c.name,
        "next_invoice_sequence": c.next_invoice_sequence,
        "address": address_data(c.address),
        "tax_ids": {
            "object": "list",
            "data": [{"object": "tax_id", "type": t.type, "value": t.value} for t in c.tax_ids],
            "has_more": False,
        },
        "buyer_reference": c.buyer_reference,
    }


def account_dict(a: Account) -> dict:
    """Stripe's account, as far as invoices use it: `business_profile`, the company's address
    and VAT id, and the invoice footer (`settings.invoices.footer`, beyond Stripe)."""
    return {
        "object": "account",
        "business_profile": {"name": a.business_name, "support_email": a.email},
        "company": {
            "name": a.business_name,
            "address": address_data(a.address),
            "vat_id": a.tax_id,
        },
        "country": a.address.country if a.address else None,
        "email": a.email,
        "settings": {"invoices": {"footer": a.invoice_footer}},
        "bank_account": {"iban": a.iban, "bic": a.bic},
        "updated": a.updated,
    }


def subscription_dict(s: Subscription, prices: dict[str, Price], now: int) -> dict:
    start, end = schedule.current_period(s, now)
    items = [
        {
            "id": i.id,
            "object": "subscription_item",
            "created": i.created,
            "current_period_end": end,
            "current_period_start": start,
            "price": price_dict(prices[i.price]),
            "quantity": i.quantity,
            "subscription": s.id,
        }
        for i in s.items
    ]
    return {
        "id": s.id,
        "object": "subscription",
        "billing_cycle_anchor": s.billing_cycle_anchor,
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": s.canceled_at,
        "created": s.created,
        "currency": s.currency,
        "current_period_end": end,
        "current_period_start": start,
        "customer": s.customer,
        # Stripe: a scheduled end shows as `cancel_at`; `ended_at` stays null until it passes.
        "cancel_at": s.ended_at if s.cancel_at_period_end else None,
        "ended_at": s.ended_at if s.ended_at is not None and s.ended_at <= now else None,
        "items": {
            "object": "list",
            "data": items,
            "has_more": False,
            "total_count": len(items),
            "url": f"/v1/subscription_items?subscription={s.id}",
        },
        "livemode": False,
        "default_tax_rates": list(s.default_tax_rates),
        "metadata": s.metadata,
        "start_date": s.start_date,
        "status": schedule.effective_status(s, now),
        "trial_end": s.trial_end,
        "trial_start": s.start_date if s.trial_end is not None else None,
    }


def meter_event_dict(e: StoredEvent) -> dict[str, Any]:
    """Stripe's billing.meter_event (`created` is when the ledger received it), plus `status`
    (accepted or late, SPEC 2.6) and `cancelled` (SPEC 2.4)."""
    return {
        "object": "billing.meter_event",
        "created": e.received,
        "event_name": e.event_name,
        "identifier": e.identifier,
        "livemode": False,
        "payload": e.payload,
        "timestamp": e.timestamp,
        "status": e.status,
        "cancelled": e.cancelled,
    }


def meter_event_summary_dict(
    meter: str, customer: str, start: int, end: int, aggregate: Aggregate
) -> dict[str, Any]:
    """Stripe's billing.meter_event_summary for one window; the value as a decimal string."""
    return {
        "object": "billing.meter_event_summary",
        "aggregated_value": decimal_str(aggregate.value),
        "customer": customer,
        "end_time": end,
        "event_count": aggregate.event_count,
        "livemode": False,
        "meter": meter,
        "start_time": start,
    }


def tax_rate_dict(r: TaxRate) -> dict:
    return {
        "id": r.id,
        "object": "tax_rate",
        "active": r.active,
        "country": r.country,
        "created": r.created,
        "description": r.description,
        "display_name": r.display_name,
        "effective_percentage": decimal_str(r.percentage),
        "inclusive": r.inclusive,
        "jurisdiction": r.jurisdiction,
        "livemode": False,
        "metadata": r.metadata,
        "percentage": decimal_str(r.percentage),
        "tax_type": None,
    }
