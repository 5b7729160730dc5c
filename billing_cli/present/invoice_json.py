"""Invoices → Stripe-shaped dicts (the shape behind `--json`) and their tamper-evidence hash.

Decimals are strings, as in Stripe's `*_decimal` fields, so no JSON reader turns a quantity or a
unit price into a float. Each line also carries `explain` (SPEC 4.1, beyond Stripe).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from billing_cli.domain import parties
from billing_cli.domain.invoicing import Invoice, Line, PretaxCredit
from billing_cli.domain.models import Account, Customer, Parties
from billing_cli.domain.money import decimal_str
from billing_cli.domain.tax import LineTax, TaxTotal

__all__ = ["invoice_dict", "line_dict", "pretax_credit_dict"]


def _dstr(value: Decimal | None) -> str | None:
    return None if value is None else decimal_str(value)


def line_dict(line: Line, inv: Invoice) -> dict[str, Any]:
    """One `line_item`; `price`/`subscription_item` are ids (Stripe expands them on request)."""
    return {
        "id": line.id,
        "object": "line_item",
        "amount": line.amount,
        "currency": inv.currency,
        "description": line.description,
        "invoice": inv.id,
        "livemode": False,
        "metadata": {},
        "period": {"start": line.period_start, "end": line.period_end},
        "price": line.price,
        "proration": line.proration,
        "quantity": line.quantity,
        "quantity_decimal": decimal_str(line.quantity_decimal),
        "subscription": inv.subscription,
        "subscription_item": line.subscription_item,
        "type": line.type,
        "unit_amount_decimal": _dstr(line.unit_amount_decimal),
        "taxes": [_tax(t) for t in line.taxes],
        "pretax_credit_amounts": [pretax_credit_dict(c) for c in line.pretax_credit_amounts],
        "explain": {
            **line.explain,
            "credits": [
                {
                    "credit_grant": c.credit_grant,
                    "amount": c.amount,
                    "credit_balance_transaction": c.credit_balance_transaction,
                }
                for c in line.pretax_credit_amounts
            ],
        },
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
    """Stripe's `taxes[]` / `total_taxes[]` entry, plus the rate's id, name and percentage at
    the top (as Stripe's older `tax_amounts` had them), so a reader needs no second lookup."""
    return {
        "amount": t.amount,
        "tax_behavior": "inclusive" if t.inclusive else "exclusive",
        "tax_rate_details": {"tax_rate": t.tax_rate},
        "taxability_reason": None,
        "taxable_amount": t.taxable_amount,
        "type": "tax_rate_details",
        "tax_rate": t.tax_rate,
        "display_name": t.display_name,
        "percentage": decimal_str(t.percentage),
        "inclusive": t.inclusive,
    }


def _parties(inv: Invoice, customer: Customer | None, account: Account | None) -> dict[str, Any]:
    """Seller and buyer: frozen in a finalized invoice; for a draft or a preview, as they stand
    (the customer and account given), since that is what finalizing now would freeze."""
    if inv.parties is not None:
        data = parties.to_data(inv.parties)
    elif customer is not None:
        data = parties.to_data(parties.snapshot(account or Account(), customer))
    else:
        data = parties.to_data(Parties(None, None, None, None, None, None, None, None))
    address = data["account_address"]
    data["account_country"] = address["country"] if address else None
    return data


def invoice_dict(
    inv: Invoice, customer: Customer | None = None, account: Account | None = None
) -> dict[str, Any]:
    """Stripe's `invoice` object. A preview has id and number null and status draft."""
    lines = [line_dict(line, inv) for line in inv.lines]
    remaining = 0 if inv.status in ("paid", "void") else inv.amount_due - inv.amount_paid
    return {
        **_parties(inv, customer, account),
        "id": inv.id,
        "object": "invoice",
        "amount_due": inv.amount_due,
        "amount_paid": inv.amount_paid,
        "amount_remaining": remaining,
        "billing_reason": inv.billing_reason,
        "collection_method": "send_invoice",
        "created": inv.created,
        "currency": inv.currency,
        "customer": inv.customer,
        "effective_at": inv.finalized_at,
        "ending_balance": inv.ending_balance,
        "lines": {
            "object": "list",
            "data": lines,
            "has_more": False,
            "total_count": len(lines),
            "url": f"/v1/invoices/{inv.id}/lines" if inv.id else None,
        },
        "livemode": False,
        "metadata": {},
        "number": inv.number,
        "parent": {
            "type": "subscription_details",
            "subscription_details": {"subscription": inv.subscription},
        }
        if inv.subscription
        else None,
        "period_end": inv.period_end,
        "period_start": inv.period_start,
        "starting_balance": inv.starting_balance,
        "status": inv.status,
        "status_transitions": {
            "finalized_at": inv.finalized_at,
            "marked_uncollectible_at": inv.marked_uncollectible_at,
            "paid_at": inv.paid_at,
            "voided_at": inv.voided_at,
        },
        "subscription": inv.subscription,
        "subtotal": inv.subtotal,
        "subtotal_excluding_tax": inv.subtotal_excluding_tax,
        "total": inv.total,
        "total_excluding_tax": inv.total_excluding_tax,
        "total_taxes": [_tax(t) for t in inv.total_taxes],
        "total_pretax_credit_amounts": [
            pretax_credit_dict(c) for c in inv.total_pretax_credit_amounts
        ],
    }
