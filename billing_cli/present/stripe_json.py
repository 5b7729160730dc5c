"""Domain records → Stripe-shaped dicts, the one shape behind `--json`, tables, CSV and the
HTTP API (`billing serve`): Stripe's objects as of API version 2026-10-28.

Decimals are emitted as strings (as Stripe does for `*_decimal` fields) so no JSON reader can
turn a unit price into a float; where Stripe has a JSON number that may hold a fraction (a
meter event summary's `aggregated_value`) the dict holds the exact `Decimal` and
`present.json_text` writes it as an exact number. Fields Stripe does not have are kept under
one key, `billing_cli`.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from billing_cli.clock import format_time
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
        # the ledger keeps the last change, which is the deactivation while a meter is inactive
        # (unless it was renamed since)
        "status_transitions": {"deactivated_at": m.updated if m.status == "inactive" else None},
        "updated": m.updated,
        "value_settings": {"event_payload_key": m.value_key},
    }


def product_dict(p: Product) -> dict:
    return {
        "id": p.id,
        "object": "product",
        "active": p.active,
        "created": p.created,
        "default_price": None,
        "description": p.description,
        "images": [],
        "livemode": False,
        "marketing_features": [],
        "metadata": p.metadata,
        "name": p.name,
        "package_dimensions": None,
        "shippable": None,
        "statement_descriptor": None,
        "tax_code": None,
        "tax_details": None,
        "type": "service",
        "unit_label": p.unit_label,
        "updated": p.created,  # products are not edited in the ledger
        "url": None,
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
        "custom_unit_amount": None,
        "livemode": False,
        "lookup_key": p.lookup_key,
        "metadata": p.metadata,
        "nickname": p.nickname,
        "product": p.product,
        "recurring": {
            "interval": p.interval,
            "interval_count": p.interval_count,
            "meter": p.meter,
            "trial_period_days": None,
            "usage_type": p.usage_type,
        },
        "tax_behavior": "unspecified",
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
        "address": address_data(c.address),
        "balance": c.balance,
        "business_name": None,
        "created": c.created,
        "currency": c.currency,
        "customer_account": None,
        "default_source": None,
        "delinquent": False,
        "description": None,
        "discount": None,
        "email": c.email,
        "individual_name": None,
        "invoice_prefix": c.invoice_prefix,
        "invoice_settings": {
            "custom_fields": None,
            "default_payment_method": None,
            "footer": None,
            "rendering_options": None,
        },
        "livemode": False,
        "metadata": c.metadata,
        "name": c.name,
        "next_invoice_sequence": c.next_invoice_sequence,
        "phone": None,
        "preferred_locales": [],
        "shipping": None,
        "tax_exempt": "none",
        "tax_ids": {
            "object": "list",
            "data": [{"object": "tax_id", "type": t.type, "value": t.value} for t in c.tax_ids],
            "has_more": False,
            "url": f"/v1/customers/{c.id}/tax_ids",
        },
        "test_clock": None,
        "billing_cli": {"buyer_reference": c.buyer_reference},  # for e-invoices
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
    """Stripe's subscription; its period lives on the items (Stripe since 2025), and is
    repeated under `billing_cli` since all items of a subscription share one (SPEC 1.4)."""
    start, end = schedule.current_period(s, now)
    items: list[dict[str, Any]] = [
        {
            "id": i.id,
            "object": "subscription_item",
            "billed_until": None,
            "billing_thresholds": None,
            "created": i.created,
            "current_period_end": end,
            "current_period_start": start,
            "current_trial": None,
            "discounts": [],
            "metadata": {},
            "price": price_dict(prices[i.price]),
            "quantity": i.quantity,
            "subscription": s.id,
            "tax_rates": [],
        }
        for i in s.items
    ]
    status = schedule.effective_status(s, now)
    return {
        "id": s.id,
        "object": "subscription",
        "application": None,
        "application_fee_percent": None,
        "automatic_tax": {"disabled_reason": None, "enabled": False, "liability": None},
        "billing_cycle_anchor": s.billing_cycle_anchor,
        "billing_cycle_anchor_config": None,
        "billing_mode": {"type": "flexible"},  # metered items bill in arrears (SPEC 4.2)
        "billing_schedules": [],
        "billing_thresholds": None,
        # Stripe: a scheduled end shows as `cancel_at`; `ended_at` stays null until it passes.
        "cancel_at": s.ended_at if s.cancel_at_period_end else None,
        "cancel_at_period_end": s.cancel_at_period_end,
        "canceled_at": s.canceled_at,
        "cancellation_details": {
            "comment": None,
            "feedback": None,
            "reason": "cancellation_requested" if s.canceled_at is not None else None,
        },
        "collection_method": "send_invoice",
        "created": s.created,
        "currency": s.currency,
        "customer": s.customer,
        "customer_account": None,
        "days_until_due": None,
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": list(s.default_tax_rates),
        "description": None,
        "discounts": [],
        "ended_at": s.ended_at if s.ended_at is not None and s.ended_at <= now else None,
        "invoice_settings": {"account_tax_ids": None, "issuer": {"type": "self"}},
        "items": {
            "object": "list",
            "data": items,
            "has_more": False,
            "url": f"/v1/subscription_items?subscription={s.id}",
        },
        "latest_invoice": None,
        "livemode": False,
        "managed_payments": None,
        "metadata": s.metadata,
        "next_pending_invoice_item_invoice": None,
        "on_behalf_of": None,
        "pause_collection": None,
        "payment_settings": None,
        "pending_invoice_item_interval": None,
        "pending_setup_intent": None,
        "pending_update": None,
        "presentment_details": None,
        "schedule": None,
        "start_date": s.start_date,
        "status": status,
        "status_details": None,
        "test_clock": None,
        "transfer_data": None,
        "trial_end": s.trial_end,
        "trial_settings": None,
        "trial_start": s.start_date if s.trial_end is not None else None,
        "billing_cli": {"current_period_end": end, "current_period_start": start},
    }


def list_object(data: list[dict[str, Any]], *, has_more: bool, url: str | None) -> dict[str, Any]:
    """Stripe's list envelope; `url` is the list's own path (`/v1/billing/meters`), which the
    SDKs follow for the next page."""
    return {"object": "list", "data": data, "has_more": has_more, "url": url}


def meter_event_dict(e: StoredEvent) -> dict[str, Any]:
    """Stripe's billing.meter_event (`created` is when the ledger received it); billing_cli
    adds whether it was late (SPEC 2.6) and whether it is cancelled (SPEC 2.4)."""
    return {
        "object": "billing.meter_event",
        "created": e.received,
        "event_name": e.event_name,
        "identifier": e.identifier,
        "livemode": False,
        "payload": e.payload,
        "timestamp": e.timestamp,
        "billing_cli": {"status": e.status, "cancelled": e.cancelled},
    }


def meter_event_adjustment_dict(e: StoredEvent) -> dict[str, Any]:
    """Stripe's billing.meter_event_adjustment for a cancellation (it has no id in Stripe)."""
    return {
        "object": "billing.meter_event_adjustment",
        "cancel": {"identifier": e.identifier},
        "event_name": e.event_name,
        "livemode": False,
        "status": "complete",
        "type": "cancel",
    }


