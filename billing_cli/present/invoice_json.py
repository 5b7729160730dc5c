"""Invoices → Stripe's `invoice` and `line_item` objects (API version 2026-10-28), the shape
behind `--json`, the HTTP API, the PDF and the dashboard alike.

Lines carry `parent` (the subscription item that generated them) and `pricing` (price,
product, unit amount) as Stripe has them since 2025; the invoice names its subscription under
`parent.subscription_details`. Decimals are strings, as in Stripe's `*_decimal` fields, so no
JSON reader turns a quantity or a unit price into a float. What Stripe does not have lives
under each line's `billing_cli` key: the line's kind (a subscription line or a late-usage
adjustment, SPEC 2.6) and, only when asked for, `explain` (SPEC 4.1: every step from events to
the rounded amount); under the invoice's, the seller's address, VAT id and email, which Stripe
keeps on the account; under each tax entry's, the rate's name and percentage. Every field Stripe
always sends is present, null where the ledger has no value (no payment methods, no shipping).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billing_cli.domain import parties
from billing_cli.domain.invoicing import Invoice, Line, PretaxCredit
from billing_cli.domain.models import Account, Customer, Parties
from billing_cli.domain.money import decimal_str
from billing_cli.domain.tax import LineTax, TaxTotal

__all__ = ["deleted_dict", "document_view", "invoice_dict", "line_dict", "pretax_credit_dict"]


def _dstr(value: Decimal | None) -> str | None:
    return None if value is None else decimal_str(value)


def line_dict(
    line: Line,
    inv: Invoice,
    *,
    products: Mapping[str, str] | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """One `line_item`. `products` maps a price to its product (for `pricing.price_details`);
    `explain` adds the computation under `billing_cli.explain`."""
    extra: dict[str, Any] = {"type": line.type}
    if explain:
        extra["explain"] = {
            **line.explain,
            "credits": [
                {
                    "credit_grant": c.credit_grant,
                    "amount": c.amount,
                    "credit_balance_transaction": c.credit_balance_transaction,
                }
                for c in line.pretax_credit_amounts
            ],
        }
    pricing = None
    if line.price is not None:
        pricing = {
            "price_details": {
                "price": line.price,
                "product": (products or {}).get(line.price),
            },
            "type": "price_details",
            "unit_amount_decimal": _dstr(line.unit_amount_decimal),
        }
    parent = None
    if line.subscription_item is not None:
        parent = {
            "invoice_item_details": None,
            "subscription_item_details": {
                "invoice_item": None,
                "proration": line.proration,
                "proration_details": {"credited_items": None},
                "subscription": inv.subscription,
                "subscription_item": line.subscription_item,
            },
            "type": "subscription_item_details",
        }
    return {
        "id": line.id,
        "object": "line_item",
        "amount": line.amount,
        "currency": inv.currency,
        "description": line.description,
        "discount_amounts": [],
        "discountable": True,
        "discounts": [],
        "invoice": inv.id,
        "livemode": False,
        "metadata": {},
        "parent": parent,
        "period": {"end": line.period_end, "start": line.period_start},
        "pretax_credit_amounts": [pretax_credit_dict(c) for c in line.pretax_credit_amounts],
        "pricing": pricing,
        "quantity": line.quantity,
        "quantity_decimal": decimal_str(line.quantity_decimal),
        "subscription": inv.subscription,
        "subtotal": line.amount,
        "taxes": [_tax(t) for t in line.taxes],
        "billing_cli": extra,
    }


def pretax_credit_dict(credit: PretaxCredit) -> dict[str, Any]:
    """Stripe's `InvoicesResourcePretaxCreditAmount` for a billing credit (null transaction in
    a preview or a draft: the credit would apply, nothing is spent yet)."""
    return {
        "amount": credit.amount,
        "credit_balance_transaction": credit.credit_balance_transaction,
        "discount": None,
        "type": "credit_balance_transaction",
    }


def _tax(t: LineTax | TaxTotal) -> dict[str, Any]:
    """Stripe's `taxes[]` / `total_taxes[]` entry; the rate's name and percentage as they were
    when the tax was computed (an issued invoice keeps them) under `billing_cli`."""
    return {
        "amount": t.amount,
        "tax_behavior": "inclusive" if t.inclusive else "exclusive",
        "tax_rate_details": {"tax_rate": t.tax_rate},
        "taxability_reason": None,
        "taxable_amount": t.taxable_amount,
        "type": "tax_rate_details",
        "billing_cli": {"display_name": t.display_name, "percentage": decimal_str(t.percentage)},
    }


_STRIPE_PARTY_FIELDS = frozenset(
    {"account_name", "footer", "customer_name", "customer_email", "customer_address",
     "customer_tax_ids"}
)  # fmt: skip


def _parties(inv: Invoice, customer: Customer | None, account: Account | None) -> dict[str, Any]:
    """Seller and buyer: frozen in a finalized invoice; for a draft or a preview, as they stand
    (the customer and account given), since that is what finalizing now would freeze."""
    if inv.parties is not None:
        return parties.to_data(inv.parties)
    if customer is not None:
        return parties.to_data(parties.snapshot(account or Account(), customer))
    return parties.to_data(Parties(None, None, None, None, None, None, None, None))


def _parent(inv: Invoice) -> dict[str, Any] | None:
    if inv.subscription is None:
        return None
    return {
        "quote_details": None,
        "subscription_details": {
            "metadata": None,
            "subscription": inv.subscription,
            "subscription_proration_date": None,
        },
        "type": "subscription_details",
    }


def invoice_dict(
    inv: Invoice,
    customer: Customer | None = None,
    account: Account | None = None,
    *,
    products: Mapping[str, str] | None = None,
    explain: bool = False,
) -> dict[str, Any]:
    """Stripe's `invoice` object. A preview has id and number null and status draft (SPEC 4.3).
    `customer` and `account` name the parties of an invoice not finalized yet; `products` maps
    each line's price to its product; `explain` adds each line's computation."""
    lines = [line_dict(line, inv, products=products, explain=explain) for line in inv.lines]
    remaining = 0 if inv.status in ("paid", "void") else inv.amount_due - inv.amount_paid
    who = _parties(inv, customer, account)
    seller_address = who["account_address"]
    return {
        "id": inv.id,
        "object": "invoice",
        "account_country": seller_address["country"] if seller_address else None,
        "account_name": who["account_name"],
        "account_tax_ids": None,
        "amount_due": inv.amount_due,
        "amount_overpaid": 0,
        "amount_paid": inv.amount_paid,
        "amount_paid_off_stripe": inv.amount_paid,  # every payment here is made out of band
        "amount_remaining": remaining,
        "amount_shipping": 0,
        "application": None,
        "attempt_count": 0,
        "attempted": False,
        "auto_advance": inv.status == "draft" and inv.id is not None,  # `invoice run` will
        "automatic_tax": {
            "disabled_reason": None,
            "enabled": False,
            "liability": None,
            "provider": None,
            "status": None,
        },
        "automatically_finalizes_at": None,
        "billing_reason": inv.billing_reason,
        "collection_method": "send_invoice",
        "confirmation_secret": None,
        "created": inv.created,
        "currency": inv.currency,
        "custom_fields": None,
        "customer": inv.customer,
        "customer_account": None,
        "customer_address": who["customer_address"],
        "customer_email": who["customer_email"],
        "customer_name": who["customer_name"],
        "customer_phone": None,
        "customer_shipping": None,
        "customer_tax_exempt": "none",
        "customer_tax_ids": who["customer_tax_ids"],
        "default_payment_method": None,
        "default_source": None,
        "default_tax_rates": [],
        "description": None,
        "discounts": [],
        "due_date": None,
        "effective_at": inv.finalized_at,
        "ending_balance": inv.ending_balance,
        "footer": who["footer"],
        "from_invoice": None,
        "hosted_invoice_url": None,
        "invoice_pdf": None,
        "issuer": {"type": "self"},
        "last_finalization_error": None,
        "latest_revision": None,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "url": f"/v1/invoices/{inv.id}/lines" if inv.id else None,
        },
        "livemode": False,
        "metadata": {},
        "next_payment_attempt": None,
        "number": inv.number,
        "on_behalf_of": None,
        "parent": _parent(inv),
        "payment_settings": {
            "default_mandate": None,
            "payment_method_options": None,
            "payment_method_types": None,
        },
        "period_end": inv.period_end,
        "period_start": inv.period_start,
        "post_payment_credit_notes_amount": 0,
        "pre_payment_credit_notes_amount": 0,
        "receipt_number": None,
        "rendering": None,
        "shipping_cost": None,
        "shipping_details": None,
        "starting_balance": inv.starting_balance,
        "statement_descriptor": None,
        "status": inv.status,
        "status_details": None,
        "status_transitions": {
            "finalized_at": inv.finalized_at,
            "marked_uncollectible_at": inv.marked_uncollectible_at,
            "paid_at": inv.paid_at,
            "voided_at": inv.voided_at,
        },
        "subtotal": inv.subtotal,
        "subtotal_excluding_tax": inv.subtotal_excluding_tax,
        "test_clock": None,
        "threshold_reason": None,
        "total": inv.total,
        "total_discount_amounts": [],
        "total_excluding_tax": inv.total_excluding_tax,
        "total_pretax_credit_amounts": [
            pretax_credit_dict(c) for c in inv.total_pretax_credit_amounts
        ],
        "total_taxes": [_tax(t) for t in inv.total_taxes],
        "webhooks_delivered_at": None,
        # the seller's address, VAT id, email and bank account, the buyer's reference: Stripe
        # keeps these on its account and customer objects, not on the invoice
        "billing_cli": {k: v for k, v in who.items() if k not in _STRIPE_PARTY_FIELDS},
    }


def document_view(data: dict[str, Any]) -> dict[str, Any]:
    """An invoice dict with its `billing_cli` party fields beside Stripe's (`account_address`,
    `account_iban`, …): what the PDF and e-invoice renderers read."""
    return {**data, **data["billing_cli"]}


def deleted_dict(inv: Invoice) -> dict[str, Any]:
    """Stripe's answer to deleting a draft: `{id, object, deleted: true}`."""
    return {"id": inv.id, "object": "invoice", "deleted": True}