def v2_time(ts: int) -> str:
    """v2 timestamps are RFC 3339 text with milliseconds, as Stripe writes them."""
    return format_time(ts).replace("Z", ".000Z")


def v2_meter_event_dict(e: StoredEvent) -> dict[str, Any]:
    """Stripe's v2.billing.meter_event: the v1 fields with times as RFC 3339 text."""
    return {
        **meter_event_dict(e),
        "object": "v2.billing.meter_event",
        "created": v2_time(e.received),
        "timestamp": v2_time(e.timestamp),
    }


def v2_meter_event_adjustment_dict(e: StoredEvent, created: int) -> dict[str, Any]:
    """Stripe's v2.billing.meter_event_adjustment for a cancellation: the v1 fields, an id and
    a time. The id is derived from the event it cancels (an event is cancelled at most once),
    so a retry answers the same."""
    digest = hashlib.sha256(f"{e.event_name}|{e.identifier}".encode()).hexdigest()
    return {
        "id": f"mtradj_{digest[:24]}",
        **meter_event_adjustment_dict(e),
        "object": "v2.billing.meter_event_adjustment",
        "created": v2_time(created),
    }


def _summary_id(meter: str, customer: str, start: int, end: int) -> str:
    """Stable across requests, so a summary id works as a pagination cursor."""
    digest = hashlib.sha256(f"{meter}|{customer}|{start}|{end}".encode()).hexdigest()
    return f"mtrusg_{digest[:24]}"


def meter_event_summary_dict(
    meter: str, customer: str, start: int, end: int, aggregate: Aggregate
) -> dict[str, Any]:
    """Stripe's billing.meter_event_summary for one window. `aggregated_value` is a JSON
    number, as in Stripe, written exactly (a Decimal here, see present.json_text)."""
    return {
        "id": _summary_id(meter, customer, start, end),
        "object": "billing.meter_event_summary",
        "aggregated_value": aggregate.value,
        "end_time": end,
        "livemode": False,
        "meter": meter,
        "start_time": start,
        "billing_cli": {"customer": customer, "event_count": aggregate.event_count},
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
